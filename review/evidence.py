"""Why an item was flagged, as plain data for the item page.

Everything here is a pure function of rows already loaded (item, classification, story, its
copies, decisions): the page template only lays the result out. Text from the store is never
trusted as HTML: highlighting escapes every piece of the text and adds only its own <mark> tags.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from classify.text import KeyedText, match_key, plain_key
from review.decisions import FIELD_VI, STATUS_VI, VERDICT_VI, state_of
from store.taxonomy import LEVEL_VI, MISLEADING_VI, TONE_VI, TOPIC_VI

PLACE_LEVEL_VI = {
    "province": "Tỉnh",
    "province_old": "Tỉnh cũ",
    "district_old": "Huyện cũ",
    "commune": "Xã, phường",
    "commune_old": "Xã, phường cũ",
}
EFFECT_VI = {
    "sovereignty_distortion": "Sai chủ quyền",
    "rumour_cue": "Dấu hiệu tin đồn",
    "denial_cue": "Dấu hiệu bác bỏ, cải chính",
    "negative": "Tiêu cực",
    "positive": "Tích cực",
    "misleading": "Sai lệch",
    "topic": "Chủ đề",
    "sensitivity": "Nhạy cảm",
}
_WORD = re.compile(r"\w")


@dataclass
class Score:
    code: str
    label: str
    pct: int  # 0..100


@dataclass
class Ref:
    """An item the evidence points at (the official statement, a corroborating report)."""

    item_id: int | None
    source: str
    title: str
    published: dt.datetime | None
    similarity_pct: int | None = None
    shared: list[str] = field(default_factory=list)


@dataclass
class Misleading:
    level: str
    label: str
    score_pct: int
    claim: str | None
    why: str | None
    statement: Ref | None
    possible_statement: Ref | None
    corroborated_by: list[Ref]
    similarity_pct: int | None
    shared: list[str]
    model_score_pct: int | None
    rule: str | None


@dataclass
class Copy:
    item_id: int
    outlet: str
    title: str
    when: dt.datetime | None
    is_self: bool


@dataclass
class Change:
    field: str
    label: str
    value: str


@dataclass
class DecisionRow:
    id: int
    item_id: int
    item_title: str
    outlet: str
    user: str
    at: dt.datetime
    action: str
    action_label: str
    changes: list[Change]
    is_self: bool


@dataclass
class Evidence:
    title_html: Markup
    paragraphs: list[Markup]
    terms: list[str]
    places: list[dict]
    relevance_reasons: list[str]
    relevance_pct: int | None
    rules: list[dict]
    topics: list[Score]
    tone_scores: list[Score]
    sensitivity_reasons: list[str]
    misleading: Misleading | None
    copies: list[Copy]
    decisions: list[DecisionRow]


def pct(value) -> int | None:
    """A 0..1 score as a whole percentage (None when absent or not a number)."""
    try:
        return max(0, min(100, round(float(value) * 100)))
    except (TypeError, ValueError):
        return None


def scores(probs: dict | None, labels: dict[str, str]) -> list[Score]:
    """Probabilities as percentages, most probable first, with Vietnamese labels."""
    out = []
    for code, p in (probs or {}).items():
        v = pct(p)
        if v is not None:
            out.append(Score(str(code), labels.get(code, str(code)), v))
    return sorted(out, key=lambda s: (-s.pct, s.label))


def parse_time(value) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def ref_of(data, outlets: dict[str, str] | None = None) -> Ref | None:
    """An evidence reference ({item_id, source, title, published_at, ...}) as a Ref."""
    if not isinstance(data, dict):
        return None
    try:
        item_id = int(data["item_id"]) if data.get("item_id") is not None else None
    except (TypeError, ValueError):
        item_id = None
    source = str(data.get("source") or "")
    return Ref(
        item_id=item_id,
        source=(outlets or {}).get(source, source),
        title=str(data.get("title") or ""),
        published=parse_time(data.get("published_at")),
        similarity_pct=pct(data.get("similarity")),
        shared=[str(s) for s in data.get("shared") or []],
    )


def misleading_of(cls, outlets: dict[str, str] | None = None) -> Misleading | None:
    """The misleading verdict and its evidence (claim, statement, corroboration), or None when
    the classifier found nothing to say."""
    ev = cls.misleading_evidence or {}
    level = cls.misleading or "khong"
    if level == "khong" and not ev:
        return None
    return Misleading(
        level=level,
        label=MISLEADING_VI.get(level, level),
        score_pct=pct(cls.misleading_score) or 0,
        claim=ev.get("claim"),
        why=ev.get("why"),
        statement=ref_of(ev.get("statement"), outlets),
        possible_statement=ref_of(ev.get("possible_statement"), outlets),
        corroborated_by=[
            r
            for r in (ref_of(x, outlets) for x in ev.get("corroborated_by") or [])
            if r is not None
        ],
        similarity_pct=pct(ev.get("similarity")),
        shared=[str(s) for s in ev.get("shared") or []],
        model_score_pct=pct(ev.get("model_score")),
        rule=ev.get("rule"),
    )


def rules_of(fired: Iterable[dict] | None) -> list[dict]:
    """Lexicon hits with Vietnamese names for their effect and topic."""
    out = []
    for h in fired or []:
        if not isinstance(h, dict):
            continue
        effect = h.get("effect") or ""
        topic = h.get("topic")
        out.append(
            {
                "rule": h.get("rule") or "",
                "label": h.get("label") or h.get("rule") or "",
                "phrase": h.get("phrase") or "",
                "effect": effect,
                "effect_label": EFFECT_VI.get(effect, effect),
                "topic": topic,
                "topic_label": TOPIC_VI.get(topic, topic) if topic else None,
            }
        )
    return out


def places_of(places: Iterable[dict] | None) -> list[dict]:
    """Places matched, with the level in Vietnamese; old units say so."""
    out = []
    for p in places or []:
        if not isinstance(p, dict) or not p.get("name"):
            continue
        level = str(p.get("level") or "")
        out.append(
            {
                "name": str(p["name"]),
                "level": level,
                "level_label": PLACE_LEVEL_VI.get(level, level),
                "is_old": bool(p.get("is_old")) or level.endswith("_old"),
                "mentions": p.get("mentions"),
                "named": p.get("named", True),
            }
        )
    return out


# ── highlighting ────────────────────────────────────────────────────────────────────────────


def spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    """Where the terms occur in `text` as whole words (case-insensitive, any tone-mark
    placement, NFC or NFD; phrases of two or more words also without diacritics), merged."""
    if not text or not terms:
        return []
    kt = KeyedText(text)
    found: list[tuple[int, int]] = []
    for term in terms:
        for hay, needle in (
            (kt.key, match_key(term)),
            (kt.plain, plain_key(term) if len(term.split()) >= 2 else ""),
        ):
            if not needle:
                continue
            start = hay.find(needle)
            while start >= 0:
                end = start + len(needle)
                before = hay[start - 1] if start else " "
                after = hay[end] if end < len(hay) else " "
                if not _WORD.match(before) and not _WORD.match(after):
                    found.append(kt.span(start, end))
                start = hay.find(needle, start + 1)
    found.sort()
    merged: list[tuple[int, int]] = []
    for a, b in found:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        elif b > a:
            merged.append((a, b))
    return merged


def highlight(text: str, terms: Sequence[str]) -> Markup:
    """`text` escaped, with the terms wrapped in <mark>. Every piece of the text goes through
    markupsafe.escape; the only markup added is our own <mark> tags."""
    text = text or ""
    out: list[str] = []
    pos = 0
    for a, b in spans(text, terms):
        out.append(escape(text[pos:a]))
        out.append(Markup("<mark>%s</mark>") % text[a:b])
        pos = b
    out.append(escape(text[pos:]))
    return Markup("").join(out)


def paragraphs(text: str, terms: Sequence[str]) -> list[Markup]:
    """The extracted text as paragraphs (one per non-blank line), highlighted and escaped."""
    return [highlight(p.strip(), terms) for p in re.split(r"\r?\n", text or "") if p.strip()]


def terms_of(cls) -> list[str]:
    """What to highlight: lexicon phrases and the names of places matched, longest first."""
    if cls is None:
        return []
    names = [h.get("phrase") for h in cls.rules_fired or [] if isinstance(h, dict)]
    names += [p.get("name") for p in cls.places or [] if isinstance(p, dict)]
    seen: dict[str, str] = {}
    for n in names:
        if isinstance(n, str) and n.strip():
            seen.setdefault(match_key(n), n.strip())
    return sorted(seen.values(), key=len, reverse=True)


# ── the story and its decisions ─────────────────────────────────────────────────────────────


def describe(name: str, value) -> str:
    """A decision field's value in Vietnamese."""
    if value is None:
        return "—"
    if name == "topics":
        return ", ".join(TOPIC_VI.get(t, t) for t in value) or "(không chủ đề nào)"
    labels = {
        "tone": TONE_VI,
        "sensitivity": LEVEL_VI,
        "misleading": MISLEADING_VI,
        "status": STATUS_VI,
    }.get(name)
    if labels:
        return labels.get(value, str(value))
    if name == "relevant":
        return "có" if value else "không"
    return str(value)


