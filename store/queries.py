"""Small data functions shared by the crawlers, the CLI and (later) the admin pages.

Each takes a session and leaves the transaction to the caller (they flush, never commit), so a
stage can group several of them into one unit of work with `store.db.session_scope`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import CrawlRun, FetchLog, Item, Source, utcnow
from store.profile import SourceConfig

RUN_STATUSES = ("ok", "partial", "failed", "interrupted")
# fetch_log statuses that mean the source answered as it should.
SUCCESS_STATUSES = ("ok", "not_modified")
HEALTH_WINDOW = dt.timedelta(days=7)
# Bound parameters per IN (...) list: far below SQLite's limit, and keeps PostgreSQL plans sane.
_CHUNK = 500


def sync_sources(
    session: Session, profile_name: str, sources: Sequence[SourceConfig]
) -> dict[str, Source]:
    """Make the `sources` table say what the profile says, returning its sources by name.

    Rows are matched by name (names are unique across profiles: a name moved to another profile
    follows it). Rows are never deleted, since items and fetch logs point at them; a source of
    this profile that the profile no longer lists is disabled instead. Unchanged rows are not
    rewritten, so `updated_at` tells when the profile last changed a source.
    """
    names = [s.name for s in sources]
    existing: dict[str, Source] = {}
    for chunk in _chunks(names):
        existing.update(
            (s.name, s) for s in session.scalars(select(Source).where(Source.name.in_(chunk)))
        )
    out: dict[str, Source] = {}
    for cfg in sources:
        row = existing.get(cfg.name)
        if row is None:
            row = Source(name=cfg.name)
            session.add(row)
        row.profile = profile_name
        row.title = cfg.title
        row.kind = cfg.kind
        row.language = cfg.language
        row.fetch_type = cfg.type
        row.urls = list(cfg.urls)
        row.weight = cfg.weight
        row.enabled = cfg.enabled
        out[cfg.name] = row
    stale = select(Source).where(Source.profile == profile_name, Source.enabled.is_(True))
    for row in session.scalars(stale):
        if row.name not in out:
            row.enabled = False
    session.flush()
    return out


def start_run(session: Session, profile: str, args: Mapping[str, Any] | None = None) -> CrawlRun:
    """Record that a crawl started (status 'running'); `args` is kept as JSON, values that JSON
    cannot hold (paths, dates) as text, so a run can be explained later."""
    run = CrawlRun(profile=profile, status="running", args=_jsonable(dict(args or {})))
    session.add(run)
    session.flush()
    return run


def finish_run(session: Session, run: CrawlRun, status: str) -> CrawlRun:
    """Close a run with `status` (ok | partial | failed | interrupted).

    When the run has fetch logs, its totals are recomputed from them (the logs are the record of
    what each source gave), so a crawler need not keep two sets of counters in step.
    """
    if status not in RUN_STATUSES:
        raise ValueError(f"unknown run status {status!r}; expected one of {RUN_STATUSES}")
    session.flush()
    totals = session.execute(
        select(
            func.count(FetchLog.id),
            func.coalesce(func.sum(FetchLog.items_new), 0),
            func.coalesce(func.sum(FetchLog.items_updated), 0),
        ).where(FetchLog.run_id == run.id)
    ).one()
    if totals[0]:
        run.items_new = int(totals[1])
        run.items_updated = int(totals[2])
        errors = session.scalars(select(FetchLog.errors).where(FetchLog.run_id == run.id))
        run.errors = sum(len(e or []) for e in errors)
    run.status = status
    run.finished_at = utcnow()
    session.flush()
    return run


def mark_interrupted_runs(session: Session, *, started_before: dt.datetime | None = None) -> int:
    """Runs still 'running' belong to a process that died (killed, machine restarted): mark them
    'interrupted' so reports and health checks stop waiting on them. Returns how many.

    Call it when no other crawl can be running (the CLI holds its crawl lock), or pass
    `started_before` to leave recent runs alone. A run's end is taken as its last fetch log's
    time (else its start), not now, so durations stay truthful.
    """
    stmt = select(CrawlRun).where(CrawlRun.status == "running")
    if started_before is not None:
        stmt = stmt.where(CrawlRun.started_at < started_before)
    runs = list(session.scalars(stmt))
    for run in runs:
        last = session.scalar(
            select(func.max(func.coalesce(FetchLog.finished_at, FetchLog.started_at))).where(
                FetchLog.run_id == run.id
            )
        )
        run.status = "interrupted"
        run.finished_at = _aware(last) or run.started_at
    session.flush()
    return len(runs)


def source_health(
    session: Session, since: dt.datetime | None = None, *, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """How each source has been doing since `since` (default: the last HEALTH_WINDOW), for
    `diemtin sources list` and the admin page: one dict per source (disabled ones too), ordered
    by profile and name, with

    name, title, profile, kind, fetch_type, enabled;
    runs (fetch logs since `since`), errors (of those with status 'error'), partial,
    error_rate (errors / runs, None without runs);
    last_run_at, last_status, last_error (latest error message) and last_success
    (status ok or not_modified), all over the whole history, so a source that has been failing
    for a month still shows when it last worked;
    items (fetched since `since`), items_per_day (over the window, at least one day), items_total.
    Times are aware UTC datetimes.
    """
    now = now or utcnow()
    since = since or now - HEALTH_WINDOW
    days = max((now - since).total_seconds() / 86400, 1.0)

    window: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(FetchLog.source_name, FetchLog.status, func.count())
        .where(FetchLog.started_at >= since)
        .group_by(FetchLog.source_name, FetchLog.status)
    )
    for name, status, n in rows:
        window.setdefault(name, {})[status] = n

    last_success = dict(
        session.execute(
            select(
                FetchLog.source_name,
                func.max(func.coalesce(FetchLog.finished_at, FetchLog.started_at)),
            )
            .where(FetchLog.status.in_(SUCCESS_STATUSES))
            .group_by(FetchLog.source_name)
        ).all()
    )

    latest_id = select(func.max(FetchLog.id).label("id")).group_by(FetchLog.source_name).subquery()
    latest = {
        log.source_name: log
        for log in session.scalars(select(FetchLog).join(latest_id, FetchLog.id == latest_id.c.id))
    }

    items_window = dict(
        session.execute(
            select(Item.source_id, func.count())
            .where(Item.fetched_at >= since)
            .group_by(Item.source_id)
        ).all()
    )
    items_total = dict(
        session.execute(select(Item.source_id, func.count()).group_by(Item.source_id)).all()
    )

    out = []
    for src in session.scalars(select(Source).order_by(Source.profile, Source.name)):
        counts = window.get(src.name, {})
        runs = sum(counts.values())
        errors = counts.get("error", 0)
        last = latest.get(src.name)
        n_items = items_window.get(src.id, 0)
        out.append(
            {
                "name": src.name,
                "title": src.title,
                "profile": src.profile,
                "kind": src.kind,
                "fetch_type": src.fetch_type,
                "enabled": src.enabled,
                "runs": runs,
                "errors": errors,
                "partial": counts.get("partial", 0),
                "error_rate": errors / runs if runs else None,
                "last_run_at": last.started_at if last else None,
                "last_status": last.status if last else None,
                "last_error": _last_message(last.errors) if last else None,
                "last_success": _aware(last_success.get(src.name)),
                "items": n_items,
                "items_per_day": n_items / days,
                "items_total": items_total.get(src.id, 0),
            }
        )
    return out


def recent_fetch_logs(session: Session, run_id: int) -> list[FetchLog]:
    """A run's fetch logs in the order the sources were fetched, for the run summary."""
    return list(
        session.scalars(
            select(FetchLog)
            .where(FetchLog.run_id == run_id)
            .order_by(FetchLog.started_at, FetchLog.id)
        )
    )


