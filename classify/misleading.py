"""Misleading, from evidence rather than a model score alone.

- A claim about the province on social media (or foreign press) that no press or official source
  in its story corroborates within the window is `chua_kiem_chung`.
- A claim matched to an official denial or correction is `sai_lech`: matching uses a "suggest"
  threshold (shown to officers as a possible match) and a "confirm" threshold (decides).
- Lexicon triggers that distort sovereignty (đường lưỡi bò …) on social or foreign items are
  `sai_lech` by rule.
Each verdict carries its evidence: the claim, the matching statement or the missing corroboration,
and the scores.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import numpy as np

from classify.text import match_key

# Claim-matching scores from classify.stories.best_matches (0..1: shingle overlap, or the
# encoder's cosine rescaled and weighed by shared names and numbers).
SUGGEST = 0.3  # shown to officers as a possible match; the claim stays unverified
CONFIRM = 0.45  # decides: the claim is contradicted by the official statement
WINDOW = dt.timedelta(days=3)
MODEL_CLAIM = 0.5  # heads' probability that an item is a claim needing checks

# Reporting on a distorted map (seizing it, warning about it) is not spreading it.
_REPORTING = re.compile(
    r"tạm giữ|thu giữ|tịch thu|phát hiện|xử lý|xử phạt|phi pháp|vi phạm|sai chủ quyền|cấm|"
    r"in hình|có in|bày bán|báo cho|seiz|confiscat|illegal|banned|on sale|were sold|inspectors"
)


@dataclass
class ClaimDoc:
    id: int
    kind: str
    title: str
    text: str
    published: dt.datetime
    story_id: int | None = None
    vector: np.ndarray | None = None
    lexicon: frozenset[str] = frozenset()  # rule codes that fired
    model: dict[str, float] = field(default_factory=dict)  # heads' misleading probabilities
    source: str = ""


@dataclass
class Verdict:
    level: str  # khong | chua_kiem_chung | sai_lech
    score: float
    evidence: dict


def _story_doc(doc: ClaimDoc):
    from classify.stories import StoryDoc

    return StoryDoc(
        item_id=doc.id,
        source=doc.source,
        kind=doc.kind,
        title=doc.title,
        text=doc.text,
        published=doc.published,
        vector=doc.vector,
        story_id=doc.story_id,
    )


def _spreads_distortion(doc: ClaimDoc) -> bool:
    return (
        "chu_quyen_sai_lech" in doc.lexicon
        and doc.kind in ("social", "press_foreign")
        and not _REPORTING.search(match_key(f"{doc.title} {doc.text}"))
    )


def _is_claim(doc: ClaimDoc) -> bool:
    # Items that relay a denial or correction are not the claim, though they quote it.
    if doc.kind not in ("social", "press_foreign") or "bac_bo" in doc.lexicon:
        return False
    model = doc.model.get("chua_kiem_chung", 0.0) + doc.model.get("sai_lech", 0.0)
    return "tin_don" in doc.lexicon or model >= MODEL_CLAIM


def _official(doc: ClaimDoc) -> bool:
    return doc.kind in ("press_local", "press_central") and "bac_bo" in doc.lexicon


def _ref(doc: ClaimDoc) -> dict:
    return {
        "item_id": doc.id,
        "source": doc.source,
        "title": doc.title,
        "published_at": doc.published.isoformat(),
    }


def judge(
    docs: list[ClaimDoc],
    *,
    suggest: float = SUGGEST,
    confirm: float = CONFIRM,
    window: dt.timedelta = WINDOW,
    common: tuple[str, ...] = (),
) -> dict[int, Verdict]:
    """A verdict for every doc (khong for most)."""
    from classify.stories import best_matches

    denials = [d for d in docs if _official(d)]
    denial_docs = {d.id: _story_doc(d) for d in denials}
    out: dict[int, Verdict] = {}
    for doc in docs:
        if _spreads_distortion(doc):
            out[doc.id] = Verdict(
                "sai_lech",
                1.0,
                {
                    "claim": doc.title,
                    "rule": "chu_quyen_sai_lech",
                    "why": "nội dung thể hiện sai chủ quyền biển, đảo của Việt Nam",
                },
            )
            continue
        if not _is_claim(doc):
            out[doc.id] = Verdict("khong", 0.0, {})
            continue
        model = round(doc.model.get("chua_kiem_chung", 0.0) + doc.model.get("sai_lech", 0.0), 3)
        near = [
            denial_docs[d.id]
            for d in denials
            if d.id != doc.id and abs(d.published - doc.published) <= window
        ]
        best, best_score, shared = None, 0.0, []
        for m in best_matches(_story_doc(doc), near, k=3, common=common):
            score = m.score
            if doc.story_id is not None and m.doc.story_id == doc.story_id:
                score = max(score, confirm)  # grouped with the statement as one story
            if score > best_score:
                best = next(d for d in denials if d.id == m.doc.item_id)
                best_score, shared = score, list(m.shared)
        if best is not None and best_score >= confirm:
            out[doc.id] = Verdict(
                "sai_lech",
                round(best_score, 3),
                {
                    "claim": doc.title,
                    "statement": _ref(best),
                    "similarity": round(best_score, 3),
                    "shared": shared,
                    "model_score": model,
                    "why": "khớp với thông tin bác bỏ/cải chính chính thức",
                },
            )
            continue
        corroborating = [
            d
            for d in docs
            if d.story_id is not None
            and d.story_id == doc.story_id
            and d.kind in ("press_local", "press_central")
            and not _official(d)
        ]
        if corroborating:
            out[doc.id] = Verdict(
                "khong",
                0.0,
                {
                    "claim": doc.title,
                    "corroborated_by": [_ref(d) for d in corroborating[:5]],
                    "why": "báo chí trong nước đã đưa cùng thông tin",
                },
            )
            continue
        evidence = {
            "claim": doc.title,
            "model_score": model,
            "why": f"chưa có nguồn báo chí hoặc chính thống nào xác nhận trong {window.days} ngày",
        }
        if best is not None and best_score >= suggest:
            evidence["possible_statement"] = {
                **_ref(best),
                "similarity": round(best_score, 3),
                "shared": shared,
            }
        out[doc.id] = Verdict("chua_kiem_chung", max(model, 0.5), evidence)
    return _spread_in_stories(docs, out, confirm, common)


def _spread_in_stories(
    docs: list[ClaimDoc],
    out: dict[int, Verdict],
    confirm: float = CONFIRM,
    common: tuple[str, ...] = (),
) -> dict[int, Verdict]:
    """An unverified claim that is the same claim as one matched to a denial (same story, or
    matched to it at the confirm threshold) is contradicted by the same statement."""
    from classify.stories import best_matches

    denied = {
        d.id: d for d in docs if out[d.id].level == "sai_lech" and "statement" in out[d.id].evidence
    }
    by_story = {d.story_id: out[d.id] for d in denied.values() if d.story_id is not None}
    denied_docs = [_story_doc(d) for d in denied.values()]
    for doc in docs:
        v = out[doc.id]
        if v.level != "chua_kiem_chung" or not denied_docs:
            continue
        src, why = by_story.get(doc.story_id), "cùng câu chuyện với tin đồn đã bị bác bỏ"
        if src is None:
            best = best_matches(_story_doc(doc), denied_docs, k=1, common=common)
            if best and best[0].score >= confirm:
                src = out[best[0].doc.item_id]
                why = f"cùng nội dung với tin đồn đã bị bác bỏ (độ tương đồng {best[0].score:.2f})"
        if src is not None:
            out[doc.id] = Verdict(
                "sai_lech",
                src.score,
                {
                    **v.evidence,
                    "statement": src.evidence["statement"],
                    "similarity": src.evidence.get("similarity"),
                    "why": why,
                },
            )
    return out
