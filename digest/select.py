"""Selecting one day's items and grouping them into stories, with officers' decisions in force.

Rules (see also ARCHITECTURE.md, "Digest"):

* An item is in the window when it was published (else fetched) at or after the window's start
  and before its end.
* Relevant items only. An item without any Classification is still taken (the digest then says
  how many were not classified); an officer's ``relevant`` or ``exclude`` decision wins.
* The newest Decision per item is in force: ``exclude`` (or ``relevant: false``) leaves it out;
  corrected tone, topics, sensitivity and misleading replace the classifier's; ``dismiss``
  clears the flags (nothing to handle) unless it sets them itself. Within a story the newest
  decision among its items speaks for the whole story, field by field.
* One entry per story (unclassified items: per identical title). Its representative copy gives
  the title, link and summary: for a flagged story the most misleading, then most serious copy
  (so the rumour, not its denial, heads the entry), otherwise a press copy from the weightiest
  outlet. The entry's channel is the representative's; its outlets are every outlet that carried
  the story in the window (two feeds of one paper, "X — sitemap" and "X — RSS", count once).

Sections (`build_sections`), in order: I needs handling (sensitive ``nhay_cam``/``can_chu_y``,
negative ``tieu_cuc`` or misleading, not dismissed, status not ``bo_qua``), each with its
proposed handling; II central, III local, IV foreign press, V social media (everything else, by
the entry's channel; an entry of I is not repeated); VI positive coverage: the ``tich_cuc``
stories of II–V listed again briefly, each pointing back to its entry ("xem mục III.2"), with the
handling said once when they share it. Within a section: entries the digest desk ranked
(``Decision.rank``, the newest decision of the story) first, in rank order; then severity, spread
(outlets), source weight, and the newest first.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from classify.text import match_key

from .handling import Facts, HandlingRules
from .model import (
    CHANNELS,
    EMPTY_TEXT,
    ROMAN,
    SECTION_HANDLING,
    SECTION_POSITIVE,
    SECTION_TITLES,
    Entry,
    Link,
    Section,
)
from .stats import ItemFacts
from .summary import strip_leading_symbols, summarize

MAX_TOPICS = 3
# A topic is shown at or above its head's threshold, and never below this: the thresholds are
# tuned for recall (some are 0.125), a reader wants only the topics the story is surely about.
MIN_TOPIC_SHOWN = 0.3
MAX_PLACES = 3
MAX_TITLE = 220
CHUNK = 500
_SENS = {"nhay_cam": 2, "can_chu_y": 1}
_MIS = {"sai_lech": 2, "chua_kiem_chung": 1}


# ── cleaning and safety ──────────────────────────────────────────────────────────────────────

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060\ufeff]")
_PIPE = re.compile(r"\s+[|｜]\s+")
_DASH_SUFFIX = re.compile(r"\s+[-–—]\s+([^-–—]{2,60})$")


def clean_text(text: str | None) -> str:
    """One line: entities decoded once, control and zero-width characters out, spaces collapsed."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", html.unescape(text))
    text = _CONTROL.sub("", text)
    return " ".join(text.split())


def clean_title(title: str | None, outlets: Iterable[str] = ()) -> str:
    """A headline fit to print: no site-name suffix (" | Báo X", " - Báo X"), no leading emoji
    or bullets, at most ``MAX_TITLE`` characters (cut at a word, with "…")."""
    t = clean_text(title)
    parts = _PIPE.split(t)
    if len(parts) > 1:
        main = max(parts, key=len)
        if all(len(p.split()) <= 6 for p in parts if p is not main):
            t = main
    names = {match_key(o) for o in outlets if o}
    m = _DASH_SUFFIX.search(t)
    if m and any(n and (match_key(m.group(1)) in n or n in match_key(m.group(1))) for n in names):
        t = t[: m.start()]
    t = strip_leading_symbols(t).strip()
    if len(t) > MAX_TITLE:
        t = t[: MAX_TITLE - 1].rsplit(" ", 1)[0].rstrip(",;:-–—") + "…"
    return t or "(không có tiêu đề)"


def safe_url(url: str | None) -> str | None:
    """The address when it is an http(s) link we can print; None for anything else
    (javascript:, data:, file:, relative, with spaces or control characters)."""
    if not url:
        return None
    u = url.strip()
    if not re.match(r"^https?://[^\s/?#]+", u, re.IGNORECASE):
        return None
    if _CONTROL.search(u) or re.search(r"[\s<>\"'`\\]", u):
        return None
    return u


