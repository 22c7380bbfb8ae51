"""Every page of the demo network, rendered once from a `World` into a `Site` (path → Page).

Each outlet has its own templates (templates/<outlet>/) with its own markup, class names, date
formats and bylines; the JSON APIs (Reddit, Mastodon) are built here. Pages that depend on the
query string (pagination, YouTube's channel_id, ?v=) are small functions over precomputed data.
"""

from __future__ import annotations

import base64
import email.utils
import functools
import html
import json
import random
import re
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape

from . import text as vt
from .model import (
    ICT,
    MALFORMED_FEED,
    OUTLETS,
    OVERSIZE_BYTES,
    REDIRECT_LOOP_OTHER,
    SECTIONS,
    SLOW_SECONDS,
    UTM_BVL,
    UTM_BVL_QUERY,
    UTM_THOIBAO,
    UTM_THOIBAO_QUERY,
    FaultPage,
    Item,
    World,
    forum_thread_path,
    is_hidden,
    load_bank,
    thoibao_category,
)

HTML = "text/html; charset=utf-8"
TEMPLATES = Path(__file__).resolve().parent / "templates"
THOIBAO_PAGE = 6
TELEGRAM_PAGE = 20
REDDIT_PAGE = 10
MASTODON_PAGE = 8

Query = Mapping[str, list[str]]


@dataclass(frozen=True)
class Page:
    body: bytes = b""
    content_type: str = HTML
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0  # seconds to wait before answering (the slow page)


# --- formats --------------------------------------------------------------------------------

WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August")
MONTHS_EN += ("September", "October", "November", "December")


def iso(dt: datetime) -> str:
    return dt.astimezone(ICT).isoformat(timespec="seconds")


def rfc822(dt: datetime) -> str:
    return email.utils.format_datetime(dt.astimezone(ICT))


