"""Sites without feeds: article links picked from section pages by the profile's CSS selectors."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup

from store.profile import SourceConfig


class ListingMixin:
    def start_listing(self, src: SourceConfig):
        for url in src.urls:
            yield self.entry_request(src, url, self.parse_listing, page=1)

    def parse_listing(self, response):
        src = self.page(response)
        soup = BeautifulSoup(response.text, "lxml")
        allow = re.compile(src.allow) if src.allow else None
        links = []
        for a in soup.select(src.links):
            href = a.get("href")
            if not href or href.startswith(("javascript:", "mailto:", "#")):
                continue
            url = response.urljoin(href)
            if allow and not allow.search(url):
                continue
            links.append((url, {"title": a.get_text(" ", strip=True) or None}))
        self.answered(response)
        yield from self.follow_articles(src, links)
        page = response.meta.get("page", 1)
        if src.next and page < src.max_pages:
            nxt = soup.select_one(src.next)
            if nxt is not None and nxt.get("href"):
                yield self.entry_request(
                    src,
                    response.urljoin(nxt["href"]),
                    self.parse_listing,
                    page=page + 1,
                    entry=False,
                )
