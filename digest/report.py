"""The periodic report (`diemtin report --from --to`): the monthly or annual statistics the
provinces' plans ask units to send up, as DOCX (administrative style) and XLSX.

What counts: the relevant items of the profile's sources published (or, lacking a date, fetched)
between `start` 00:00 and `end` 24:00 in the office's time zone, both days included. An officer's
newest decision on an item is in force over the classifier, as in the daily digest (so a month's
figures add up from its digests): `exclude` or `relevant: false` leaves the item out, corrected
topics, tone, sensitivity and misleading replace the classifier's, `dismiss` clears the flags
unless it sets them itself. Items nobody has classified yet are counted, under "Chưa phân loại".

Tables: overview, topics (multi-label: an item counts under each of its topics), tone, channel
(with tone), source, sensitivity, misleading, top stories (by outlets then items), handling status,
how items were handled (the officers' handling text), flagged items (sensitive or misleading, by
status) and the list of items with a decision. `tables(data)` is the one description of them that
both writers use, so the DOCX and the XLSX always say the same thing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from store.models import Classification, Decision, Item, Source, Story
from store.taxonomy import CHANNEL_VI, LEVEL_VI, MISLEADING_VI, TONE_VI, TONES, TOPIC_VI

STATUS_VI = {
    "moi": "Mới",
    "dang_xu_ly": "Đang xử lý",
    "da_xu_ly": "Đã xử lý",
    "bo_qua": "Bỏ qua",
}
NO_DECISION = "Chưa có quyết định"
UNCLASSIFIED = "Chưa phân loại"
NO_TOPIC = "Khác (không thuộc chủ đề nào)"
NO_HANDLING = "(chưa ghi cách xử lý)"
LEVELS = ("nhay_cam", "can_chu_y", "binh_thuong")
MISLEADING = ("sai_lech", "chua_kiem_chung", "khong")
STATUSES = tuple(STATUS_VI)
# The thresholds the shipped heads chose on dev, read from their meta.json (no model loaded).
DEFAULT_META = Path(__file__).resolve().parents[1] / "classify" / "models" / "default" / "meta.json"
TOP_STORIES = 20
_CHUNK = 500


# ─────────────────────────────── data ───────────────────────────────


@dataclass
class Count:
    """One row of a count table: a stable code (None for "Chưa phân loại"), its label, the count."""

    code: str | None
    label: str
    count: int
    # Breakdown by tone (tich_cuc/trung_lap/tieu_cuc/None), for channels and sources.
    tones: dict[str | None, int] = field(default_factory=dict)
    extra: str = ""  # e.g. the channel of a source


@dataclass
class TopStory:
    title: str
    outlets: int  # distinct sources that carried it in the period
    items: int
    first_seen: dt.datetime
    outlet_names: list[str]
    tone: str | None
    topics: list[str]
    sensitivity: str | None


@dataclass
class Handled:
    """An item with an officer's decision (the newest one)."""

    item_id: int
    published: dt.datetime
    title: str
    source: str
    url: str
    sensitivity: str | None
    misleading: str | None
    status: str
    handling: str | None
    user: str
    at: dt.datetime
    note: str | None


@dataclass
class Flagged:
    """Sensitive or misleading items of one level, by handling status."""

    code: str
    label: str
    count: int
    by_status: dict[str, int]  # STATUSES and NO_DECISION → count


@dataclass
class ReportData:
    agency: str
    province: str
    start: dt.date
    end: dt.date
    tz: str
    generated_at: dt.datetime
    total: int = 0  # relevant items in the period
    classified: int = 0
    unclassified: int = 0
    stories: int = 0
    sources: int = 0
    by_topic: list[Count] = field(default_factory=list)
    by_tone: list[Count] = field(default_factory=list)
    by_channel: list[Count] = field(default_factory=list)
    by_source: list[Count] = field(default_factory=list)
    by_sensitivity: list[Count] = field(default_factory=list)
    by_misleading: list[Count] = field(default_factory=list)
    top_stories: list[TopStory] = field(default_factory=list)
    by_status: list[Count] = field(default_factory=list)
    by_handling: list[Count] = field(default_factory=list)
    flagged: list[Flagged] = field(default_factory=list)
    handled: list[Handled] = field(default_factory=list)

    def counts(self, table: str) -> dict[str | None, int]:
        """{code: count} of one count table ('topic', 'tone', 'channel', 'source',
        'sensitivity', 'misleading', 'status', 'handling')."""
        rows: list[Count] = getattr(self, f"by_{table}")
        return {r.code: r.count for r in rows}


