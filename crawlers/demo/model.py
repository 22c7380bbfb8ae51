"""The demo network's world: outlets, the story bank, and the items and faults built from it.

Everything the server serves and everything the tests expect comes from `build()`, so the pages
and the ground truth cannot disagree. Dates are relative to `now` (Asia/Ho_Chi_Minh); addresses
are paths, the same whatever the date and port.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

from . import text as vt

ICT = timezone(timedelta(hours=7), "ICT")
HERE = Path(__file__).resolve().parent
WINDOW_HOURS = 72  # every item is dated within the 3 days before `now`

SLOW_SECONDS = 5.0  # the slow page's delay; the demo profile gives its source a 2 s timeout
OVERSIZE_BYTES = 6 * 1024 * 1024  # the oversize page; the crawler's default cap is 5 MiB


@dataclass(frozen=True)
class Outlet:
    name: str  # also the name of its (first) source in config/demo.yaml
    title: str
    kind: str  # press_local | press_central | press_foreign | social
    language: str
    home: str  # a page that answers for the outlet
    feed: str  # where a crawler starts (feed, sitemap index, listing, API)
    sources: tuple[str, ...]
    type: str  # the source type in the profile
    authors: tuple[str, ...] = ()


def _outlets() -> dict[str, Outlet]:
    data = yaml.safe_load((HERE / "outlets.yaml").read_text(encoding="utf-8"))
    return {
        name: Outlet(
            name=name,
            title=d["title"],
            kind=d["kind"],
            language=d["language"],
            home=d["home"],
            feed=d["feed"],
            sources=tuple(d.get("sources") or (name,)),
            type=d["type"],
            authors=tuple(d.get("authors") or ()),
        )
        for name, d in data.items()
    }


OUTLETS: dict[str, Outlet] = _outlets()

SECTIONS = {
    "thoi-su": "Thời sự",
    "kinh-te": "Kinh tế",
    "xa-hoi": "Xã hội",
    "phap-luat": "Pháp luật",
    "van-hoa": "Văn hóa",
    "du-lich": "Du lịch",
    "quoc-te": "Quốc tế",
    "the-thao": "Thể thao",
}

# Article numbers start here per outlet (in bank order, so addresses never move).
_FIRST_NUMBER = {"baovinhlong": 4812001, "tinnhanh": 2071001, "thoibao": 770001, "vietbao": 990101}
# Lead prefixes some outlets put before every sapo.
_DATELINE = {"tinnhanh": "(TNVN) - "}


@dataclass
class Item:
    """One article or post, as published (text NFC; how the page encodes it is in `quirks`)."""

    id: str  # "<outlet>/<bank id>"
    story: str  # the event; syndicated copies, coverage and reposts share it
    outlet: str
    kind: str
    language: str
    role: str  # original | copy (syndicated) | coverage (own reporting) | repost | post
    path: str  # where the server has it (article page or post permalink)
    title: str
    lead: str | None
    body: tuple[str, ...]  # paragraphs after the lead (lines, for posts)
    author: str | None
    published: datetime
    updated: datetime | None = None
    section: str | None = None
    topics: tuple[str, ...] = ()
    tone: str = "trung_lap"
    relevant: bool = True
    places: tuple[str, ...] = ()
    misleading: str = "khong"
    flags: tuple[str, ...] = ()
    quirks: tuple[str, ...] = ()
    note: str | None = None
    sources: tuple[str, ...] = ()
    links: tuple[str, ...] = ()  # items this one links to (reposts, link posts)
    extra: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        if self.kind == "social":
            return "\n".join(self.body)
        return "\n\n".join(p for p in (self.lead, *self.body) if p)

    def url(self, base: str) -> str:
        return base.rstrip("/") + self.path


@dataclass(frozen=True)
class Fault:
    """A page that misbehaves on purpose, on one source. `error` faults should be reported once
    against `source`; the others are traps the crawler must get right without complaint."""

    kind: str  # malformed_feed | http_500 | slow | redirect_loop | robots_disallowed | oversize
    #           | cp1258 | utm_duplicate
    source: str
    outlet: str
    path: str
    error: bool
    note: str
    target: str | None = None  # redirect_loop: the other end; utm_duplicate: the clean path
    item: str | None = None  # cp1258, utm_duplicate: the item reached

    def url(self, base: str) -> str:
        return base.rstrip("/") + self.path


@dataclass(frozen=True)
class FaultPage:
    """A listed page that is not an item (the crawler should fail on it, or never fetch it)."""

    kind: str
    outlet: str
    path: str
    title: str
    lead: str
    hours: float
    published: datetime


@dataclass(frozen=True)
class Edit:
    text: str | None
    title: str | None
    at: datetime


@dataclass
class World:
    now: datetime
    items: list[Item]
    faults: list[Fault]
    fault_pages: list[FaultPage]
    stories: dict[str, dict]

    def item(self, item_id: str) -> Item:
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)


# --- the bank -------------------------------------------------------------------------------


@functools.cache
def load_bank() -> dict:
    def read(name: str) -> dict:
        return yaml.safe_load((HERE / name).read_text(encoding="utf-8"))

    return {
        "press": read("press.yaml")["stories"],
        "foreign": read("foreign.yaml")["stories"],
        "social": read("social.yaml"),
    }


def normalize_now(now: datetime | None) -> datetime:
    if now is None:
        now = datetime.now(ICT)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=ICT)
    return now.astimezone(ICT).replace(microsecond=0)


def _at(now: datetime, hours: float, key: str | None = None) -> datetime:
    """`hours` before `now`, a few minutes earlier still (by `key`) so times look less round."""
    jitter = zlib.crc32(key.encode()) % 17 if key else 0
    if not (hours > 0 and hours * 60 + jitter < WINDOW_HOURS * 60):
        raise ValueError(f"ngân hàng tin: {hours} giờ nằm ngoài cửa sổ 3 ngày")
    return (now - timedelta(hours=hours, minutes=jitter)).replace(second=0)


def _pick(pool: tuple[str, ...], key: str) -> str | None:
    return pool[zlib.crc32(key.encode()) % len(pool)] if pool else None


def _labels(d: Mapping) -> dict:
    """The classification fields a bank entry carries, in Item's terms."""
    return {
        "topics": tuple(d.get("topics") or ()),
        "tone": d.get("tone", "trung_lap"),
        "relevant": bool(d.get("relevant", True)),
        "places": tuple(d.get("places") or ()),
        "misleading": d.get("misleading", "khong"),
        "flags": tuple(d.get("flags") or ()),
        "quirks": tuple(d.get("quirks") or ()),
        "note": d.get("note"),
    }


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.strip().splitlines() if line.strip())


