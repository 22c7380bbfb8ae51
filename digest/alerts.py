"""Immediate alerts: a new sensitive (`nhay_cam`) or misleading (`sai_lech`) story is e-mailed to
the profile's `alert_recipients` within the crawl cycle that found it, once per story.

Once: the `alerts` table has one row per story (`story_id` unique); deliveries go through the
same ledger as the digest (`deliveries.alert_id`), so a retried or killed run never e-mails a
story twice.

Rate limit (`alert_max_per_hour`, default 5, per recipient over a rolling hour): while the hour's
budget lasts each story gets its own e-mail, most severe first (misleading before sensitive, then
by how many outlets carry it). When more stories are waiting than the budget allows, the last
e-mail of the budget is ONE SUMMARY listing all the rest, so no story waits for a later hour;
with no budget left, they stay `pending` and go out (singly or summarised) as the hour frees up.
Stories older than `alert_lookback` (default 48 h) never alert: the daily digest has them.

Officers' decisions win: an item dismissed or excluded in review, or corrected to a lower level,
raises no alert; one corrected up to `nhay_cam`/`sai_lech` does.

Alert status: pending (owed, or held by the rate limit) → sent | failed (retried next cycle);
expired (held or still failing past the lookback: left to the digest, never retried).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

import jinja2
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store.models import Alert, Classification, Decision, Delivery, Item, Source, Story, utcnow
from store.profile import Profile
from store.settings import Settings
from store.taxonomy import MISLEADING_VI

from .schedule import DeliveryConfig, address_of, delivery_config
from .smtp import EX_TEMPFAIL, Group, Outcome, message_id, send_groups, send_lock, sender_domain

HOUR = dt.timedelta(hours=1)
REASON_VI = {"sai_lech": "Sai lệch", "nhay_cam": "Nhạy cảm"}
SEVERITY = {"sai_lech": 2, "nhay_cam": 1}


@dataclass
class AlertResult:
    created: int = 0  # new stories that warrant an alert
    sent: int = 0  # stories e-mailed on their own in this run
    summarised: int = 0  # stories e-mailed inside a summary in this run
    held: int = 0  # stories waiting for the hourly budget
    expired: int = 0
    recipients: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    permanent: bool = False
    note: str = ""

    @property
    def exit_code(self) -> int:
        if not self.failed:
            return 0
        return 1 if self.permanent else EX_TEMPFAIL


# ── which stories ────────────────────────────────────────────────────────────────────────────


def _newest_decisions(session: Session, ids: list[int]) -> dict[int, Decision]:
    out: dict[int, Decision] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        for d in session.scalars(
            select(Decision).where(Decision.item_id.in_(chunk)).order_by(Decision.at, Decision.id)
        ):
            out[d.item_id] = d
    return out


def _level(cls: Classification, dec: Decision | None) -> str | None:
    """The item's alert reason with the officer's decision in force, or None."""
    sensitivity, misleading = cls.sensitivity, cls.misleading
    if dec is not None:
        if dec.action in ("dismiss", "exclude") or dec.relevant is False:
            return None
        sensitivity = dec.sensitivity or sensitivity
        misleading = dec.misleading or misleading
    if misleading == "sai_lech":
        return "sai_lech"
    if sensitivity == "nhay_cam":
        return "nhay_cam"
    return None


def find_new(session: Session, profile_name: str, now: dt.datetime, cfg: DeliveryConfig) -> int:
    """Add an Alert row for every story that now warrants one and has none; return how many."""
    lo = now - cfg.alert_lookback
    flagged_by_officer = select(Decision.item_id).where(
        or_(Decision.sensitivity == "nhay_cam", Decision.misleading == "sai_lech")
    )
    rows = session.execute(
        select(Classification, Item.published_at, Item.fetched_at)
        .join(Item, Item.id == Classification.item_id)
        .join(Source, Source.id == Item.source_id)
        .where(
            Source.profile == profile_name,
            Classification.relevant.is_(True),
            Classification.story_id.is_not(None),
            Classification.story_id.not_in(select(Alert.story_id)),
            or_(
                Classification.sensitivity == "nhay_cam",
                Classification.misleading == "sai_lech",
                Classification.item_id.in_(flagged_by_officer),
            ),
            or_(
                Item.published_at >= lo,
                and_(Item.published_at.is_(None), Item.fetched_at >= lo),
            ),
        )
    ).all()
    decisions = _newest_decisions(session, [cls.item_id for cls, _, _ in rows])
    best: dict[int, tuple] = {}  # story -> (severity, -time, item id, reason)
    for cls, published, fetched in rows:
        reason = _level(cls, decisions.get(cls.item_id))
        if reason is None:
            continue
        when = published or fetched
        key = (SEVERITY[reason], -when.timestamp(), -cls.item_id)
        if cls.story_id not in best or key > best[cls.story_id][0]:
            best[cls.story_id] = (key, cls.item_id, reason)
    created = 0
    for story_id, (_key, item_id, reason) in sorted(best.items()):
        try:
            with session.begin_nested():
                session.add(
                    Alert(story_id=story_id, item_id=item_id, reason=reason, created_at=now)
                )
            created += 1
        except IntegrityError:  # another process alerted this story first
            continue
    session.commit()
    return created


# ── the e-mail ───────────────────────────────────────────────────────────────────────────────

# The HTML escapes everything it is given; the plain text shows it as it is (text is inert).
_ENV = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
_TEXT_ENV = jinja2.Environment(autoescape=False, trim_blocks=True, lstrip_blocks=True)

TEXT = _TEXT_ENV.from_string(
    """\
{% if entries|length > 1 %}
Đã đủ số thư cảnh báo cho một giờ: {{ entries|length }} câu chuyện dưới đây gộp trong một thư.