@dataclass
class _Row:
    """What the report knows of one counted item, decisions applied."""

    item_id: int
    title: str
    url: str
    kind: str
    source: str
    source_title: str
    published: dt.datetime
    story_id: int | None
    story_title: str | None
    classified: bool
    topics: list[str] | None  # None: not classified
    tone: str | None
    sensitivity: str | None
    misleading: str | None
    decision: Decision | None


# ─────────────────────────────── build ───────────────────────────────


def default_thresholds(path: Path = DEFAULT_META) -> dict[str, float]:
    """Per-topic thresholds of the shipped heads (a topic is assigned at or above its own)."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        return {k: float(v) for k, v in (meta.get("thresholds") or {}).items()}
    except (OSError, ValueError):
        return {}


def _tzinfo(tz) -> dt.tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _tzname(tz) -> str:
    return tz if isinstance(tz, str) else getattr(tz, "key", None) or str(tz)


def period_bounds(start: dt.date, end: dt.date, tz) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, day after end 00:00) in `tz`, as aware datetimes: both days included."""
    if end < start:
        raise ValueError(f"ngày kết thúc {end:%d/%m/%Y} trước ngày bắt đầu {start:%d/%m/%Y}")
    zone = _tzinfo(tz)
    lo = dt.datetime.combine(start, dt.time(0, 0), tzinfo=zone)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0, 0), tzinfo=zone)
    return lo, hi


def _newest_decisions(session: Session, item_ids: Sequence[int]) -> dict[int, Decision]:
    """The decision in force per item: the newest by time, then by id (as the digest takes it)."""
    out: dict[int, Decision] = {}
    for i in range(0, len(item_ids), _CHUNK):
        chunk = item_ids[i : i + _CHUNK]
        stmt = (
            select(Decision).where(Decision.item_id.in_(chunk)).order_by(Decision.at, Decision.id)
        )
        for dec in session.scalars(stmt):
            out[dec.item_id] = dec
    return out


def _topics_of(
    probs: Mapping[str, float] | None, fired: list | None, thresholds: Mapping[str, float]
) -> list[str]:
    """Topic codes at or above their own threshold, most probable first, plus lexicon topics
    (as the digest shows them)."""
    probs = probs or {}
    codes = [t for t, p in probs.items() if p is not None and p >= thresholds.get(t, 0.5)]
    codes.sort(key=lambda t: -(probs.get(t) or 0.0))
    for hit in fired or []:
        t = hit.get("topic") if isinstance(hit, dict) else None
        if t and t not in codes:
            codes.append(t)
    return codes