def outlet_name(source_title: str | None, source_name: str) -> str:
    """A source's outlet as readers know it: "Tin Nhanh Việt Nam (mẫu) — sitemap" → "Tin Nhanh
    Việt Nam (mẫu)" (two feeds of one paper are one outlet)."""
    t = clean_text(source_title) or source_name
    return re.split(r"\s+[—–]\s+", t, maxsplit=1)[0].strip() or source_name


# ── rows ─────────────────────────────────────────────────────────────────────────────────────


@dataclass
class Row:
    """One item in the window with its labels in force."""

    id: int
    url: str
    title: str
    sapo: str | None
    kind: str
    source: str
    outlet: str
    weight: float
    when: datetime
    title_key: str
    classified: bool
    relevant: bool = True
    tone: str | None = None
    topic_probs: dict = field(default_factory=dict)
    topics: list[str] = field(default_factory=list)
    sensitivity: str | None = None
    misleading: str = "khong"
    evidence: dict = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    places: list = field(default_factory=list)
    story_id: int | None = None
    decision: object | None = None  # the Decision in force
    excluded: bool = False
    dismissed: bool = False

    @property
    def severity(self) -> tuple[int, int, int]:
        s, m = _SENS.get(self.sensitivity or "", 0), _MIS.get(self.misleading, 0)
        return (max(s, m), s + m, int(self.tone == "tieu_cuc"))

    @property
    def is_press(self) -> bool:
        return self.kind != "social"


def topics_of(probs: dict | None, fired: list | None, thresholds: dict[str, float]) -> list[str]:
    """Topic codes at or above their threshold (most probable first), plus lexicon topics."""
    probs = probs or {}
    out = [
        t
        for t, p in sorted(probs.items(), key=lambda kv: -kv[1])
        if p >= max(thresholds.get(t, 0.5), MIN_TOPIC_SHOWN)
    ]
    for h in fired or ():
        t = h.get("topic") if isinstance(h, dict) else None
        if t and t not in out:
            out.append(t)
    return out


def _in_window(start: datetime, end: datetime):
    from store.models import Item

    return or_(
        and_(Item.published_at >= start, Item.published_at < end),
        and_(Item.published_at.is_(None), Item.fetched_at >= start, Item.fetched_at < end),
    )


def latest_decisions(session: Session, item_ids: Iterable[int]) -> dict[int, object]:
    """The Decision in force per item (the newest by time, then by id)."""
    from store.models import Decision

    ids = list(item_ids)
    out: dict[int, object] = {}
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i : i + CHUNK]
        for d in session.scalars(
            select(Decision).where(Decision.item_id.in_(chunk)).order_by(Decision.at, Decision.id)
        ):
            out[d.item_id] = d
    return out


def _apply_decision(row: Row, dec) -> None:
    row.decision = dec
    if dec is None:
        return
    if dec.action == "exclude":
        row.excluded = True
    if dec.relevant is not None:
        row.relevant = bool(dec.relevant)
    if dec.tone:
        row.tone = dec.tone
    if dec.topics is not None:
        row.topics = [str(t) for t in dec.topics]
    if dec.action == "dismiss":
        row.dismissed = True
        row.sensitivity = dec.sensitivity or "binh_thuong"
        row.misleading = dec.misleading or "khong"
    else:
        if dec.sensitivity:
            row.sensitivity = dec.sensitivity
        if dec.misleading:
            row.misleading = dec.misleading


def load_rows(
    session: Session, start: datetime, end: datetime, *, thresholds: dict[str, float]
) -> list[Row]:
    """Every item in [start, end) with its classification and decision applied (excluded and
    irrelevant ones included, flagged, so they can be counted)."""
    from store.models import Classification, Item, Source

    q = (
        select(
            Item.id,
            Item.url,
            Item.title,
            Item.summary,
            Item.kind,
            Item.published_at,
            Item.fetched_at,
            Item.title_key,
            Source.name,
            Source.title,
            Source.weight,
            Classification,
        )
        .join(Source, Source.id == Item.source_id)
        .outerjoin(Classification, Classification.item_id == Item.id)
        .where(_in_window(start, end))
        .order_by(Item.id)
    )
    rows: list[Row] = []
    for (
        iid,
        url,
        title,
        sapo,
        kind,
        pub,
        fetched,
        tkey,
        sname,
        stitle,
        weight,
        cls,
    ) in session.execute(q):
        row = Row(
            id=iid,
            url=url,
            title=title or "",
            sapo=sapo,
            kind=kind if kind in CHANNELS else "press_local",
            source=sname,
            outlet=outlet_name(stitle, sname),
            weight=float(weight if weight is not None else 1.0),
            when=pub or fetched,
            title_key=tkey or match_key(title or ""),
            classified=cls is not None,
        )
        if cls is not None:
            row.relevant = bool(cls.relevant)
            row.tone = cls.tone
            row.topic_probs = dict(cls.topics or {})
            row.topics = topics_of(cls.topics, cls.rules_fired, thresholds)
            row.sensitivity = cls.sensitivity
            row.misleading = cls.misleading or "khong"
            row.evidence = dict(cls.misleading_evidence or {})
            row.reasons = list(cls.sensitivity_reasons or [])
            row.places = list(cls.places or [])
            row.story_id = cls.story_id
        rows.append(row)
    decisions = latest_decisions(session, [r.id for r in rows])
    for r in rows:
        _apply_decision(r, decisions.get(r.id))
    return rows


