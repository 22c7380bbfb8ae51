"""When the day's digest is due, and the delivery keys of a profile's `digest:` block.

The block (config/<province>.yaml) holds, besides what the builder reads:

```yaml
digest:
  recipients: ["Lãnh đạo Tỉnh ủy <lanhdao@tinh.gov.vn>", "vanphong@tinh.gov.vn"]
  window_start: "07:00"   # the day's window: 07:00 the day before → 07:00 today
  send_at: "07:30"        # when the digest is due (local time of the profile)
  require_approval: false # true: wait for a lead's approval in the review app…
  deadline: "09:30"       # …but send anyway at this time (default: send_at + 2 h)…
  send_unapproved: true   # …unless false: an unapproved digest is then never sent by itself
  alert_recipients: ["truc@tinh.gov.vn"]   # immediate alerts (default: recipients)
  alert_max_per_hour: 5   # alert e-mails per recipient per rolling hour (0: alerts off)
  alert_lookback: 48h     # only stories seen this recently raise an alert
  review_url: "https://diemtin.tinh.gov.vn/items/{item_id}"   # link in alerts (optional)
```

Recipients are e-mail addresses, with a display name or not, as a list or one comma-separated
string (so `${DIEMTIN_DIGEST_TO}` can fill them from the environment).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from email.utils import getaddresses
from zoneinfo import ZoneInfo

from store.profile import Profile, parse_duration

DEFAULT_WINDOW_START = dt.time(7, 0)
DEFAULT_SEND_AT = dt.time(7, 30)
DEFAULT_GRACE = dt.timedelta(hours=2)
DEFAULT_ALERTS_PER_HOUR = 5
DEFAULT_ALERT_LOOKBACK = dt.timedelta(hours=48)


def parse_clock(value, default: dt.time | None = None) -> dt.time | None:
    """'07:30', '7h30', 7 (hours), a time, or None (the default)."""
    if value is None or value == "":
        return default
    if isinstance(value, dt.time):
        return value
    if isinstance(value, int):  # YAML 1.1 reads 07:30 unquoted as 450 (minutes, base 60)
        if value >= 24:
            return dt.time(value // 60 % 24, value % 60)
        return dt.time(value, 0)
    text = str(value).strip().lower().replace("h", ":").rstrip(":")
    parts = text.split(":")
    try:
        hour, minute = int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
        return dt.time(hour, minute)
    except (ValueError, IndexError) as exc:
        raise ValueError(f"không hiểu giờ {value!r} (ví dụ: 07:30)") from exc


def parse_recipients(value) -> list[str]:
    """Addresses, each once (case-insensitive), as 'Name <addr>' or 'addr'."""
    if not value:
        return []
    items = [value] if isinstance(value, str) else [str(v) for v in value]
    out: list[str] = []
    seen: set[str] = set()
    for name, addr in getaddresses(items):
        addr = addr.strip()
        if "@" not in addr or addr.lower() in seen:
            continue
        seen.add(addr.lower())
        out.append(f"{name} <{addr}>" if name else addr)
    return out


def address_of(recipient: str) -> str:
    """The bare address of a recipient string."""
    return getaddresses([recipient])[0][1] or recipient


@dataclass(frozen=True)
class DeliveryConfig:
    recipients: list[str] = field(default_factory=list)
    window_start: dt.time = DEFAULT_WINDOW_START
    send_at: dt.time = DEFAULT_SEND_AT
    require_approval: bool = False
    deadline: dt.time | None = None
    send_unapproved: bool = True  # with require_approval: send at the deadline anyway
    alert_recipients: list[str] = field(default_factory=list)
    alert_max_per_hour: int = DEFAULT_ALERTS_PER_HOUR
    alert_lookback: dt.timedelta = DEFAULT_ALERT_LOOKBACK
    review_url: str | None = None
    timezone: str = "Asia/Ho_Chi_Minh"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def delivery_config(profile: Profile) -> DeliveryConfig:
    """The delivery keys of the profile's `digest:` block, with their defaults."""
    block = dict((profile.model_extra or {}).get("digest") or {})
    recipients = parse_recipients(block.get("recipients"))
    alert_to = block.get("alert_recipients")
    send_at = parse_clock(block.get("send_at"), DEFAULT_SEND_AT)
    lookback = block.get("alert_lookback")
    return DeliveryConfig(
        recipients=recipients,
        window_start=parse_clock(block.get("window_start"), DEFAULT_WINDOW_START),
        send_at=send_at,
        require_approval=bool(block.get("require_approval", False)),
        deadline=parse_clock(block.get("deadline")),
        send_unapproved=bool(block.get("send_unapproved", True)),
        alert_recipients=parse_recipients(alert_to) if alert_to is not None else recipients,
        alert_max_per_hour=int(block.get("alert_max_per_hour", DEFAULT_ALERTS_PER_HOUR)),
        alert_lookback=parse_duration(lookback) if lookback else DEFAULT_ALERT_LOOKBACK,
        review_url=block.get("review_url") or None,
        timezone=profile.timezone,
    )


