"""RSS 0.9x/1.0/2.0 and Atom feeds (press, social bridges, YouTube channels) via feedparser."""

from __future__ import annotations

import calendar
import datetime as dt

import feedparser

from crawlers.spiders.base import html_to_text
from store.profile import SourceConfig

UTC = dt.UTC


def entry_time(entry, *keys: str) -> dt.datetime | None:
    """feedparser's parsed times are UTC struct_times; make them aware datetimes."""
    for key in keys:
        parsed = entry.get(f"{key}_parsed")
        if parsed:
            return dt.datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    return None


def entry_text(entry) -> str:
    """The longest text an entry carries: content, summary or a media description."""
    candidates = [c.get("value", "") for c in entry.get("content", [])]
    candidates += [entry.get("summary", ""), entry.get("media_description", "")]
    group = entry.get("media_group") if isinstance(entry.get("media_group"), dict) else None
    if group:
        candidates.append(group.get("media_description", ""))
    return max((html_to_text(c) for c in candidates if c), key=len, default="")


class FeedMixin:
    def start_feed(self, src: SourceConfig):
        for url in src.urls:
            req = self.entry_request(src, url, self.parse_feed, handle_httpstatus_list=[304])
            if src.conditional:
                etag, modified = self.ctx.validators.get(src.name, (None, None))
                if etag:
                    req.headers["If-None-Match"] = etag
                if modified:
                    req.headers["If-Modified-Since"] = modified
            yield req

    def parse_feed(self, response):
        src = self.page(response)
        if response.status == 304:
            self.answered(response)
            self.ctx.stat(src.name).not_modified = True
            return
        feed = feedparser.parse(
            response.body,
            response_headers={
                k.decode("latin-1").lower(): v[0].decode("latin-1")
                for k, v in response.headers.items()
            },
        )
        if feed.bozo and not feed.entries:
            self.ctx.error(
                src.name,
                response.url,
                f"nguồn tin hỏng, không đọc được: {str(feed.bozo_exception)[:160]}",
                entry=True,
            )
            return
        self.answered(response)
        if src.conditional:
            etag = response.headers.get("ETag")
            modified = response.headers.get("Last-Modified")
            self.ctx.validators[src.name] = (
                etag.decode("latin-1") if etag else None,
                modified.decode("latin-1") if modified else None,
            )
        if not src.follow:
            for entry in feed.entries:
                item = self.post_item(
                    src,
                    url=response.urljoin(entry.get("link", "")),
                    text=entry_text(entry) or entry.get("title", ""),
                    title=entry.get("title") or None,
                    author=entry.get("author"),
                    published=entry_time(entry, "published", "updated"),
                    extra={k: entry[k] for k in ("yt_videoid",) if k in entry},
                )
                if item:
                    yield item
            return
        links = []
        for entry in feed.entries:
            link = entry.get("link")
            if not link:
                continue
            links.append(
                (
                    response.urljoin(link),
                    {
                        "title": entry.get("title"),
                        "author": entry.get("author"),
                        "published": entry_time(entry, "published", "updated"),
                        "updated": entry_time(entry, "updated", "published"),
                    },
                )
            )
        yield from self.follow_articles(src, links)