def load_facts(
    session: Session, start: datetime, end: datetime, *, thresholds: dict[str, float]
) -> list[ItemFacts]:
    """Light rows for counting (history and spikes): included items only."""
    from store.models import Classification, Item

    q = (
        select(
            Item.id,
            Item.kind,
            Item.published_at,
            Item.fetched_at,
            Classification.relevant,
            Classification.tone,
            Classification.topics,
            Classification.rules_fired,
            Classification.story_id,
        )
        .outerjoin(Classification, Classification.item_id == Item.id)
        .where(_in_window(start, end))
    )
    raw = session.execute(q).all()
    decisions = latest_decisions(session, [r[0] for r in raw])
    out = []
    for iid, kind, pub, fetched, relevant, tone, probs, fired, story_id in raw:
        classified = relevant is not None
        topics = topics_of(probs, fired, thresholds) if classified else []
        keep = bool(relevant) if classified else True
        dec = decisions.get(iid)
        if dec is not None:
            if dec.action == "exclude" or dec.relevant is False:
                continue
            keep = True if dec.relevant else keep
            tone = dec.tone or tone
            topics = list(dec.topics) if dec.topics is not None else topics
        if not keep:
            continue
        out.append(
            ItemFacts(
                item_id=iid,
                when=pub or fetched,
                channel=kind if kind in CHANNELS else "press_local",
                tone=tone if classified or (dec is not None and dec.tone) else None,
                topics=tuple(topics),
                story_id=story_id,
            )
        )
    return out


def included(rows: Iterable[Row]) -> list[Row]:
    return [r for r in rows if r.relevant and not r.excluded]


# ── entries ──────────────────────────────────────────────────────────────────────────────────


def _places(rows: list[Row], province_keys: set[str]) -> list[str]:
    counts: Counter = Counter()
    order: dict[str, int] = {}
    for r in rows:
        for p in r.places or ():
            if not isinstance(p, dict) or not p.get("name") or p.get("named") is False:
                continue
            own = match_key(p["name"]).removeprefix("tỉnh ").strip() in province_keys
            if p.get("level") == "province" and not p.get("is_old") and own:
                continue
            name = clean_text(p["name"]) + (" (cũ)" if p.get("is_old") else "")
            counts[name] += 1
            order.setdefault(name, len(order))
    return sorted(counts, key=lambda n: (-counts[n], order[n]))[:MAX_PLACES]


def _story_topics(rows: list[Row], rep: Row) -> list[str]:
    have: Counter = Counter()
    prob: defaultdict = defaultdict(float)
    for r in rows:
        for t in r.topics:
            have[t] += 1
            prob[t] += float(r.topic_probs.get(t, 1.0))
    keep = [t for t in have if have[t] * 2 >= len(rows)]
    keep.sort(key=lambda t: (-have[t], -prob[t]))
    return (keep or list(rep.topics))[:MAX_TOPICS]


def _majority_tone(rows: list[Row], rep: Row) -> str | None:
    votes: Counter = Counter()
    for r in rows:
        if r.tone:
            votes[r.tone] += r.weight
    if not votes:
        return None
    best = max(votes.values())
    return rep.tone if votes.get(rep.tone or "") == best else max(votes, key=votes.get)


