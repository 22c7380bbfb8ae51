"""The JSON API for the province's other systems: items, stories and decisions.

Only `Authorization: Bearer <token>` (a per-user API token) is accepted, never the browser
cookie, so another site cannot drive the API through an officer's browser and no CSRF token is
needed. Every parameter is validated before the store is touched (ids within the database's
integer range, codes from the taxonomy, bounded text), so bad input is a 422, never a 500.
The OpenAPI document is at /api/openapi.json.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BeforeValidator, ValidationError
from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from digest.select import topics_of
from review.auth import ApiUser, Db, client_address, now_of
from review.decisions import DecisionError, current, history, record_decision
from review.schemas import (
    ClassificationOut,
    DecisionIn,
    DecisionOut,
    DecisionPage,
    ErrorOut,
    Evidence,
    ItemDetail,
    ItemOut,
    ItemPage,
    Kind,
    Labels,
    Misleading,
    Place,
    Sensitivity,
    SpreadPoint,
    Status,
    StoryOut,
    StoryPage,
    Topic,
    Unchanged,
)
from store.models import Classification, Decision, Item, Source, Story, User
from store.search import MAX_LIMIT as MAX_SEARCH_HITS
from store.search import MAX_QUERY_CHARS, search_items

MAX_ID = 2**31 - 1  # PostgreSQL `integer`: a larger id is simply not there
MAX_OFFSET = 10**9
UTC = dt.UTC
ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}(?:$|[Tt ])")
NAME_PATTERN = r"^[A-Za-z0-9_.\-]{1,120}$"
USER_PATTERN = r"^[^\x00-\x1f\x7f]{1,120}$"

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="Mã truy cập API cá nhân (tạo ở trang Tài khoản): `Authorization: Bearer <mã>`.",
)


def caller(
    user: ApiUser, _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> User:
    """The token's owner. `api_user` does the checking; `bearer` only puts the scheme in the
    OpenAPI document (auto_error=False, so its own 403 never fires)."""
    return user


Caller = Annotated[User, Depends(caller)]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Thiếu mã truy cập hoặc mã không hợp lệ."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Không có bản ghi này."}
}

router = APIRouter(prefix="/api", tags=["API"], dependencies=[Depends(caller)], responses=ERRORS)

ItemId = Annotated[int, Path(ge=1, le=MAX_ID, description="Mã tin.")]
StoryId = Annotated[int, Path(ge=1, le=MAX_ID, description="Mã câu chuyện.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Số bản ghi mỗi trang (1–500).")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Bỏ qua bấy nhiêu bản ghi.")]


def _iso_only(value: Any) -> Any:
    """Only ISO 8601 text: pydantic would also read "0.5" or "1700000000" as a Unix time,
    which the document does not promise (and a caller surely did not mean)."""
    if isinstance(value, str) and not ISO_START.match(value):
        raise ValueError("Cần thời điểm dạng ISO 8601, ví dụ 2026-11-20T07:00:00+07:00.")
    return value


# A date-time (no offset: UTC) or a date (its 00:00 UTC).
When = Annotated[dt.datetime | dt.date, BeforeValidator(_iso_only)]
Since = Annotated[
    When | None,
    Query(description="Từ thời điểm này (ISO 8601; không ghi múi giờ: UTC)."),
]
Until = Annotated[
    When | None,
    Query(description="Trước thời điểm này (ISO 8601; không ghi múi giờ: UTC)."),
]


# ── helpers: data in, data out ───────────────────────────────────────────────────────────────


def as_utc(value: dt.datetime | dt.date | None) -> dt.datetime | None:
    """Aware UTC; naive means UTC, a date its midnight UTC. An offset that would leave the
    calendar clamps to its end."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time(), tzinfo=UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        edge = dt.datetime.max if value.year > 1 else dt.datetime.min
        return edge.replace(tzinfo=UTC)


def page_of(total: int, limit: int, offset: int) -> dict:
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if offset + limit < total else None,
    }


