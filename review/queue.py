"""The queue (flagged, unreviewed items, most severe first, one row per story), saved filters,
bulk assign/dismiss, and the story page (every copy of one piece of news and its decisions)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from review.app import as_id, render
from review.auth import CurrentUser, Db, client_address, now_of
from review.decisions import DecisionError, history, record_many
from review.filters import (
    FLAGGED_VI,
    REVIEWED_VI,
    STATUS_FILTER_VI,
    QueueFilter,
    Row,
    apply,
    base,
    in_force,
    load_rows,
    thresholds_of,
    when_of,
)
from store.models import Classification, Item, SavedFilter, Source, Story, User

router = APIRouter(include_in_schema=False)

MAX_BULK = 5000
MAX_PAGE = 100_000
NOTICES = {
    "assigned": "Đã giao việc {n} tin.",
    "dismissed": "Đã bác bỏ cảnh báo {n} tin; các tin này rời khỏi hàng chờ.",
    "unchanged": "Không có tin nào thay đổi.",
    "none_selected": "Chưa chọn tin nào.",
    "no_assignee": "Hãy chọn cán bộ để giao việc.",
    "bad_action": "Thao tác không hợp lệ.",
    "saved": "Đã lưu bộ lọc.",
    "deleted": "Đã xóa bộ lọc.",
    "bad_name": "Hãy đặt tên cho bộ lọc (tối đa 120 ký tự).",
    "bad_assignee": "Không có cán bộ này (hoặc tài khoản đã bị khóa) để giao việc.",
    "error": "Không ghi được quyết định. Hãy tải lại trang và thử lại.",
}
ERRORS = {"none_selected", "no_assignee", "bad_action", "bad_name", "bad_assignee", "error"}


@dataclass
class Group:
    """One queue row: a story's representative (its most severe, then earliest, matching copy)
    and every copy of that story in the store."""

    row: Row
    copy_ids: list[int] = field(default_factory=list)

    @property
    def others(self) -> int:
        return max(len(self.copy_ids) - 1, 0)

    @property
    def value(self) -> str:
        """The checkbox value: every copy's id, so a story row selects the whole story."""
        return ",".join(str(i) for i in (self.copy_ids or [self.row.id]))


@dataclass
class QueuePage:
    groups: list[Group]
    stories: int  # rows (stories, or items outside a story) matching
    items: int  # items matching
    page: int
    pages: int


def page_number(params: Mapping[str, Any]) -> int:
    try:
        return min(max(int(str(params.get("page") or "1")), 1), MAX_PAGE)
    except ValueError:
        return 1


