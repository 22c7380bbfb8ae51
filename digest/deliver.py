"""Sending the day's digest by e-mail, at most once per recipient (see `digest.smtp` for the
ledger and the error handling).

The message: multipart/mixed [ multipart/alternative [ text/plain, multipart/related [ text/html,
image/png `Content-ID: <bieu-do>` ] ], the DOCX, the PDF where one was made, the chart PNG ].
The subject is encoded per RFC 2047 by `email.policy.SMTP`. `Message-ID` is derived from the
profile, date, number, resend level and recipient, so a retried send is recognisable.

Ledger states of a `deliveries` row (digest_id set):
  pending → (attempt) → sent            accepted by the server; never sent again
  pending → (attempt) → failed          refused (last_error says why and whether it is
                                        permanent); the next run tries it again
  pending, attempts > 0                 the process died mid-attempt: the next run sends it
and of the digest: built | approved → sending → sent (every current recipient has it) | failed.
`--resend` adds rows at level n + 1 for every recipient; it is the only way to send twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import mimetypes
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import Delivery, Digest, utcnow
from store.profile import Profile
from store.settings import Settings

from .schedule import address_of, delivery_config
from .smtp import EX_TEMPFAIL, Group, message_id, send_groups, send_lock, sender_domain

log = logging.getLogger(__name__)

CHART_CID = "bieu-do"
DOCX_TYPE = ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document")


class DeliveryError(RuntimeError):
    """Nothing can be sent: no recipients, no digest files."""


@dataclass
class SendResult:
    digest_id: int
    day: dt.date
    number: int
    status: str  # the digest's status afterwards
    sent: list[str] = field(default_factory=list)  # accepted by the server in this run
    already: list[str] = field(default_factory=list)  # had it before this run (left alone)
    failed: dict[str, str] = field(default_factory=dict)  # still owed: recipient -> last error
    permanent: bool = False  # a failure that retrying will not fix by itself
    resend: int = 0  # the resend level this run created (0: none)
    built: bool = False  # the digest was built by this call

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def exit_code(self) -> int:
        """0 all delivered; 1 a permanent failure; 75 (EX_TEMPFAIL) only transient ones left."""
        if not self.failed:
            return 0
        return 1 if self.permanent else EX_TEMPFAIL


def find_digest(session: Session, profile_name: str, day: dt.date) -> Digest | None:
    return session.scalars(
        select(Digest).where(Digest.profile == profile_name, Digest.date == day)
    ).first()


def ledger(session: Session, digest_id: int) -> list[Delivery]:
    """The digest's delivery rows, oldest first."""
    return list(
        session.scalars(
            select(Delivery)
            .where(Delivery.digest_id == digest_id)
            .order_by(Delivery.resend, Delivery.id)
        )
    )


def digest_subject(digest: Digest, profile: Profile) -> str:
    """The e-mail subject of an archived digest, in the builder's wording (digest.render)."""
    facts = SimpleNamespace(
        number=digest.number,
        day=digest.date,
        year=digest.year,
        province=profile.province.name,
        agency=profile.agency,
    )
    try:
        from digest.render import subject

        return subject(facts)
    except (ImportError, AttributeError, TypeError):
        return (
            f"Điểm tin báo chí số {digest.number}/{digest.year} ngày {digest.date:%d/%m/%Y} — "
            f"{profile.province.name}"
        )


# The builder's names for the archived files, and the older ones.
ALIASES = {"text": ("txt", "text"), "chart": ("png", "chart")}


def archived_file(files: dict, key: str) -> Path | None:
    for name in ALIASES.get(key, (key,)):
        if files.get(name):
            return Path(files[name])
    return None


_SCRIPT = re.compile(r"<(\s*/?\s*(?:script|iframe|object|embed)\b)", re.IGNORECASE)


def inert_html(html: str) -> str:
    """Defence in depth: the builder escapes scraped text, but should an active element ever
    reach the e-mail, it goes out as visible text, never as markup."""
    cleaned = _SCRIPT.sub(r"&lt;\1", html)
    if cleaned != html:
        log.warning("HTML điểm tin có thẻ nguy hiểm; đã vô hiệu hóa trước khi gửi")
    return cleaned


def build_message(
    *,
    subject: str,
    from_addr: str,
    from_name: str | None,
    recipient: str,
    msg_id: str,
    files: dict,
    headers: dict[str, str] | None = None,
    day: dt.date | None = None,
) -> EmailMessage:
    """The digest e-mail for one recipient, from the archived files. Attachments are named by
    the day (diem-tin-2026-11-21.docx), so a reader's downloads never collide."""

    def name(path: Path, stem: str) -> str:
        return f"{stem}-{day:%Y-%m-%d}{path.suffix}" if day else path.name

    html_path, text_path = archived_file(files, "html"), archived_file(files, "text")
    if html_path is None or text_path is None:
        raise DeliveryError("điểm tin thiếu tệp HTML hoặc văn bản")
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = subject
    msg["From"] = Address(display_name=from_name or "", addr_spec=address_of(from_addr))
    msg["To"] = recipient
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = msg_id
    msg["Auto-Submitted"] = "auto-generated"
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(text_path.read_text(encoding="utf-8"), subtype="plain", cte="quoted-printable")
    msg.add_alternative(
        inert_html(html_path.read_text(encoding="utf-8")), subtype="html", cte="quoted-printable"
    )
    chart = archived_file(files, "chart")
    chart_bytes = chart.read_bytes() if chart and chart.exists() else None
    if chart_bytes:
        html_part = msg.get_payload()[1]
        html_part.add_related(
            chart_bytes, maintype="image", subtype="png", cid=f"<{CHART_CID}>", disposition="inline"
        )
    for key in ("docx", "pdf"):
        path = archived_file(files, key)
        if path is None:
            if key == "docx":
                raise DeliveryError("điểm tin thiếu tệp DOCX")
            continue
        if key == "docx":
            maintype, subtype = DOCX_TYPE
        else:
            maintype, subtype = (mimetypes.guess_type(path.name)[0] or "application/pdf").split("/")
        msg.add_attachment(
            path.read_bytes(), maintype=maintype, subtype=subtype, filename=name(path, "diem-tin")
        )
    if chart_bytes:
        msg.add_attachment(
            chart_bytes, maintype="image", subtype="png", filename=name(chart, "bieu-do")
        )
    return msg


