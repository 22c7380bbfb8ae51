"""The demo news network (crawlers/demo): every outlet answers, feeds parse, the ground truth
matches what is served, the faults misbehave exactly as stated, and edit/hide/show work."""

from __future__ import annotations

import html as htmllib
import json
import re
import subprocess
import sys
import threading
import time
import unicodedata
import urllib.error
import urllib.request
import urllib.robotparser
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import feedparser
import pytest
from bs4 import BeautifulSoup

from crawlers.demo import DemoNetwork, expected
from crawlers.demo.model import ICT, OUTLETS, OVERSIZE_BYTES, SLOW_SECONDS
from store.profile import load_profile
from store.taxonomy import TOPICS

NOW = datetime(2025, 11, 21, 9, 30, tzinfo=ICT)
FIVE_MIB = 5 * 1024 * 1024
ISO_DT = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_PLAIN = urllib.request.build_opener()
_NO_REDIRECT = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, *, follow: bool = True, timeout: float = 10) -> tuple[int, dict, bytes]:
    opener = _PLAIN if follow else _NO_REDIRECT
    try:
        with opener.open(url, timeout=timeout) as r:
            return r.status, dict(r.headers.items()), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read()


def decode(headers: dict, body: bytes) -> str:
    m = re.search(r"charset=([\w-]+)", headers.get("Content-Type", ""))
    return body.decode(m.group(1) if m else "utf-8")


def visible(markup: str) -> str:
    """Text of a page: tags dropped, entities resolved, NFC, whitespace collapsed."""
    markup = re.sub(r"</?(?:span|a|b|i|em|strong|font)\b[^>]*>", "", markup)  # inline: no gap
    text = htmllib.unescape(re.sub(r"<[^>]+>", " ", markup))
    return " ".join(unicodedata.normalize("NFC", text).split())


