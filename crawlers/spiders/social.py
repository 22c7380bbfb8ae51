"""Public social sources, no login: Reddit-style JSON listings, Mastodon-style timelines,
Telegram channel previews (t.me/s/<channel>) and XenForo-style forum threads."""

from __future__ import annotations

import datetime as dt
import json

from bs4 import BeautifulSoup

from crawlers.extract import parse_date
from crawlers.spiders.base import html_to_text
from store.profile import SourceConfig

UTC = dt.UTC


def _json(self, response, src):
    try:
        return json.loads(response.text)
    except ValueError as exc:
        self.ctx.error(src.name, response.url, f"JSON hỏng: {exc}", entry=True)
        return None


class RedditMixin:
    def start_reddit(self, src: SourceConfig):
        for url in src.urls:
            yield self.entry_request(src, url, self.parse_reddit, page=1)

    def parse_reddit(self, response):
        src = self.page(response)
        data = _json(self, response, src)
        if not isinstance(data, dict) or "data" not in data:
            if data is not None:
                self.ctx.error(src.name, response.url, "không phải danh sách bài", entry=True)
            return
        self.answered(response)
        listing = data["data"]
        for child in listing.get("children", []):
            post = child.get("data", {})
            if not post.get("permalink"):
                continue
            created = post.get("created_utc")
            item = self.post_item(
                src,
                url=response.urljoin(post["permalink"]),
                title=post.get("title"),
                text=post.get("selftext") or post.get("title", ""),
                author=post.get("author"),
                published=dt.datetime.fromtimestamp(created, UTC) if created else None,
                extra={k: post[k] for k in ("score", "num_comments", "subreddit") if k in post},
            )
            if item:
                yield item
        page = response.meta.get("page", 1)
        after = listing.get("after")
        if after and page < src.max_pages:
            sep = "&" if "?" in src.urls[0] else "?"
            base = response.url.split("after=")[0].rstrip("&?")
            sep = "&" if "?" in base else "?"
            yield self.entry_request(
                src, f"{base}{sep}after={after}", self.parse_reddit, page=page + 1, entry=False
            )


class MastodonMixin:
    def start_mastodon(self, src: SourceConfig):
        for url in src.urls:
            yield self.entry_request(src, url, self.parse_mastodon, page=1)

    def parse_mastodon(self, response):
        src = self.page(response)
        statuses = _json(self, response, src)
        if not isinstance(statuses, list):
            if statuses is not None:
                self.ctx.error(src.name, response.url, "không phải dòng thời gian", entry=True)
            return
        self.answered(response)
        for st in statuses:
            if st.get("reblog") or not st.get("url"):
                continue
            account = st.get("account") or {}
            item = self.post_item(
                src,
                url=st["url"],
                text=html_to_text(st.get("content")),
                author=account.get("acct") or account.get("display_name"),
                published=parse_date(st.get("created_at")),
                extra={"display_name": account["display_name"]}
                if account.get("display_name")
                else {},
            )
            if item:
                yield item
        page = response.meta.get("page", 1)
        nxt = response.headers.get("Link", b"").decode("latin-1")
        for part in nxt.split(","):
            if 'rel="next"' in part and page < src.max_pages:
                url = part.split(";")[0].strip().strip("<>")
                yield self.entry_request(
                    src, response.urljoin(url), self.parse_mastodon, page=page + 1, entry=False
                )


class TelegramMixin:
    def start_telegram(self, src: SourceConfig):
        for url in src.urls:
            yield self.entry_request(src, url, self.parse_telegram, page=1)

    def parse_telegram(self, response):
        src = self.page(response)
        soup = BeautifulSoup(response.text, "lxml")
        messages = soup.select(".tgme_widget_message[data-post]")
        channel = soup.select_one(".tgme_channel_info_header_title")
        channel_name = channel.get_text(" ", strip=True) if channel else None
        self.answered(response)
        ids = []
        for msg in messages:
            body = msg.select_one(".tgme_widget_message_text")
            if body is None:
                continue
            link = msg.select_one("a.tgme_widget_message_date")
            when = msg.select_one("time[datetime]")
            post = msg["data-post"]
            ids.append(int(post.rsplit("/", 1)[-1]) if post.rsplit("/", 1)[-1].isdigit() else 0)
            owner = msg.select_one(".tgme_widget_message_owner_name")
            item = self.post_item(
                src,
                url=response.urljoin(link["href"])
                if link and link.get("href")
                else f"https://t.me/{post}",
                text=html_to_text(str(body)),
                author=owner.get_text(" ", strip=True) if owner else channel_name,
                published=parse_date(when["datetime"]) if when else None,
                extra={"post": post},
            )
            if item:
                yield item
        page = response.meta.get("page", 1)
        if ids and min(ids) > 1 and page < src.max_pages:
            base = response.url.split("?")[0]
            yield self.entry_request(
                src, f"{base}?before={min(ids)}", self.parse_telegram, page=page + 1, entry=False
            )


class ForumMixin:
    def start_forum(self, src: SourceConfig):
        for url in src.urls:
            yield self.entry_request(src, url, self.parse_forum_index, page=1)

    def parse_forum_index(self, response):
        src = self.page(response)
        soup = BeautifulSoup(response.text, "lxml")
        self.answered(response)
        for a in soup.select(src.links or ".structItem-title a"):
            if a.get("href"):
                yield self.entry_request(
                    src, response.urljoin(a["href"]), self.parse_forum_thread, entry=False
                )
        page = response.meta.get("page", 1)
        nxt = soup.select_one(src.next or "a.pageNav-jump--next")
        if nxt is not None and nxt.get("href") and page < src.max_pages:
            yield self.entry_request(
                src,
                response.urljoin(nxt["href"]),
                self.parse_forum_index,
                page=page + 1,
                entry=False,
            )

    def parse_forum_thread(self, response):
        src = self.page(response)
        soup = BeautifulSoup(response.text, "lxml")
        h1 = soup.select_one("h1.p-title-value") or soup.select_one("h1")
        if h1 is not None:
            for label in h1.select(".label, .labelLink"):  # thread prefixes ("Thể thao")
                label.decompose()
        title = h1.get_text(" ", strip=True) if h1 else None
        for msg in soup.select("article.message"):
            body = msg.select_one(".message-body .bbWrapper") or msg.select_one(".bbWrapper")
            if body is None:
                continue
            pid = (msg.get("data-content") or "").removeprefix("post-")
            link = msg.select_one(f'a[href*="post-{pid}"]') if pid else None
            url = (
                response.urljoin(link["href"]) if link else f"{response.url.rstrip('/')}/post-{pid}"
            )
            when = msg.select_one("time[datetime]")
            item = self.post_item(
                src,
                url=url,
                title=title,
                text=html_to_text(str(body)),
                author=msg.get("data-author"),
                published=parse_date(when["datetime"]) if when else None,
            )
            if item:
                yield item