def _ensure_digest(
    factory, settings, profile, profile_name, day, now
) -> tuple[int, str | None, bool]:
    """The digest's id (building it when the day has none, or only an unsent one whose files
    are gone), the builder's subject when it was built here, and whether it was."""
    with factory() as session:
        digest = find_digest(session, profile_name, day)
        missing = digest is not None and any(
            not (p := archived_file(digest.files or {}, k)) or not p.exists()
            for k in ("html", "text", "docx")
        )
        if digest is not None and not missing:
            return digest.id, None, False
        if digest is not None and digest.status not in ("built", "approved"):
            raise DeliveryError(
                f"tệp của điểm tin ngày {day:%d/%m/%Y} không còn (trạng thái {digest.status})"
            )
    from digest.build import build_digest

    result = build_digest(factory, profile, profile_name, day, settings, now=now)
    return result.digest_id, result.subject, True


def send_digest(
    factory: sessionmaker[Session],
    settings: Settings,
    profile: Profile,
    profile_name: str,
    day: dt.date,
    *,
    resend: bool = False,
    now: dt.datetime | None = None,
    subject: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SendResult:
    """Send the day's digest to every recipient that does not have it yet.

    Builds it first when the day has none. Raises DeliveryError when the profile has no
    recipients and SendBusy when another process is sending.
    """
    cfg = delivery_config(profile)
    if not cfg.recipients:
        raise DeliveryError("hồ sơ tỉnh chưa khai báo người nhận (digest.recipients)")
    smtp = settings.smtp
    domain = sender_domain(smtp)
    current = {address_of(r).lower() for r in cfg.recipients}
    with send_lock(settings.data_dir):
        digest_id, built_subject, built = _ensure_digest(
            factory, settings, profile, profile_name, day, now
        )
        level = 0
        # 1. The ledger: every row this run may send exists, committed, before any SMTP.
        with factory() as session:
            digest = session.get(Digest, digest_id, with_for_update=True)
            rows = ledger(session, digest_id)
            if resend:
                level = max((r.resend for r in rows), default=0) + 1
                wanted = cfg.recipients
            else:
                have = {address_of(r.recipient).lower() for r in rows if r.resend == 0}
                wanted = [r for r in cfg.recipients if address_of(r).lower() not in have]
            for rcpt in wanted:
                session.add(
                    Delivery(
                        digest_id=digest_id,
                        recipient=rcpt,
                        status="pending",
                        resend=level,
                        message_id=message_id(
                            "diemtin",
                            f"{digest.date:%Y%m%d}",
                            profile_name,
                            digest.number,
                            level,
                            recipient=rcpt,
                            domain=domain,
                        ),
                    )
                )
            session.commit()
            rows = ledger(session, digest_id)
            todo = [
                r
                for r in rows
                if r.status in ("pending", "failed") and address_of(r.recipient).lower() in current
            ]
            result = SendResult(
                digest_id,
                digest.date,
                digest.number,
                digest.status,
                already=[r.recipient for r in rows if r.status == "sent" and r.resend == 0],
                resend=level,
                built=built,
            )
            if not todo:
                if digest.status != "sent":
                    digest.status = "sent"
                    session.commit()
                result.status = "sent"
                return result
            digest.status = "sending"
            session.commit()
            files = dict(digest.files or {})
            subject = subject or built_subject or digest_subject(digest, profile)
            tag = f"{profile_name}/{digest.date.isoformat()}/{digest.number}"
            groups = [Group(r.recipient, r.message_id, [r.id]) for r in todo]

        def make(group: Group) -> EmailMessage:
            return build_message(
                subject=subject,
                from_addr=smtp.from_addr,
                from_name=profile.agency,
                recipient=group.recipient,
                msg_id=group.message_id,
                files=files,
                headers={"X-Diemtin-Digest": tag},
                day=day,
            )

        # 2. Talk to the server; each acceptance is committed as it happens.
        outcome = send_groups(factory, smtp, groups, make, sleep=sleep)
        # 3. The digest's status from what its current recipients have.
        with factory() as session:
            digest = session.get(Digest, digest_id)
            owed = [
                r
                for r in ledger(session, digest_id)
                if r.status != "sent" and address_of(r.recipient).lower() in current
            ]
            digest.status = "failed" if owed else "sent"
            session.commit()
            result.status = digest.status
    result.sent = outcome.sent
    result.failed = outcome.failed
    result.permanent = outcome.permanent
    return result