def _rows(
    session: Session,
    source_names: Iterable[str],
    profile_name: str | None,
    lo: dt.datetime,
    hi: dt.datetime,
    thresholds: Mapping[str, float],
) -> list[_Row]:
    names = list(source_names)
    mine = Source.name.in_(names) if names else None
    if profile_name:
        mine = (
            Source.profile == profile_name
            if mine is None
            else or_(mine, Source.profile == profile_name)
        )
    if mine is None:
        return []
    # Published in the period, or (no date) fetched in it: two ranges the indexes can serve.
    in_period = or_(
        and_(Item.published_at >= lo, Item.published_at < hi),
        and_(Item.published_at.is_(None), Item.fetched_at >= lo, Item.fetched_at < hi),
    )
    stmt = (
        select(
            Item.id,
            Item.title,
            Item.url,
            Item.kind,
            Item.published_at,
            Item.fetched_at,
            Source.name,
            Source.title,
            Classification.item_id,
            Classification.relevant,
            Classification.story_id,
            Classification.topics,
            Classification.rules_fired,
            Classification.tone,
            Classification.sensitivity,
            Classification.misleading,
            Story.title,
        )
        .join(Source, Source.id == Item.source_id)
        .outerjoin(Classification, Classification.item_id == Item.id)
        .outerjoin(Story, Story.id == Classification.story_id)
        .where(mine, in_period)
        .order_by(Item.id)
    )
    raw = session.execute(stmt).all()
    decisions = _newest_decisions(session, [r[0] for r in raw])
    out: list[_Row] = []
    for r in raw:
        (item_id, title, url, kind, published, fetched, sname, stitle, cls_id) = r[:9]
        relevant_cls, story_id, probs, fired, tone, level, misleading, story_title = r[9:]
        classified = cls_id is not None
        dec = decisions.get(item_id)
        if dec is not None and dec.action == "exclude":
            continue  # left out by an officer, as in the digest
        if dec is not None and dec.relevant is not None:
            relevant = dec.relevant
        elif classified:
            relevant = bool(relevant_cls)
        else:
            relevant = True  # not classified yet: counted, as "Chưa phân loại"
        if not relevant:
            continue
        dismissed = dec is not None and dec.action == "dismiss"
        topics = None
        if dec is not None and dec.topics is not None:
            topics = [str(t) for t in dec.topics]
        elif classified:
            topics = _topics_of(probs, fired, thresholds)
        out.append(
            _Row(
                item_id=item_id,
                title=title,
                url=url,
                kind=kind,
                source=sname,
                source_title=stitle,
                published=published or fetched,
                story_id=story_id,
                story_title=story_title,
                classified=classified,
                topics=topics,
                tone=(dec.tone if dec else None) or tone,
                sensitivity=(dec.sensitivity if dec else None)
                or ("binh_thuong" if dismissed else None)
                or level,
                misleading=(dec.misleading if dec else None)
                or ("khong" if dismissed else None)
                or (misleading if classified else None),
                decision=dec,
            )
        )
    return out


def _status(dec: Decision | None) -> str | None:
    """The handling status in force: the newest decision's, or what its action implies."""
    if dec is None:
        return None
    if dec.status in STATUS_VI:
        return dec.status
    return "bo_qua" if dec.action == "dismiss" else "moi"


def _labelled(counter: Counter, order: Sequence[str], labels: Mapping[str, str]) -> list[Count]:
    """Every code of `order` (zeros too), then any other code seen, then "Chưa phân loại"."""
    rows = [Count(c, labels.get(c, c), counter.get(c, 0)) for c in order]
    rows += [
        Count(c, labels.get(c, c), n)
        for c, n in counter.most_common()
        if c not in order and c is not None
    ]
    if counter.get(None):
        rows.append(Count(None, UNCLASSIFIED, counter[None]))
    return rows