def local_day(now: dt.datetime, tz: ZoneInfo) -> dt.date:
    return now.astimezone(tz).date()


def at(day: dt.date, clock: dt.time, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, clock, tzinfo=tz)


def window_end(day: dt.date, cfg: DeliveryConfig) -> dt.datetime:
    """The day's window closes at `window_start` on the day itself."""
    return at(day, cfg.window_start, cfg.tz)


def send_time(day: dt.date, cfg: DeliveryConfig) -> dt.datetime:
    """When the day's digest is due; never before its window has closed."""
    return max(at(day, cfg.send_at, cfg.tz), window_end(day, cfg))


def deadline_time(day: dt.date, cfg: DeliveryConfig) -> dt.datetime:
    """With `require_approval`: when it goes out unapproved (default send_at + 2 h)."""
    if cfg.deadline is None:
        return send_time(day, cfg) + DEFAULT_GRACE
    return max(at(day, cfg.deadline, cfg.tz), send_time(day, cfg))


@dataclass(frozen=True)
class Due:
    """What a cycle should do about the day's digest, and why (Vietnamese, for the report)."""

    build: bool
    send: bool
    reason: str


def due(
    now: dt.datetime,
    day: dt.date,
    cfg: DeliveryConfig,
    *,
    status: str | None,
    built_at: dt.datetime | None,
) -> Due:
    """Decide for the digest of `day`, given its row's status and build time (None: no row).

    - Before the window closes: nothing. After it, a digest that does not exist yet, or was
      built (a preview) before the window closed, is (re)built — only while its status is
      `built`: an approved, sending, sent or failed digest keeps its content.
    - It is sent from `send_at` on; with `require_approval`, once approved, or at `deadline`
      (never unapproved when `send_unapproved` is false).
    - A `sending`/`failed` digest is sent again (the ledger sends only what is undelivered).
    """
    closes = window_end(day, cfg)
    hhmm = send_time(day, cfg).astimezone(cfg.tz).strftime("%H:%M")
    if now < closes:
        return Due(False, False, f"khoảng tin chưa khép (đến {closes:%H:%M})")
    if status == "sent":
        return Due(False, False, "đã gửi")
    stale = status is None or (status == "built" and (built_at is None or built_at < closes))
    if status in ("sending", "failed"):
        return Due(False, True, "gửi nốt những người nhận chưa nhận được")
    if now < send_time(day, cfg):
        if cfg.require_approval:
            return Due(stale, False, f"chờ lãnh đạo duyệt; gửi lúc {hhmm} nếu đã duyệt")
        return Due(stale, False, f"chưa đến giờ gửi ({hhmm})")
    if cfg.require_approval and status != "approved":
        limit = deadline_time(day, cfg)
        if now < limit:
            return Due(stale, False, f"chờ lãnh đạo duyệt (hạn {limit.astimezone(cfg.tz):%H:%M})")
        if not cfg.send_unapproved:
            return Due(stale, False, "quá hạn duyệt; hồ sơ không cho gửi bản chưa duyệt: chờ duyệt")
        return Due(stale, True, "quá hạn duyệt: gửi bản chưa duyệt")
    return Due(stale, True, "đến giờ gửi")