def changes_between(before: dict, after: dict) -> list[Change]:
    """The fields a decision set or cleared, compared with the one in force before it."""
    out = []
    for name, label in FIELD_VI.items():
        if name == "action":  # the verdict is shown on its own
            continue
        old, new = before.get(name), after.get(name)
        if old != new:
            text = describe(name, new) if new is not None else "(bỏ, theo phân loại)"
            out.append(Change(name, label, text))
    return out


def decision_rows(
    decisions: Sequence, items: dict[int, tuple[str, str]], self_id: int
) -> list[DecisionRow]:
    """Decisions on the story's items, newest first, each with what it changed. `items` maps
    item id → (title, outlet)."""
    last: dict[int, dict] = {}
    rows = []
    for d in sorted(decisions, key=lambda d: (d.at, d.id)):
        state = state_of(d)
        title, outlet = items.get(d.item_id, ("", ""))
        rows.append(
            DecisionRow(
                id=d.id,
                item_id=d.item_id,
                item_title=title,
                outlet=outlet,
                user=d.user,
                at=d.at,
                action=d.action,
                action_label=VERDICT_VI.get(d.action, d.action),
                changes=changes_between(last.get(d.item_id, {}), state),
                is_self=d.item_id == self_id,
            )
        )
        last[d.item_id] = state
    return rows[::-1]