{% endif %}
{% for e in entries %}
{% if entries|length > 1 %}{{ loop.index }}. {% endif %}[{{ e.reason_vi|upper }}] {{ e.title }}
Nguồn: {{ e.source }} · {{ e.when }}
Địa chỉ: {{ e.url }}
{% if e.outlets > 1 %}Câu chuyện đã có trên {{ e.outlets }} nguồn: {{ e.outlet_names }}
{% endif %}
{% if e.reasons %}Vì sao:
{% for r in e.reasons %}  – {{ r }}
{% endfor %}{% endif %}
{% if e.claim %}Nội dung: “{{ e.claim }}”
{% endif %}
{% if e.statement %}Thông tin chính thức khớp: {{ e.statement.title }} ({{ e.statement.source }}\
{% if e.statement.when %}, {{ e.statement.when }}{% endif %})\
{% if e.statement.url %} {{ e.statement.url }}{% endif %}

{% endif %}
{% if e.review %}Xem và xử lý: {{ e.review }}
{% endif %}

{% endfor %}
--
Cảnh báo tự động của hệ thống Điểm tin — {{ agency }}.
Mỗi câu chuyện chỉ được cảnh báo một lần; tin cũng có trong điểm tin báo chí kỳ tới.
"""
)

HTML = _ENV.from_string(
    """\
