"""The sources page (admin): each source's health and a switch to pause or resume it.

The profile says which sources exist and whether they are on (`Source.enabled`, rewritten from
the profile by every crawl's `sync_sources`). An admin's pause is kept apart from that
(`Source.paused`, which the sync leaves alone), audited with who, when, before and after; the
crawl skips paused sources (`store.queries.paused_sources`, read by crawlers/run.py).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from review.app import render
from review.auth import Admin, Db, client_address, now_of
from store.models import Source
from store.queries import paused_sources, source_health, switch_source

router = APIRouter(include_in_schema=False)

# A source whose last run failed, or that failed this often in the health window, is listed first.
FAILING_RATE = 0.25


def is_failing(health: dict[str, Any]) -> bool:
    """The last run failed (wholly or partly), or too many runs failed lately."""
    rate = health.get("error_rate")
    return health.get("last_status") in ("error", "partial") or (
        rate is not None and rate >= FAILING_RATE
    )


def source_rows(session: Session, profile: str, now: dt.datetime) -> list[dict[str, Any]]:
    """The profile's sources with their health, admin switch and effective state; failing
    first, then by channel and name."""
    paused = paused_sources(session)
    rows = []
    for h in source_health(session, now=now):
        if h["profile"] != profile:
            continue
        row = dict(h)
        row["paused"] = h["name"] in paused
        row["failing"] = is_failing(h)
        rows.append(row)
    rows.sort(key=lambda r: (not r["failing"], r["kind"], r["name"]))
    return rows


def profile_of(request: Request) -> str:
    """The profile's name as the store knows it (a path's stem, like the CLI)."""
    return Path(request.app.state.config.profile_name).stem


DONE = {
    "on": "Đã bật lại nguồn tin; lượt thu thập tới sẽ lấy tin từ nguồn này.",
    "off": "Đã tạm dừng nguồn tin; các lượt thu thập sẽ bỏ qua nguồn này.",
    "same": "Nguồn tin đã ở trạng thái đó, không có gì thay đổi.",
}


@router.get("/sources")
def sources_page(request: Request, db: Db, _admin: Admin, done: str | None = None):
    rows = source_rows(db, profile_of(request), now_of(request))
    return render(
        request,
        "sources.html",
        rows=rows,
        failing=sum(1 for r in rows if r["failing"]),
        done=DONE.get(done or ""),
    )


@router.post("/sources/{name}/enabled")
def set_source_enabled(
    request: Request,
    db: Db,
    admin: Admin,
    name: str,
    enabled: Annotated[int, Form(ge=0, le=1)],
):
    exists = db.scalar(
        select(Source.id).where(Source.name == name, Source.profile == profile_of(request))
    )
    if exists is None:
        raise HTTPException(404, f"Không có nguồn tin {name} trong hồ sơ này.")
    changed = switch_source(
        db,
        name,
        bool(enabled),
        by=admin.username,
        address=client_address(request),
        now=now_of(request),
    )
    db.commit()
    done = ("on" if enabled else "off") if changed else "same"
    return RedirectResponse(f"/sources?done={done}#src-{name}", status_code=303)