def build_report(
    session: Session,
    profile,
    start: dt.date,
    end: dt.date,
    *,
    tz,
    profile_name: str | None = None,
    thresholds: Mapping[str, float] | None = None,
    top: int = TOP_STORIES,
    now: dt.datetime | None = None,
) -> ReportData:
    """The statistics of [start, end] (both days included, in `tz`, a name or a tzinfo) for the
    sources of `profile` (and, given `profile_name`, every source ever stored under that profile).
    `thresholds`: topic → probability at which the topic is assigned (default: the shipped
    heads')."""
    lo, hi = period_bounds(start, end, tz)
    zone = _tzinfo(tz)
    if thresholds is None:
        thresholds = default_thresholds()
    rows = _rows(
        session,
        [s.name for s in getattr(profile, "sources", []) or []],
        profile_name,
        lo,
        hi,
        thresholds,
    )
    data = ReportData(
        agency=profile.agency,
        province=profile.province.name,
        start=start,
        end=end,
        tz=_tzname(tz),
        generated_at=(now or dt.datetime.now(dt.UTC)).astimezone(zone),
    )
    data.total = len(rows)
    data.classified = sum(1 for r in rows if r.classified)
    data.unclassified = data.total - data.classified

    # Topics: multi-label; classified items with none go under NO_TOPIC.
    topics: Counter = Counter()
    topic_neg: Counter = Counter()
    for r in rows:
        codes = r.topics if r.topics is not None else [None]
        for c in codes or ["khac"]:
            topics[c] += 1
            if r.tone == "tieu_cuc":
                topic_neg[c] += 1
    data.by_topic = _labelled(topics, list(TOPIC_VI), {**TOPIC_VI, "khac": NO_TOPIC})
    for row in data.by_topic:
        row.tones = {"tieu_cuc": topic_neg.get(row.code, 0)}
    data.by_topic.sort(key=lambda c: (c.code is None, c.code == "khac", -c.count))

    data.by_tone = _labelled(Counter(r.tone for r in rows), TONES, TONE_VI)
    data.by_sensitivity = _labelled(Counter(r.sensitivity for r in rows), LEVELS, LEVEL_VI)
    data.by_misleading = _labelled(Counter(r.misleading for r in rows), MISLEADING, MISLEADING_VI)

    def with_tones(key) -> dict[Any, Count]:
        groups: dict[Any, Count] = {}
        for r in rows:
            k = key(r)
            g = groups.get(k)
            if g is None:
                g = groups[k] = Count(k[0], k[1], 0, extra=k[2] if len(k) > 2 else "")
            g.count += 1
            g.tones[r.tone] = g.tones.get(r.tone, 0) + 1
        return groups

    channels = with_tones(lambda r: (r.kind, CHANNEL_VI.get(r.kind, r.kind)))
    data.by_channel = [channels.get((k, v)) or Count(k, v, 0) for k, v in CHANNEL_VI.items()] + [
        g for (k, _), g in channels.items() if k not in CHANNEL_VI
    ]
    sources = with_tones(lambda r: (r.source, r.source_title, CHANNEL_VI.get(r.kind, r.kind)))
    data.by_source = sorted(sources.values(), key=lambda c: (-c.count, c.label))
    data.sources = len(data.by_source)

    # Stories: items grouped by story (an item without one is its own).
    groups: dict[tuple[str, int], list[_Row]] = defaultdict(list)
    for r in rows:
        groups[("s", r.story_id) if r.story_id else ("i", r.item_id)].append(r)
    data.stories = len(groups)
    ranked = []
    for members in groups.values():
        first = min(members, key=lambda r: (r.published, r.item_id))
        outlets = list(dict.fromkeys(r.source_title for r in sorted(members, key=_when)))
        tones = Counter(r.tone for r in members if r.tone)
        topic_n = Counter(t for r in members for t in (r.topics or []))
        levels = [r.sensitivity for r in members if r.sensitivity in LEVELS]
        ranked.append(
            TopStory(
                title=first.story_title or first.title,
                outlets=len(outlets),
                items=len(members),
                first_seen=first.published.astimezone(zone),
                outlet_names=outlets,
                tone=tones.most_common(1)[0][0] if tones else None,
                topics=[t for t, _ in topic_n.most_common(2)],
                sensitivity=min(levels, key=LEVELS.index) if levels else None,
            )
        )
    ranked.sort(key=lambda s: (-s.outlets, -s.items, s.first_seen, s.title))
    data.top_stories = ranked[:top]

    # Handling: the decision in force per item.
    statuses = Counter(_status(r.decision) for r in rows)
    data.by_status = [Count(s, STATUS_VI[s], statuses.get(s, 0)) for s in STATUSES]
    data.by_status.append(Count("chua_co", NO_DECISION, statuses.get(None, 0)))
    handling = Counter(
        (r.decision.handling or "").strip() or None for r in rows if r.decision is not None
    )
    data.by_handling = [Count(h, h, n) for h, n in handling.most_common() if h is not None]
    if handling.get(None):
        data.by_handling.append(Count(None, NO_HANDLING, handling[None]))

    for code, label, pick in (
        ("nhay_cam", LEVEL_VI["nhay_cam"], lambda r: r.sensitivity == "nhay_cam"),
        ("can_chu_y", LEVEL_VI["can_chu_y"], lambda r: r.sensitivity == "can_chu_y"),
        ("sai_lech", MISLEADING_VI["sai_lech"], lambda r: r.misleading == "sai_lech"),
        (
            "chua_kiem_chung",
            MISLEADING_VI["chua_kiem_chung"],
            lambda r: r.misleading == "chua_kiem_chung",
        ),
    ):
        chosen = [r for r in rows if pick(r)]
        by = Counter(_status(r.decision) or NO_DECISION for r in chosen)
        data.flagged.append(
            Flagged(code, label, len(chosen), {s: by.get(s, 0) for s in (*STATUSES, NO_DECISION)})
        )

    data.handled = [
        Handled(
            item_id=r.item_id,
            published=r.published.astimezone(zone),
            title=r.title,
            source=r.source_title,
            url=r.url,
            sensitivity=r.sensitivity,
            misleading=r.misleading,
            status=_status(r.decision) or "moi",
            handling=r.decision.handling,
            user=r.decision.user,
            at=r.decision.at.astimezone(zone),
            note=r.decision.note,
        )
        for r in sorted(rows, key=_when)
        if r.decision is not None
    ]
    return data