# --- helpers ---------------------------------------------------------------------------------


def _chunks(values: Sequence[str], size: int = _CHUNK) -> Iterable[Sequence[str]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _aware(value: dt.datetime | str | None) -> dt.datetime | None:
    """An aggregate (max/coalesce) loses the column type: SQLite then gives a naive UTC string,
    PostgreSQL an aware datetime. Either way, an aware UTC datetime (or None)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _last_message(errors: list | None) -> str | None:
    if not errors:
        return None
    last = errors[-1]
    if isinstance(last, Mapping):
        return str(last.get("message") or last.get("error") or last)
    return str(last)


__all__ = [
    "finish_run",
    "mark_interrupted_runs",
    "recent_fetch_logs",
    "source_health",
    "start_run",
    "sync_sources",
]


def paused_sources(session: Session) -> set[str]:
    """Names of the sources an admin paused in the review app: a crawl without an explicit
    source list skips them."""
    return set(session.scalars(select(Source.name).where(Source.paused.is_(True))))


def switch_source(
    session: Session,
    name: str,
    enabled: bool,
    *,
    by: str,
    address: str | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Pause or resume a stored source, audited; False when it is already so (nothing
    written). KeyError for a source the store does not know."""
    from store.accounts import audit

    source = session.scalar(select(Source).where(Source.name == name))
    if source is None:
        raise KeyError(name)
    if source.paused == (not enabled):
        return False
    source.paused = not enabled
    audit(
        session,
        user=by,
        action="source.enable" if enabled else "source.disable",
        object_type="source",
        object_id=name,
        before={"enabled": not enabled},
        after={"enabled": enabled},
        address=address,
        now=now,
    )
    return True