def collapse(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


@pytest.fixture(scope="module")
def net():
    with DemoNetwork(now=NOW) as network:
        yield network


@pytest.fixture(scope="module")
def pages(net):
    """Memoised GET (redirects followed) on the module's network: path → (status, headers, text)."""
    cache: dict[str, tuple[int, dict, str]] = {}

    def get(path: str) -> tuple[int, dict, str]:
        if path not in cache:
            status, headers, body = fetch(net.url(path))
            cache[path] = (status, headers, decode(headers, body))
        return cache[path]

    return get


def items_of(outlet: str):
    return [it for it in expected.items(NOW) if it.outlet == outlet]


# --- every outlet, one port -----------------------------------------------------------------


def test_every_outlet_answers_on_one_port(net, pages):
    assert len(OUTLETS) >= 10
    for outlet in OUTLETS.values():
        for path in (outlet.home, outlet.feed):
            status, _, _ = pages(path)
            assert status == 200, (outlet.name, path)
    status, headers, text = pages("/")
    assert status == 200 and all(o.feed in htmllib.unescape(text) for o in OUTLETS.values())
    assert urlsplit(net.base_url).port == net.port


def test_press_outlets_have_their_own_markup_and_date_formats(pages):
    markers = {
        "baovinhlong": ('class="bvl-title"', "application/ld+json", "(GMT+7)"),
        "tinnhanh": ('class="detail-title"', 'name="pubdate"', " GMT+7</span>"),
        "thoibao": ('class="tb-headline"', "Bài, ảnh:", " | "),
        "mekongobserver": ('class="entry-title"', "yoast-schema-graph", " at "),
        "vietbao": ('class="tieu-de-bai"', 'name="date"', "(giờ Việt Nam)"),
    }
    for outlet, needles in markers.items():
        it = next(i for i in items_of(outlet) if "cp1258" not in i.quirks)
        _, _, text = pages(it.path)
        for needle in needles:
            assert needle in text, (outlet, needle)
        for other, theirs in markers.items():
            if other != outlet:
                assert theirs[0] not in text, (outlet, other)


# --- ground truth ---------------------------------------------------------------------------


def test_ground_truth_is_rich_enough():
    items = expected.items(NOW)
    assert len(items) >= 200
    assert len({it.id for it in items}) == len(items)
    assert len({it.path for it in items}) == len(items)
    counts = expected.counts()
    assert sum(1 for n in counts.values() if n) >= 10
    assert {it.kind for it in items} == {"press_local", "press_central", "press_foreign", "social"}
    assert {"vi", "en"} <= {it.language for it in items}
    for it in items:
        assert set(it.topics) <= set(TOPICS), it.id
        assert it.tone in ("tich_cuc", "trung_lap", "tieu_cuc"), it.id
        assert it.misleading in ("khong", "chua_kiem_chung", "sai_lech"), it.id
        assert it.title and (it.text or it.links), it.id
        assert unicodedata.is_normalized("NFC", it.text) and unicodedata.is_normalized(
            "NFC", it.title
        )
        assert set(it.sources) <= set(OUTLETS[it.outlet].sources)
        for quirk in ("nfd", "old_tone", "cp1258", "no_diacritics", "quote"):
            assert quirk not in it.quirks or it.id in expected.quirk_items(quirk)
    for quirk in ("nfd", "old_tone", "cp1258", "no_diacritics", "quote"):
        assert expected.quirk_items(quirk), quirk


def test_syndication_rumour_denial_and_map():
    synd = expected.syndicated()
    wide = {story: ids for story, ids in synd.items() if len({i.split("/")[0] for i in ids}) >= 3}
    assert len(wide) >= 3
    by_id = {it.id: it for it in expected.items(NOW)}
    for ids in wide.values():
        first, *copies = (by_id[i] for i in ids)
        assert first.role == "original" and all(c.role == "copy" for c in copies)
        assert len({c.title for c in (first, *copies)}) > 1  # small edits, not clones
        assert all(c.published > first.published for c in copies)

    rumour = [by_id[i] for i in expected.rumour_items()]
    denial = [by_id[i] for i in expected.denial_items()]
    assert len(rumour) >= 3 and {it.kind for it in rumour} == {"social"}
    assert all(it.misleading == "sai_lech" for it in rumour)
    assert len({it.outlet for it in denial if it.kind != "social"}) >= 3
    assert max(it.published for it in rumour) < min(it.published for it in denial)
    assert expected.DENIAL in synd and expected.DENIAL == "bac-bo-tin-don"

    maps = [by_id[i] for i in expected.sovereignty_map_items()]
    assert any(it.story == expected.SOVEREIGNTY_MAP for it in maps)
    assert any("đường lưỡi bò" in it.text for it in maps)
    assert any(it.kind == "social" for it in maps)

    notes = " ".join(by_id[i].note or "" for i in expected.irrelevant_items())
    for word in ("Quảng Ninh", "Hà Nội", "Cà Mau", "34 tỉnh", "bóng đá", "tiểu sử", "Châu Thành"):
        assert word in notes, word


def test_text_variety_is_in_the_bank():
    by_id = {it.id: it for it in expected.items(NOW)}
    texts = " ".join(it.title + " " + it.text for it in by_id.values())
    for phrase in (
        "Trà Vinh (cũ)",
        "Phường Trà Vinh",
        "huyện Cầu Ngang",
        "Chôl Chnăm Thmây",
        "Ok Om Bok",
        "đường chín đoạn",
        "Tra Vinh ngap nang qua",
        "Mekong Delta",
    ):
        assert phrase in texts, phrase
    old = " ".join(by_id[i].text for i in expected.quirk_items("old_tone"))
    assert "hoà" in old and "Thuý" in old and "hòa" not in old
    english = [it for it in by_id.values() if it.outlet == "mekongobserver"]
    assert any("Vinh Long" in it.text for it in english)
    assert any("Vĩnh Long" in it.text for it in english)


# --- what is served matches the ground truth ------------------------------------------------


def test_every_item_is_served_with_its_text(net, pages):
    for it in expected.items(NOW):
        status, headers, text = pages(it.path)
        assert status == 200, it.id
        shown = visible(text)
        assert collapse(it.title)[:40] in shown, it.id
        first = it.body[0] if it.kind == "social" and it.body else (it.lead or "")
        assert collapse(first)[:60] in shown, it.id


def test_feeds_parse_and_list_the_ground_truth(net, pages):
    def entries(path, version):
        status, headers, text = pages(path)
        assert status == 200
        feed = feedparser.parse(text.encode("utf-8"))
        assert not feed.bozo, (path, feed.get("bozo_exception"))
        assert feed.version == version
        return feed.entries

    def paths(entries):
        return {
            urlsplit(e.link).path + ("?" + urlsplit(e.link).query if urlsplit(e.link).query else "")
            for e in entries
        }

    bvl = entries(OUTLETS["baovinhlong"].feed, "rss20")
    robots = expected.fault("robots_disallowed")
    utm = [f for f in expected.faults() if f.kind == "utm_duplicate" and f.source == "baovinhlong"]
    assert paths(bvl) == {it.path for it in items_of("baovinhlong")} | {robots.path, utm[0].path}
    assert all(e.published.endswith("+0700") for e in bvl)

    rss = entries("/tinnhanh/rss/thoi-su.rss", "rss20")
    assert paths(rss) == {it.path for it in items_of("tinnhanh") if "tinnhanh-rss" in it.sources}
    assert all(e.get("author") for e in rss)

    atom = entries(OUTLETS["mekongobserver"].feed, "atom10")
    big = expected.fault("oversize")
    assert paths(atom) == {it.path for it in items_of("mekongobserver")} | {big.path}

    rdf = entries(OUTLETS["vietbao"].feed, "rss10")
    loop = expected.fault("redirect_loop")
    assert paths(rdf) == {it.path for it in items_of("vietbao")} | {loop.path}

    yt = entries(OUTLETS["mientay24h"].feed, "atom10")
    assert paths(yt) == {it.path for it in items_of("mientay24h")}
    assert all(e.yt_videoid and e.summary for e in yt)


def test_malformed_feed_does_not_parse(pages):
    fault = expected.fault("malformed_feed")
    assert fault.source == "baohong"
    status, headers, text = pages(fault.path)
    assert status == 200 and "rss" in headers["Content-Type"]
    feed = feedparser.parse(text.encode("utf-8"))
    assert feed.bozo and not feed.entries


def test_sitemap_index_news_sitemap_and_lastmod(pages):
    status, _, index = pages(OUTLETS["tinnhanh"].feed)
    soup = BeautifulSoup(index, "xml")
    locs = [loc.text for loc in soup.select("sitemap > loc")]
    assert any(loc.endswith("/news.xml") for loc in locs) and len(locs) >= 2
    assert all(lm.text.endswith("+07:00") for lm in soup.select("sitemap > lastmod"))
    listed, news = set(), set()
    for loc in locs:
        _, _, xml = pages(urlsplit(loc).path)
        doc = BeautifulSoup(xml, "xml")
        for url in doc.find_all("url"):
            path = urlsplit(url.find("loc").text).path
            assert url.find("lastmod").text.endswith("+07:00")
            if url.find("news:publication_date") or url.find("publication_date"):
                news.add(path)
            listed.add(path)
    broken = expected.fault("http_500")
    assert listed == {it.path for it in items_of("tinnhanh")} | {broken.path}
    recent = {it.path for it in items_of("tinnhanh") if it.published >= NOW - timedelta(hours=48)}
    assert recent <= news and news < listed


def test_listing_pages_paginate_both_ways(net, pages):
    src, _ = load_profile_for(net)
    thoibao = src.source("thoibao")
    allow = re.compile(thoibao.allow)
    found, seen_pages = set(), []
    for start in thoibao.urls:
        url, n = start, 0
        while url and n < thoibao.max_pages:
            n += 1
            parts = urlsplit(url)
            status, _, text = pages(parts.path + ("?" + parts.query if parts.query else ""))
            assert status == 200, url
            seen_pages.append(url)
            soup = BeautifulSoup(text, "lxml")
            for a in soup.select(thoibao.links):
                link = urljoin(url, a["href"])
                if allow.search(link):
                    found.add(
                        urlsplit(link).path
                        + ("?" + urlsplit(link).query if urlsplit(link).query else "")
                    )
            nxt = soup.select_one(thoibao.next)
            url = urljoin(url, nxt["href"]) if nxt else None
        assert url is None, "max_pages too small for the listing"
    assert any("/trang-2/" in u for u in seen_pages) and any("?page=2" in u for u in seen_pages)
    slow = expected.fault("slow")
    utm = next(f for f in expected.faults() if f.kind == "utm_duplicate" and f.source == "thoibao")
    assert found == {it.path for it in items_of("thoibao")} | {slow.path, utm.path}


def test_forum_is_xenforo_shaped(net, pages):
    start = OUTLETS["diendan"].feed
    url, threads = net.url(start), []
    while url:
        _, _, text = pages(urlsplit(url).path)
        soup = BeautifulSoup(text, "lxml")
        links = soup.select(".structItem-title a")
        assert any("prefix_id" in a["href"] for a in links)  # label links are a trap
        threads += [a["href"] for a in soup.select(".structItem-title a[data-tp-primary]")]
        nxt = soup.select_one("a.pageNav-jump--next")
        url = nxt["href"] if nxt else None
    posts = {}
    for href in threads:
        _, _, text = pages(urlsplit(href).path)
        soup = BeautifulSoup(text, "lxml")
        assert soup.select_one("h1.p-title-value")
        for msg in soup.select("article.message"):
            pid = msg["data-content"].removeprefix("post-")
            when = msg.select_one("time.u-dt[datetime]")["datetime"]
            body = msg.select_one(".message-body .bbWrapper")
            link = msg.select_one(f'a[href*="/post-{pid}"]')["href"]
            assert msg["data-author"] and body is not None and when.endswith("+07:00")
            posts[urlsplit(link).path] = msg["data-author"]
    truth = items_of("diendan")
    assert posts == {it.path: it.author for it in truth}
    status, headers, _ = fetch(net.url(truth[0].path), follow=False)
    assert status == 302 and headers["Location"].endswith(f"#post-{truth[0].extra['post_id']}")


def test_telegram_preview_paginates_with_before(net, pages):
    seen, url = {}, OUTLETS["tinnongmientay"].feed
    for _ in range(4):
        _, _, text = pages(url)
        soup = BeautifulSoup(text, "lxml")
        msgs = soup.select(".tgme_widget_message[data-post]")
        assert len(msgs) <= 20
        for m in msgs:
            assert m.select_one(".tgme_widget_message_text")
            assert m.select_one(".tgme_widget_message_date time[datetime]")["datetime"].endswith(
                "+07:00"
            )
            seen[m["data-post"]] = urlsplit(m.select_one("a.tgme_widget_message_date")["href"]).path
        more = soup.select_one("a.tme_messages_more[data-before]")
        if not more:
            break
        url = urlsplit(more["href"]).path + "?" + urlsplit(more["href"]).query
    truth = items_of("tinnongmientay")
    assert set(seen.values()) == {it.path for it in truth}
    assert len(seen) == len(truth) > 20


def test_reddit_listing_and_after(net):
    names, url = [], net.url(OUTLETS["reddit-vietnam"].feed)
    while url:
        _, headers, body = fetch(url)
        assert headers["Content-Type"].startswith("application/json")
        listing = json.loads(body)
        assert listing["kind"] == "Listing"
        for child in listing["data"]["children"]:
            assert child["kind"] == "t3"
            data = child["data"]
            for key in (
                "id",
                "name",
                "title",
                "selftext",
                "author",
                "created_utc",
                "permalink",
                "url",
                "subreddit",
                "score",
                "num_comments",
            ):
                assert key in data, key
            names.append(urljoin(net.base_url, data["permalink"]))
        after = listing["data"]["after"]
        url = net.url(OUTLETS["reddit-vietnam"].feed + f"?after={after}") if after else None
    truth = items_of("reddit-vietnam")
    assert names == [
        net.url(it.path) for it in sorted(truth, key=lambda i: i.published, reverse=True)
    ]
    assert len(truth) > 10


def test_mastodon_timeline_and_link_header(net):
    urls, url, pages_seen = [], net.url(OUTLETS["mastodon-vinhlong"].feed), 0
    while url:
        _, headers, body = fetch(url)
        statuses = json.loads(body)
        pages_seen += 1
        for s in statuses:
            assert {"id", "created_at", "content", "url", "account", "language"} <= set(s)
            assert {"acct", "display_name", "url"} <= set(s["account"])
            urls.append(s["url"])
        nxt = re.search(r'<([^>]+)>;\s*rel="next"', headers.get("Link", ""))
        url = nxt.group(1) if nxt else None
    assert pages_seen >= 2
    assert sorted(urls) == sorted(net.url(it.path) for it in items_of("mastodon-vinhlong"))


# --- dates ----------------------------------------------------------------------------------


def test_dates_are_recent_and_in_vietnam_time(net, pages):
    for it in expected.items(NOW):
        assert NOW - timedelta(days=3) < it.published <= NOW, it.id
        assert it.published.utcoffset() == timedelta(hours=7)
    checked = 0
    paths = [o.feed for o in OUTLETS.values() if o.type != "reddit" and o.type != "mastodon"]
    paths += [it.path for it in expected.items(NOW)]
    for path in paths:
        _, headers, text = pages(path)
        if "json" in headers["Content-Type"]:
            continue
        for stamp in ISO_DT.findall(text):
            assert stamp.endswith("+07:00"), (path, stamp)
            assert datetime.fromisoformat(stamp) <= NOW, (path, stamp)
            checked += 1
        if "rss" in headers["Content-Type"] and "baohong" not in path:
            for d in re.findall(r"<(?:pubDate|lastBuildDate)>([^<]+)<", text):
                assert d.endswith("+0700") and parsedate_to_datetime(d) <= NOW
    assert checked > 500


def test_default_now_is_the_current_time_in_vietnam():
    with DemoNetwork() as network:
        assert abs(network.now - datetime.now(ICT)) < timedelta(minutes=1)
        assert network.now.utcoffset() == timedelta(hours=7)
        newest = max(it.published for it in network.world.items)
        assert network.now - timedelta(hours=2) < newest <= network.now


# --- faults ---------------------------------------------------------------------------------


def test_each_error_fault_is_on_its_own_source(net):
    profile, problems = load_profile_for(net)
    assert not problems
    names = {s.name for s in profile.sources}
    errors = expected.error_faults()
    assert {f.kind for f in errors} == {
        "malformed_feed",
        "http_500",
        "slow",
        "redirect_loop",
        "robots_disallowed",
        "oversize",
    }
    assert len({f.source for f in errors}) == len(errors)
    assert {f.source for f in expected.faults()} <= names


def test_http_500_and_redirect_loop(net):
    status, _, _ = fetch(net.url(expected.fault("http_500").path))
    assert status == 500
    loop = expected.fault("redirect_loop")
    status, headers, _ = fetch(net.url(loop.path), follow=False)
    assert status in (301, 302) and headers["Location"] == net.url(loop.target)
    status, headers, _ = fetch(net.url(loop.target), follow=False)
    assert status in (301, 302) and headers["Location"] == net.url(loop.path)
    status, _, _ = fetch(net.url(loop.path))  # urllib gives up on the loop
    assert status in (301, 302)


def test_slow_page_times_out_and_the_server_keeps_answering(net):
    slow = expected.fault("slow")
    timeout = load_profile_for(net)[0].source(slow.source).timeout
    assert timeout < SLOW_SECONDS <= 6
    started = time.monotonic()
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        urllib.request.urlopen(net.url(slow.path), timeout=1).read()
    assert time.monotonic() - started < 3
    assert fetch(net.url("/robots.txt"))[0] == 200


def test_robots_txt_disallows_a_path_the_feed_links_to(net, pages):
    fault = expected.fault("robots_disallowed")
    _, _, text = pages(OUTLETS["baovinhlong"].feed)
    assert net.url(fault.path) in text
    robots = urllib.robotparser.RobotFileParser(net.url("/robots.txt"))
    robots.read()
    assert not robots.can_fetch("DiemTinBot", net.url(fault.path))
    assert robots.can_fetch("DiemTinBot", net.url(items_of("baovinhlong")[0].path))


def test_windows_1258_page_decodes_to_the_expected_text(net):
    fault = expected.fault("cp1258")
    assert not fault.error
    status, headers, body = fetch(net.url(fault.path))
    assert status == 200 and headers["Content-Type"].endswith("charset=windows-1258")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert b'content="text/html; charset=windows-1258"' in body
    text = visible(body.decode("cp1258"))
    it = expected.item(fault.item, NOW)
    assert collapse(it.title) in text
    for para in (it.lead, *it.body):
        assert collapse(para) in text


def test_oversize_page_is_over_the_cap(net):
    fault = expected.fault("oversize")
    status, headers, body = fetch(net.url(fault.path), timeout=30)
    assert status == 200
    assert int(headers["Content-Length"]) == len(body) > FIVE_MIB
    assert len(body) >= OVERSIZE_BYTES


def test_utm_copies_are_the_same_article(net):
    utm = [f for f in expected.faults() if f.kind == "utm_duplicate"]
    assert {f.source for f in utm} == {"baovinhlong", "thoibao"}
    for f in utm:
        assert "utm_source=" in f.path and "utm_medium=" in f.path
        a, b = fetch(net.url(f.path)), fetch(net.url(f.target))
        assert a[0] == b[0] == 200 and a[2] == b[2]
        assert f'rel="canonical" href="{net.url(f.target)}"' in a[2].decode()


# --- changes --------------------------------------------------------------------------------


def test_edit_changes_text_and_updated_time():
    with DemoNetwork(now=NOW) as network:
        it = network.world.item("baovinhlong/xam-nhap-man")
        updated = network.edit(it.id, new_text="Sapo mới về mặn.\n\nĐoạn mới: độ mặn đã giảm.")
        assert updated > it.published
        _, _, body = fetch(network.url(it.path))
        page = body.decode()
        assert "Đoạn mới: độ mặn đã giảm." in page and "Các khu vực bị ảnh hưởng nặng" not in page
        ld = json.loads(
            re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1)
        )
        assert datetime.fromisoformat(ld["dateModified"]) == updated
        assert datetime.fromisoformat(ld["datePublished"]) == it.published
        feed = feedparser.parse(fetch(network.url(OUTLETS["baovinhlong"].feed))[2])
        entry = next(e for e in feed.entries if e.link == network.url(it.path))
        assert "+07:00" in entry.updated and entry.updated != entry.published

        tn = network.world.item("tinnhanh/xam-nhap-man")
        month = f"/tinnhanh/sitemaps/articles-{tn.published:%Y-%m}.xml"

        def lastmod() -> str:
            xml = fetch(network.url(month))[2].decode()
            return re.search(
                rf"<loc>{re.escape(network.url(tn.path))}</loc>\s*<lastmod>([^<]+)<", xml
            ).group(1)

        before = lastmod()
        network.edit(tn.id, new_title="Mặn giảm dần trên các sông lớn")
        assert lastmod() > before
        assert "Mặn giảm dần trên các sông lớn" in fetch(network.url(tn.path))[2].decode()

        post = network.world.item("tinnongmientay/tg-gia-dua")
        network.edit(post.id, new_text="Giá dừa hôm nay giảm còn 150k/chục.")
        channel = fetch(network.url(OUTLETS["tinnongmientay"].feed))[2].decode()
        assert "Giá dừa hôm nay giảm còn 150k/chục." in channel and "edited" in channel
        with pytest.raises(KeyError):
            network.edit("baovinhlong/khong-co", new_text="x")