<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ subject }}</title></head>
<body style="margin:0;padding:0;background:#f4f4f4;font-family:Arial,Helvetica,sans-serif;\
color:#222;font-size:15px;line-height:1.45">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f4f4">
<tr><td align="center" style="padding:12px">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" \
style="max-width:640px;background:#fff;border-top:4px solid #b00020">
<tr><td style="padding:16px 18px 4px 18px">
<div style="font-size:13px;color:#b00020;font-weight:bold;text-transform:uppercase">\
Cảnh báo tức thời</div>
<div style="font-size:13px;color:#555">{{ agency }}</div>
{% if entries|length > 1 %}<div style="font-size:14px;margin-top:6px">Đã đủ số thư cảnh báo \
cho một giờ: {{ entries|length }} câu chuyện dưới đây gộp trong một thư.</div>{% endif %}
</td></tr>
{% for e in entries %}
<tr><td style="padding:12px 18px;border-bottom:1px solid #eee;word-wrap:break-word;\
overflow-wrap:anywhere">
<div style="font-size:12px;font-weight:bold;color:#fff;background:\
{% if e.reason == 'sai_lech' %}#b00020{% else %}#c25e00{% endif %};display:inline-block;\
padding:2px 6px;border-radius:3px">{{ e.reason_vi }}</div>
<div style="font-size:17px;font-weight:bold;margin:6px 0">\
<a href="{{ e.url }}" style="color:#0b3d91;text-decoration:none">{{ e.title }}</a></div>
<div style="font-size:13px;color:#555">{{ e.source }} · {{ e.when }}\
{% if e.outlets > 1 %} · {{ e.outlets }} nguồn: {{ e.outlet_names }}{% endif %}</div>
{% if e.reasons %}<ul style="margin:8px 0;padding-left:20px">
{% for r in e.reasons %}<li>{{ r }}</li>
{% endfor %}</ul>{% endif %}
{% if e.claim %}<div style="margin:6px 0;padding:6px 10px;border-left:3px solid #ccc;\
color:#333">“{{ e.claim }}”</div>{% endif %}
{% if e.statement %}<div style="margin:6px 0">Thông tin chính thức khớp: \
{% if e.statement.url %}<a href="{{ e.statement.url }}">{{ e.statement.title }}</a>\
{% else %}{{ e.statement.title }}{% endif %} ({{ e.statement.source }}\
{% if e.statement.when %}, {{ e.statement.when }}{% endif %})</div>{% endif %}
<div style="margin-top:8px"><a href="{{ e.url }}">Mở bài gốc</a>\
{% if e.review %} · <a href="{{ e.review }}">Xem và xử lý</a>{% endif %}</div>
</td></tr>
{% endfor %}
<tr><td style="padding:12px 18px;font-size:12px;color:#777">Cảnh báo tự động của hệ thống Điểm \
tin. Mỗi câu chuyện chỉ được cảnh báo một lần; tin cũng có trong điểm tin báo chí kỳ tới.</td></tr>
</table></td></tr></table></body></html>
"""
)


def _short(text: str, n: int = 140) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _when(value: dt.datetime | None, tz) -> str:
    return value.astimezone(tz).strftime("%H:%M %d/%m/%Y") if value else "—"


def _entry(session: Session, alert: Alert, cfg: DeliveryConfig) -> dict:
    tz = cfg.tz
    item = session.get(Item, alert.item_id)
    cls = session.get(Classification, alert.item_id)
    story = session.get(Story, alert.story_id)
    source = session.get(Source, item.source_id)
    ev = (cls.misleading_evidence if cls else None) or {}
    reasons = list((cls.sensitivity_reasons if cls else None) or [])
    if cls is not None and cls.misleading != "khong":
        why = ev.get("why")
        label = f"{MISLEADING_VI.get(cls.misleading, cls.misleading)}"
        reasons.append(f"{label}: {why}" if why else label)
    statement = None
    ref = ev.get("statement")
    if ref:
        st_item = session.get(Item, ref.get("item_id")) if ref.get("item_id") else None
        st_source = session.get(Source, st_item.source_id) if st_item else None
        published = st_item.published_at if st_item else None
        statement = {
            "title": ref.get("title") or (st_item.title if st_item else ""),
            "source": st_source.title if st_source else ref.get("source", ""),
            "url": st_item.url if st_item else None,
            "when": _when(published, tz) if published else "",
        }
    outlets = list((story.outlets if story else None) or [])
    if outlets:
        titles = dict(
            session.execute(select(Source.name, Source.title).where(Source.name.in_(outlets))).all()
        )
        outlets = [titles.get(o, o) for o in outlets]
    review = None
    if cfg.review_url:
        try:
            review = cfg.review_url.format(item_id=item.id, story_id=alert.story_id)
        except (KeyError, IndexError, ValueError):
            review = cfg.review_url
    return {
        "reason": alert.reason,
        "reason_vi": REASON_VI.get(alert.reason, alert.reason),
        "title": item.title,
        "source": source.title if source else "",
        "when": _when(item.published_at or item.fetched_at, tz),
        "url": item.url,
        "outlets": len(outlets) or 1,
        "outlet_names": ", ".join(outlets),
        "reasons": reasons,
        "claim": ev.get("claim") if ev.get("claim") and ev.get("claim") != item.title else None,
        "statement": statement,
        "review": review,
    }


def alert_message(
    entries: list[dict],
    *,
    agency: str,
    from_addr: str,
    recipient: str,
    msg_id: str,
) -> EmailMessage:
    if len(entries) == 1:
        e = entries[0]
        subject = f"[Cảnh báo] Tin {e['reason_vi'].lower()}: {_short(e['title'])}"
    else:
        subject = f"[Cảnh báo] {len(entries)} câu chuyện nhạy cảm, sai lệch mới"
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = subject
    msg["From"] = Address(display_name=agency, addr_spec=address_of(from_addr))
    msg["To"] = recipient
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = msg_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Priority"] = "1"
    msg.set_content(TEXT.render(entries=entries, agency=agency), cte="quoted-printable")
    msg.add_alternative(
        HTML.render(entries=entries, agency=agency, subject=subject),
        subtype="html",
        cte="quoted-printable",
    )
    return msg


# ── sending ──────────────────────────────────────────────────────────────────────────────────


def _used(session: Session, now: dt.datetime) -> int:
    """Alert e-mails any one recipient got in the last hour (a summary counts once)."""
    per: dict[str, set[str]] = {}
    for rcpt, mid in session.execute(
        select(Delivery.recipient, Delivery.message_id).where(
            Delivery.alert_id.is_not(None),
            Delivery.status == "sent",
            Delivery.sent_at > now - HOUR,
        )
    ):
        per.setdefault(address_of(rcpt).lower(), set()).add(mid)
    return max((len(v) for v in per.values()), default=0)


def _items_of(profile_name: str):
    """The profile's items (alerts are per profile; a data directory may hold several)."""
    return (
        select(Item.id)
        .join(Source, Source.id == Item.source_id)
        .where(Source.profile == profile_name)
    )