def _when(r: _Row):
    return (r.published, r.item_id)


# ─────────────────────────────── tables ───────────────────────────────


@dataclass
class Table:
    """One table of the report: the XLSX sheet `sheet`, the DOCX section `title`."""

    sheet: str  # ≤ 31 characters, no []:*?/\
    title: str
    headers: list[str]
    rows: list[list[Any]]
    widths: list[float]  # XLSX column widths (characters); DOCX shares them proportionally
    note: str = ""


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%".replace(".", ",") if total else "—"


def _d(value: dt.date | dt.datetime) -> str:
    return value.strftime("%d/%m/%Y")


def _dt(value: dt.datetime) -> str:
    return value.strftime("%d/%m/%Y %H:%M")


def _tone_cells(c: Count) -> list[int]:
    return [c.tones.get(t, 0) for t in TONES] + [c.tones.get(None, 0)]


def tables(data: ReportData) -> list[Table]:
    """The report's tables, in order, with Vietnamese headers."""
    total = data.total
    tone_heads = [TONE_VI[t] for t in TONES] + [UNCLASSIFIED]
    out = [
        Table(
            "Tổng quan",
            "Tổng quan",
            ["Chỉ tiêu", "Số lượng"],
            [
                ["Tổng số tin, bài liên quan đến tỉnh", total],
                ["Số tin đã phân loại", data.classified],
                ["Số tin chưa phân loại", data.unclassified],
                ["Số câu chuyện (tin trùng, đăng lại gộp làm một)", data.stories],
                ["Số nguồn tin có đăng", data.sources],
                ["Số tin có quyết định của cán bộ", len(data.handled)],
                [
                    "Số tin nhạy cảm",
                    next((f.count for f in data.flagged if f.code == "nhay_cam"), 0),
                ],
                [
                    "Số tin sai lệch",
                    next((f.count for f in data.flagged if f.code == "sai_lech"), 0),
                ],
            ],
            [52, 12],
        ),
        Table(
            "Chủ đề",
            "Số tin theo chủ đề",
            ["Chủ đề", "Số tin", "Tỉ lệ", "Trong đó tiêu cực"],
            [
                [c.label, c.count, _pct(c.count, total), c.tones.get("tieu_cuc", 0)]
                for c in data.by_topic
            ],
            [36, 10, 10, 18],
            note=(
                "Một tin có thể thuộc nhiều chủ đề, nên tổng theo chủ đề có thể lớn hơn "
                "tổng số tin."
            ),
        ),
        Table(
            "Sắc thái",
            "Số tin theo sắc thái",
            ["Sắc thái", "Số tin", "Tỉ lệ"],
            [[c.label, c.count, _pct(c.count, total)] for c in data.by_tone],
            [24, 10, 10],
        ),
        Table(
            "Kênh",
            "Số tin theo kênh",
            ["Kênh", "Số tin", *tone_heads],
            [[c.label, c.count, *_tone_cells(c)] for c in data.by_channel],
            [26, 10, 10, 11, 10, 15],
        ),
        Table(
            "Nguồn",
            "Số tin theo nguồn",
            ["Nguồn", "Kênh", "Số tin", *tone_heads],
            [[c.label, c.extra, c.count, *_tone_cells(c)] for c in data.by_source],
            [34, 22, 9, 10, 11, 10, 15],
        ),
        Table(
            "Mức nhạy cảm",
            "Số tin theo mức nhạy cảm",
            ["Mức", "Số tin", "Tỉ lệ"],
            [[c.label, c.count, _pct(c.count, total)] for c in data.by_sensitivity],
            [24, 10, 10],
        ),
        Table(
            "Sai lệch",
            "Số tin theo mức sai lệch",
            ["Mức", "Số tin", "Tỉ lệ"],
            [[c.label, c.count, _pct(c.count, total)] for c in data.by_misleading],
            [24, 10, 10],
        ),
        Table(
            "Câu chuyện nổi bật",
            "Câu chuyện được đăng nhiều nhất",
            ["STT", "Tiêu đề", "Số nguồn đăng", "Số tin", "Lần đầu", "Sắc thái", "Chủ đề"],
            [
                [
                    i,
                    s.title,
                    s.outlets,
                    s.items,
                    _dt(s.first_seen),
                    TONE_VI.get(s.tone or "", UNCLASSIFIED),
                    "; ".join(TOPIC_VI.get(t, t) for t in s.topics),
                ]
                for i, s in enumerate(data.top_stories, 1)
            ],
            [6, 60, 13, 8, 17, 12, 34],
        ),
        Table(
            "Tình hình xử lý",
            "Tình hình xử lý (theo quyết định mới nhất của cán bộ)",
            ["Trạng thái", "Số tin"],
            [[c.label, c.count] for c in data.by_status],
            [26, 10],
        ),
        Table(
            "Cách xử lý",
            "Cách xử lý đã đề xuất, thực hiện",
            ["Cách xử lý", "Số tin"],
            [[c.label, c.count] for c in data.by_handling],
            [70, 10],
        ),
        Table(
            "Tin nhạy cảm, sai lệch",
            "Tin nhạy cảm, sai lệch và việc xử lý",
            ["Loại", "Số tin", *STATUS_VI.values(), NO_DECISION],
            [
                [f.label, f.count, *[f.by_status[s] for s in (*STATUSES, NO_DECISION)]]
                for f in data.flagged
            ],
            [20, 9, 8, 12, 10, 9, 20],
        ),
        Table(
            "Tin đã xử lý",
            "Danh sách tin có quyết định xử lý",
            [
                "STT",
                "Ngày đăng",
                "Tiêu đề",
                "Nguồn",
                "Mức nhạy cảm",
                "Sai lệch",
                "Trạng thái",
                "Cách xử lý",
                "Cán bộ",
                "Ghi chú",
                "Địa chỉ",
            ],
            [
                [
                    i,
                    _dt(h.published),
                    h.title,
                    h.source,
                    LEVEL_VI.get(h.sensitivity or "", UNCLASSIFIED),
                    MISLEADING_VI.get(h.misleading or "", UNCLASSIFIED),
                    STATUS_VI.get(h.status, h.status),
                    h.handling or "",
                    h.user,
                    h.note or "",
                    h.url,
                ]
                for i, h in enumerate(data.handled, 1)
            ],
            [6, 17, 60, 24, 14, 16, 12, 44, 14, 30, 50],
        ),
    ]
    return out


