"""Google News sitemaps and sitemap indexes (`news:publication_date`, `lastmod`)."""

from __future__ import annotations

import datetime as dt

from lxml import etree

from crawlers.extract import parse_date
from store.profile import SourceConfig

MAX_CHILD_SITEMAPS = 20
_PARSER = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child_text(el, name: str) -> str | None:
    for child in el.iter():
        if _local(child.tag) == name and child.text and child.text.strip():
            return child.text.strip()
    return None


class SitemapMixin:
    def start_sitemap(self, src: SourceConfig):
        for url in src.urls:
            yield self.entry_request(src, url, self.parse_sitemap, depth=0)

    def parse_sitemap(self, response):
        src = self.page(response)
        try:
            root = etree.fromstring(response.body, _PARSER)
        except etree.XMLSyntaxError as exc:
            root = None
            reason = str(exc)
        else:
            reason = "không phải sitemap"
        if root is None or _local(root.tag) not in ("sitemapindex", "urlset"):
            self.ctx.error(src.name, response.url, f"sitemap hỏng: {reason[:160]}", entry=True)
            return
        self.answered(response)
        if _local(root.tag) == "sitemapindex":
            if response.meta.get("depth", 0) >= 2:
                return
            children = [
                (_child_text(sm, "loc"), _child_text(sm, "lastmod"))
                for sm in root
                if _local(sm.tag) == "sitemap"
            ]
            children.sort(key=lambda c: c[1] or "", reverse=True)
            for loc, _lastmod in children[:MAX_CHILD_SITEMAPS]:
                if loc:
                    yield self.entry_request(
                        src,
                        response.urljoin(loc),
                        self.parse_sitemap,
                        depth=response.meta.get("depth", 0) + 1,
                        entry=False,
                    )
            return
        links = []
        for url_el in root:
            if _local(url_el.tag) != "url":
                continue
            loc = _child_text(url_el, "loc")
            if not loc:
                continue
            published = _when(_child_text(url_el, "publication_date"))
            updated = _when(_child_text(url_el, "lastmod")) or published
            links.append(
                (
                    response.urljoin(loc),
                    {
                        "title": _child_text(url_el, "title"),
                        "published": published,
                        "updated": updated,
                    },
                )
            )
        yield from self.follow_articles(src, links)


def _when(text: str | None) -> dt.datetime | None:
    return parse_date(text) if text else None
