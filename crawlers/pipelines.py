"""Item pipelines: validate → normalise → drop exact duplicates → store.

Each stage is a plain function over a ScrapedItem; the Scrapy classes only wire them in, so the
CSV/JSONL importer runs the very same steps.
"""

from __future__ import annotations

import datetime as dt
import logging

from scrapy.exceptions import DropItem

from crawlers.context import CrawlContext
from crawlers.items import ScrapedItem
from crawlers.normalize import clean_text, clean_title, content_hash, nfc, title_key
from crawlers.urls import canonicalize
from store.items import reject_url, save_item
from store.models import Source

log = logging.getLogger(__name__)

FUTURE_TOLERANCE = dt.timedelta(hours=1)
MIN_ARTICLE_CHARS = 40


class Invalid(ValueError):
    """The item can't be stored; the message says why, in Vietnamese."""


def validate(item: ScrapedItem, now: dt.datetime) -> ScrapedItem:
    if not item.url.startswith(("http://", "https://")):
        raise Invalid(f"địa chỉ không hợp lệ: {item.url[:100]}")
    if not (item.title or "").strip():
        raise Invalid("không có tiêu đề")
    text = (item.text or "").strip()
    if item.kind != "social" and len(text) < MIN_ARTICLE_CHARS:
        raise Invalid("không trích được nội dung bài")
    if not text:
        raise Invalid("bài đăng rỗng")
    if item.published_at and item.published_at > now + FUTURE_TOLERANCE:
        item.published_at = None  # a date in the future is a wrong date, not a reason to drop
    return item


def normalise(item: ScrapedItem) -> ScrapedItem:
    item.url = canonicalize(item.url)
    item.seen_urls = list(dict.fromkeys(canonicalize(u) for u in item.seen_urls if u))
    item.title = clean_title(nfc(item.title))
    item.text = clean_text(item.text)
    item.author = nfc(item.author).strip()[:300] or None if item.author else None
    item.summary = nfc(item.summary) if item.summary else None
    return item


def record(item: ScrapedItem) -> dict:
    """The store's view of an item, with its keys."""
    key_text = item.title if item.kind != "social" else f"{item.title}\n{item.text[:300]}"
    return {
        "url": item.url,
        "seen_urls": item.seen_urls,
        "kind": item.kind,
        "language": item.language,
        "title": item.title,
        "text": item.text,
        "summary": item.summary,
        "author": item.author,
        "published_at": item.published_at,
        "source_updated_at": item.source_updated_at,
        "raw_html": item.raw_html,
        "extra": item.extra,
        "title_key": title_key(key_text),
        "content_hash": content_hash(item.title, item.text),
    }


class _Stage:
    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    @property
    def ctx(self) -> CrawlContext:
        return self.crawler.spider.ctx

    def drop(self, item: ScrapedItem, reason: str, *, remember: bool = False):
        self.ctx.stat(item.source).dropped += 1
        if remember and self.ctx.factory:
            with self.ctx.factory() as session:
                for url in item.seen_urls or [item.url]:
                    reject_url(session, canonicalize(url), item.source, reason)
        raise DropItem(f"{item.source}: {item.url}: {reason}")


class ValidatePipeline(_Stage):
    def process_item(self, item, spider=None):
        try:
            return validate(item, self.ctx.now)
        except Invalid as exc:
            self.drop(item, str(exc), remember=True)


class NormalisePipeline(_Stage):
    def process_item(self, item, spider=None):
        return normalise(item)


class DuplicatePipeline(_Stage):
    """Exact duplicates within this run (the store folds older ones and same-title copies)."""

    def __init__(self, crawler):
        super().__init__(crawler)
        self.seen: set[str] = set()

    def process_item(self, item, spider=None):
        if item.url in self.seen:
            self.drop(item, "trùng địa chỉ trong lượt này")
        self.seen.add(item.url)
        return item


class StorePipeline(_Stage):
    def process_item(self, item, spider=None):
        ctx = self.ctx
        st = ctx.stat(item.source)
        if ctx.factory is None:
            ctx.dry_items.append(item)
            st.new += 1
            ctx.event("new", item.source)
            return item
        with ctx.timed("store"), ctx.factory() as session:
            source = session.get(Source, ctx.source_ids[item.source])
            try:
                outcome, _ = save_item(session, source, record(item), now=ctx.now)
            except Exception as exc:  # a bad row must not stop the run; it is reported
                session.rollback()
                log.exception("store failed for %s", item.url)
                ctx.error(item.source, item.url, f"lỗi ghi kho: {type(exc).__name__}: {exc}"[:300])
                return item
        if outcome == "duplicate":
            st.dropped += 1
        else:
            setattr(st, outcome, getattr(st, outcome) + 1)
        ctx.event(outcome, item.source)
        return item