# --- press ----------------------------------------------------------------------------------


def _press_path(outlet: str, section: str, slug: str, num: int) -> str:
    if outlet == "baovinhlong":
        return f"/baovinhlong/{section}/{slug}-a{num}.html"
    if outlet == "tinnhanh":
        return f"/tinnhanh/{section}/{slug}-{num}.htm"
    if outlet == "thoibao":
        return f"/thoibao/{thoibao_category(section)}/{slug}-post{num}.html"
    if outlet == "vietbao":
        return f"/vietbao/a{num}/{slug}.html"
    raise ValueError(outlet)


def thoibao_category(section: str) -> str:
    return "kinh-te" if section in ("kinh-te", "du-lich") else "thoi-su"


def _press(stories: list[dict], now: datetime) -> list[Item]:
    numbers = dict(_FIRST_NUMBER)
    items = []
    for s in stories:
        titles = s.get("titles") or [s["title"]]
        outlets = s["outlets"]
        for k, name in enumerate(outlets):
            outlet = OUTLETS[name]
            title = titles[k % len(titles)]
            lead = _DATELINE.get(name, "") + s["lead"]
            body = list(s["body"])
            if k >= 2 and len(body) >= 3 and k % 2 == 0:
                body = body[:-1]  # a shortened copy
            labels = _labels(s)
            if name == "vietbao" or "old_tone" in labels["quirks"]:
                title, lead = vt.old_tone(title), vt.old_tone(lead)
                body = [vt.old_tone(p) for p in body]
                if "old_tone" not in labels["quirks"]:
                    labels["quirks"] += ("old_tone",)
            num = numbers[name]
            numbers[name] += 1
            extra: dict = {"num": num}
            if k and name == "vietbao":  # the overseas site credits the paper it copied
                extra["credit"] = f"(Theo {OUTLETS[outlets[0]].title})"
            sources = outlet.sources
            if name == "tinnhanh" and s["section"] != "thoi-su":
                sources = ("tinnhanh",)  # the RSS feed carries only Thời sự
            items.append(
                Item(
                    id=f"{name}/{s['id']}",
                    story=s["id"],
                    outlet=name,
                    kind=outlet.kind,
                    language=outlet.language,
                    role="copy" if k else "original",
                    path=_press_path(name, s["section"], vt.slugify(title), num),
                    title=title,
                    lead=lead,
                    body=tuple(body),
                    author=(s.get("author") if k == 0 else None)
                    or _pick(outlet.authors, s["id"] + name),
                    published=_at(now, max(0.2, s["hours"] - 0.6 * k), f"{name}/{s['id']}"),
                    section=s["section"],
                    sources=sources,
                    extra=extra,
                    **labels,
                )
            )
    return items


