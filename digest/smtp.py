"""SMTP and the delivery ledger shared by the digest and the alerts.

The ledger is the `deliveries` table: one row per (message, recipient), written `pending` and
committed BEFORE the server is contacted, marked `sent` (with `sent_at`) and committed right after
the server accepted the message. A process killed at any point leaves rows that say what is
still owed, and the next run sends only those (`pending` or `failed`). The one window that no
ledger can close is between the server's "250 OK" and our commit (milliseconds): a message
accepted there is sent again by the next run with the same deterministic `Message-ID`, so the
copy is recognisable (and mail clients that de-duplicate by Message-ID show it once).

Errors are transient (connection refused/reset/timeout, disconnects, 4xx replies: retried with
backoff within the run, and left for the next run after that) or permanent (5xx replies,
authentication or TLS failures, missing password: recorded and reported with a non-zero exit).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from store.models import Delivery, utcnow
from store.settings import SmtpSettings

from .schedule import address_of

DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
EX_TEMPFAIL = 75  # sysexits.h: try again later


class SendBusy(RuntimeError):
    """Another process is sending from this data directory."""


@contextmanager
def send_lock(data_dir: Path) -> Iterator[None]:
    """One sender at a time per data directory (`digest send` by hand beside the timer's run).

    The kernel drops the lock with the process, so a killed sender never blocks the next one.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "send.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise SendBusy("một lượt gửi thư khác đang chạy") from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def message_id(kind: str, label: object, *parts: object, recipient: str, domain: str) -> str:
    """A Message-ID that is the same every time the same message goes to the same recipient:
    `<kind.label.HASH@domain>`, HASH over the parts and the recipient's address. Short, so the
    header stays on one line."""
    key = "\x1f".join([kind, str(label), *map(str, parts), address_of(recipient).lower()])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"<{kind}.{label}.{digest}@{domain}>"


def sender_domain(smtp: SmtpSettings) -> str:
    addr = address_of(smtp.from_addr)
    return addr.rpartition("@")[2] or "localhost"


# ── errors ───────────────────────────────────────────────────────────────────────────────────


@dataclass(eq=False)
class SmtpProblem(Exception):
    """A failed attempt: what the server (or the network) said, and what it means for us.

    `scope` is "recipient" when only this message/recipient is concerned (the next recipient may
    go through) and "server" when nothing else can go out now either.
    """

    text: str
    permanent: bool
    scope: str = "server"

    def __str__(self) -> str:
        kind = "lỗi vĩnh viễn" if self.permanent else "lỗi tạm thời"
        return f"{self.text} ({kind})"


def _reply(code: int, msg: bytes | str) -> str:
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    return f"{code} {msg}".strip()


def classify_error(exc: BaseException) -> SmtpProblem:
    """Transient or permanent, recipient or server, from an smtplib/socket/ssl exception."""
    if isinstance(exc, SmtpProblem):
        return exc
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return SmtpProblem(
            f"đăng nhập SMTP bị từ chối: {_reply(exc.smtp_code, exc.smtp_error)}", True
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, msg = next(iter(exc.recipients.values()), (550, b"refused"))
        return SmtpProblem(f"người nhận bị từ chối: {_reply(code, msg)}", code >= 500, "recipient")
    if isinstance(exc, smtplib.SMTPSenderRefused):
        text = f"địa chỉ gửi bị từ chối: {_reply(exc.smtp_code, exc.smtp_error)}"
        return SmtpProblem(text, exc.smtp_code >= 500)
    if isinstance(exc, smtplib.SMTPDataError):
        text = f"thư bị từ chối: {_reply(exc.smtp_code, exc.smtp_error)}"
        permanent = exc.smtp_code >= 500
        # A permanent refusal may be about this message or recipient only: try the others.
        return SmtpProblem(text, permanent, "recipient" if permanent else "server")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return SmtpProblem(f"máy chủ không hỗ trợ: {exc}", True)
    if isinstance(exc, smtplib.SMTPResponseException):
        return SmtpProblem(
            f"máy chủ trả lời: {_reply(exc.smtp_code, exc.smtp_error)}", exc.smtp_code >= 500
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return SmtpProblem(f"máy chủ ngắt kết nối: {exc or 'không rõ lý do'}", False)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SmtpProblem(f"chứng chỉ TLS của máy chủ không hợp lệ: {exc.verify_message}", True)
    if isinstance(exc, ssl.SSLError):
        return SmtpProblem(f"lỗi TLS (kiểm tra security/port): {exc}", True)
    if isinstance(exc, socket.gaierror):
        return SmtpProblem(f"không phân giải được tên máy chủ: {exc}", False)
    if isinstance(exc, ConnectionRefusedError):
        return SmtpProblem("máy chủ SMTP từ chối kết nối (chưa chạy?)", False)
    if isinstance(exc, TimeoutError | socket.timeout):
        return SmtpProblem("hết thời gian chờ máy chủ SMTP", False)
    if isinstance(exc, OSError):
        return SmtpProblem(f"lỗi mạng: {exc}", False)
    return SmtpProblem(f"{type(exc).__name__}: {exc}", True)


# ── the connection ───────────────────────────────────────────────────────────────────────────


def smtp_password(smtp: SmtpSettings) -> str | None:
    """From the settings, else the secrets file (its first line)."""
    if smtp.password is not None:
        return smtp.password.get_secret_value()
    if smtp.secrets_file:
        path = Path(smtp.secrets_file)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SmtpProblem(f"không đọc được tệp mật khẩu SMTP {path}: {exc}", True) from exc
        return text.splitlines()[0].strip() if text.strip() else ""
    return None


class Mailer:
    """One SMTP session, opened on first use and again after any failure."""

    def __init__(self, smtp: SmtpSettings):
        self.settings = smtp
        self._conn: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        port = s.port or DEFAULT_PORTS[s.security]
        context = ssl.create_default_context()
        # gethostname, not getfqdn: no DNS lookup that may hang on an offline office network.
        name = socket.gethostname() or "localhost"
        if s.security == "ssl":
            conn = smtplib.SMTP_SSL(
                s.host, port, local_hostname=name, timeout=s.timeout, context=context
            )
        else:
            conn = smtplib.SMTP(s.host, port, local_hostname=name, timeout=s.timeout)
        try:
            conn.ehlo()
            if s.security == "starttls":
                conn.starttls(context=context)
                conn.ehlo()
            if s.user:
                password = smtp_password(s)
                if password is None:
                    raise SmtpProblem(
                        "thiếu mật khẩu SMTP (DIEMTIN_SMTP_PASSWORD hoặc secrets_file)", True
                    )
                _login(conn, s.user, password)
        except BaseException:
            _close(conn)
            raise
        return conn

    def send(self, msg: EmailMessage, recipient: str) -> None:
        if self._conn is None:
            self._conn = self._open()
        self._conn.send_message(
            msg, from_addr=address_of(self.settings.from_addr), to_addrs=[address_of(recipient)]
        )

    def reset(self) -> None:
        if self._conn is not None:
            _close(self._conn)
            self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            with suppress(smtplib.SMTPException, OSError):
                self._conn.quit()
            self.reset()


def _login(conn: smtplib.SMTP, user: str, password: str) -> None:
    """smtplib's login, except that non-ASCII credentials go as UTF-8 (RFC 4616 PLAIN, or
    LOGIN), where smtplib would fail to encode them."""
    if (user + password).isascii():
        conn.login(user, password)
        return
    conn.ehlo_or_helo_if_needed()
    methods = (conn.esmtp_features.get("auth") or "").upper().split()
    if "PLAIN" in methods:
        blob = b"\0" + user.encode() + b"\0" + password.encode()
        code, resp = conn.docmd("AUTH", "PLAIN " + base64.b64encode(blob).decode("ascii"))
    elif "LOGIN" in methods:
        code, resp = conn.docmd("AUTH", "LOGIN " + base64.b64encode(user.encode()).decode())
        if code == 334:
            code, resp = conn.docmd(base64.b64encode(password.encode()).decode("ascii"))
    else:
        raise SmtpProblem("máy chủ không nhận mật khẩu có dấu (không có AUTH PLAIN/LOGIN)", True)
    if code not in (235, 503):
        raise smtplib.SMTPAuthenticationError(code, resp)


def _close(conn: smtplib.SMTP) -> None:
    with suppress(OSError):
        conn.close()


# ── sending what the ledger owes ─────────────────────────────────────────────────────────────


@dataclass
class Group:
    """One message to one recipient, and the ledger rows it settles (one for a digest; one per
    alert for an alert summary)."""

    recipient: str
    message_id: str
    row_ids: list[int]


@dataclass
class Outcome:
    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # recipient -> last error
    permanent: bool = False

    def merge(self, other: Outcome) -> None:
        self.sent += other.sent
        self.failed.update(other.failed)
        self.permanent |= other.permanent


def _rows(session: Session, ids: list[int]) -> list[Delivery]:
    return [session.get(Delivery, i) for i in ids]


def send_groups(
    factory: sessionmaker[Session],
    smtp: SmtpSettings,
    groups: list[Group],
    make: Callable[[Group], EmailMessage],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Send each group's message, recording every attempt in the ledger as it happens.

    A transient error is retried `smtp.retries` times with exponential backoff; a permanent one
    for a recipient fails that recipient only; a permanent server-wide one (authentication, TLS),
    or a server still unreachable after the retries, stops the run and leaves the rest owed.
    """
    out = Outcome()
    mailer = Mailer(smtp)
    try:
        for n, group in enumerate(groups):
            problem = _send_one(factory, smtp, mailer, group, make, sleep)
            if problem is None:
                out.sent.append(group.recipient)
                continue
            out.failed[group.recipient] = str(problem)
            out.permanent |= problem.permanent
            if problem.scope == "server":
                note = f"chưa thử: {problem}"
                with factory() as session:
                    for rest in groups[n + 1 :]:
                        for row in _rows(session, rest.row_ids):
                            row.last_error = note
                        out.failed[rest.recipient] = note
                    session.commit()
                break
    finally:
        mailer.close()
    return out


def _send_one(factory, smtp, mailer, group, make, sleep) -> SmtpProblem | None:
    try:
        msg = make(group)
    except Exception as exc:  # noqa: BLE001 - a message we cannot build stops the run
        problem = SmtpProblem(f"không tạo được thư: {type(exc).__name__}: {exc}", True)
        with factory() as session:
            for row in _rows(session, group.row_ids):
                row.status, row.last_error = "failed", str(problem)
            session.commit()
        return problem
    tries = smtp.retries + 1
    for attempt in range(tries):
        with factory() as session:
            for row in _rows(session, group.row_ids):
                row.attempts += 1
            session.commit()
        try:
            mailer.send(msg, group.recipient)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded in the ledger
            mailer.reset()
            problem = classify_error(exc)
            last = problem.permanent or attempt == tries - 1
            with factory() as session:
                for row in _rows(session, group.row_ids):
                    row.last_error = str(problem)
                    row.status = "failed" if last else "pending"
                session.commit()
            if last:
                return problem
            sleep(smtp.retry_backoff * 2**attempt)
            continue
        with factory() as session:
            now = utcnow()
            for row in _rows(session, group.row_ids):
                row.status, row.sent_at, row.last_error = "sent", now, None
                row.message_id = group.message_id
            session.commit()
        return None
    return None  # pragma: no cover - the loop always returns