def test_hide_then_show_the_denial():
    denial = [expected.item(i, NOW) for i in expected.denial_items()]
    assert len(denial) >= 5
    with DemoNetwork(now=NOW, hide=[expected.DENIAL]) as network:
        feeds = {o.name: fetch(network.url(o.feed))[2].decode() for o in OUTLETS.values()}
        for it in denial:
            assert fetch(network.url(it.path))[0] in (404, 302), it.id
            assert network.url(it.path) not in feeds[it.outlet], it.id
        for rumour in expected.rumour_items():
            assert fetch(network.url(expected.item(rumour, NOW).path))[0] == 200
        network.show(expected.DENIAL)
        for it in denial:
            assert fetch(network.url(it.path))[0] == 200, it.id
        assert (
            network.url(denial[0].path)
            in fetch(network.url(OUTLETS[denial[0].outlet].feed))[2].decode()
        )
        network.hide("baovinhlong/" + expected.DENIAL)
        assert fetch(network.url(denial[0].path))[0] == 404
        assert fetch(network.url(denial[1].path))[0] == 200


def test_hits_count_every_request(net):
    path = OUTLETS["vietbao"].home
    before = net.fetches(path)
    fetch(net.url(path))
    fetch(net.url(path + "?utm_source=x"))
    assert net.fetches(path) == before + 2
    assert net.hits[path + "?utm_source=x"] >= 1