def _foreign(stories: list[dict], now: datetime) -> list[Item]:
    outlet = OUTLETS["mekongobserver"]
    items = []
    for s in stories:
        items.append(
            Item(
                id=f"mekongobserver/{s['id']}",
                story=s.get("story", s["id"]),
                outlet=outlet.name,
                kind=outlet.kind,
                language="en",
                role="coverage" if s.get("story") else "original",
                path=f"/mekongobserver/news/{vt.slugify(s['title'])}/",
                title=s["title"],
                lead=s["lead"],
                body=tuple(s["body"]),
                author=_pick(outlet.authors, s["id"]),
                published=_at(now, s["hours"], s["id"]),
                section="news",
                sources=outlet.sources,
                **_labels(s),
            )
        )
    return items


# --- social ---------------------------------------------------------------------------------


def _post(outlet: Outlet, d: Mapping, path: str, title: str, body: tuple[str, ...], now, **kw):
    labels = _labels(d)
    return Item(
        id=f"{outlet.name}/{d['id']}",
        story=d.get("story", d["id"]),
        outlet=outlet.name,
        kind="social",
        language=d.get("language", outlet.language),
        role="post",
        path=path,
        title=title,
        lead=None,
        body=body,
        published=_at(now, d["hours"], None if d["id"].startswith("share-") else d["id"]),
        sources=outlet.sources,
        **labels,
        **kw,
    )


def _first_line(text: str, limit: int = 90) -> str:
    line = text.strip().splitlines()[0].strip()
    return line if len(line) <= limit else line[: limit - 1].rsplit(" ", 1)[0] + "…"


def _reposts(story_ids: Iterable[str], originals: Mapping[str, Item], delay_base: float = 0.3):
    """(bank-like dict, the original item) for each shared story, shortly after the original."""
    out = []
    for i, sid in enumerate(story_ids):
        src = originals[sid]
        hours = (src.extra["hours"]) - (delay_base + 0.15 * (i % 4))
        out.append(({"id": f"share-{sid}", "story": sid, "hours": max(0.1, hours)}, src))
    return out


