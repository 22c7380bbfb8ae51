"""One crawl: the profile's sources → Scrapy → the store, and a per-source summary.

Twisted's reactor starts once per process, so one process runs one crawl; the CLI, cron and
the scheduler each start a fresh process for it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from scrapy.crawler import CrawlerProcess

from crawlers.context import CrawlContext, SourceStats
from crawlers.settings import scrapy_settings
from crawlers.spiders.monitor import MonitorSpider
from store.db import open_store
from store.models import CrawlRun, FetchLog, Source, utcnow
from store.profile import Profile, SourceConfig
from store.queries import finish_run, mark_interrupted_runs, start_run, sync_sources
from store.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class SourceSummary:
    name: str
    title: str
    kind: str
    status: str
    stats: SourceStats


@dataclass
class CrawlResult:
    run_id: int | None
    status: str
    sources: list[SourceSummary]
    cpu: dict[str, float] = field(default_factory=dict)  # extract, store (seconds)

    @property
    def new(self) -> int:
        return sum(s.stats.new for s in self.sources)

    @property
    def failed(self) -> list[SourceSummary]:
        return [s for s in self.sources if s.status in ("error", "partial")]


def select_sources(profile: Profile, names: list[str] | None) -> list[SourceConfig]:
    """Enabled sources that Scrapy fetches (imports come through `diemtin import`)."""
    if names:
        unknown = set(names) - {s.name for s in profile.sources}
        if unknown:
            raise KeyError(f"không có nguồn: {', '.join(sorted(unknown))}")
        chosen = [profile.source(n) for n in names]
    else:
        chosen = [s for s in profile.sources if s.enabled]
    return [s for s in chosen if s.type != "import"]


def without_paused(session, sources: list[SourceConfig]) -> list[SourceConfig]:
    """Drop the sources an admin paused on the sources page: that switch lives in the store,
    so the profile's sync cannot undo it."""
    from store.queries import paused_sources

    paused = paused_sources(session)
    return [s for s in sources if s.name not in paused]


def host_delays(sources: list[SourceConfig], default: float) -> dict[str, float]:
    """The longest delay any source on a host asks for (politeness is per host)."""
    delays: dict[str, float] = {}
    for src in sources:
        delay = default if src.delay is None else src.delay
        for url in src.urls:
            host = urlparse(url).hostname or ""
            delays[host] = max(delays.get(host, 0.0), delay)
    return delays


class CrawlLocked(RuntimeError):
    """Another crawl holds the data directory's lock."""


@contextmanager
def crawl_lock(data_dir: Path):
    """One crawl at a time per data directory, so cron can start one every 15 minutes safely."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "crawl.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise CrawlLocked("một lượt thu thập khác đang chạy") from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def crawl(
    settings: Settings,
    profile: Profile,
    profile_name: str,
    *,
    only: list[str] | None = None,
    since: dt.timedelta | None = None,
    dry_run: bool = False,
    on_event: Callable[[str, str], None] | None = None,
) -> CrawlResult:
    sources = select_sources(profile, only)
    with crawl_lock(settings.data_dir):
        return _crawl(settings, profile, profile_name, sources, since, dry_run, on_event, not only)


def _crawl(
    settings, profile, profile_name, sources, since, dry_run, on_event, skip_paused=True
) -> CrawlResult:
    now = utcnow()
    factory = open_store(settings.db_url)
    with factory() as session:
        mark_interrupted_runs(session)
        rows = sync_sources(session, profile_name, profile.sources)
        if skip_paused:  # sources named on the command line run even when paused
            sources = without_paused(session, sources)
        source_ids = {name: row.id for name, row in rows.items()}
        validators = {r.name: (r.etag, r.last_modified) for r in rows.values()}
        run = None
        if not dry_run:
            run = start_run(
                session,
                profile_name,
                {
                    "sources": [s.name for s in sources],
                    "since": since.total_seconds() if since else None,
                },
            )
        run_id = run.id if run else None
        session.commit()

    ctx = CrawlContext(
        profile=profile,
        sources={s.name: s for s in sources},
        source_ids=source_ids,
        factory=None if dry_run else factory,
        now=now,
        since=now - since if since else None,
        validators=validators,
        on_event=on_event,
    )
    delays = host_delays(sources, settings.crawl.download_delay)
    scrapy_cfg = scrapy_settings(settings.crawl, host_delays=delays)
    if delays:
        scrapy_cfg["DOWNLOAD_DELAY"] = min(delays.values())
    scrapy_cfg["DIEMTIN_MAX_ITEMS_PER_SOURCE"] = settings.crawl.max_items_per_source
    process = CrawlerProcess(scrapy_cfg)
    process.crawl(MonitorSpider, ctx=ctx)
    process.start()

    summaries = [
        SourceSummary(s.name, s.title, s.kind, ctx.stat(s.name).status, ctx.stat(s.name))
        for s in sources
    ]
    status = "ok"
    if any(s.status == "error" for s in summaries) or any(s.status == "partial" for s in summaries):
        status = "partial"
    if summaries and all(s.status == "error" for s in summaries):
        status = "failed"
    if not dry_run:
        _write_logs(factory, run_id, ctx, summaries, status)
    return CrawlResult(run_id, status, summaries, dict(ctx.cpu))


def _write_logs(factory, run_id, ctx: CrawlContext, summaries, status) -> None:
    finished = utcnow()
    with factory() as session:
        for s in summaries:
            st = s.stats
            session.add(
                FetchLog(
                    run_id=run_id,
                    source_id=ctx.source_ids.get(s.name),
                    source_name=s.name,
                    started_at=ctx.now,
                    finished_at=finished,
                    status=s.status,
                    pages=st.pages,
                    items_found=st.found,
                    items_new=st.new,
                    items_updated=st.updated,
                    items_unchanged=st.unchanged,
                    items_skipped=st.skipped,
                    items_dropped=st.dropped,
                    errors=st.errors,
                )
            )
            src = ctx.sources[s.name]
            if src.conditional and s.name in ctx.validators:
                row = session.get(Source, ctx.source_ids[s.name])
                row.etag, row.last_modified = ctx.validators[s.name]
        session.flush()
        finish_run(session, session.get(CrawlRun, run_id), status)
        session.commit()