# ─────────────────────────────── DOCX ───────────────────────────────

FONT = "Times New Roman"
BODY_PT = 13
# Columns of the long tables kept in the DOCX (all of them go to the XLSX).
_DOCX_COLUMNS = {
    "Câu chuyện nổi bật": ["STT", "Tiêu đề", "Số nguồn đăng", "Số tin", "Sắc thái"],
    "Tin đã xử lý": ["STT", "Tiêu đề", "Mức nhạy cảm", "Trạng thái", "Cách xử lý"],
    "Nguồn": ["Nguồn", "Số tin", *[TONE_VI[t] for t in TONES]],
}
_ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII"]


def _font(run, size: float = BODY_PT, *, bold=None, italic=None) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt

    run.font.name = FONT
    run.font.size = Pt(size)
    if bold is not None:
        run.bold = bold
    if italic is not None:
        run.italic = italic
    rpr = run._element.get_or_add_rPr()
    fonts = rpr.get_or_add_rFonts()
    for attr in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(attr), FONT)


def _para(
    container,
    text: str = "",
    *,
    size=BODY_PT,
    bold=False,
    italic=False,
    align=None,
    before=0,
    after=6,
    indent_first=None,
):
    from docx.shared import Cm, Pt

    p = container.add_paragraph()
    if text:
        _font(p.add_run(text), size, bold=bold, italic=italic)
    fmt = p.paragraph_format
    fmt.space_before = Pt(before)
    fmt.space_after = Pt(after)
    if align is not None:
        p.alignment = align
    if indent_first is not None:
        fmt.first_line_indent = Cm(indent_first)
    return p


