"""Officers' decisions as training rows for `diemtin classify train --with-reviews`.

The newest decision per item is in force. Labels the officer did not correct are taken from the
classification the officer saw and accepted; a dismissed flag means "not sensitive, not
misleading". Rows weigh more than seed rows: they are this province's own judgement.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from classify.pipeline import lead_of
from store.models import Classification, Decision, Item

REVIEW_WEIGHT = 3.0


def review_rows(session: Session, province: str | None = None) -> list[dict]:
    newest = (
        select(Decision.item_id, func.max(Decision.id).label("id"))
        .group_by(Decision.item_id)
        .subquery()
    )
    stmt = (
        select(Decision, Item, Classification)
        .join(newest, newest.c.id == Decision.id)
        .join(Item, Item.id == Decision.item_id)
        .outerjoin(Classification, Classification.item_id == Item.id)
        .order_by(Decision.id)
    )
    rows = []
    for dec, item, cls in session.execute(stmt):
        if dec.action == "note":
            continue  # assigned, annotated or re-worded, but nobody judged the labels yet
        if dec.action == "exclude" and dec.relevant is None:
            continue  # left out of the digest, no judgement about its labels
        thresholds_topics = [
            t for t, p in ((cls.topics if cls else None) or {}).items() if p >= 0.5
        ]
        dismissed = dec.action == "dismiss"
        title, _, lead = lead_of(item.title, item.text).partition("\n")
        rows.append(
            {
                "id": f"review-{dec.id}",
                "title": title,
                "lead": lead,
                "kind": item.kind,
                "language": item.language,
                "province": province,
                "relevant": dec.relevant
                if dec.relevant is not None
                else bool(cls.relevant if cls else True),
                "topics": dec.topics if dec.topics is not None else thresholds_topics,
                "tone": dec.tone or (cls.tone if cls else None) or "trung_lap",
                "sensitivity": dec.sensitivity
                or ("binh_thuong" if dismissed else None)
                or (cls.sensitivity if cls else None)
                or "binh_thuong",
                "misleading": dec.misleading
                or ("khong" if dismissed else None)
                or (cls.misleading if cls else None)
                or "khong",
                "split": "review",
                "weight": REVIEW_WEIGHT,
            }
        )
    return rows
