"""The queue's and the search page's filters: parsed from query parameters (anything invalid is
dropped, never an error), written back as query strings for links and saved filters, and applied
to one select over items ⨝ classification ⨝ source ⨝ the decision in force.

Decisions are append-only, so "in force" means the newest row per item (by time, then id). What
an officer decided wins over the classifier: a dismissed item is no longer flagged, and corrected
topics, tone, sensitivity and misleading level are what the filters see. The same rules, in
Python, give the labels a page shows (`load_rows`), so a filter and a badge never disagree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased

from review.decisions import STATUS_VI, VERDICTS
from store.models import Classification, Decision, Item, Source
from store.taxonomy import KINDS, MISLEADING, SENSITIVITY, TONES, TOPICS

NO_DECISION = "chua_xu_ly"
STATUS_FILTER_VI = {NO_DECISION: "Chưa xử lý", **STATUS_VI}
REVIEWED_VI = {"chua": "Chưa xem xét", "da": "Đã xem xét", "tat_ca": "Tất cả"}
FLAGGED_VI = {"1": "Chỉ tin có cảnh báo", "0": "Mọi tin"}
ME = "toi"
FLAG_LEVELS = ("can_chu_y", "nhay_cam")
MISLEADING_FLAGS = ("chua_kiem_chung", "sai_lech")
# A classifier topic counts at or above its head's threshold and never below this floor (the
# digest's rule, digest.select.topics_of): the queue shows what the digest would show.
MIN_TOPIC = 0.3
DEFAULT_THRESHOLD = 0.5
MAX_VALUE = 200
MAX_Q = 1000
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
CHOICES = ("topic", "tone", "sensitivity", "misleading", "channel", "source", "status", "assignee")
_SEVERITY = {"nhay_cam": 2, "can_chu_y": 1, "sai_lech": 2, "chua_kiem_chung": 1}


@dataclass(frozen=True)
class QueueFilter:
    """What an officer narrowed the list to. None/empty: not filtered on that field."""

    topic: str | None = None
    tone: str | None = None
    sensitivity: str | None = None
    misleading: str | None = None
    channel: str | None = None  # Item.kind
    source: str | None = None  # Source.name
    status: str | None = None  # chua_xu_ly | moi | dang_xu_ly | da_xu_ly | bo_qua
    assignee: str | None = None  # a username, or "toi" (the signed-in user)
    date_from: dt.date | None = None  # local dates, both included
    date_to: dt.date | None = None
    reviewed: str = "chua"  # chua | da | tat_ca
    flagged: bool = True
    q: str = ""

    @classmethod
    def parse(
        cls,
        params: Mapping[str, Any] | str,
        *,
        reviewed: str = "chua",
        flagged: bool = True,
        sources: Iterable[str] | None = None,
    ) -> QueueFilter:
        """From query parameters (a mapping or a raw query string); `reviewed` and `flagged`
        are the page's defaults; `sources`, when given, are the only source names accepted."""
        if isinstance(params, str):
            params = dict(parse_qsl(params[:4000]))

        def get(name: str) -> str | None:
            value = params.get(name)
            if not isinstance(value, str):
                return None
            value = value.strip()
            return value if value and len(value) <= MAX_VALUE else None

        def pick(name: str, allowed: Iterable[str]) -> str | None:
            value = get(name)
            return value if value in set(allowed) else None

        source = get("source")
        if source is not None and sources is not None and source not in set(sources):
            source = None
        assignee = (get("assignee") or "").lower() or None
        if assignee is not None and not _USERNAME.match(assignee):
            assignee = None
        flag = (get("flagged") or "").lower()
        q = params.get("q")
        return cls(
            topic=pick("topic", TOPICS),
            tone=pick("tone", TONES),
            sensitivity=pick("sensitivity", SENSITIVITY),
            misleading=pick("misleading", MISLEADING),
            channel=pick("channel", KINDS),
            source=source,
            status=pick("status", STATUS_FILTER_VI),
            assignee=assignee,
            date_from=_date(get("date_from")),
            date_to=_date(get("date_to")),
            reviewed=pick("reviewed", REVIEWED_VI) or reviewed,
            flagged=(flag in ("1", "on", "true", "co")) if flag in _BOOLS else flagged,
            q=q.strip()[:MAX_Q] if isinstance(q, str) else "",
        )

    def replace(self, **changes: Any) -> QueueFilter:
        return dataclasses.replace(self, **changes)

    def params(self) -> dict[str, str]:
        """The filter as query parameters (reviewed and flagged always, to be unambiguous on
        pages whose defaults differ)."""
        out: dict[str, str] = {}
        if self.q:
            out["q"] = self.q
        for name in CHOICES:
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.date_from:
            out["date_from"] = self.date_from.isoformat()
        if self.date_to:
            out["date_to"] = self.date_to.isoformat()
        out["reviewed"] = self.reviewed
        out["flagged"] = "1" if self.flagged else "0"
        return out

    def to_query(self, **extra: Any) -> str:
        """A query string for links and saved filters; `extra` (page, msg...) is appended."""
        params = self.params()
        params.update({k: str(v) for k, v in extra.items() if v is not None})
        return urlencode(params)

    @property
    def narrowed(self) -> bool:
        """Whether any field beyond the page's two switches is set."""
        return any(k not in ("reviewed", "flagged") for k in self.params())