def _owed_groups(
    session: Session, profile_name: str, alert_ids: list[int] | None = None
) -> list[Group]:
    """Ledger rows still owed for the profile's live alerts, one group per (message,
    recipient)."""
    live = select(Alert.id).where(
        Alert.status.in_(("pending", "sending", "failed")),
        Alert.item_id.in_(_items_of(profile_name)),
    )
    q = select(Delivery).where(
        Delivery.alert_id.in_(live), Delivery.status.in_(("pending", "failed"))
    )
    if alert_ids is not None:
        q = q.where(Delivery.alert_id.in_(alert_ids))
    groups: dict[tuple[str, str], Group] = {}
    for row in session.scalars(q.order_by(Delivery.id)):
        key = (row.message_id, row.recipient)
        groups.setdefault(key, Group(row.recipient, row.message_id, [])).row_ids.append(row.id)
    return list(groups.values())


def _settle(session: Session, alert_ids: set[int]) -> None:
    for alert_id in alert_ids:
        alert = session.get(Alert, alert_id)
        states = {
            r.status for r in session.scalars(select(Delivery).where(Delivery.alert_id == alert_id))
        }
        if states == {"sent"}:
            alert.status = "sent"
        elif "failed" in states:
            alert.status = "failed"
        else:
            alert.status = "pending"
    session.commit()