def _misleading_note(
    rep: Row, rows: list[Row], tz: ZoneInfo, outlets: dict[str, str] | None = None
) -> str:
    worst = max(rows, key=lambda r: _MIS.get(r.misleading, 0))
    if _MIS.get(worst.misleading, 0) == 0:
        return ""
    ev = worst.evidence or {}
    why = clean_text(ev.get("why"))
    st = ev.get("statement") if isinstance(ev.get("statement"), dict) else None
    if st and st.get("title"):
        when = ""
        try:
            at = datetime.fromisoformat(st["published_at"]).astimezone(tz)
            when = f", {at:%H:%M %d/%m}"
        except (KeyError, TypeError, ValueError):
            pass
        src = clean_text((outlets or {}).get(st.get("source"), st.get("source")))
        head = why[:1].upper() + why[1:] if why else "Thông tin chính thức"
        return f"{head}: «{clean_title(st['title'])}» ({src}{when})."
    if why:
        return why[:1].upper() + why[1:] + "."
    if worst.decision is not None and getattr(worst.decision, "misleading", None):
        return "Theo đánh giá của cán bộ theo dõi."
    return ""


def _story_decision(rows: list[Row]) -> dict:
    """Field by field, the newest decision among the story's items that sets it; a dismissal
    clears the flags until a later confirmation or correction."""
    decs = sorted(
        (r.decision for r in rows if r.decision is not None),
        key=lambda d: (d.at, d.id),
    )
    out: dict = {}
    for d in decs:
        if d.action == "exclude":
            continue
        if d.action == "dismiss":
            out["dismissed"] = True
            out["sensitivity"] = d.sensitivity or "binh_thuong"
            out["misleading"] = d.misleading or "khong"
        elif out.pop("dismissed", False):
            out.pop("sensitivity", None)
            out.pop("misleading", None)
        for name in ("tone", "sensitivity", "misleading", "handling", "status", "note"):
            v = getattr(d, name, None)
            if v:
                out[name] = v
        if d.topics is not None:
            out["topics"] = list(d.topics)
        summary = getattr(d, "summary", None)
        if summary:
            out["summary"] = summary
        out["rank"] = getattr(d, "rank", None)  # carried forward: the newest row says it
        out["user"] = d.user
    return out


def pick_representative(rows: list[Row], over: dict | None = None) -> tuple[Row, bool]:
    """(the copy that heads the entry, whether the story is flagged)."""
    over = _story_decision(rows) if over is None else over
    flagged = not over.get("dismissed") and any(
        r.severity > (0, 0, 0) and not r.dismissed for r in rows
    )
    if flagged:
        rep = max(
            rows,
            key=lambda r: (
                _MIS.get(r.misleading, 0) if not r.dismissed else 0,
                r.severity,
                r.is_press,
                r.weight,
                -r.when.timestamp(),
                -r.id,
            ),
        )
    else:
        rep = max(rows, key=lambda r: (r.is_press, r.weight, -r.when.timestamp(), -r.id))
    return rep, flagged


def group_rows(rows: list[Row]) -> list[list[Row]]:
    groups: dict[tuple, list[Row]] = {}
    for r in rows:
        if r.story_id is not None:
            key: tuple = ("s", r.story_id)
        elif not r.classified:
            key = ("k", r.title_key)
        else:
            key = ("i", r.id)
        groups.setdefault(key, []).append(r)
    return list(groups.values())


def make_entry(
    rows: list[Row],
    *,
    texts: dict[int, str],
    rules: HandlingRules,
    tz: ZoneInfo,
    province_keys: set[str],
    outlet_titles: dict[str, str] | None = None,
) -> Entry:
    rows = sorted(rows, key=lambda r: (r.when, r.id))
    over = _story_decision(rows)
    rep, flagged = pick_representative(rows, over)
    outlets: list[str] = []
    links: list[Link] = []
    for r in rows:
        if r.outlet not in outlets:
            outlets.append(r.outlet)
            links.append(Link(r.outlet, safe_url(r.url)))
    labelled = any(r.classified for r in rows) or bool(over)
    sensitivity = over.get("sensitivity") or max(
        (r.sensitivity for r in rows if r.sensitivity),
        key=lambda s: _SENS.get(s, 0),
        default=None,
    )
    misleading = over.get("misleading") or max(
        (r.misleading for r in rows), key=lambda m: _MIS.get(m, 0), default="khong"
    )
    tone = over.get("tone") or (rep.tone if flagged else _majority_tone(rows, rep))
    topics = over.get("topics") or _story_topics(rows, rep)
    title = clean_title(rep.title, [rep.outlet])
    summary = clean_text(over.get("summary")) or summarize(
        title, texts.get(rep.id, ""), fallback=rep.sapo
    )
    entry = Entry(
        story_id=rep.story_id,
        item_ids=[r.id for r in rows],
        title=title,
        outlets=outlets,
        outlet_count=len(outlets),
        time=rows[0].when.astimezone(tz),
        url=safe_url(rep.url),
        summary=clean_text(summary),
        tone=tone,
        topics=list(topics),
        places=_places(rows, province_keys),
        sensitivity=sensitivity,
        misleading=misleading or "khong",
        misleading_note="",
        status=over.get("status"),
        channel=rep.kind,
        links=links,
        item_count=len(rows),
        weight=max(r.weight for r in rows),
        reasons=[clean_text(x) for x in rep.reasons[:3]] if flagged else [],
        decided_by=over.get("user"),
        note=clean_text(over.get("note")) or None,
        labelled=labelled,
        dismissed=bool(over.get("dismissed")),
        rank=over.get("rank"),
    )
    if entry.misleading != "khong":
        entry.misleading_note = _misleading_note(rep, rows, tz, outlet_titles)
    if over.get("handling"):
        entry.handling = clean_text(over["handling"])
        entry.handling_by_officer = True
    elif labelled:
        entry.handling = rules.propose(
            Facts(
                topics=entry.topics,
                tone=entry.tone,
                sensitivity=entry.sensitivity,
                misleading=entry.misleading,
                channel=entry.channel,
            )
        )
    return entry