_BOOLS = ("1", "0", "on", "off", "true", "false", "co", "khong")


def _date(value: str | None) -> dt.date | None:
    """An ISO date within 1900–2999 (year 1 or 9999 would overflow once made a UTC time)."""
    try:
        day = dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None
    return day if day is not None and 1900 <= day.year <= 2999 else None


# ── SQL ──────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class InForce:
    """The newest decision per item, as an alias to join, and the labels in force on top of it.

    One instance per statement: its expressions belong to its own subquery."""

    dec: Any  # aliased Decision over a ranked subquery
    rn: ColumnElement

    @property
    def relevant(self) -> ColumnElement:
        return func.coalesce(self.dec.relevant, Classification.relevant)

    @property
    def sensitivity(self) -> ColumnElement:
        return func.coalesce(self.dec.sensitivity, Classification.sensitivity)

    @property
    def misleading(self) -> ColumnElement:
        return func.coalesce(self.dec.misleading, Classification.misleading)

    @property
    def tone(self) -> ColumnElement:
        return func.coalesce(self.dec.tone, Classification.tone)

    @property
    def status(self) -> ColumnElement:
        return case(
            (self.dec.id.is_(None), literal(NO_DECISION)),
            else_=func.coalesce(self.dec.status, literal("moi")),
        )

    @property
    def reviewed(self) -> ColumnElement:
        """A verdict was given (confirm/dismiss/correct/exclude), or it was marked handled or
        set aside; being only assigned or annotated leaves an item unreviewed."""
        return and_(
            self.dec.id.is_not(None),
            or_(
                self.dec.action.in_(VERDICTS),
                func.coalesce(self.dec.status, "").in_(("da_xu_ly", "bo_qua")),
            ),
        )

    @property
    def flagged(self) -> ColumnElement:
        return and_(
            self.relevant == true(),
            or_(self.sensitivity.in_(FLAG_LEVELS), self.misleading.in_(MISLEADING_FLAGS)),
        )

    def severity(self) -> tuple[ColumnElement, ColumnElement]:
        """(worst level, sum of levels): nhay_cam/sai_lech 2, can_chu_y/chua_kiem_chung 1."""
        s = case((self.sensitivity == "nhay_cam", 2), (self.sensitivity == "can_chu_y", 1), else_=0)
        m = case(
            (self.misleading == "sai_lech", 2), (self.misleading == "chua_kiem_chung", 1), else_=0
        )
        return case((s >= m, s), else_=m), s + m

    def has_topic(self, code: str, thresholds: Mapping[str, float]) -> ColumnElement:
        """The item is about `code`: the decision's topic list when it has one, otherwise the
        classifier's probability at its threshold or a lexicon rule naming the topic."""
        if code not in TOPICS:  # codes are whitelisted; they also appear in LIKE patterns
            return false()
        cut = max(float(thresholds.get(code, DEFAULT_THRESHOLD)), MIN_TOPIC)
        decided = cast(self.dec.topics, Text)
        classified = or_(
            Classification.topics[code].as_float() >= cut,
            cast(Classification.rules_fired, Text).contains(f'"topic": "{code}"', autoescape=True),
        )
        return case(
            (decided.like("[%"), decided.contains(f'"{code}"', autoescape=True)),
            else_=classified,
        )


def in_force() -> InForce:
    rn = func.row_number().over(
        partition_by=Decision.item_id, order_by=(Decision.at.desc(), Decision.id.desc())
    )
    ranked = select(Decision, rn.label("rn")).subquery("in_force")
    return InForce(aliased(Decision, ranked), ranked.c.rn)


def when_of() -> ColumnElement:
    """The time an item is filed under: published, or fetched when the source gave no date."""
    return func.coalesce(Item.published_at, Item.fetched_at)


def base(v: InForce, *columns: Any) -> Select:
    """select(columns) over items with source, classification (if any) and decision in force."""
    return (
        select(*columns)
        .select_from(Item)
        .join(Source, Source.id == Item.source_id)
        .outerjoin(Classification, Classification.item_id == Item.id)
        .outerjoin(v.dec, and_(v.dec.item_id == Item.id, v.rn == 1))
    )


def local_day_start(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=tz)


