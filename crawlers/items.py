"""What extraction returns and what spiders hand to the pipelines."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass
class Extracted:
    """Fields recovered from one article page. Text is NFC, whitespace-collapsed per paragraph."""

    title: str
    text: str
    url: str | None = None  # canonical address the page declares, tracking parameters removed
    lead: str | None = None  # sapo; also the first paragraph(s) of `text`
    author: str | None = None  # as published, for attribution
    published_at: dt.datetime | None = None  # timezone-aware; never in the future
    updated_at: dt.datetime | None = None
    language: str | None = None
    site_name: str | None = None


@dataclass
class ScrapedItem:
    """One article or post on its way to the store."""

    url: str  # canonical
    source: str  # source name from the profile
    kind: str
    language: str
    title: str
    text: str
    author: str | None = None
    published_at: dt.datetime | None = None
    source_updated_at: dt.datetime | None = None
    summary: str | None = None
    raw_html: str | None = None
    # Other addresses this item was reached by (feed link, utm copy, redirect source).
    seen_urls: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