def copies_of(item_id: int, copies: Iterable[tuple], outlets: dict[str, str]) -> list[Copy]:
    """The story's items (Item, Source) in order of time, this one marked."""
    out = [
        Copy(
            item_id=it.id,
            outlet=outlets.get(src.name, src.title) if src else "",
            title=it.title,
            when=it.published_at or it.fetched_at,
            is_self=it.id == item_id,
        )
        for it, src in copies
    ]
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(out, key=lambda c: (c.when or far, c.item_id))


def build_evidence(
    item,
    cls,
    *,
    copies: Iterable[tuple] = (),
    decisions: Sequence = (),
    outlets: dict[str, str] | None = None,
) -> Evidence:
    """Everything the item page shows about why the item was flagged.

    `copies`: (Item, Source) pairs of the item's story (this one included); `decisions`: every
    decision on those items; `outlets`: source name → outlet title.
    """
    outlets = outlets or {}
    copy_list = list(copies)
    terms = terms_of(cls)
    items = {
        it.id: (it.title, outlets.get(src.name, src.title) if src else "") for it, src in copy_list
    }
    items.setdefault(item.id, (item.title, ""))
    return Evidence(
        title_html=highlight(item.title, terms),
        paragraphs=paragraphs(item.text, terms),
        terms=terms,
        places=places_of(cls.places if cls else None),
        relevance_reasons=[str(r) for r in (cls.relevance_reasons if cls else None) or []],
        relevance_pct=pct(cls.relevance) if cls else None,
        rules=rules_of(cls.rules_fired if cls else None),
        topics=scores(cls.topics if cls else None, TOPIC_VI),
        tone_scores=scores(cls.tone_scores if cls else None, TONE_VI),
        sensitivity_reasons=[str(r) for r in (cls.sensitivity_reasons if cls else None) or []],
        misleading=misleading_of(cls, outlets) if cls else None,
        copies=copies_of(item.id, copy_list, outlets) if len(copy_list) > 1 else [],
        decisions=decision_rows(decisions, items, item.id),
    )