def apply(
    stmt: Select,
    f: QueueFilter,
    v: InForce,
    *,
    tz: dt.tzinfo,
    me: str | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> Select:
    """Narrow a `base(v, ...)` select by the filter (not the free text: see review.search)."""
    conds: list[ColumnElement] = []
    if f.flagged:
        conds.append(v.flagged)
    if f.reviewed == "chua":
        conds.append(~v.reviewed)
    elif f.reviewed == "da":
        conds.append(v.reviewed)
    if f.topic:
        conds.append(v.has_topic(f.topic, thresholds or {}))
    if f.tone:
        conds.append(v.tone == f.tone)
    if f.sensitivity:
        conds.append(v.sensitivity == f.sensitivity)
    if f.misleading:
        conds.append(v.misleading == f.misleading)
    if f.channel:
        conds.append(Item.kind == f.channel)
    if f.source:
        conds.append(Source.name == f.source)
    if f.status:
        conds.append(v.status == f.status)
    if f.assignee:
        who = me if f.assignee == ME else f.assignee
        conds.append(v.dec.assignee == who if who else false())
    if f.date_from:
        start = local_day_start(f.date_from, tz)
        conds.append(
            or_(
                Item.published_at >= start,
                and_(Item.published_at.is_(None), Item.fetched_at >= start),
            )
        )
    if f.date_to:
        end = local_day_start(f.date_to + dt.timedelta(days=1), tz)
        conds.append(
            or_(Item.published_at < end, and_(Item.published_at.is_(None), Item.fetched_at < end))
        )
    return stmt.where(*conds) if conds else stmt


# ── rows for pages and exports ───────────────────────────────────────────────────────────────


@dataclass
class Row:
    """One item with the labels in force, as pages and exports show it."""

    item: Item
    source: Source
    cls: Classification | None
    decision: Decision | None
    topics: list[str]
    tone: str | None
    sensitivity: str | None
    misleading: str | None
    status: str
    assignee: str | None
    handling: str | None

    @property
    def id(self) -> int:
        return self.item.id

    @property
    def when(self) -> dt.datetime:
        return self.item.published_at or self.item.fetched_at

    @property
    def story_id(self) -> int | None:
        return self.cls.story_id if self.cls else None

    @property
    def severity(self) -> tuple[int, int]:
        s = _SEVERITY.get(self.sensitivity or "", 0)
        m = _SEVERITY.get(self.misleading or "", 0)
        return max(s, m), s + m


def classifier_topics(cls: Classification | None, thresholds: Mapping[str, float]) -> list[str]:
    """The classifier's topics as the digest reads them (most probable first, lexicon after)."""
    if cls is None:
        return []
    probs = cls.topics or {}
    out = [
        t
        for t, p in sorted(probs.items(), key=lambda kv: -float(kv[1] or 0))
        if t in TOPICS and float(p or 0) >= max(thresholds.get(t, DEFAULT_THRESHOLD), MIN_TOPIC)
    ]
    for hit in cls.rules_fired or ():
        t = hit.get("topic") if isinstance(hit, dict) else None
        if t in TOPICS and t not in out:
            out.append(t)
    return out


def row_of(
    item: Item,
    source: Source,
    cls: Classification | None,
    dec: Decision | None,
    thresholds: Mapping[str, float],
) -> Row:
    def over(name: str):
        value = getattr(dec, name) if dec is not None else None
        return value if value is not None else (getattr(cls, name) if cls is not None else None)

    topics = (
        [str(t) for t in dec.topics]
        if dec is not None and isinstance(dec.topics, list)
        else classifier_topics(cls, thresholds)
    )
    return Row(
        item=item,
        source=source,
        cls=cls,
        decision=dec,
        topics=topics,
        tone=over("tone"),
        sensitivity=over("sensitivity"),
        misleading=over("misleading"),
        status=NO_DECISION if dec is None else (dec.status or "moi"),
        assignee=dec.assignee if dec is not None else None,
        handling=dec.handling if dec is not None else None,
    )


def latest_decisions(session: Session, item_ids: Iterable[int]) -> dict[int, Decision]:
    """The decision in force per item (the newest by time, then id)."""
    ids = list(dict.fromkeys(item_ids))
    out: dict[int, Decision] = {}
    for i in range(0, len(ids), 500):
        for dec in session.scalars(
            select(Decision)
            .where(Decision.item_id.in_(ids[i : i + 500]))
            .order_by(Decision.at, Decision.id)
        ):
            out[dec.item_id] = dec
    return out


def load_rows(
    session: Session, item_ids: Iterable[int], thresholds: Mapping[str, float]
) -> list[Row]:
    """Rows for these items, in the order given (unknown ids are skipped)."""
    ids = list(dict.fromkeys(item_ids))
    found: dict[int, tuple] = {}
    for i in range(0, len(ids), 500):
        stmt = (
            select(Item, Source, Classification)
            .join(Source, Source.id == Item.source_id)
            .outerjoin(Classification, Classification.item_id == Item.id)
            .where(Item.id.in_(ids[i : i + 500]))
        )
        for item, source, cls in session.execute(stmt):
            found[item.id] = (item, source, cls)
    decisions = latest_decisions(session, found)
    return [row_of(*found[i], decisions.get(i), thresholds) for i in ids if i in found]


def thresholds_of(settings: Any) -> dict[str, float]:
    """The per-topic thresholds of the shipped heads (cached by digest.build)."""
    try:
        from digest.build import topic_thresholds

        return topic_thresholds(settings)
    except Exception:  # noqa: BLE001 - a missing model directory means default thresholds
        return {}
