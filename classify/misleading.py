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

SUGGEST = 0.86
CONFIRM = 0.89
WINDOW = dt.timedelta(days=3)
MODEL_CLAIM = 0.5  # heads' probability that an item is a claim needing checks

_TOKEN = re.compile(r"\w+")
_STOP = frozenset(
    "và của là có cho các những được trong với đã này một người không thông tin tỉnh xã huyện "
    "the of and to in a is on for that".split()
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


def _keywords(doc: ClaimDoc) -> set[str]:
    words = _TOKEN.findall(match_key(f"{doc.title} {doc.text[:400]}"))
    pairs = {
        f"{a} {b}"
        for a, b in zip(words, words[1:], strict=False)
        if a not in _STOP and b not in _STOP
    }
    numbers = {w for w in words if w.isdigit() and len(w) >= 2}
    return pairs | numbers


def claim_similarity(a: ClaimDoc, b: ClaimDoc) -> tuple[float, list[str]]:
    """Cosine of the two items' vectors (or keyword overlap without vectors), and the shared
    keywords that make the match explainable."""
    shared = sorted(_keywords(a) & _keywords(b))
    if a.vector is not None and b.vector is not None:
        sim = float(np.dot(a.vector, b.vector))
    else:
        ka, kb = _keywords(a), _keywords(b)
        sim = len(ka & kb) / max(1, min(len(ka), len(kb)))
    return sim, shared[:8]


def _is_claim(doc: ClaimDoc) -> bool:
    if doc.kind not in ("social", "press_foreign"):
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
) -> dict[int, Verdict]:
    """A verdict for every doc (khong for most)."""
    denials = [d for d in docs if _official(d)]
    out: dict[int, Verdict] = {}
    for doc in docs:
        if "chu_quyen_sai_lech" in doc.lexicon and doc.kind in ("social", "press_foreign"):
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
        best, best_sim, best_shared = None, 0.0, []
        for d in denials:
            if abs(d.published - doc.published) > window or d.id == doc.id:
                continue
            sim, shared = claim_similarity(doc, d)
            if doc.story_id is not None and d.story_id == doc.story_id:
                sim = max(sim, confirm)  # grouped with the denial as one story
            if sim > best_sim and (shared or sim >= confirm):
                best, best_sim, best_shared = d, sim, shared
        if best is not None and best_sim >= confirm:
            out[doc.id] = Verdict(
                "sai_lech",
                round(best_sim, 3),
                {
                    "claim": doc.title,
                    "statement": _ref(best),
                    "similarity": round(best_sim, 3),
                    "shared": best_shared,
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
        if best is not None and best_sim >= suggest:
            evidence["possible_statement"] = {
                **_ref(best),
                "similarity": round(best_sim, 3),
                "shared": best_shared,
            }
        out[doc.id] = Verdict("chua_kiem_chung", max(model, 0.5), evidence)
    return out