def utc_z(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _filters() -> dict[str, Callable]:
    def local(dt):
        return dt.astimezone(ICT)

    def en_date(dt):
        d = local(dt)
        h = d.hour % 12 or 12
        ampm = "am" if d.hour < 12 else "pm"
        return f"{MONTHS_EN[d.month - 1]} {d.day}, {d.year} at {h}:{d:%M} {ampm}"

    return {
        "iso": iso,
        "rfc822": rfc822,
        "unix": lambda dt: int(dt.timestamp()),
        "hhmm": lambda dt: f"{local(dt):%H:%M}",
        "bvl_date": lambda dt: (
            f"{WEEKDAYS[local(dt).weekday()]}, {local(dt):%d/%m/%Y, %H:%M} (GMT+7)"
        ),
        "tn_date": lambda dt: f"{local(dt):%d/%m/%Y %H:%M} GMT+7",
        "tb_date": lambda dt: f"{local(dt):%H:%M | %d-%m-%Y}",
        "en_date": en_date,
        "vb_date": lambda dt: (
            f"{WEEKDAYS[local(dt).weekday()]}, ngày {local(dt).day} tháng {local(dt).month} "
            f"năm {local(dt).year}, {local(dt):%H:%M} (giờ Việt Nam)"
        ),
        "xf_date": lambda dt: f"{local(dt):%d/%m/%Y} lúc {local(dt):%H:%M}",
        "xf_day": lambda dt: f"{local(dt):%d/%m/%Y}",
        "slug": vt.slugify,
    }


@functools.cache
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(enabled_extensions=("html", "xml"), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(_filters())
    return env


def _crc(*parts: object) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


def _json_ld(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1).replace("</", "<\\/")


@functools.cache
def _oversize_padding() -> str:
    """A photo gallery of inline images, big enough to push the page past OVERSIZE_BYTES."""
    raw = random.Random(7).randbytes(OVERSIZE_BYTES * 3 // 4 + 4096)
    data = base64.b64encode(raw).decode()
    chunk = len(data) // 12
    return "\n".join(
        f'<figure class="gallery-item"><img alt="Co Chien River {i + 1}" '
        f'src="data:image/jpeg;base64,/9j/{data[i * chunk : (i + 1) * chunk]}"></figure>'
        for i in range(12)
    )


# --- the site -------------------------------------------------------------------------------


class Site:
    """All pages for one state of the network (time, hidden items, edits)."""

    def __init__(self, world: World, base: str, hidden: Iterable[str] = ()):
        self.world = world
        self.base = base.rstrip("/")
        self.now = world.now
        hidden = frozenset(hidden)
        self.items = [it for it in world.items if not is_hidden(it, hidden)]
        self.by_outlet: dict[str, list[Item]] = defaultdict(list)
        for it in sorted(self.items, key=lambda i: i.published, reverse=True):
            self.by_outlet[it.outlet].append(it)
        self.fault_pages = {p.kind: p for p in world.fault_pages}
        self.static: dict[str, Page] = {}
        self.dynamic: dict[str, Callable[[Query], Page]] = {}
        self.env = _env()
        for build in (
            self._root,
            self._baovinhlong,
            self._tinnhanh,
            self._thoibao,
            self._mekongobserver,
            self._vietbao,
            self._diendan,
            self._youtube,
            self._telegram,
            self._reddit,
            self._mastodon,
            self._baohong,
        ):
            build()

    # helpers

    def url(self, path: str) -> str:
        return self.base + path

    def get(self, path: str, query: Query) -> Page:
        if path in self.dynamic:
            return self.dynamic[path](query)
        return self.static.get(path) or self.not_found()

    def not_found(self) -> Page:
        return Page(self._render("404.html"), status=404)

    def _render_text(self, template: str, **ctx) -> str:
        return self.env.get_template(template).render(base=self.base, now=self.now, **ctx)

    def _render(self, template: str, **ctx) -> bytes:
        return self._render_text(template, **ctx).encode("utf-8")

    def _html(self, path: str, template: str, **ctx) -> None:
        self.static[path] = Page(self._render(template, **ctx))

    def _redirect(self, path: str, target: str, status: int = 302) -> Page:
        page = Page(
            f'<html><body>Moved: <a href="{html.escape(target)}">{html.escape(target)}</a>'
            "</body></html>".encode(),
            status=status,
            headers=(("Location", target),),
        )
        self.static[path] = page
        return page

    def _view(self, it: Item) -> dict:
        body = tuple(vt.nfd(p) for p in it.body) if "nfd" in it.quirks else it.body
        return {
            "item": it,
            "url": self.url(it.path),
            "path": it.path,
            "link": self.url(it.path),
            "title": it.title,
            "lead": it.lead,
            "body": body,
            "author": it.author,
            "published": it.published,
            "updated": it.updated or it.published,
            "modified": it.updated is not None,
            "section": it.section,
            "section_label": SECTIONS.get(it.section or "", ""),
            "num": it.extra.get("num", _crc(it.id) % 900000 + 100000),
            "places": it.places,
            "credit": it.extra.get("credit"),
        }

    def _fault_view(self, p: FaultPage, **extra) -> dict:
        return {
            "item": None,
            "url": self.url(p.path),
            "path": p.path,
            "link": self.url(p.path),
            "title": p.title,
            "lead": p.lead,
            "body": (p.lead,),
            "author": None,
            "published": p.published,
            "updated": p.published,
            "modified": False,
            "section": "thoi-su",
            "section_label": "Thời sự",
            "num": _crc(p.path) % 900000 + 100000,
            "places": (),
            **extra,
        }

    @staticmethod
    def _related(views: list[dict], i: int, n: int = 4) -> list[dict]:
        return [views[(i + k) % len(views)] for k in range(1, min(n, len(views) - 1) + 1)]

    @staticmethod
    def _newest_first(views: list[dict]) -> list[dict]:
        return sorted(views, key=lambda v: v["published"], reverse=True)

    # root

    def _root(self) -> None:
        outlets = list(OUTLETS.values())
        self._html("/", "index.html", outlets=outlets, count=len(self.items))
        self.static["/index.html"] = self.static["/"]
        robots = (
            "# Mạng tin mẫu của Điểm tin\n"
            "User-agent: *\n"
            "Disallow: /baovinhlong/noi-bo/\n"
            "Disallow: /diendan/members/\n"
            "\n"
            f"Sitemap: {self.url('/tinnhanh/sitemap.xml')}\n"
        )
        self.static["/robots.txt"] = Page(robots.encode(), "text/plain; charset=utf-8")
        self.static["/favicon.ico"] = Page(b"", "image/x-icon", status=204)

    # 1. provincial paper: RSS 2.0, JSON-LD + OG

    def _baovinhlong(self) -> None:
        views = [self._view(it) for it in self.by_outlet["baovinhlong"]]
        for v in views:
            it = v["item"]
            v["jsonld"] = _json_ld(
                {
                    "@context": "https://schema.org",
                    "@type": "NewsArticle",
                    "mainEntityOfPage": {"@type": "WebPage", "@id": v["url"]},
                    "headline": it.title,
                    "description": it.lead,
                    "image": [self.url(f"/baovinhlong/uploads/{v['num']}.jpg")],
                    "datePublished": iso(v["published"]),
                    "dateModified": iso(v["updated"]),
                    "author": [{"@type": "Person", "name": it.author}],
                    "publisher": {
                        "@type": "Organization",
                        "name": "Báo Vĩnh Long",
                        "logo": {
                            "@type": "ImageObject",
                            "url": self.url("/baovinhlong/static/img/logo.png"),
                        },
                    },
                    "articleSection": v["section_label"],
                    "inLanguage": "vi-VN",
                }
            )
        sections = [(k, label) for k, label in SECTIONS.items() if k not in ("quoc-te", "the-thao")]
        common = {"sections": sections}
        for i, v in enumerate(views):
            self._html(
                v["path"],
                "baovinhlong/article.html",
                a=v,
                related=self._related(views, i),
                **common,
            )
        self._html("/baovinhlong/", "baovinhlong/home.html", articles=views[:20], **common)
        for key, _label in sections:
            self._html(
                f"/baovinhlong/{key}/",
                "baovinhlong/home.html",
                articles=[v for v in views if v["section"] == key],
                **common,
            )
        # the feed: every article, the internal page robots.txt forbids, and one article twice
        entries = list(views)
        robots = self.fault_pages["robots_disallowed"]
        robots_view = self._fault_view(robots, jsonld=_json_ld({"@type": "NewsArticle"}))
        entries.append(robots_view)
        self._html(robots.path, "baovinhlong/article.html", a=robots_view, related=[], **common)
        for v in views:
            if v["item"].id == UTM_BVL:
                entries.append({**v, "url": v["url"] + UTM_BVL_QUERY})
        entries = self._newest_first(entries)
        self.static["/baovinhlong/rss/tin-moi.rss"] = Page(
            self._render("baovinhlong/rss.xml", entries=entries, built=self.now),
            "application/rss+xml; charset=utf-8",
        )

    # 2. central paper: RSS + sitemap index → Google News sitemap and monthly sitemaps

    def _tinnhanh(self) -> None:
        views = [self._view(it) for it in self.by_outlet["tinnhanh"]]
        for i, v in enumerate(views):
            v["tags"] = [p for p in v["places"][:3]] or [v["section_label"]]
            v["html"] = "".join(f"<p>{html.escape(p)}</p>" for p in (v["lead"], *v["body"]))
            self._html(v["path"], "tinnhanh/article.html", a=v, related=self._related(views, i))
        self._html("/tinnhanh/", "tinnhanh/home.html", articles=views[:20])
        for key in {v["section"] for v in views}:
            self._html(
                f"/tinnhanh/{key}/",
                "tinnhanh/home.html",
                articles=[v for v in views if v["section"] == key],
            )
        broken = self.fault_pages["http_500"]
        self.static[broken.path] = Page(self._render("tinnhanh/error500.html"), status=500)
        rss = [v for v in views if v["section"] == "thoi-su"]
        self.static["/tinnhanh/rss/thoi-su.rss"] = Page(
            self._render("tinnhanh/rss.xml", entries=rss, built=self.now),
            "application/rss+xml; charset=utf-8",
        )
        in_sitemaps = self._newest_first([*views, self._fault_view(broken)])
        xml = "application/xml; charset=utf-8"
        news = [v for v in in_sitemaps if v["published"] >= self.now - timedelta(hours=48)]
        sitemaps = [
            {
                "url": self.url("/tinnhanh/sitemaps/news.xml"),
                "lastmod": max((v["updated"] for v in news), default=self.now),
            }
        ]
        self.static["/tinnhanh/sitemaps/news.xml"] = Page(
            self._render("tinnhanh/news_sitemap.xml", entries=news), xml
        )
        months: dict[str, list[dict]] = defaultdict(list)
        for v in in_sitemaps:
            months[f"{v['published']:%Y-%m}"].append(v)
        for month, entries in sorted(months.items(), reverse=True):
            path = f"/tinnhanh/sitemaps/articles-{month}.xml"
            self.static[path] = Page(self._render("tinnhanh/urlset.xml", entries=entries), xml)
            sitemaps.append({"url": self.url(path), "lastmod": max(v["updated"] for v in entries)})
        self.static["/tinnhanh/sitemap.xml"] = Page(
            self._render("tinnhanh/sitemap_index.xml", sitemaps=sitemaps), xml
        )

    # 3. central paper with category pages only (paginated two ways), no feed

    def _thoibao(self) -> None:
        views = [self._view(it) for it in self.by_outlet["thoibao"]]
        most_read = sorted(views, key=lambda v: _crc(v["path"]))[:5]
        common = {"most_read": most_read}
        for v in views:
            self._html(v["path"], "thoibao/article.html", a=v, **common)
        self._html("/thoibao/", "thoibao/home.html", articles=views[:8], **common)
        slow = self.fault_pages["slow"]
        slow_view = self._fault_view(slow, author="BAN THỜI SỰ")
        self.static[slow.path] = Page(
            self._render("thoibao/article.html", a=slow_view, **common), delay=SLOW_SECONDS
        )
        for cat, label in (("thoi-su", "Thời sự"), ("kinh-te", "Kinh tế")):
            entries = [v for v in views if thoibao_category(v["section"]) == cat]
            if cat == "thoi-su":
                entries = self._newest_first([*entries, slow_view])
            pages = [entries[i : i + THOIBAO_PAGE] for i in range(0, len(entries), THOIBAO_PAGE)]
            pages = pages or [[]]
            rendered: dict[int, Page] = {}
            for n, chunk in enumerate(pages, 1):
                if cat == "thoi-su":

                    def page_url(k, _cat=cat):
                        return self.url(
                            f"/thoibao/{_cat}/" if k == 1 else f"/thoibao/{_cat}/trang-{k}/"
                        )

                    next_url = page_url(n + 1) if n < len(pages) else None
                    prev_url = page_url(n - 1) if n > 1 else None
                else:  # relative links, ?page=N

                    def page_url(k, _cat=cat):
                        return self.url(f"/thoibao/{_cat}/" + (f"?page={k}" if k > 1 else ""))

                    next_url = f"?page={n + 1}" if n < len(pages) else None
                    prev_url = f"?page={n - 1}" if n > 1 else None
                shown = list(chunk)
                if cat == "thoi-su" and n == 1:
                    for v in views:
                        if v["item"].id == UTM_THOIBAO:
                            shown.insert(
                                0, {**v, "link": v["url"] + UTM_THOIBAO_QUERY, "featured": True}
                            )
                rendered[n] = Page(
                    self._render(
                        "thoibao/listing.html",
                        articles=shown,
                        page=n,
                        pages=len(pages),
                        category_label=label,
                        canonical=page_url(n),
                        next_url=next_url,
                        prev_url=prev_url,
                        **common,
                    )
                )
            if cat == "thoi-su":
                for n, page in rendered.items():
                    self.static[
                        "/thoibao/thoi-su/" if n == 1 else f"/thoibao/thoi-su/trang-{n}/"
                    ] = page
            else:
                self.dynamic["/thoibao/kinh-te/"] = self._paged(rendered)

    def _paged(self, rendered: dict[int, Page]) -> Callable[[Query], Page]:
        def get(query: Query) -> Page:
            try:
                n = int((query.get("page") or ["1"])[0])
            except ValueError:
                return self.not_found()
            return rendered.get(n) or self.not_found()

        return get

    # 4. foreign outlet in English: Atom

    def _mekongobserver(self) -> None:
        views = [self._view(it) for it in self.by_outlet["mekongobserver"]]
        org = self.url("/mekongobserver/#organization")
        for v in views:
            v["jsonld"] = self._wp_graph(v, org)
        for i, v in enumerate(views):
            self._html(
                v["path"], "mekongobserver/article.html", a=v, related=self._related(views, i, 2)
            )
        self._html("/mekongobserver/", "mekongobserver/home.html", articles=views[:10])
        big = self.fault_pages["oversize"]
        big_view = self._fault_view(big, author="Linh Tran", padding=_oversize_padding())
        big_view["jsonld"] = self._wp_graph(big_view, org)
        self.static[big.path] = Page(
            self._render("mekongobserver/article.html", a=big_view, related=[])
        )
        entries = self._newest_first([*views, {**big_view, "padding": None}])
        self.static["/mekongobserver/feed/atom/"] = Page(
            self._render("mekongobserver/atom.xml", entries=entries, built=self.now),
            "application/atom+xml; charset=UTF-8",
        )

    def _wp_graph(self, v: dict, org: str) -> str:
        return _json_ld(
            {
                "@context": "https://schema.org",
                "@graph": [
                    {
                        "@type": "NewsArticle",
                        "@id": v["url"] + "#article",
                        "isPartOf": {"@id": v["url"]},
                        "author": {
                            "name": v["author"],
                            "@id": self.url(
                                "/mekongobserver/#/person/" + vt.slugify(v["author"] or "")
                            ),
                        },
                        "headline": v["title"],
                        "datePublished": iso(v["published"]),
                        "dateModified": iso(v["updated"]),
                        "mainEntityOfPage": {"@id": v["url"]},
                        "publisher": {"@id": org},
                        "inLanguage": "en-US",
                    },
                    {
                        "@type": "WebPage",
                        "@id": v["url"],
                        "url": v["url"],
                        "name": f"{v['title']} – The Mekong Observer",
                        "datePublished": iso(v["published"]),
                        "dateModified": iso(v["updated"]),
                    },
                    {"@type": "Organization", "@id": org, "name": "The Mekong Observer"},
                ],
            }
        )

    # 5. Vietnamese-language foreign outlet: RSS 1.0 (RDF); windows-1258 page; redirect loop

    def _vietbao(self) -> None:
        views = [self._view(it) for it in self.by_outlet["vietbao"]]
        for i, v in enumerate(views):
            related = self._related(views, i, 3)
            if "cp1258" in v["item"].quirks:
                page = self._render_text(
                    "vietbao/article.html", a=v, related=related, charset="windows-1258"
                )
                body = vt.cp1258_form(page).encode("cp1258", errors="xmlcharrefreplace")
                self.static[v["path"]] = Page(body, "text/html; charset=windows-1258")
            else:
                self._html(v["path"], "vietbao/article.html", a=v, related=related)
        self._html("/vietbao/", "vietbao/home.html", articles=views)
        loop = self.fault_pages["redirect_loop"]
        self._redirect(loop.path, self.url(REDIRECT_LOOP_OTHER), 302)
        self._redirect(REDIRECT_LOOP_OTHER, self.url(loop.path), 301)
        entries = self._newest_first(
            [*views, self._fault_view(loop, author="Trần Minh (Westminster)")]
        )
        self.static["/vietbao/index.rdf"] = Page(
            self._render("vietbao/rdf.xml", entries=entries, built=self.now),
            "application/rdf+xml; charset=utf-8",
        )

    # 6. XenForo-style forum

    def _diendan(self) -> None:
        cfg = load_bank()["social"]["forum"]
        posts = defaultdict(list)
        all_posts = {}
        for it in self.world.items:
            if it.outlet == "diendan":
                all_posts[it.extra["post_id"]] = it
        for it in self.by_outlet["diendan"]:
            posts[it.extra["thread_id"]].append(it)
        prefix_ids: dict[str, int] = {}
        threads = []
        for t in cfg["threads"]:
            shown = sorted(posts.get(t["id"], []), key=lambda i: i.published)
            if not shown:
                continue
            url = self.url(forum_thread_path(t))
            prefix = t.get("prefix")
            if prefix:
                prefix_ids.setdefault(prefix, len(prefix_ids) + 1)
            thread = {
                "id": t["id"],
                "title": t["title"],
                "url": url,
                "prefix": prefix,
                "prefix_id": prefix_ids.get(prefix or ""),
                "author": shown[0].author,
                "author_id": _crc(shown[0].author) % 9000 + 100,
                "started": shown[0].published,
                "latest": shown[-1].published,
                "latest_url": self.url(shown[-1].path),
                "replies": len(shown) - 1,
            }
            pviews = []
            for it in shown:
                pv = self._post_view(it)
                quoted = all_posts.get(it.extra.get("quote"))
                if quoted:
                    pv["quote"] = {
                        "author": quoted.author,
                        "author_id": _crc(quoted.author) % 9000 + 100,
                        "post_id": quoted.extra["post_id"],
                        "text": " ".join(quoted.body),
                        "url": self.url(quoted.path),
                    }
                pviews.append(pv)
                self._redirect(it.path, f"{url}#post-{it.extra['post_id']}")
            self._html(
                forum_thread_path(t),
                "diendan/thread.html",
                thread=thread,
                posts=pviews,
                template_name="thread_view",
            )
            threads.append(thread)
        threads.sort(key=lambda t: t["latest"], reverse=True)
        fpath = f"/diendan/forums/{cfg['forum_slug']}.{cfg['forum_id']}/"
        forum = {
            "id": cfg["forum_id"],
            "title": cfg["forum_title"],
            "url": self.url(fpath),
            "threads": len(threads),
        }
        per = cfg["per_page"]
        pages = [threads[i : i + per] for i in range(0, len(threads), per)] or [[]]
        paths = {n: fpath if n == 1 else f"{fpath}page-{n}" for n in range(1, len(pages) + 1)}
        for n, chunk in enumerate(pages, 1):
            self._html(
                paths[n],
                "diendan/forum.html",
                forum=forum,
                threads=chunk,
                page=n,
                pages=len(pages),
                page_urls={k: self.url(p) for k, p in paths.items()},
                canonical=self.url(paths[n]),
                next_url=self.url(paths[n + 1]) if n < len(pages) else None,
                prev_url=self.url(paths[n - 1]) if n > 1 else None,
                template_name="forum_view",
            )
        self._html("/diendan/", "diendan/index.html", forum=forum, template_name="forum_list")

    def _post_view(self, it: Item) -> dict:
        body = tuple(vt.nfd(p) for p in it.body) if "nfd" in it.quirks else it.body
        return {
            "item": it,
            "url": self.url(it.path),
            "title": it.title,
            "body": body,
            "plain": " ".join(body),
            "author": it.author,
            "author_id": _crc(it.author) % 9000 + 100,
            "post_id": it.extra.get("post_id"),
            "published": it.published,
            "updated": it.updated or it.published,
            "modified": it.updated is not None,
            "quote": None,
        }

    # 7. YouTube channel feed (Atom with yt: and media:)

    def _youtube(self) -> None:
        cfg = load_bank()["social"]["youtube"]
        channel = {
            "id": cfg["channel_id"],
            "title": cfg["title"],
            "author": cfg["author"],
            "published": self.now - timedelta(days=731),
        }
        videos = []
        watch: dict[str, Page] = {}
        for it in self.by_outlet["mientay24h"]:
            v = self._post_view(it)
            v.update(
                video_id=it.extra["video_id"],
                description="\n".join(v["body"]),
                views=_crc(it.id) % 90000 + 1200,
                likes=_crc(it.id, "like") % 900 + 20,
            )
            videos.append(v)
            watch[it.extra["video_id"]] = Page(
                self._render("youtube/watch.html", v=v, channel=channel)
            )
        feed = Page(
            self._render("youtube/videos.xml", channel=channel, videos=videos[:15]),
            "application/atom+xml; charset=UTF-8",
        )

        def get_feed(query: Query) -> Page:
            if (query.get("channel_id") or [""])[0] != channel["id"]:
                return self.not_found()
            return feed

        def get_watch(query: Query) -> Page:
            return watch.get((query.get("v") or [""])[0]) or self.not_found()

        self.dynamic["/youtube/feeds/videos.xml"] = get_feed
        self.dynamic["/youtube/watch"] = get_watch
        self._html("/youtube/", "youtube/home.html", channel=channel, videos=videos)

    # 8. Telegram public channel preview (t.me/s/<channel>), ?before=ID

    def _telegram(self) -> None:
        cfg = load_bank()["social"]["telegram"]
        name = cfg["channel"]
        channel = {
            "name": name,
            "title": cfg["title"],
            "description": cfg["description"],
            "subscribers": "48.2K",
        }
        by_id = {it.id: it for it in self.world.items}
        messages = []
        for it in sorted(self.by_outlet["tinnongmientay"], key=lambda i: i.extra["message_id"]):
            m = self._post_view(it)
            m["message_id"] = it.extra["message_id"]
            m["view_token"] = f"{_crc(it.id, 'view'):08x}"
            n = _crc(it.id, "views") % 40000 + 900
            m["views"] = f"{n / 1000:.1f}K" if n >= 1000 else str(n)
            m["html"] = self._telegram_html(it, by_id)
            if it.links:
                src = by_id[it.links[0]]
                m["link"] = {
                    "url": self.url(src.path),
                    "site": OUTLETS[src.outlet].title,
                    "title": src.title,
                }
            messages.append(m)
            self.static[it.path] = Page(self._render("telegram/post.html", m=m, channel=channel))
        ids = [m["message_id"] for m in messages]

        def get(query: Query) -> Page:
            before = (query.get("before") or [""])[0]
            shown = messages
            if before:
                if not before.isdigit():
                    return self.not_found()
                shown = [m for m in messages if m["message_id"] < int(before)]
            shown = shown[-TELEGRAM_PAGE:]
            more = shown[0]["message_id"] if shown and shown[0]["message_id"] > ids[0] else None
            return Page(
                self._render(
                    "telegram/channel.html",
                    channel=channel,
                    messages=shown,
                    more_before=more,
                    before=before,
                )
            )

        self.dynamic[f"/telegram/s/{name}"] = get
        self._redirect(f"/telegram/{name}", self.url(f"/telegram/s/{name}"))
        self._html("/telegram/", "telegram/home.html", channel=channel)

    def _telegram_html(self, it: Item, by_id: Mapping[str, Item]) -> str:
        lines = [vt.nfd(x) if "nfd" in it.quirks else x for x in it.body]
        out = []
        for i, line in enumerate(lines):
            esc = html.escape(line, quote=False)
            if it.links and line.startswith("👉"):
                href = html.escape(self.url(by_id[it.links[0]].path))
                esc = f'<a href="{href}" target="_blank" rel="noopener">{esc}</a>'
            elif it.links and i == 0:
                esc = f"<b>{esc}</b>"
            out.append(esc)
        return "<br/>".join(out)

    # 9. Reddit JSON listing, ?after=

    def _reddit(self) -> None:
        cfg = load_bank()["social"]["reddit"]
        sub = cfg["subreddit"]
        by_id = {it.id: it for it in self.world.items}
        children = []
        views = []
        for it in self.by_outlet["reddit-vietnam"]:
            link = self.url(by_id[it.links[0]].path) if it.links else None
            permalink_url = self.url(it.path)
            selftext = "\n\n".join(it.body)
            created = float(int(it.published.timestamp()))
            data = {
                "subreddit": sub,
                "selftext": selftext,
                "author_fullname": f"t2_{_crc(it.author) % 10**8:x}",
                "title": it.title,
                "subreddit_name_prefixed": f"r/{sub}",
                "name": f"t3_{it.extra['reddit_id']}",
                "id": it.extra["reddit_id"],
                "score": it.extra["score"],
                "ups": it.extra["score"],
                "upvote_ratio": 0.93,
                "num_comments": it.extra["num_comments"],
                "created": created,
                "created_utc": created,
                "edited": float(int(it.updated.timestamp())) if it.updated else False,
                "is_self": link is None,
                "domain": urlsplit(link).netloc if link else f"self.{sub}",
                "selftext_html": (
                    '&lt;!-- SC_OFF --&gt;&lt;div class="md"&gt;'
                    + html.escape("".join(f"<p>{html.escape(p)}</p>" for p in it.body))
                    + "&lt;/div&gt;&lt;!-- SC_ON --&gt;"
                )
                if selftext
                else None,
                "author": it.author,
                "permalink": it.path,
                "url": link or permalink_url,
                "subreddit_id": "t5_2qh4d",
                "link_flair_text": None,
                "over_18": False,
                "stickied": False,
                "locked": False,
            }
            children.append({"kind": "t3", "data": data})
            v = self._post_view(it)
            v.update(
                id=it.extra["reddit_id"],
                subreddit=sub,
                selftext=selftext,
                link=link,
                permalink=it.path,
                score=it.extra["score"],
                num_comments=it.extra["num_comments"],
            )
            views.append(v)
            self.static[it.path] = Page(self._render("reddit/comments.html", p=v))

        def get(query: Query) -> Page:
            try:
                limit = max(1, min(int((query.get("limit") or [REDDIT_PAGE])[0]), REDDIT_PAGE))
            except ValueError:
                limit = REDDIT_PAGE
            after = (query.get("after") or [""])[0]
            start = 0
            if after:
                names = [c["data"]["name"] for c in children]
                start = names.index(after) + 1 if after in names else len(children)
            chunk = children[start : start + limit]
            more = start + limit < len(children)
            listing = {
                "kind": "Listing",
                "data": {
                    "after": chunk[-1]["data"]["name"] if chunk and more else None,
                    "dist": len(chunk),
                    "modhash": "",
                    "geo_filter": "",
                    "children": chunk,
                    "before": None,
                },
            }
            return Page(
                json.dumps(listing, ensure_ascii=False).encode(), "application/json; charset=UTF-8"
            )

        self.dynamic[f"/reddit/r/{sub}/new.json"] = get
        self._html("/reddit/", "reddit/home.html", subreddit=sub, posts=views)

    # 10. Mastodon tag timeline, Link header / max_id

    def _mastodon(self) -> None:
        cfg = load_bank()["social"]["mastodon"]
        tag = cfg["tag"]
        api = f"/mastodon/api/v1/timelines/tag/{tag}"
        by_id = {it.id: it for it in self.world.items}
        statuses = []
        for it in self.by_outlet["mastodon-vinhlong"]:
            acct = it.author
            username = acct.split("@")[0]
            content = self._mastodon_html(it, by_id)
            account_url = self.url(f"/mastodon/@{acct}")
            status = {
                "id": it.extra["status_id"],
                "created_at": utc_z(it.published),
                "in_reply_to_id": None,
                "in_reply_to_account_id": None,
                "sensitive": False,
                "spoiler_text": "",
                "visibility": "public",
                "language": it.language,
                "uri": self.url(f"/mastodon/users/{acct}/statuses/{it.extra['status_id']}"),
                "url": self.url(it.path),
                "replies_count": _crc(it.id, "r") % 7,
                "reblogs_count": _crc(it.id, "b") % 30,
                "favourites_count": _crc(it.id, "f") % 80,
                "edited_at": utc_z(it.updated) if it.updated else None,
                "content": content,
                "reblog": None,
                "account": {
                    "id": str(_crc(acct) % 10**9),
                    "username": username,
                    "acct": acct,
                    "display_name": it.extra["display_name"],
                    "locked": False,
                    "bot": it.role == "repost",
                    "url": account_url,
                    "avatar": self.url(f"/mastodon/avatars/{username}.png"),
                    "followers_count": _crc(acct, "followers") % 5000,
                },
                "media_attachments": [],
                "mentions": [],
                "tags": [
                    {"name": t.lower(), "url": self.url(f"/mastodon/tags/{t.lower()}")}
                    for t in re.findall(r"#(\w+)", " ".join(it.body))
                ],
                "emojis": [],
                "card": None,
                "poll": None,
            }
            statuses.append(status)
            sv = self._post_view(it)
            sv.update(
                status_id=it.extra["status_id"],
                acct=acct,
                display_name=it.extra["display_name"],
                account_url=account_url,
                html=content,
                language=it.language,
            )
            self.static[it.path] = Page(self._render("mastodon/status.html", s=sv))
        statuses.sort(key=lambda s: int(s["id"]), reverse=True)

        def get(query: Query) -> Page:
            def arg(name: str) -> int | None:
                value = (query.get(name) or [""])[0]
                return int(value) if value.isdigit() else None

            limit = min(arg("limit") or 20, MASTODON_PAGE)
            shown = statuses
            if arg("max_id"):
                shown = [s for s in shown if int(s["id"]) < arg("max_id")]
            floor = arg("since_id") or arg("min_id")
            if floor:
                shown = [s for s in shown if int(s["id"]) > floor]
                if arg("min_id"):
                    shown = shown[-limit:]
            chunk = shown[:limit]
            links = []
            if chunk and int(chunk[-1]["id"]) > int(statuses[-1]["id"]):
                links.append(f'<{self.url(api)}?max_id={chunk[-1]["id"]}>; rel="next"')
            if chunk:
                links.append(f'<{self.url(api)}?min_id={chunk[0]["id"]}>; rel="prev"')
            headers = (("Link", ", ".join(links)),) if links else ()
            return Page(
                json.dumps(chunk, ensure_ascii=False).encode(),
                "application/json; charset=utf-8",
                headers=headers,
            )

        self.dynamic[api] = get
        self._html("/mastodon/", "mastodon/home.html", tag=tag)

    def _mastodon_html(self, it: Item, by_id: Mapping[str, Item]) -> str:
        paras = []
        for line in it.body:
            if "nfd" in it.quirks:
                line = vt.nfd(line)
            esc = html.escape(line, quote=False)
            if it.links and line.startswith("Đọc tiếp"):
                head, sep, tail = esc.partition(" #")
                href = html.escape(self.url(by_id[it.links[0]].path))
                anchor = f'<a href="{href}" rel="nofollow noopener" target="_blank">{head}</a>'
                esc = anchor + sep + tail
            esc = re.sub(
                r"#(\w+)",
                lambda m: (
                    f'<a href="{self.url("/mastodon/tags/" + m.group(1).lower())}" '
                    f'class="mention hashtag" rel="tag">#<span>{m.group(1)}</span></a>'
                ),
                esc,
            )
            paras.append(f"<p>{esc}</p>")
        return "".join(paras)

    # the malformed feed

    def _baohong(self) -> None:
        self._html("/baohong/", "baohong/home.html")
        self.static[MALFORMED_FEED] = Page(
            self._render("baohong/broken.xml"), "application/rss+xml; charset=utf-8"
        )
