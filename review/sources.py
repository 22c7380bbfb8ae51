"""The sources page (admin): each source's health and a switch to pause or resume it.

The profile says which sources exist and whether they are on (`Source.enabled`, rewritten from
the profile by every crawl's `sync_sources`). An admin's switch is kept apart from that, as
append-only `source.enable` / `source.disable` rows in the audit log: the newest row per source
is in force, so no crawl can undo it and every switch says who, when, before and after. The
crawl skips sources paused here (`paused_sources`, read by crawlers/run.py).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from review.app import render
from review.auth import Admin, Db, client_address, now_of
from store.accounts import audit
from store.models import AuditLog, Source
from store.queries import source_health

router = APIRouter(include_in_schema=False)

SWITCH_ON, SWITCH_OFF = "source.enable", "source.disable"
# A source whose last run failed, or that failed this often in the health window, is listed first.
FAILING_RATE = 0.25


def source_switches(session: Session) -> dict[str, bool]:
    """The admin's switch in force per source name (True: on, False: paused); a source nobody
    has switched is absent. The newest audit row wins."""
    newest = (
        select(func.max(AuditLog.id))
        .where(AuditLog.object_type == "source", AuditLog.action.in_((SWITCH_ON, SWITCH_OFF)))
        .group_by(AuditLog.object_id)
    )
    rows = session.execute(
        select(AuditLog.object_id, AuditLog.action).where(AuditLog.id.in_(newest))
    )
    return {name: action == SWITCH_ON for name, action in rows}


def paused_sources(session: Session) -> set[str]:
    """Names of the sources an admin has paused: a crawl (without an explicit source list)
    skips them."""
    return {name for name, on in source_switches(session).items() if not on}


def switch_source(
    session: Session,
    name: str,
    enabled: bool,
    *,
    by: str,
    address: str | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Pause or resume a source; False when it is already in that state (nothing written)."""
    before = name not in paused_sources(session)
    if before == enabled:
        return False
    audit(
        session,
        user=by,
        action=SWITCH_ON if enabled else SWITCH_OFF,
        object_type="source",
        object_id=name,
        before={"enabled": before},
        after={"enabled": enabled},
        address=address,
        now=now,
    )
    return True


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
        row["runs_now"] = h["enabled"] and not row["paused"]
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