def queue_page(
    session: Session,
    f: QueueFilter,
    *,
    tz: dt.tzinfo,
    me: str | None,
    thresholds: Mapping[str, float],
    page: int = 1,
    size: int = 50,
) -> QueuePage:
    """The filtered items grouped per story, worst first (see `severity`), one page of them.

    Grouping happens in SQL (a window per story) so pages and counts stay right at any size."""
    v = in_force()
    worst, total = v.severity()
    when = when_of()
    group = func.coalesce(Classification.story_id, -Item.id)  # an item alone is its own group
    rank = func.row_number().over(
        partition_by=group, order_by=(worst.desc(), total.desc(), when.asc(), Item.id.asc())
    )
    latest = func.max(when).over(partition_by=group)
    stmt = base(
        v,
        Item.id.label("id"),
        worst.label("worst"),
        total.label("total"),
        latest.label("latest"),
        rank.label("rank"),
    )
    inner = apply(stmt, f, v, tz=tz, me=me, thresholds=thresholds).subquery("matching")
    stories = session.scalar(select(func.count()).select_from(inner).where(inner.c.rank == 1))
    items = session.scalar(select(func.count()).select_from(inner))
    pages = max((stories + size - 1) // size, 1)
    page = min(page, pages)
    ids = list(
        session.scalars(
            select(inner.c.id)
            .where(inner.c.rank == 1)
            .order_by(
                inner.c.worst.desc(), inner.c.total.desc(), inner.c.latest.desc(), inner.c.id.desc()
            )
            .limit(size)
            .offset((page - 1) * size)
        )
    )
    rows = load_rows(session, ids, thresholds)
    copies = story_copies(session, [r.story_id for r in rows if r.story_id is not None])
    groups = [Group(r, copies.get(r.story_id, []) if r.story_id else []) for r in rows]
    return QueuePage(groups, stories or 0, items or 0, page, pages)


def story_copies(session: Session, story_ids: Iterable[int]) -> dict[int, list[int]]:
    """Every item id of each story, earliest first."""
    ids = list(dict.fromkeys(story_ids))
    out: dict[int, list[int]] = {}
    if not ids:
        return out
    stmt = (
        select(Classification.story_id, Item.id)
        .join(Item, Item.id == Classification.item_id)
        .where(Classification.story_id.in_(ids))
        .order_by(when_of(), Item.id)
    )
    for sid, iid in session.execute(stmt):
        out.setdefault(sid, []).append(iid)
    return out


def status_counts(
    session: Session,
    f: QueueFilter,
    *,
    tz: dt.tzinfo,
    me: str | None,
    thresholds: Mapping[str, float],
) -> dict[str, int]:
    """Items per status under the other filters (reviewed or not), every status present."""
    v = in_force()
    stmt = apply(
        base(v, v.status.label("status")),
        f.replace(status=None, reviewed="tat_ca"),
        v,
        tz=tz,
        me=me,
        thresholds=thresholds,
    ).subquery("by_status")
    counts = dict.fromkeys(STATUS_FILTER_VI, 0)
    for status, n in session.execute(select(stmt.c.status, func.count()).group_by(stmt.c.status)):
        counts[status] = n
    return counts


def parse_ids(values: Iterable[str]) -> list[int]:
    """Checkbox values ("12" or "12,13,14" for a story row) → distinct positive ids."""
    out: dict[int, None] = {}
    for value in values:
        for part in str(value).split(","):
            part = part.strip()
            if part.isdigit() and 0 < int(part) < 2**62:
                out[int(part)] = None
            if len(out) >= MAX_BULK:
                return list(out)
    return list(out)


def source_list(session: Session) -> list[Source]:
    return list(session.scalars(select(Source).order_by(Source.title, Source.name)))


def back_to_queue(back: str, **extra: Any) -> RedirectResponse:
    """303 to the queue with the filters the officer came from (re-parsed: nothing else
    travels) and a notice code."""
    f = QueueFilter.parse(back).replace(q="")
    page = page_number(dict(parse_qsl(back[:4000])))
    query = f.to_query(page=page if page > 1 else None, **extra)
    return RedirectResponse(f"/queue?{query}", status_code=303)


def back_to_story(story_id: int, **extra: Any) -> RedirectResponse:
    return RedirectResponse(f"/stories/{story_id}?{urlencode(extra)}", status_code=303)


def notice_of(params: Mapping[str, Any]) -> tuple[str | None, bool]:
    """The notice for `?msg=code&n=count` (only known codes; the count must be a number)."""
    code = params.get("msg")
    if code not in NOTICES:
        return None, False
    n = str(params.get("n") or "0")
    n = n if n.isdigit() and len(n) < 7 else "0"
    if code in ("assigned", "dismissed") and n == "0":
        code = "unchanged"
    return NOTICES[code].format(n=n), code in ERRORS


def filter_context(session: Session, user: User) -> dict:
    """The option lists of the filter form."""
    return {
        "sources": source_list(session),
        "users": list(session.scalars(select(User).order_by(User.username))),
        "active_users": list(
            session.scalars(select(User).where(User.active).order_by(User.username))
        ),
        "STATUS_FILTER_VI": STATUS_FILTER_VI,
        "REVIEWED_VI": REVIEWED_VI,
        "FLAGGED_VI": FLAGGED_VI,
    }


@router.get("/queue")
def queue(request: Request, db: Db, user: CurrentUser):
    cfg = request.app.state.config
    tz = request.app.state.tz
    sources = source_list(db)
    f = QueueFilter.parse(request.query_params, sources=[s.name for s in sources]).replace(q="")
    thresholds = thresholds_of(cfg.settings)
    result = queue_page(
        db,
        f,
        tz=tz,
        me=user.username,
        thresholds=thresholds,
        page=page_number(request.query_params),
        size=cfg.web.page_size,
    )
    counts = status_counts(db, f, tz=tz, me=user.username, thresholds=thresholds)
    saved = list(
        db.scalars(
            select(SavedFilter).where(SavedFilter.user_id == user.id).order_by(SavedFilter.name)
        )
    )
    notice, is_error = notice_of(request.query_params)
    return render(
        request,
        "queue.html",
        f=f,
        result=result,
        counts=counts,
        saved=saved,
        notice=notice,
        notice_error=is_error,
        **filter_context(db, user),
    )


@router.post("/queue/filters")
def save_filter(
    request: Request,
    db: Db,
    user: CurrentUser,
    name: Annotated[str, Form(max_length=500)] = "",
    query: Annotated[str, Form(max_length=4000)] = "",
):
    """Save (or overwrite, by name) the officer's current filter."""
    name = " ".join(name.split())
    f = QueueFilter.parse(query, sources=[s.name for s in source_list(db)]).replace(q="")
    if not name or len(name) > 120:
        return back_to_queue(query, msg="bad_name")
    saved = db.scalar(
        select(SavedFilter).where(SavedFilter.user_id == user.id, SavedFilter.name == name)
    )
    if saved is None:
        db.add(
            SavedFilter(user_id=user.id, name=name, query=f.to_query(), created_at=now_of(request))
        )
    else:
        saved.query = f.to_query()
    db.commit()
    return RedirectResponse(f"/queue?{f.to_query(msg='saved')}", status_code=303)


@router.post("/queue/filters/{filter_id}/delete")
def delete_filter(filter_id: str, request: Request, db: Db, user: CurrentUser):
    n = as_id(filter_id)
    saved = db.get(SavedFilter, n) if n else None
    if saved is None or saved.user_id != user.id:
        raise HTTPException(404, "Không có bộ lọc này.")
    db.delete(saved)
    db.commit()
    return RedirectResponse("/queue?msg=deleted", status_code=303)


@router.post("/queue/bulk")
def bulk(
    request: Request,
    db: Db,
    user: CurrentUser,
    action: Annotated[str, Form(max_length=20)] = "",
    item_ids: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI reads it, never mutated
    assignee: Annotated[str, Form(max_length=120)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    back: Annotated[str, Form(max_length=4000)] = "",
    story: Annotated[str, Form(max_length=20)] = "",
):
    """Assign or dismiss every selected item (a story row stands for all its copies); back to
    the queue with its filters, or to the story page the form was on."""
    ids = parse_ids(item_ids)

    def back_to(**extra: Any) -> RedirectResponse:
        if story.isdigit() and len(story) < 19:
            return back_to_story(int(story), **extra)
        return back_to_queue(back, **extra)

    if action not in ("assign", "dismiss"):
        return back_to(msg="bad_action")
    if not ids:
        return back_to(msg="none_selected")
    known = set(db.scalars(select(Item.id).where(Item.id.in_(ids))))
    ids = [i for i in ids if i in known]
    if action == "assign":
        if not assignee.strip():
            return back_to(msg="no_assignee")
        verdict, changes = None, {"assignee": assignee.strip()}
    else:
        verdict, changes = "dismiss", ({"note": note} if note.strip() else {})
    try:
        n = record_many(
            db,
            ids,
            user=user.username,
            action=verdict,
            changes=changes,
            address=client_address(request),
            now=now_of(request),
        )
    except DecisionError:
        db.rollback()
        return back_to(msg="bad_assignee" if action == "assign" else "error")
    db.commit()
    return back_to(msg="assigned" if action == "assign" else "dismissed", n=n)


@dataclass
class Copy:
    row: Row
    after: dt.timedelta  # since the story's first copy


def spread(rows: list[Row]) -> list[Copy]:
    """The copies in time order, each with how long after the first it appeared."""
    rows = sorted(rows, key=lambda r: (r.when, r.id))
    first = rows[0].when if rows else None
    return [Copy(r, r.when - first) for r in rows]


def duration_vi(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes <= 0:
        return "cùng lúc"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} ngày"] if days else []
    if hours:
        parts.append(f"{hours} giờ")
    if mins and not days:
        parts.append(f"{mins} phút")
    return "sau " + " ".join(parts)


@router.get("/stories/{story_id}")
def story_page(story_id: str, request: Request, db: Db, user: CurrentUser):
    sid = as_id(story_id)
    story = db.get(Story, sid) if sid else None
    if story is None:
        raise HTTPException(404, f"Không có câu chuyện số {story_id[:40]}.")
    story_id = story.id
    thresholds = thresholds_of(request.app.state.config.settings)
    ids = story_copies(db, [story_id]).get(story_id, [])
    rows = load_rows(db, ids, thresholds)
    copies = spread(rows)
    titles = {r.id: r for r in rows}
    decisions = history(db, ids)
    outlets = list(dict.fromkeys(r.source.title or r.source.name for r in rows))
    notice, is_error = notice_of(request.query_params)
    return render(
        request,
        "story.html",
        story=story,
        copies=copies,
        outlets=outlets,
        span=duration_vi(copies[-1].after) if copies else "",
        decisions=decisions,
        titles=titles,
        duration_vi=duration_vi,
        STATUS_FILTER_VI=STATUS_FILTER_VI,
        active_users=list(db.scalars(select(User).where(User.active).order_by(User.username))),
        all_ids=",".join(str(i) for i in ids),
        notice=notice,
        notice_error=is_error,
    )
