"""What one crawl run shares between the spider, the pipelines and the CLI."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from store.profile import Profile, SourceConfig


@dataclass
class SourceStats:
    """Counts and errors for one source in one run (becomes a fetch_log row)."""

    pages: int = 0
    found: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    dropped: int = 0
    not_modified: bool = False
    entry_ok: int = 0  # entry points (feeds, sitemaps, listings) that answered
    entry_failed: int = 0
    errors: list[dict] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.entry_ok == 0 and self.entry_failed:
            return "error"
        if self.errors:
            return "partial"
        return "not_modified" if self.not_modified else "ok"


@dataclass
class CrawlContext:
    profile: Profile
    sources: dict[str, SourceConfig]
    source_ids: dict[str, int]
    factory: sessionmaker[Session] | None  # None: dry run, nothing is written
    now: dt.datetime
    since: dt.datetime | None = None
    validators: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    stats: dict[str, SourceStats] = field(default_factory=dict)
    on_event: Callable[[str, str], None] | None = None
    dry_items: list = field(default_factory=list)
    # CPU seconds per phase (extract, store); the rest of a crawl's CPU is fetching.
    cpu: Counter = field(default_factory=Counter)

    def stat(self, source: str) -> SourceStats:
        return self.stats.setdefault(source, SourceStats())

    def event(self, kind: str, source: str) -> None:
        if self.on_event:
            self.on_event(kind, source)

    @contextmanager
    def timed(self, phase: str):
        start = time.process_time()
        try:
            yield
        finally:
            self.cpu[phase] += time.process_time() - start

    def error(self, source: str, url: str, message: str, *, entry: bool = False) -> None:
        st = self.stat(source)
        st.errors.append({"url": url, "error": message})
        if entry:
            st.entry_failed += 1
        self.event("error", source)