def _telegram(cfg: dict, now: datetime, originals: Mapping[str, Item]) -> list[Item]:
    outlet = OUTLETS[cfg["outlet"]]
    chan = cfg["channel"]
    entries: list[tuple[dict, tuple[str, ...], Item | None]] = []
    for d in cfg["posts"]:
        entries.append((d, _lines(d["text"]), None))
    for d, src in _reposts(cfg["reposts"], originals):
        d = {**_inherit(src), **d}
        entries.append((d, (f"📰 {src.title}", src.lead or "", "👉 Xem chi tiết"), src))
    entries.sort(key=lambda e: -e[0]["hours"])
    items = []
    for n, (d, body, src) in enumerate(entries):
        msg = cfg["first_id"] + n
        it = _post(
            outlet,
            d,
            f"/telegram/{chan}/{msg}",
            _first_line(body[0].removeprefix("📰 ")),
            body,
            now,
            author=cfg["title"],
            links=(src.id,) if src else (),
            extra={"message_id": msg, "channel": chan},
        )
        if src:
            it.role = "repost"
        items.append(it)
    return items


def _inherit(src: Item) -> dict:
    """Labels a repost takes from the article it shares."""
    return {
        "topics": list(src.topics),
        "tone": src.tone,
        "relevant": src.relevant,
        "places": list(src.places),
        "flags": list(src.flags),
        "note": src.note,
    }


def _youtube(cfg: dict, now: datetime) -> list[Item]:
    outlet = OUTLETS[cfg["outlet"]]
    items = []
    for d in cfg["videos"]:
        items.append(
            _post(
                outlet,
                d,
                f"/youtube/watch?v={d['video']}",
                d["title"],
                _lines(d["text"]),
                now,
                author=cfg["author"],
                extra={"video_id": d["video"], "channel_id": cfg["channel_id"]},
            )
        )
    return items


def forum_thread_path(thread: Mapping) -> str:
    return f"/diendan/threads/{vt.slugify(thread['title'])}.{thread['id']}/"


def _forum(cfg: dict, now: datetime) -> list[Item]:
    outlet = OUTLETS[cfg["outlet"]]
    items = []
    for t in cfg["threads"]:
        thread_path = forum_thread_path(t)
        for p in t["posts"]:
            d = {**p, "id": f"post-{p['id']}"}
            if "quote" in p:
                d["quirks"] = [*(p.get("quirks") or ()), "quote"]
            items.append(
                _post(
                    outlet,
                    d,
                    f"{thread_path}post-{p['id']}",
                    t["title"],
                    _lines(p["text"]),
                    now,
                    author=p["author"],
                    extra={
                        "thread_id": t["id"],
                        "thread_path": thread_path,
                        "post_id": p["id"],
                        "prefix": t.get("prefix"),
                        "quote": p.get("quote"),
                    },
                )
            )
    return items


def _reddit(cfg: dict, now: datetime, by_id: Mapping[str, Item]) -> list[Item]:
    outlet = OUTLETS[cfg["outlet"]]
    sub = cfg["subreddit"]
    items = []
    for d in cfg["posts"]:
        slug = vt.slugify(d["title"], 50).replace("-", "_")
        link = d.get("link")
        if link and link not in by_id:
            raise ValueError(f"reddit {d['id']}: no item {link}")
        items.append(
            _post(
                outlet,
                d,
                f"/reddit/r/{sub}/comments/{d['id']}/{slug}/",
                d["title"],
                _lines(d.get("text") or ""),
                now,
                author=d["author"],
                links=(link,) if link else (),
                extra={
                    "reddit_id": d["id"],
                    "subreddit": sub,
                    "score": d.get("score", 1),
                    "num_comments": d.get("comments", 0),
                },
            )
        )
    return items