def _no_borders(table) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tbl_pr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    tbl_pr.append(borders)


def _page_number(paragraph) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    run = paragraph.add_run()
    _font(run)
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._r.append(el)


def _repeat_header(row) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tr_pr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    tr_pr.append(el)


def agency_lines(agency: str, province: str) -> list[str]:
    """The left header of an administrative document (Nghị định 30/2020): the governing body in
    plain capitals, then the issuing agency in bold capitals. "Sở Văn hóa, Thể thao và Du lịch
    tỉnh Vĩnh Long" → ["UBND TỈNH VĨNH LONG", "SỞ VĂN HÓA, THỂ THAO VÀ DU LỊCH"]; an agency of
    another shape stays one line."""
    import re

    m = re.match(
        rf"^(Sở\s.*?)\s+((?:tỉnh|thành phố)\s+{re.escape(province)})$", agency.strip(), re.I
    )
    if m:
        return [f"UBND {m.group(2).upper()}", m.group(1).upper()]
    return [agency.strip().upper()]


def agency_code(body: str) -> str:
    """Initials for the document number: "SỞ VĂN HÓA, THỂ THAO VÀ DU LỊCH" → "SVHTTDL"."""
    import re

    from classify.text import strip_diacritics

    words = [w for w in re.findall(r"\w+", body) if w.lower() not in ("và", "của")]
    return strip_diacritics("".join(w[0] for w in words)).upper()


def write_docx(data: ReportData, path: str | Path) -> Path:
    """The report as an administrative document: A4, Times New Roman 13, the agency's header."""
    from docx import Document
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(BODY_PT)
    _font_style = style.element.get_or_add_rPr().get_or_add_rFonts()
    from docx.oxml.ns import qn

    for attr in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        _font_style.set(qn(attr), FONT)

    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(2), Cm(2)
    section.left_margin, section.right_margin = Cm(3), Cm(2)
    # Page numbers from page 2, centred at the top (as administrative documents do).
    section.different_first_page_header_footer = True
    head = section.header.paragraphs[0]
    head.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _page_number(head)

    center = WD_ALIGN_PARAGRAPH.CENTER
    # The heading block: the agency left, the national motto right.
    top = doc.add_table(rows=1, cols=2)
    _no_borders(top)
    top.autofit = False
    left, right = top.rows[0].cells
    left.width, right.width = Cm(6.5), Cm(9.5)
    lines = agency_lines(data.agency, data.province)
    left.paragraphs[0].alignment = center
    _font(left.paragraphs[0].add_run(lines[0]), 12, bold=len(lines) == 1)
    for line in lines[1:]:
        _para(left, line, size=12, bold=True, align=center, after=0)
    _para(left, f"Số:        /BC-{agency_code(lines[-1])}", size=BODY_PT, align=center, before=6)
    right.paragraphs[0].alignment = center
    _font(right.paragraphs[0].add_run("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"), 12, bold=True)
    _para(right, "Độc lập - Tự do - Hạnh phúc", size=BODY_PT, bold=True, align=center, after=6)
    g = data.generated_at
    _para(
        right,
        f"{data.province}, ngày {g.day:02d} tháng {g.month:02d} năm {g.year}",
        size=BODY_PT,
        italic=True,
        align=center,
    )

    _para(doc, "BÁO CÁO", size=14, bold=True, align=center, before=18, after=0)
    _para(
        doc,
        "Kết quả theo dõi thông tin trên báo chí, mạng xã hội về tỉnh "
        f"{data.province}\ntừ ngày {_d(data.start)} đến ngày {_d(data.end)}",
        size=14,
        bold=True,
        align=center,
        after=12,
    )
    _para(
        doc,
        f"Trong kỳ báo cáo, hệ thống ghi nhận {data.total} tin, bài liên quan đến tỉnh "
        f"{data.province} trên {data.sources} nguồn tin, gộp thành {data.stories} câu chuyện; "
        f"{data.unclassified} tin chưa được phân loại. Số liệu cụ thể như sau:",
        align=WD_ALIGN_PARAGRAPH.JUSTIFY,
        indent_first=1.0,
    )

    usable = 16.0  # cm between the margins
    for n, table in enumerate(tables(data)):
        _para(doc, f"{_ROMAN[n]}. {table.title.upper()}", bold=True, before=10, after=4)
        keep = _DOCX_COLUMNS.get(table.sheet)
        idx = [table.headers.index(h) for h in keep] if keep else list(range(len(table.headers)))
        if not table.rows:
            _para(doc, "Không có.", italic=True, indent_first=1.0)
            continue
        widths = [table.widths[i] for i in idx]
        scale = usable / sum(widths)
        t = doc.add_table(rows=1, cols=len(idx))
        t.style = "Table Grid"
        t.alignment = WD_TABLE_ALIGNMENT.CENTER
        t.autofit = False
        for j, i in enumerate(idx):
            cell = t.rows[0].cells[j]
            cell.width = Cm(widths[j] * scale)
            cell.paragraphs[0].alignment = center
            _font(cell.paragraphs[0].add_run(table.headers[i]), BODY_PT, bold=True)
        _repeat_header(t.rows[0])
        for row in table.rows:
            cells = t.add_row().cells
            for j, i in enumerate(idx):
                value = row[i]
                cells[j].width = Cm(widths[j] * scale)
                p = cells[j].paragraphs[0]
                if isinstance(value, int | float):
                    p.alignment = center
                _font(p.add_run("" if value is None else str(value)), BODY_PT)
        if table.note:
            _para(doc, table.note, size=12, italic=True, before=2)

    _para(
        doc,
        f"Số liệu do hệ thống Điểm tin tổng hợp lúc {_dt(data.generated_at)} "
        f"(giờ {data.tz}); chi tiết từng tin xem tệp Excel kèm theo.",
        size=12,
        italic=True,
        before=12,
    )
    sign = doc.add_table(rows=1, cols=2)
    _no_borders(sign)
    lcell, rcell = sign.rows[0].cells
    _font(lcell.paragraphs[0].add_run("Nơi nhận:"), 12, bold=True, italic=True)
    _para(lcell, "- Như trên;\n- Lưu: VT.", size=11, after=0)
    rcell.paragraphs[0].alignment = center
    _font(rcell.paragraphs[0].add_run("THỦ TRƯỞNG CƠ QUAN"), BODY_PT, bold=True)
    doc.save(path)
    return path