def _dicts(value: Any) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _strs(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _scores(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        return {}
    return {
        str(k): float(v)
        for k, v in value.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def decision_out(dec: Decision) -> DecisionOut:
    return DecisionOut(
        id=dec.id,
        item_id=dec.item_id,
        action=dec.action,
        user=dec.user,
        at=dec.at,
        relevant=dec.relevant,
        topics=_strs(dec.topics) if dec.topics is not None else None,
        tone=dec.tone,
        sensitivity=dec.sensitivity,
        misleading=dec.misleading,
        handling=dec.handling,
        status=dec.status,
        assignee=dec.assignee,
        note=dec.note,
    )


def classifier_topics(cls: Classification | None) -> list[str]:
    """The classifier's topics as the digest shows them (threshold, then lexicon topics)."""
    if cls is None:
        return []
    return topics_of(_scores(cls.topics), _dicts(cls.rules_fired), {})


def effective_topics(cls: Classification | None, dec: Decision | None) -> list[str]:
    if dec is not None and dec.topics is not None:
        return _strs(dec.topics)
    return classifier_topics(cls)


def places_of(cls: Classification | None) -> list[Place]:
    out = []
    for p in _dicts(cls.places) if cls else []:
        try:
            out.append(Place.model_validate(p))
        except ValidationError:
            continue  # a malformed entry is left out rather than failing the whole answer
    return out


def labels_of(cls: Classification | None, dec: Decision | None) -> Labels:
    """The labels in force: a decision's field when it set one, else the classifier's."""

    def pick(name: str):
        value = getattr(dec, name) if dec is not None else None
        return value if value is not None else (getattr(cls, name) if cls else None)

    return Labels(
        relevant=pick("relevant"),
        topics=effective_topics(cls, dec),
        tone=pick("tone"),
        sensitivity=pick("sensitivity"),
        misleading=pick("misleading"),
        misleading_score=cls.misleading_score if cls else None,
        places=places_of(cls),
    )


def classification_out(cls: Classification | None) -> ClassificationOut | None:
    if cls is None:
        return None
    return ClassificationOut(
        relevant=cls.relevant,
        relevance=cls.relevance,
        topics=_scores(cls.topics),
        tone=cls.tone,
        sensitivity=cls.sensitivity,
        misleading=cls.misleading,
        misleading_score=cls.misleading_score,
        story_id=cls.story_id,
        model_version=cls.model_version,
        classified_at=cls.classified_at,
    )


def item_fields(
    item: Item, source: Source, cls: Classification | None, dec: Decision | None
) -> dict:
    return {
        "id": item.id,
        "url": item.url,
        "source": source.name,
        "source_title": source.title,
        "kind": item.kind,
        "language": item.language,
        "title": item.title,
        "published_at": item.published_at,
        "fetched_at": item.fetched_at,
        "author": item.author,
        "story_id": cls.story_id if cls else None,
        "labels": labels_of(cls, dec),
        "classification": classification_out(cls),
        "decision": decision_out(dec) if dec is not None else None,
    }


def evidence_of(cls: Classification | None) -> Evidence | None:
    if cls is None:
        return None
    return Evidence(
        relevance_reasons=_strs(cls.relevance_reasons),
        sensitivity_reasons=_strs(cls.sensitivity_reasons),
        rules_fired=_dicts(cls.rules_fired),
        misleading_evidence=cls.misleading_evidence
        if isinstance(cls.misleading_evidence, dict)
        else {},
        tone_scores=_scores(cls.tone_scores),
    )


# ── item queries ─────────────────────────────────────────────────────────────────────────────


def in_force():
    """The id of the decision in force for the outer query's item (newest by time, then id)."""
    return (
        select(Decision.id)
        .where(Decision.item_id == Item.id)
        .order_by(Decision.at.desc(), Decision.id.desc())
        .limit(1)
        .correlate(Item)
        .scalar_subquery()
    )


def item_rows(*columns):
    """SELECT columns FROM items with their source, classification and decision in force."""
    return (
        select(*columns)
        .select_from(Item)
        .join(Source, Source.id == Item.source_id)
        .outerjoin(Classification, Classification.item_id == Item.id)
        .outerjoin(Decision, Decision.id == in_force())
    )


@dataclass(frozen=True)
class ItemFilter:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    kind: str | None = None
    source: str | None = None
    relevant: bool | None = None
    sensitivity: str | None = None
    misleading: str | None = None
    status: str | None = None
    topic: str | None = None
    story_id: int | None = None
    q: str | None = None


def _when_between(since: dt.datetime | None, until: dt.datetime | None):
    """Published (or, lacking a date, fetched) in [since, until)."""
    conds = []
    for column in (Item.published_at, Item.fetched_at):
        parts = (
            [Item.published_at.is_(None)]
            if column is Item.fetched_at
            else [Item.published_at.is_not(None)]
        )
        if since is not None:
            parts.append(column >= since)
        if until is not None:
            parts.append(column < until)
        conds.append(and_(*parts))
    return or_(*conds)


def conditions(f: ItemFilter) -> list:
    """SQL conditions for every filter but the exact topic test and the text search."""
    conds = []
    if f.since is not None or f.until is not None:
        conds.append(_when_between(f.since, f.until))
    if f.kind:
        conds.append(Item.kind == f.kind)
    if f.source:
        conds.append(Source.name == f.source)
    if f.relevant is not None:
        conds.append(func.coalesce(Decision.relevant, Classification.relevant) == f.relevant)
    if f.sensitivity:
        conds.append(
            func.coalesce(Decision.sensitivity, Classification.sensitivity) == f.sensitivity
        )
    if f.misleading:
        conds.append(func.coalesce(Decision.misleading, Classification.misleading) == f.misleading)
    if f.status == "moi":
        conds.append(or_(Decision.status.is_(None), Decision.status == "moi"))
    elif f.status:
        conds.append(Decision.status == f.status)
    if f.story_id is not None:
        conds.append(Classification.story_id == f.story_id)
    if f.topic:
        # A cheap pre-filter on the JSON text ("code" appears somewhere); the exact test, with
        # thresholds and decisions, is done in Python.
        like = '%"' + f.topic.replace("_", "\\_") + '"%'
        conds.append(
            or_(
                *(
                    cast(column, String).like(like, escape="\\")
                    for column in (
                        Classification.topics,
                        Classification.rules_fired,
                        Decision.topics,
                    )
                )
            )
        )
    return conds


def find_items(session: Session, f: ItemFilter, limit: int, offset: int) -> tuple[int, list[int]]:
    """(how many items match, the ids of this page) — newest first, or best first with `q`."""
    conds = conditions(f)
    order = (func.coalesce(Item.published_at, Item.fetched_at).desc(), Item.id.desc())
    if not f.q and not f.topic:
        total = session.scalar(item_rows(func.count(Item.id)).where(*conds)) or 0
        ids = session.scalars(
            item_rows(Item.id).where(*conds).order_by(*order).limit(limit).offset(offset)
        ).all()
        return total, list(ids)
    rank: dict[int, int] = {}
    if f.q:
        hits = search_items(
            session, f.q, since=f.since, source=f.source, kind=f.kind, limit=MAX_SEARCH_HITS
        )
        rank = {h.id: n for n, h in enumerate(hits)}
        if not rank:
            return 0, []
        conds.append(Item.id.in_(list(rank)))
    rows = session.execute(
        item_rows(Item.id, Classification, Decision).where(*conds).order_by(*order)
    ).all()
    ids = [
        item_id
        for item_id, cls, dec in rows
        if not f.topic or f.topic in effective_topics(cls, dec)
    ]
    if rank:
        ids.sort(key=rank.__getitem__)
    return len(ids), ids[offset : offset + limit]


def load_items(session: Session, ids: Iterable[int]) -> list[ItemOut]:
    """The items, in the order of `ids`."""
    ids = list(ids)
    if not ids:
        return []
    rows = session.execute(
        item_rows(Item, Source, Classification, Decision).where(Item.id.in_(ids))
    ).all()
    by_id = {item.id: ItemOut(**item_fields(item, src, cls, dec)) for item, src, cls, dec in rows}
    return [by_id[i] for i in ids if i in by_id]


def story_items(session: Session, story_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {s: [] for s in story_ids}
    if not story_ids:
        return out
    rows = session.execute(
        select(Classification.story_id, Item.id)
        .join(Item, Item.id == Classification.item_id)
        .where(Classification.story_id.in_(story_ids))
        .order_by(func.coalesce(Item.published_at, Item.fetched_at), Item.id)
    )
    for story_id, item_id in rows:
        out[story_id].append(item_id)
    return out


def story_out(story: Story, item_ids: list[int]) -> StoryOut:
    spread = []
    for point in story.spread if isinstance(story.spread, list) else []:
        if isinstance(point, list | tuple) and len(point) >= 2:
            spread.append(SpreadPoint(source=str(point[0]), first_seen=str(point[1])))
    return StoryOut(
        id=story.id,
        title=story.title,
        first_seen=story.first_seen,
        last_seen=story.last_seen,
        item_count=story.item_count,
        outlets=_strs(story.outlets),
        spread=spread,
        item_ids=item_ids,
    )


# ── routes ───────────────────────────────────────────────────────────────────────────────────


@router.get("/items", response_model=ItemPage, summary="Danh sách tin")
def list_items(
    db: Db,
    limit: Limit = 50,
    offset: Offset = 0,
    since: Since = None,
    until: Until = None,
    kind: Annotated[Kind | None, Query(description="Kênh.")] = None,
    source: Annotated[str | None, Query(pattern=NAME_PATTERN, description="Mã nguồn.")] = None,
    relevant: Annotated[bool | None, Query(description="Liên quan đến tỉnh.")] = None,
    sensitivity: Annotated[Sensitivity | None, Query()] = None,
    misleading: Annotated[Misleading | None, Query()] = None,
    status: Annotated[
        Status | None, Query(description="Trạng thái xử lý (moi: cả tin chưa có quyết định).")
    ] = None,
    topic: Annotated[Topic | None, Query()] = None,
    story_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=MAX_QUERY_CHARS,
            description="Tìm toàn văn (tiêu đề và nội dung); chỉ 500 kết quả khớp nhất.",
        ),
    ] = None,
) -> ItemPage:
    """Tin bài mới nhất trước (có `q`: khớp nhất trước). Nhãn trong `labels` là nhãn đang có
    hiệu lực (quyết định của cán bộ thay nhãn của bộ phân loại); `classification` là nhãn gốc."""
    f = ItemFilter(
        since=as_utc(since),
        until=as_utc(until),
        kind=kind,
        source=source,
        relevant=relevant,
        sensitivity=sensitivity,
        misleading=misleading,
        status=status,
        topic=topic,
        story_id=story_id,
        q=q.strip() if q and q.strip() else None,
    )
    total, ids = find_items(db, f, limit, offset)
    return ItemPage(**page_of(total, limit, offset), items=load_items(db, ids))


@router.get("/items/{item_id}", response_model=ItemDetail, responses=NOT_FOUND, summary="Một tin")
def get_item(db: Db, item_id: ItemId) -> ItemDetail:
    """Tin, nội dung đã trích, bằng chứng phân loại và lịch sử quyết định."""
    row = db.execute(
        item_rows(Item, Source, Classification, Decision).where(Item.id == item_id)
    ).first()
    if row is None:
        raise HTTPException(404, f"Không có tin số {item_id}.")
    item, src, cls, dec = row
    return ItemDetail(
        **item_fields(item, src, cls, dec),
        text=item.text,
        evidence=evidence_of(cls),
        decisions=[decision_out(d) for d in history(db, [item_id])],
    )


@router.get("/stories", response_model=StoryPage, summary="Danh sách câu chuyện")
def list_stories(
    db: Db,
    limit: Limit = 50,
    offset: Offset = 0,
    since: Annotated[When | None, Query(description="Xuất hiện lần cuối từ thời điểm này.")] = None,
    until: Annotated[
        When | None, Query(description="Xuất hiện lần đầu trước thời điểm này.")
    ] = None,
) -> StoryPage:
    """Câu chuyện (các bản tin cùng một nội dung ở nhiều nguồn), mới nhất trước."""
    conds = []
    if since is not None:
        conds.append(Story.last_seen >= as_utc(since))
    if until is not None:
        conds.append(Story.first_seen < as_utc(until))
    total = db.scalar(select(func.count(Story.id)).where(*conds)) or 0
    stories = db.scalars(
        select(Story)
        .where(*conds)
        .order_by(Story.last_seen.desc(), Story.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    members = story_items(db, [s.id for s in stories])
    return StoryPage(
        **page_of(total, limit, offset), items=[story_out(s, members[s.id]) for s in stories]
    )


@router.get(
    "/stories/{story_id}", response_model=StoryOut, responses=NOT_FOUND, summary="Một câu chuyện"
)
def get_story(db: Db, story_id: StoryId) -> StoryOut:
    story = db.get(Story, story_id)
    if story is None:
        raise HTTPException(404, f"Không có câu chuyện số {story_id}.")
    return story_out(story, story_items(db, [story_id])[story_id])


@router.get("/decisions", response_model=DecisionPage, summary="Nhật ký quyết định")
def list_decisions(
    db: Db,
    limit: Limit = 50,
    offset: Offset = 0,
    since: Since = None,
    until: Until = None,
    item_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    user: Annotated[str | None, Query(pattern=USER_PATTERN, description="Cán bộ.")] = None,
) -> DecisionPage:
    """Mọi quyết định đã ghi, mới nhất trước (chỉ đọc: quyết định không sửa, không xóa được)."""
    conds = []
    if since is not None:
        conds.append(Decision.at >= as_utc(since))
    if until is not None:
        conds.append(Decision.at < as_utc(until))
    if item_id is not None:
        conds.append(Decision.item_id == item_id)
    if user:
        conds.append(Decision.user == user.strip().lower())
    total = db.scalar(select(func.count(Decision.id)).where(*conds)) or 0
    rows = db.scalars(
        select(Decision)
        .where(*conds)
        .order_by(Decision.at.desc(), Decision.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return DecisionPage(**page_of(total, limit, offset), items=[decision_out(d) for d in rows])


@router.post(
    "/items/{item_id}/decisions",
    status_code=201,
    response_model=DecisionOut,
    responses={
        200: {"model": Unchanged, "description": "Không có gì thay đổi."},
        400: {"model": ErrorOut, "description": "Thân yêu cầu không đọc được (không phải JSON)."},
        **NOT_FOUND,
    },
    summary="Ghi quyết định",
)
def post_decision(request: Request, db: Db, item_id: ItemId, body: DecisionIn, user: Caller):
    """Ghi một quyết định về tin (như trên trang tin: nhật ký kiểm tra ghi người gọi, lúc gọi,
    trước và sau). Trả về quyết định đang có hiệu lực."""
    if db.get(Item, item_id) is None:
        raise HTTPException(404, f"Không có tin số {item_id}.")
    changes = body.changes()
    only_clearing = body.action is None and all(v is None for v in changes.values())
    if only_clearing and current(db, item_id) is None:
        # Nothing to clear on an undecided item: record_decision would still append an empty
        # "note" row (its before, {}, differs from {"action": "note"}).
        return JSONResponse(Unchanged().model_dump(), status_code=200)
    try:
        dec = record_decision(
            db,
            item_id,
            user=user.username,
            action=body.action,
            changes=changes,
            address=client_address(request),
            now=now_of(request),
        )
    except DecisionError as exc:
        db.rollback()
        return JSONResponse(
            {"detail": [{"loc": ["body"], "msg": str(exc), "type": "decision"}]}, status_code=422
        )
    if dec is None:
        return JSONResponse(Unchanged().model_dump(), status_code=200)
    db.commit()
    return decision_out(current(db, item_id) or dec)