def check_alerts(
    factory: sessionmaker[Session],
    settings: Settings,
    profile: Profile,
    profile_name: str,
    *,
    now: dt.datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> AlertResult:
    """Find new alert-worthy stories and e-mail what the hourly budget allows (see above)."""
    now = now or utcnow()
    cfg = delivery_config(profile)
    result = AlertResult(recipients=len(cfg.alert_recipients))
    if cfg.alert_max_per_hour <= 0:
        result.note = "cảnh báo tức thời đang tắt (alert_max_per_hour: 0)"
        return result
    smtp = settings.smtp
    domain = sender_domain(smtp)
    with factory() as session:
        result.created = find_new(session, profile_name, now, cfg)
        # Held or failing for longer than the lookback: the digest carries them now.
        for alert in session.scalars(
            select(Alert).where(
                Alert.status.in_(("pending", "failed")),
                Alert.created_at < now - cfg.alert_lookback,
                Alert.item_id.in_(_items_of(profile_name)),
            )
        ):
            alert.status = "expired"
            result.expired += 1
        session.commit()
    if not cfg.alert_recipients:
        result.note = "hồ sơ chưa khai báo người nhận cảnh báo (digest.alert_recipients)"
        with factory() as session:
            result.held = len(
                list(
                    session.scalars(
                        select(Alert.id).where(
                            Alert.status == "pending", Alert.item_id.in_(_items_of(profile_name))
                        )
                    )
                )
            )
        return result

    outcome = Outcome()

    def make(group: Group) -> EmailMessage:
        with factory() as s:
            alerts = [s.get(Alert, s.get(Delivery, i).alert_id) for i in group.row_ids]
            outlets = {a.id: (s.get(Story, a.story_id).item_count or 1) for a in alerts}
            alerts.sort(key=lambda a: _rank(a, outlets[a.id]))
            entries = [_entry(s, a, cfg) for a in alerts]
        return alert_message(
            entries,
            agency=profile.agency,
            from_addr=smtp.from_addr,
            recipient=group.recipient,
            msg_id=group.message_id,
        )

    with send_lock(settings.data_dir):
        # 1. What an earlier run left owed goes first, exactly as it was planned.
        with factory() as session:
            groups = _owed_groups(session, profile_name)
        if groups:
            outcome.merge(send_groups(factory, smtp, groups, make, sleep=sleep))
            with factory() as session:
                _settle(
                    session, {session.get(Delivery, i).alert_id for g in groups for i in g.row_ids}
                )
        # 2. New alerts, within the hour's budget.
        with factory() as session:
            waiting = list(
                session.scalars(
                    select(Alert).where(
                        Alert.status == "pending",
                        Alert.item_id.in_(_items_of(profile_name)),
                        Alert.id.not_in(
                            select(Delivery.alert_id).where(Delivery.alert_id.is_not(None))
                        ),
                    )
                )
            )
            stories = {
                s.id: s.item_count
                for s in session.scalars(
                    select(Story).where(Story.id.in_([a.story_id for a in waiting]))
                )
            }
            waiting.sort(key=lambda a: _rank(a, stories.get(a.story_id, 1)))
            budget = max(cfg.alert_max_per_hour - _used(session, now), 0)
            if not waiting or budget == 0:
                result.held = len(waiting)
                if waiting:
                    result.note = (
                        f"đã đủ {cfg.alert_max_per_hour} thư cảnh báo trong một giờ; "
                        f"{len(waiting)} câu chuyện chờ lượt sau"
                    )
                return _finish(result, outcome)
            if len(waiting) <= budget:
                plan = [[a] for a in waiting]
            else:  # the last e-mail of the budget summarises everything else
                plan = [[a] for a in waiting[: budget - 1]] + [waiting[budget - 1 :]]
            single: dict[int, bool] = {}
            for batch in plan:
                ids = [a.id for a in batch]
                for rcpt in cfg.alert_recipients:
                    if len(batch) == 1:
                        mid = message_id(
                            "canhbao", ids[0], profile_name, recipient=rcpt, domain=domain
                        )
                    else:  # a summary: named by its first alert, hashed over all of them
                        mid = message_id(
                            "canhbao-tonghop",
                            f"{ids[0]}-{len(ids)}",
                            profile_name,
                            *ids,
                            recipient=rcpt,
                            domain=domain,
                        )
                    for alert_id in ids:
                        row = Delivery(alert_id=alert_id, recipient=rcpt, message_id=mid)
                        session.add(row)
                single.update({i: len(batch) == 1 for i in ids})
            session.commit()
            groups = _owed_groups(session, profile_name, list(single))
        outcome.merge(send_groups(factory, smtp, groups, make, sleep=sleep))
        with factory() as session:
            _settle(session, set(single))
            for alert in session.scalars(select(Alert).where(Alert.id.in_(list(single)))):
                if alert.status != "sent":
                    continue
                if single[alert.id]:
                    result.sent += 1
                else:
                    result.summarised += 1
    return _finish(result, outcome)


def _rank(alert: Alert, outlets: int = 1) -> tuple:
    return (-SEVERITY.get(alert.reason, 0), -outlets, alert.created_at, alert.id)


def _finish(result: AlertResult, outcome: Outcome) -> AlertResult:
    result.failed = outcome.failed
    result.permanent = outcome.permanent
    return result