# ─────────────────────────────── XLSX ───────────────────────────────


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def guard_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe (titles
    and handling come from scraped pages and from people)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def xlsx_cell(value: Any) -> Any:
    """`guard_cell`, and without the control characters XLSX cannot store (openpyxl refuses
    them: one scraped title would sink the whole file)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return guard_cell(value)


def write_xlsx(data: ReportData, path: str | Path) -> Path:
    """One sheet per table; header row bold and frozen, column widths set."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDE6F0")
    wrap = Alignment(wrap_text=True, vertical="top")
    for table in tables(data):
        ws = wb.create_sheet(table.sheet[:31])
        ws.append(table.headers)
        for cell in ws[1]:
            cell.font = bold
            cell.fill = fill
            cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        for row in table.rows:
            ws.append([xlsx_cell(v) for v in row])
        for i, width in enumerate(table.widths, 1):
            ws.column_dimensions[get_column_letter(i)].width = width
        for r in ws.iter_rows(min_row=2):
            for cell in r:
                if isinstance(cell.value, str) and len(cell.value) > 30:
                    cell.alignment = wrap
        ws.freeze_panes = "A2"
        if table.note:
            ws.cell(row=ws.max_row + 2, column=1, value=table.note).font = Font(italic=True)
    info = wb.create_sheet("Thông tin", 0)
    info.append(["Thông tin", "Nội dung"])
    for label, value in (
        ("Cơ quan", data.agency),
        ("Tỉnh", data.province),
        ("Từ ngày", _d(data.start)),
        ("Đến ngày", _d(data.end)),
        ("Múi giờ", data.tz),
        ("Lập lúc", _dt(data.generated_at)),
    ):
        info.append([label, value])
    for cell in info[1]:
        cell.font = bold
        cell.fill = fill
    info.freeze_panes = "A2"
    info.column_dimensions["A"].width = 14
    info.column_dimensions["B"].width = 60
    wb.active = 1
    wb.save(path)
    return path