def _mastodon(cfg: dict, now: datetime, originals: Mapping[str, Item]) -> list[Item]:
    outlet = OUTLETS[cfg["outlet"]]
    entries: list[tuple[dict, Item | None]] = [(d, None) for d in cfg["statuses"]]
    bot = cfg["reposter"]
    for d, src in _reposts(cfg["reposts"], originals, delay_base=0.2):
        d = {**_inherit(src), **d, "author": bot["acct"], "display": bot["display"]}
        d["text"] = f"{src.title}\nĐọc tiếp trên {OUTLETS[src.outlet].title} #VinhLong"
        entries.append((d, src))
    entries.sort(key=lambda e: -e[0]["hours"])
    items = []
    for n, (d, src) in enumerate(entries):
        sid = str(cfg["first_id"] + (n + 1) * 4096)
        it = _post(
            outlet,
            d,
            f"/mastodon/@{d['author']}/{sid}",
            _first_line(d["text"]),
            _lines(d["text"]),
            now,
            author=d["author"],
            links=(src.id,) if src else (),
            extra={"status_id": sid, "display_name": d["display"], "tag": cfg["tag"]},
        )
        if src:
            it.role = "repost"
        items.append(it)
    return items


# --- faults ---------------------------------------------------------------------------------

_FAULT_PAGES = (
    # kind, outlet, path, title, lead, hours
    (
        "robots_disallowed",
        "baovinhlong",
        "/baovinhlong/noi-bo/lich-cong-tac-tuan-cua-ubnd-tinh-a4811999.html",
        "Lịch công tác tuần của UBND tỉnh",
        "Lịch công tác tuần của Thường trực UBND tỉnh Vĩnh Long (trang nội bộ).",
        2.5,
    ),
    (
        "http_500",
        "tinnhanh",
        "/tinnhanh/xa-hoi/mien-tay-chuan-bi-ung-pho-trieu-cuong-cuoi-nam-2071999.htm",
        "Miền Tây chuẩn bị ứng phó triều cường cuối năm",
        "(TNVN) - Các tỉnh Đồng bằng sông Cửu Long chuẩn bị ứng phó đợt triều cường cuối năm.",
        4,
    ),
    (
        "slow",
        "thoibao",
        "/thoibao/thoi-su/hop-bao-thuong-ky-quy-iv-cua-ubnd-tinh-vinh-long-post770999.html",
        "Họp báo thường kỳ quý IV của UBND tỉnh Vĩnh Long",
        "UBND tỉnh Vĩnh Long họp báo thường kỳ quý IV, thông tin tình hình kinh tế – xã hội.",
        1,
    ),
    (
        "oversize",
        "mekongobserver",
        "/mekongobserver/news/photo-essay-a-day-on-the-co-chien-river/",
        "Photo essay: A day on the Co Chien River",
        "Fishermen, fruit boats and brick kilns along one of the Mekong's nine dragons.",
        5,
    ),
    (
        "redirect_loop",
        "vietbao",
        "/vietbao/a990999/cap-nhat-tinh-hinh-sat-lo-bo-song.html",
        "Cập nhật tình hình sạt lở bờ sông ở Vĩnh Long",
        "Tình hình sạt lở bờ sông tiếp tục diễn biến phức tạp tại nhiều địa phương.",
        6,
    ),
)
REDIRECT_LOOP_OTHER = "/vietbao/amp/a990999.html"
MALFORMED_FEED = "/baohong/rss.xml"
UTM_BVL = "baovinhlong/phien-hop-ubnd"
UTM_THOIBAO = "thoibao/sat-lo-song-mang-thit"
UTM_BVL_QUERY = "?utm_source=zalo&utm_medium=social&utm_campaign=chiase"
UTM_THOIBAO_QUERY = "?utm_source=trangchu&utm_medium=tieudiem"