def load_texts(session: Session, ids: Iterable[int]) -> dict[int, str]:
    from store.models import Item

    ids = list(ids)
    out: dict[int, str] = {}
    for i in range(0, len(ids), CHUNK):
        stmt = select(Item.id, Item.text).where(Item.id.in_(ids[i : i + CHUNK]))
        for item_id, text in session.execute(stmt):
            out[item_id] = text or ""
    return out


@dataclass
class Selection:
    entries: list[Entry]
    rows: list[Row]  # every item in the window (excluded and irrelevant flagged)
    included: list[Row]

    @property
    def unlabelled_count(self) -> int:
        return sum(1 for r in self.included if not r.classified)

    @property
    def excluded_count(self) -> int:
        return sum(1 for r in self.rows if r.excluded)


def select_entries(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    rules: HandlingRules,
    tz: ZoneInfo,
    thresholds: dict[str, float],
    province_names: Iterable[str] = (),
) -> Selection:
    from store.models import Source

    rows = load_rows(session, start, end, thresholds=thresholds)
    keep = included(rows)
    groups = group_rows(keep)
    province_keys = {match_key(n).removeprefix("tỉnh ").strip() for n in province_names if n}
    texts = load_texts(session, [pick_representative(g)[0].id for g in groups])
    titles = {n: outlet_name(t, n) for n, t in session.execute(select(Source.name, Source.title))}
    entries = [
        make_entry(
            g, texts=texts, rules=rules, tz=tz, province_keys=province_keys, outlet_titles=titles
        )
        for g in groups
    ]
    return Selection(entries=entries, rows=rows, included=keep)


# ── sections ─────────────────────────────────────────────────────────────────────────────────


def rank_key(e: Entry):
    """Severity, spread (outlets), source weight, then the newest first."""
    return (e.severity, e.outlet_count, e.weight, e.time.timestamp())


def desk_key(e: Entry) -> tuple[bool, int]:
    """Entries the desk ranked first, in rank order; the rest after them."""
    return (e.rank is None, e.rank or 0)


def build_sections(entries: list[Entry]) -> list[Section]:
    """The six sections in order; an entry of section 1 is not repeated in 2–5; section 6
    lists the positive stories of sections 2–5 briefly, each pointing back to its entry."""
    sections = [
        Section(code=code, title=SECTION_TITLES[code], numeral=ROMAN[i], empty_text=EMPTY_TEXT)
        for i, code in enumerate((SECTION_HANDLING, *CHANNELS, SECTION_POSITIVE))
    ]
    by_code = {s.code: s for s in sections}
    for e in entries:
        target = SECTION_HANDLING if e.needs_handling else e.channel
        by_code.get(target, by_code["press_local"]).entries.append(e)
    for s in sections[:-1]:
        s.entries.sort(key=rank_key, reverse=True)
        s.entries.sort(key=desk_key)  # stable: the unranked keep the order above
        for n, e in enumerate(s.entries, 1):
            e.ref = f"{s.numeral}.{n}"
    positive = [e for s in sections[1:-1] for e in s.entries if e.positive]
    positive.sort(key=lambda e: (e.outlet_count, e.weight, e.time.timestamp()), reverse=True)
    by_code[SECTION_POSITIVE].entries = positive
    return sections
