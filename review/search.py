"""Full-text search over the whole archive with the queue's filters, and its export to CSV and
XLSX.

The free text goes to store.search.search_items (which never hands it to the database's query
syntax); the other filters are applied in SQL to the hits, batch by batch, keeping the ranking.
An empty query lists the newest items under the filters.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.report import guard_cell, xlsx_cell
from review.app import render
from review.auth import CurrentUser, Db, now_of
from review.decisions import STATUS_VI
from review.filters import (
    STATUS_FILTER_VI,
    QueueFilter,
    Row,
    apply,
    base,
    in_force,
    load_rows,
    local_day_start,
    thresholds_of,
    when_of,
)
from review.queue import filter_context, page_number, source_list
from store.models import Item
from store.search import MARK_END, MARK_START, MAX_LIMIT, parse_query, search_items
from store.taxonomy import CHANNEL_VI, LEVEL_VI, MISLEADING_VI, TONE_VI, TOPIC_VI

router = APIRouter(include_in_schema=False)

PAGE_CAP = 1000  # full-text hits a result page looks through
EXPORT_CAP = 10_000  # rows in one export file
SNIPPET_CHARS = 240
HEADERS = (
    "id",
    "thời gian",
    "nguồn",
    "kênh",
    "tiêu đề",
    "đường dẫn",
    "chủ đề",
    "sắc thái",
    "mức nhạy cảm",
    "sai lệch",
    "trạng thái",
    "người được giao",
    "đề xuất xử lý",
)


@dataclass
class Found:
    """Matching item ids in result order, their snippets (full-text only), the total, and
    whether the cap cut the list short."""

    ids: list[int]
    snippets: dict[int, str]
    total: int
    truncated: bool


def find(
    session: Session,
    f: QueueFilter,
    *,
    tz: dt.tzinfo,
    me: str | None,
    thresholds: Mapping[str, float],
    cap: int,
    offset: int = 0,
    limit: int | None = None,
) -> Found:
    """Items matching the free text (best first) or, with no text, the newest; then the filters.

    Without text the page is cut in SQL (`offset`, `limit`); with text, up to `cap` hits are
    gathered and the caller pages through them."""
    if not f.q.strip():
        v = in_force()
        stmt = apply(base(v, Item.id), f, v, tz=tz, me=me, thresholds=thresholds)
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        take = min(limit if limit is not None else cap, cap - offset)
        ids = (
            list(
                session.scalars(
                    stmt.order_by(when_of().desc(), Item.id.desc()).offset(offset).limit(take)
                )
            )
            if take > 0
            else []
        )
        return Found(ids, {}, total, total > cap)
    if not parse_query(f.q):  # only punctuation or operators: nothing to look for
        return Found([], {}, 0, False)
    since = local_day_start(f.date_from, tz) if f.date_from else None
    ids: list[int] = []
    snippets: dict[int, str] = {}
    start = 0
    truncated = False
    while True:
        hits = search_items(
            session,
            f.q,
            since=since,
            source=f.source or None,
            kind=f.channel,
            limit=MAX_LIMIT,
            offset=start,
        )
        if not hits:
            break
        v = in_force()
        keep = set(
            session.scalars(
                apply(base(v, Item.id), f, v, tz=tz, me=me, thresholds=thresholds).where(
                    Item.id.in_([h.id for h in hits])
                )
            )
        )
        for h in hits:
            if h.id in keep and h.id not in snippets:
                if len(ids) >= cap:
                    truncated = True
                    break
                ids.append(h.id)
                snippets[h.id] = h.snippet
        if truncated or len(hits) < MAX_LIMIT:
            break
        start += MAX_LIMIT
    return Found(ids, snippets, len(ids), truncated)


def highlight(snippet: str) -> Markup:
    """A snippet with «matched» words as <mark>: the text is escaped first, and only the
    markers become tags (always balanced)."""
    out: list[str] = []
    open_ = False
    for ch in str(escape(snippet)):
        if ch == MARK_START and not open_:
            out.append("<mark>")
            open_ = True
        elif ch == MARK_END and open_:
            out.append("</mark>")
            open_ = False
        elif ch in (MARK_START, MARK_END):
            continue
        else:
            out.append(ch)
    if open_:
        out.append("</mark>")
    return Markup("".join(out))


def lead_of(item: Item) -> str:
    text = " ".join((item.summary or item.text or "").split())
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"


def parse_filter(request: Request, session: Session) -> QueueFilter:
    """The search page's defaults: reviewed or not, flagged or not."""
    names = [s.name for s in source_list(session)]
    return QueueFilter.parse(request.query_params, reviewed="tat_ca", flagged=False, sources=names)