def _faults(now: datetime, by_id: Mapping[str, Item]) -> tuple[list[Fault], list[FaultPage]]:
    pages = [
        FaultPage(kind, outlet, path, title, lead, hours, _at(now, hours))
        for kind, outlet, path, title, lead, hours in _FAULT_PAGES
    ]
    notes = {
        "robots_disallowed": "robots.txt cấm đường dẫn /baovinhlong/noi-bo/; RSS vẫn liệt kê nó",
        "http_500": "luôn trả HTTP 500; chỉ có trong sitemap",
        "slow": f"trả lời sau {SLOW_SECONDS:g} giây, quá thời hạn của nguồn",
        "oversize": f"trang {OVERSIZE_BYTES // (1024 * 1024)} MB, vượt giới hạn 5 MiB",
        "redirect_loop": "chuyển hướng A → B → A",
    }
    faults = [
        Fault(
            p.kind,
            OUTLETS[p.outlet].sources[0],
            p.outlet,
            p.path,
            True,
            notes[p.kind],
            target=REDIRECT_LOOP_OTHER if p.kind == "redirect_loop" else None,
        )
        for p in pages
    ]
    faults.append(
        Fault(
            "malformed_feed",
            "baohong",
            "baohong",
            MALFORMED_FEED,
            True,
            "nguồn tin hỏng: trang lỗi HTML lẫn XML cụt thay cho RSS",
        )
    )
    for it in by_id.values():
        if "cp1258" in it.quirks:
            faults.append(
                Fault(
                    "cp1258",
                    it.sources[0],
                    it.outlet,
                    it.path,
                    False,
                    "trang mã hóa windows-1258 (khai trong Content-Type và thẻ meta), dấu thanh "
                    "tách rời; giải mã được, không phải lỗi",
                    item=it.id,
                )
            )
    for item_id, query, note in (
        (UTM_BVL, UTM_BVL_QUERY, "RSS liệt kê bài hai lần, một lần kèm tham số utm_*"),
        (UTM_THOIBAO, UTM_THOIBAO_QUERY, "trang chuyên mục có liên kết tiêu điểm kèm utm_*"),
    ):
        it = by_id[item_id]
        faults.append(
            Fault(
                "utm_duplicate",
                it.sources[0],
                it.outlet,
                it.path + query,
                False,
                note,
                target=it.path,
                item=it.id,
            )
        )
    return faults, pages


# --- build ----------------------------------------------------------------------------------


def build(now: datetime | None = None, edits: Mapping[str, Edit] | None = None) -> World:
    now = normalize_now(now)
    bank = load_bank()
    social = bank["social"]
    items = _press(bank["press"], now) + _foreign(bank["foreign"], now)
    hours = {s["id"]: s["hours"] for s in bank["press"]}
    originals = {}
    for it in items:
        if it.role == "original" and it.kind != "press_foreign":
            it.extra["hours"] = hours[it.story]
            originals[it.story] = it
    items += _telegram(social["telegram"], now, originals)
    items += _youtube(social["youtube"], now)
    items += _forum(social["forum"], now)
    by_id = {it.id: it for it in items}
    items += _reddit(social["reddit"], now, by_id)
    items += _mastodon(social["mastodon"], now, originals)
    for it in items:
        it.extra.pop("hours", None)
    by_id = {it.id: it for it in items}
    if len(by_id) != len(items):
        raise ValueError("ngân hàng tin: trùng mã mục")
    for item_id, edit in (edits or {}).items():
        for i, it in enumerate(items):
            if item_id in (it.id, it.story):
                items[i] = apply_edit(it, edit)
    by_id = {it.id: it for it in items}
    faults, fault_pages = _faults(now, by_id)
    stories = {s["id"]: s for s in bank["press"]}
    return World(now, items, faults, fault_pages, stories)


def apply_edit(it: Item, edit: Edit) -> Item:
    """New text (blank-line separated paragraphs; for articles the first is the sapo)."""
    changes: dict = {"updated": max(edit.at, it.published + timedelta(minutes=1))}
    if edit.title:
        changes["title"] = edit.title
    if edit.text:
        if it.kind == "social":
            changes["body"] = _lines(edit.text)
        else:
            paras = [p.strip() for p in edit.text.strip().split("\n\n") if p.strip()]
            changes["lead"], changes["body"] = paras[0], tuple(paras[1:])
    return replace(it, **changes)


def is_hidden(it: Item, hidden: Iterable[str]) -> bool:
    hidden = set(hidden)
    return it.id in hidden or it.story in hidden