def test_stop_is_quick_while_the_slow_page_is_pending():
    network = DemoNetwork(now=NOW).start()
    url = network.url(expected.fault("slow").path)
    outcome = []

    def wait() -> None:
        try:
            outcome.append(fetch(url, timeout=10)[0])
        except OSError as exc:  # the server hung up without answering: expected
            outcome.append(exc)

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    time.sleep(0.3)
    started = time.monotonic()
    network.stop()
    assert time.monotonic() - started < 2
    waiter.join(timeout=5)
    assert not waiter.is_alive() and outcome and not isinstance(outcome[0], int)


def test_module_entry_point_serves_until_interrupted():
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawlers.demo", "--port", "0", "--hide", expected.DENIAL],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        base = re.search(r"(http://127\.0\.0\.1:\d+)", line).group(1)
        assert fetch(base + "/robots.txt")[0] == 200
        assert fetch(base + expected.item(expected.denial_items()[0], NOW).path)[0] == 404
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- the demo profile -----------------------------------------------------------------------


def load_profile_for(net):
    import os

    old = os.environ.get("DIEMTIN_DEMO_URL")
    os.environ["DIEMTIN_DEMO_URL"] = net.base_url
    try:
        return load_profile(_config())
    finally:
        if old is None:
            os.environ.pop("DIEMTIN_DEMO_URL", None)
        else:
            os.environ["DIEMTIN_DEMO_URL"] = old


def _config():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "config" / "demo.yaml"


def test_demo_profile_points_at_the_network(net):
    profile, problems = load_profile_for(net)
    assert not problems
    assert profile.province.code == "vinh_long" and profile.province.former == [
        "Trà Vinh",
        "Bến Tre",
    ]
    assert profile.agency.startswith("Sở Văn hóa, Thể thao và Du lịch")
    wanted = {s for o in OUTLETS.values() for s in o.sources}
    assert {s.name for s in profile.sources} == wanted
    for src in profile.sources:
        outlet = next(o for o in OUTLETS.values() if src.name in o.sources)
        assert src.kind == outlet.kind and src.language == outlet.language, src.name
        assert src.delay == 0, src.name
        for url in src.urls:
            assert url.startswith(net.base_url + "/"), url
            assert fetch(url)[0] == 200, url
    assert profile.source("mientay24h").follow is False
    raw = _config().read_text(encoding="utf-8")
    urls = re.findall(r'"(\$\{[^"]+)"', raw)
    assert urls and all(u.startswith("${DIEMTIN_DEMO_URL:-http://127.0.0.1:8765}/") for u in urls)