@router.get("/search")
def search_page(request: Request, db: Db, user: CurrentUser):
    cfg = request.app.state.config
    tz = request.app.state.tz
    f = parse_filter(request, db)
    size = cfg.web.page_size
    page = page_number(request.query_params)
    thresholds = thresholds_of(cfg.settings)

    def look(page: int) -> Found:
        return find(
            db,
            f,
            tz=tz,
            me=user.username,
            thresholds=thresholds,
            cap=PAGE_CAP if f.q else 10**9,
            offset=(page - 1) * size,
            limit=size,
        )

    found = look(page)
    pages = max((found.total + size - 1) // size, 1)
    if page > pages:
        page = pages
        found = look(page) if not f.q else found
    # with free text every hit (up to the cap) is at hand; without, SQL gave just this page
    ids = found.ids[(page - 1) * size : page * size] if f.q else found.ids
    rows = load_rows(db, ids, thresholds)
    blurbs = {
        r.id: highlight(found.snippets[r.id]) if found.snippets.get(r.id) else lead_of(r.item)
        for r in rows
    }
    return render(
        request,
        "search.html",
        f=f,
        rows=rows,
        blurbs=blurbs,
        total=found.total,
        truncated=found.truncated,
        page=page,
        pages=pages,
        page_cap=PAGE_CAP,
        export_cap=EXPORT_CAP,
        **filter_context(db, user),
    )


# ── export ───────────────────────────────────────────────────────────────────────────────────


def record(row: Row, tz: dt.tzinfo) -> list[Any]:
    """One export line (Vietnamese labels; the time as a naive local datetime)."""
    when = row.when.astimezone(tz).replace(tzinfo=None, microsecond=0) if row.when else None
    return [
        row.id,
        when,
        row.source.title or row.source.name,
        CHANNEL_VI.get(row.item.kind, row.item.kind),
        row.item.title,
        row.item.url,
        "; ".join(TOPIC_VI.get(t, t) for t in row.topics),
        TONE_VI.get(row.tone, row.tone) if row.tone else "",
        LEVEL_VI.get(row.sensitivity, row.sensitivity) if row.sensitivity else "",
        MISLEADING_VI.get(row.misleading, row.misleading) if row.misleading else "",
        STATUS_FILTER_VI.get(row.status, STATUS_VI.get(row.status, row.status)),
        row.assignee or "",
        row.handling or "",
    ]


def to_csv(records: Iterable[list[Any]]) -> bytes:
    """UTF-8 with a byte-order mark, so Excel reads the diacritics."""
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(HEADERS)
    for rec in records:
        out.writerow(
            [
                v.strftime("%Y-%m-%d %H:%M") if isinstance(v, dt.datetime) else guard_cell(v)
                for v in rec
            ]
        )
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(records: Iterable[list[Any]], notes: list[tuple[str, str]]) -> bytes:
    """One sheet of results, one of notes (query, filters, whether the cap cut it short)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Kết quả")
    for col, width in zip(
        "ABCDEFGHIJKLM", (8, 17, 26, 20, 60, 40, 30, 12, 14, 16, 12, 16, 40), strict=True
    ):
        ws.column_dimensions[col].width = width
    bold = Font(bold=True)
    header = []
    for name in HEADERS:
        cell = WriteOnlyCell(ws, value=name)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    for rec in records:
        line = []
        for value in rec:
            if isinstance(value, dt.datetime):
                cell = WriteOnlyCell(ws, value=value)
                cell.number_format = "DD/MM/YYYY HH:MM"
                line.append(cell)
            else:
                line.append(xlsx_cell(value))
        ws.append(line)
    info = wb.create_sheet("Ghi chú")
    for key, value in notes:
        info.append([key, xlsx_cell(value)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def export_rows(request: Request, db: Session, user) -> tuple[QueueFilter, list[Row], bool]:
    cfg = request.app.state.config
    f = parse_filter(request, db)
    thresholds = thresholds_of(cfg.settings)
    found = find(
        db, f, tz=request.app.state.tz, me=user.username, thresholds=thresholds, cap=EXPORT_CAP
    )
    return f, load_rows(db, found.ids, thresholds), found.truncated


def download(request: Request, body: bytes, ext: str, media: str, rows: int, cut: bool):
    day = now_of(request).astimezone(request.app.state.tz).date().isoformat()
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="diemtin-tim-kiem-{day}.{ext}"',
            "X-Export-Rows": str(rows),
            "X-Export-Truncated": "1" if cut else "0",
        },
    )


@router.get("/search/export.csv")
def export_csv(request: Request, db: Db, user: CurrentUser):
    tz = request.app.state.tz
    _, rows, cut = export_rows(request, db, user)
    body = to_csv(record(r, tz) for r in rows)
    return download(request, body, "csv", "text/csv; charset=utf-8", len(rows), cut)


@router.get("/search/export.xlsx")
def export_xlsx(request: Request, db: Db, user: CurrentUser):
    tz = request.app.state.tz
    f, rows, cut = export_rows(request, db, user)
    notes = [
        ("Xuất lúc", now_of(request).astimezone(tz).strftime("%H:%M %d/%m/%Y")),
        ("Người xuất", user.username),
        ("Từ khóa", f.q or "(không có)"),
        ("Bộ lọc", f.to_query()),
        ("Số dòng", str(len(rows))),
    ]
    if cut:
        cap = f"{EXPORT_CAP:,}".replace(",", ".")
        notes.append(("Lưu ý", f"Kết quả vượt quá {cap} dòng; tệp chỉ gồm {cap} dòng đầu."))
    body = to_xlsx((record(r, tz) for r in rows), notes)
    media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return download(request, body, "xlsx", media, len(rows), cut)
