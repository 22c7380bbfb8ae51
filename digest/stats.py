"""The digest's numbers: windows, counts by tone and channel against the day before and the
7-day average, and spike notices.

A "day" here is a digest day: the window that ends at ``window_start`` (07:00) on that date and
starts 24 hours earlier, in the profile's time zone. Counts are of items (tin, bài) in force
after officers' decisions; the entries below them are stories.

Spikes: a topic (or an older story) whose item count today is above the mean of the 14 days
before plus three standard deviations (and at least ``MIN_SPIKE`` items, with at least
``MIN_HISTORY_DAYS`` of those days holding any items, so a new store does not cry wolf); and a
sensitive story that reached outlets since the previous digest that it had not reached before.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from store.taxonomy import CHANNEL_VI, TONE_VI, TONES, TOPIC_VI

from .model import CHANNELS, UNLABELLED, UNLABELLED_VI, Count, DayCounts

HISTORY_DAYS = 14
AVG_DAYS = 7
MIN_SPIKE = 3
MIN_HISTORY_DAYS = 7
SIGMAS = 3.0


def fmt_num(x: float) -> str:
    """A number as Vietnamese writes it: one decimal at most, decimal comma (12,5)."""
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.1f}".replace(".", ",")


def parse_hhmm(text: str | None, default: time = time(7, 0)) -> time:
    if not text:
        return default
    try:
        hh, mm = str(text).strip().split(":", 1)
        return time(int(hh), int(mm))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"giờ không hợp lệ {text!r} (ví dụ: 07:00)") from exc


def window_for(day: date, tz: ZoneInfo, start: time = time(7, 0)) -> tuple[datetime, datetime]:
    """(start, end) of the digest for ``day``: 24 hours ending at ``start`` o'clock that day."""
    end = datetime.combine(day, start, tzinfo=tz)
    begin = datetime.combine(day - timedelta(days=1), start, tzinfo=tz)
    return begin, end


def day_of(moment: datetime, tz: ZoneInfo, start: time = time(7, 0)) -> date:
    """The digest day whose window holds ``moment`` (an item at 07:00 belongs to the next day)."""
    local = moment.astimezone(tz)
    return (
        local.date() + timedelta(days=1)
        if local.timetz().replace(tzinfo=None) >= start
        else local.date()
    )


@dataclass
class ItemFacts:
    """One item's labels in force, for counting."""

    item_id: int
    when: datetime
    channel: str
    tone: str | None  # None: unlabelled
    topics: tuple[str, ...]
    story_id: int | None


def count_day(day: date, items: Iterable[ItemFacts]) -> DayCounts:
    tone: Counter = Counter()
    channel: Counter = Counter()
    total = 0
    for it in items:
        total += 1
        tone[it.tone or UNLABELLED] += 1
        channel[it.channel] += 1
    return DayCounts(day=day, tone=dict(tone), channel=dict(channel), total=total)


def by_day(
    items: Iterable[ItemFacts], tz: ZoneInfo, start: time, days: Sequence[date]
) -> dict[date, list[ItemFacts]]:
    out: dict[date, list[ItemFacts]] = {d: [] for d in days}
    for it in items:
        d = day_of(it.when, tz, start)
        if d in out:
            out[d].append(it)
    return out


def _mean_sd(xs: Sequence[float]) -> tuple[float, float]:
    if not xs:
        return 0.0, 0.0
    m = sum(xs) / len(xs)
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / len(xs))


def counts(today: DayCounts, before: Sequence[DayCounts]) -> tuple[list[Count], list[Count], Count]:
    """Header lines: by tone, by channel, and the total; ``before`` is newest first."""
    prev = before[0] if before else None
    week = list(before[:AVG_DAYS])

    def line(code: str, label: str, get) -> Count:
        avg = sum(get(d) for d in week) / len(week) if week else 0.0
        return Count(code, label, get(today), get(prev) if prev else 0, round(avg, 1))

    tones = [line(t, TONE_VI[t], lambda d, t=t: d.tone.get(t, 0)) for t in TONES]
    if today.tone.get(UNLABELLED) or any(d.tone.get(UNLABELLED) for d in week):
        tones.append(line(UNLABELLED, UNLABELLED_VI, lambda d: d.tone.get(UNLABELLED, 0)))
    chans = [line(c, CHANNEL_VI[c], lambda d, c=c: d.channel.get(c, 0)) for c in CHANNELS]
    total = line("tong", "Tổng số", lambda d: d.total)
    return tones, chans, total


@dataclass
class Spike:
    kind: str  # topic | story
    key: str | int
    label: str
    today: int
    mean: float
    sd: float

    @property
    def text(self) -> str:
        what = f"Chủ đề «{self.label}»" if self.kind == "topic" else f"Câu chuyện «{self.label}»"
        return (
            f"{what} tăng đột biến: {self.today} tin, bài trong ngày, so với trung bình "
            f"{fmt_num(self.mean)} (độ lệch chuẩn {fmt_num(self.sd)}) của {HISTORY_DAYS} ngày "
            "trước."
        )


def spikes(
    today: Counter, history: Sequence[Counter], *, kind: str, labels: dict | None = None
) -> list[Spike]:
    """Keys of ``today`` above mean + 3σ of ``history`` (one Counter per earlier day)."""
    if sum(1 for h in history if h) < MIN_HISTORY_DAYS and kind == "topic":
        return []
    out = []
    for key, n in today.items():
        if n < MIN_SPIKE:
            continue
        m, sd = _mean_sd([h.get(key, 0) for h in history])
        if n > m + SIGMAS * sd:
            label = (labels or {}).get(key, str(key))
            out.append(Spike(kind, key, label, n, m, sd))
    out.sort(key=lambda s: -(s.today - s.mean))
    return out


def topic_label(code: str) -> str:
    return TOPIC_VI.get(code, code)


def new_outlets(spread: Sequence, since: datetime, until: datetime) -> tuple[list[str], list[str]]:
    """(outlets first reached in [since, until), outlets reached before ``since``)."""
    first: dict[str, datetime] = {}
    for entry in spread or ():
        try:
            name, at = entry[0], datetime.fromisoformat(entry[1])
        except (TypeError, ValueError, IndexError):
            continue
        if at.tzinfo is None:
            continue
        if name not in first or at < first[name]:
            first[name] = at
    before = [n for n, t in first.items() if t < since]
    new = [n for n, t in sorted(first.items(), key=lambda kv: kv[1]) if since <= t < until]
    return new, before
