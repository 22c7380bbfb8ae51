"""What every kind of source shares: following article links once, extracting pages,
recording failures against their source."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from urllib.parse import urlparse

import scrapy
from bs4 import BeautifulSoup
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawlers.context import CrawlContext
from crawlers.encoding import decode_html
from crawlers.extract import extract_article
from crawlers.items import ScrapedItem
from crawlers.normalize import clean_text, guess_language
from crawlers.urls import canonicalize
from store.items import stored_versions
from store.profile import SourceConfig

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s")


BLOCKS = ("p", "div", "li", "blockquote", "h1", "h2", "h3", "h4", "tr", "section", "article")


def html_to_text(html: str | None, *, drop: str | None = None) -> str:
    """Text of a post's HTML with its paragraphs; `drop` removes elements (e.g. quotes of
    other posts). Inline markup carries its own spaces ("#<span>VinhLong</span>")."""
    if not html:
        return ""
    soup = BeautifulSoup(html, "lxml")
    if drop:
        for el in soup.select(drop):
            el.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for el in soup.find_all(BLOCKS):
        el.append("\n\n")
    return clean_text(soup.get_text())


def headline(text: str, limit: int = 140) -> str:
    """A title for a post that has none: its first sentence, cut at a word."""
    first = _SENTENCE_END.split(text.strip(), maxsplit=1)[0].strip()
    if len(first) <= limit:
        return first
    return first[:limit].rsplit(" ", 1)[0] + "…"


def describe_failure(failure: Failure) -> str:
    """A short Vietnamese reason an officer can read in the summary table."""
    exc = failure.value
    name = type(exc).__name__
    text = str(exc)
    if isinstance(exc, HttpError):
        return f"HTTP {exc.response.status}"
    if "robots.txt" in text:
        return "bị robots.txt chặn"
    if "redirect" in text.lower():
        return "chuyển hướng vòng lặp/quá nhiều lần"
    if "maxsize" in text.lower() or "max size" in text.lower() or "larger than" in text.lower():
        return "trang vượt giới hạn kích thước"
    if "Timeout" in name or "timed out" in text.lower() or "took longer than" in text:
        return "quá thời gian chờ"
    if "DNS" in name:
        return "không phân giải được tên miền"
    if "ConnectionRefused" in name or "ConnectError" in name:
        return "không kết nối được"
    if name == "CancelledError":
        return "trang vượt giới hạn kích thước hoặc bị hủy"
    return f"{name}: {text[:200]}"


class BaseSourceSpider(scrapy.Spider):
    """Shared plumbing; the source kinds are mixins that add start_<type> and callbacks."""

    def __init__(self, ctx: CrawlContext, **kwargs):
        super().__init__(**kwargs)
        self.ctx = ctx
        self._followed: set[str] = set()

    # -- entry points -----------------------------------------------------------------------

    async def start(self):
        for src in self.ctx.sources.values():
            starter = getattr(self, f"start_{src.type}", None)
            if starter is None:
                continue
            for req in starter(src):
                yield req

    def entry_request(self, src: SourceConfig, url: str, callback, **meta) -> scrapy.Request:
        """A feed/sitemap/listing request: always fetched, failures count against the source."""
        m = {"source": src.name, "entry": True, **meta}
        if src.timeout:
            m["download_timeout"] = src.timeout
        return scrapy.Request(
            url, callback=callback, errback=self.on_error, meta=m, dont_filter=True
        )

    def page(self, response: Response) -> SourceConfig:
        """Count a fetched page against its source; return the source."""
        src = self.ctx.sources[response.meta["source"]]
        self.ctx.stat(src.name).pages += 1
        self.ctx.event("page", src.name)
        return src

    def answered(self, response: Response) -> None:
        """An entry point (feed, sitemap, first listing page) gave something usable."""
        if response.meta.get("entry"):
            self.ctx.stat(response.meta["source"]).entry_ok += 1

    # -- articles ---------------------------------------------------------------------------

    def too_old(self, when: dt.datetime | None) -> bool:
        return bool(self.ctx.since and when and when < self.ctx.since)

    def follow_articles(
        self, src: SourceConfig, links: Iterable[tuple[str, dict]]
    ) -> Iterator[scrapy.Request]:
        """Requests for the article pages not yet stored, or changed since they were.

        `links` pairs an address with hints from the feed or sitemap (title, published,
        updated, author) used when the page lacks them, and to know when to fetch again.
        """
        st = self.ctx.stat(src.name)
        fresh: list[tuple[str, str, dict]] = []
        for raw, hint in links:
            url = canonicalize(raw)
            if url in self._followed:
                continue
            self._followed.add(url)
            st.found += 1
            if self.too_old(hint.get("published") or hint.get("updated")):
                st.skipped += 1
                continue
            fresh.append((url, raw, hint))
        known: dict = {}
        if self.ctx.factory and fresh:
            with self.ctx.factory() as session:
                known = stored_versions(session, [u for u, _, _ in fresh])
        budget = self.settings.getint("DIEMTIN_MAX_ITEMS_PER_SOURCE", 500)
        for url, raw, hint in fresh:
            if url in known:
                changed = hint.get("updated")
                if not (changed and known[url] and changed > known[url]):
                    st.skipped += 1
                    continue
            if st.found - st.skipped > budget:
                st.skipped += 1
                continue
            meta = {"source": src.name, "hint": hint, "seen": [raw, url]}
            if src.timeout:
                meta["download_timeout"] = src.timeout
            yield scrapy.Request(
                url,
                callback=self.parse_article,
                errback=self.on_error,
                meta=meta,
                dont_filter=True,
            )

    def parse_article(self, response: Response):
        src = self.page(response)
        hint = response.meta.get("hint", {})
        with self.ctx.timed("extract"):
            ctype = response.headers.get("Content-Type", b"").decode("latin-1")
            html, _enc = decode_html(response.body, ctype)
            rules = self.ctx.profile.rules_for(src, urlparse(response.url).hostname or "")
            art = extract_article(html, response.url, rules, now=self.ctx.now)
        url = canonicalize(response.url)
        if art.url and urlparse(art.url).hostname == urlparse(url).hostname:
            url = art.url
        yield ScrapedItem(
            url=url,
            source=src.name,
            kind=src.kind,
            language=art.language or src.language,
            title=art.title or hint.get("title") or "",
            text=art.text,
            author=art.author or hint.get("author"),
            published_at=art.published_at or hint.get("published"),
            source_updated_at=hint.get("updated") or art.updated_at,
            raw_html=html,
            seen_urls=[
                *response.meta.get("seen", []),
                response.url,
                *response.meta.get("redirect_urls", []),
            ],
            extra={"lead": art.lead} if art.lead else {},
        )

    def post_item(
        self,
        src: SourceConfig,
        *,
        url: str,
        text: str,
        title: str | None = None,
        author: str | None = None,
        published: dt.datetime | None = None,
        extra: dict | None = None,
    ) -> ScrapedItem | None:
        """An item that is the post itself (social), or None when it is older than --since."""
        st = self.ctx.stat(src.name)
        st.found += 1
        if self.too_old(published):
            st.skipped += 1
            return None
        text = clean_text(text)
        return ScrapedItem(
            url=canonicalize(url),
            source=src.name,
            kind=src.kind,
            language=guess_language(f"{title or ''}\n{text}", src.language),
            title=title or headline(text),
            text=text,
            author=author,
            published_at=published,
            source_updated_at=published,
            seen_urls=[url],
            extra=extra or {},
        )

    # -- failures ---------------------------------------------------------------------------

    def on_error(self, failure: Failure):
        request = failure.request
        source = request.meta.get("source", "?")
        # Report the address the source gave us, not where redirects ended.
        url = (request.meta.get("redirect_urls") or [request.url])[0]
        self.ctx.error(
            source, url, describe_failure(failure), entry=bool(request.meta.get("entry"))
        )
