"""Article extraction: title, lead, text, author, dates and canonical URL from one page.

Evidence is read strongest first: the profile's CSS rules for the site, then JSON-LD, then
Open Graph and other meta tags, then trafilatura for the main text, htmldate for a date, and a
plain paragraph walk when trafilatura finds nothing. The page is parsed once with lxml and every
step reads that tree; trafilatura runs only when no site rule gave the body, because it is by far
the slowest step and crawls fetch thousands of pages.
"""

from __future__ import annotations

import html as htmllib
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import cached_property, lru_cache
from urllib.parse import urljoin, urlsplit

import lxml.html
import trafilatura
from cssselect import HTMLTranslator, SelectorError
from htmldate import find_date
from lxml import etree
from lxml.cssselect import CSSSelector

from crawlers.items import Extracted
from crawlers.normalize import clean_text, clean_title, collapse, nfc
from crawlers.urls import canonicalize, host
from store.profile import ExtractRules

log = logging.getLogger(__name__)

# Vietnam has kept UTC+7 since 1975, so a fixed offset is exact and needs no tz database.
VN_TZ = timezone(timedelta(hours=7), "+07")
# Clocks and CMS time zones drift: a time up to this far ahead of `now` is still accepted.
FUTURE_SLACK = timedelta(hours=1)
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)

# fmt: off
ARTICLE_TYPES = frozenset(
    [
        "newsarticle", "article", "reportagenewsarticle", "analysisnewsarticle",
        "opinionnewsarticle", "backgroundnewsarticle", "reviewnewsarticle", "blogposting",
        "liveblogposting", "report", "scholarlyarticle",
    ]
)
# Meta keys (lower-cased) that carry a publication time, most specific first.
PUBLISHED_META = tuple(
    [
        "article:published_time", "og:article:published_time", "og:published_time",
        "datepublished", "pubdate", "publishdate", "publish-date", "publish_date",
        "dc.date.issued", "dcterms.issued", "dcterms.created", "dc.date", "sailthru.date",
        "parsely-pub-date", "article.published", "date",
    ]
)
MODIFIED_META = tuple(
    [
        "article:modified_time", "og:updated_time", "datemodified", "article:updated_time",
        "dcterms.modified", "lastmod",
    ]
)
# Elements that never hold article prose.
SKIP_TAGS = frozenset(
    [
        "script", "style", "noscript", "template", "iframe", "svg", "math", "figure",
        "figcaption", "picture", "video", "audio", "object", "embed", "canvas", "map", "form",
        "button", "input", "select", "textarea", "head", "title", "meta", "link",
    ]
)
# Extra exclusions for the last-resort walk, which has no idea where the article is.
CHROME_TAGS = frozenset({"nav", "header", "footer", "aside", "menu"})
BLOCK_TAGS = frozenset(
    [
        "p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "h1", "h2",
        "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd", "blockquote", "pre", "table",
        "thead", "tbody", "tfoot", "tr", "caption", "hr", "br", "address", "details", "summary",
        "center",
    ]
)
# Whole paragraphs that are widget labels, not prose (compared as lower-case words).
WIDGET_LABELS = frozenset(
    [
        "chia sẻ", "chia sẻ bài viết", "chia sẻ facebook", "xem thêm", "xem tiếp", "đọc tiếp",
        "bình luận", "gửi bình luận", "ý kiến bạn đọc", "in bài", "in bài viết", "gửi bài viết",
        "gửi email", "tin liên quan", "bài liên quan", "tin cùng chuyên mục", "quay lại",
        "về trang chủ", "trang chủ", "lên đầu trang", "tags", "từ khóa", "từ khoá", "theo dõi",
        "lưu bài",
    ]
)
# fmt: on
_CHROME_NAME = re.compile(
    r"(?:^|[\s_-])(?:footer|header|menu|nav|navbar|sidebar|breadcrumbs?|comments?|share|social"
    r"|related|banner|ads?|advert|quangcao|copyright|tags?)(?:$|[\s_-])",
    re.IGNORECASE,
)
HIDDEN_CLASSES = frozenset({"d-none", "hidden", "hide", "sr-only", "visually-hidden"})
_LEAD_CLASS = re.compile(
    r"(?:^|[-_])(?:sapo|chapeau|summary|excerpt|lead|description|desc|intro|teaser|tomtat)(?:$|[-_])"
)
_LEAD_XPATH = etree.XPath(
    "//*[self::h2 or self::h3 or self::p or self::div or self::span or self::strong]"
    "[contains(@class,'sapo') or contains(@class,'chapeau') or contains(@class,'summary')"
    " or contains(@class,'excerpt') or contains(@class,'lead') or contains(@class,'desc')"
    " or contains(@class,'intro') or contains(@class,'teaser') or contains(@class,'tomtat')]"
)
_STRONG_LEAD_CLASS = re.compile(r"(?:^|[-_])(?:sapo|chapeau|lead|tomtat)(?:$|[-_])")
_LEAD_MIN, _LEAD_MAX = 30, 1500
_PROSE_WORDS = 8
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_DISPLAY_NONE = re.compile(r"display\s*:\s*none", re.IGNORECASE)
_BYLINE = re.compile(
    r"^(?:theo\s|nguồn\s*:|bài(?:\s*(?:,|và)\s*ảnh)?\s*:|ảnh\s*:|tác giả\s*:|nhóm phóng viên)"
    r"|\((?:tổng hợp|theo [^)]{1,40}|ttxvn|tttxvn)\)\s*$",
    re.IGNORECASE,
)
_AUTHOR_PREFIX = re.compile(
    r"^(?:tác giả|bài(?:\s*(?:,|và)\s*ảnh)?|ảnh|thực hiện|by|written by)\s*:?\s+", re.IGNORECASE
)
_URLISH = re.compile(r"(?:https?://|www\.|@|\.(?:com|vn|net|org)\b)", re.IGNORECASE)
_VI_LETTERS = frozenset(
    "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ"
    "ĂÂĐÊÔƠƯẠẢẤẦẨẪẬẮẰẲẴẶẸẺẼẾỀỂỄỆỈỊỌỎỐỒỔỖỘỚỜỞỠỢỤỦỨỪỬỮỰỲỴỶỸ"
)


# ---------------------------------------------------------------------------------------------
# Dates


_ISO = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:[T\s]+(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2}\b|[+-]\d{2}\b)?",
    re.IGNORECASE,
)
_DMY = re.compile(r"(?<!\d)(?P<d>\d{1,2})[/.-](?P<mo>\d{1,2})[/.-](?P<y>\d{4})(?!\d)")
_VI_WORDS = re.compile(
    r"ngày\s+(?P<d>\d{1,2})\s+tháng\s+(?P<mo>\d{1,2})\s*(?:,|năm)?\s*(?:năm\s+)?(?P<y>\d{4})",
    re.IGNORECASE,
)
_TIME = re.compile(
    r"(?<![\d:])(?P<h>\d{1,2})\s*[:hH]\s*(?P<mi>\d{2})(?::(?P<s>\d{2}))?"
    r"(?:\s*(?P<ap>AM|PM|SA|CH)\b)?",
    re.IGNORECASE,
)
_GMT = re.compile(r"(?:GMT|UTC)\s*(?P<sign>[+-])\s*(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?", re.I)
_EPOCH = re.compile(r"^\d{10}(?:\d{3})?$")
_MONTH_WORD = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s", re.IGNORECASE
)


def _offset(text: str | None) -> timezone | None:
    if not text:
        return None
    if text.upper() == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 14 or minutes > 59:
        return None
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _gmt_offset(text: str) -> timezone | None:
    m = _GMT.search(text)
    if not m:
        return None
    sign = -1 if m.group("sign") == "-" else 1
    delta = timedelta(hours=int(m.group("h")), minutes=int(m.group("m") or 0))
    return timezone(sign * delta) if delta <= timedelta(hours=14) else None


def _build(y: int, mo: int, d: int, h: int, mi: int, s: int, us: int, tz) -> datetime | None:
    try:
        value = datetime(y, mo, d, h, mi, s, us, tzinfo=tz or VN_TZ)
    except ValueError:
        return None
    return value.astimezone(VN_TZ)


def _from_iso(text: str) -> datetime | None:
    m = _ISO.search(text)
    if not m:
        return None
    g = m.groupdict()
    frac = (g["f"] or "0")[:6].ljust(6, "0")
    tz = _offset(g["tz"]) or _gmt_offset(text)
    return _build(
        int(g["y"]),
        int(g["mo"]),
        int(g["d"]),
        int(g["h"] or 0),
        int(g["mi"] or 0),
        int(g["s"] or 0),
        int(frac),
        tz,
    )


def _from_vietnamese(text: str) -> datetime | None:
    """Day-first forms: "Thứ bảy, 7/3/2026 - 08:01", "07/03/2026 08:01 GMT+7", "ngày 7 tháng 3
    năm 2026"; a time anywhere in the string, an offset only if written."""
    m = _DMY.search(text) or _VI_WORDS.search(text)
    if not m:
        return None
    rest = text[: m.start()] + " " + text[m.end() :]
    t = _TIME.search(rest)
    h = mi = s = 0
    if t:
        h, mi, s = int(t.group("h")), int(t.group("mi")), int(t.group("s") or 0)
        ap = (t.group("ap") or "").upper()
        if ap in ("PM", "CH") and h < 12:
            h += 12
        elif ap in ("AM", "SA") and h == 12:
            h = 0
    y, mo, d = int(m.group("y")), int(m.group("mo")), int(m.group("d"))
    return _build(y, mo, d, h, mi, s, 0, _gmt_offset(text))


def _from_words(text: str) -> datetime | None:
    """English forms ("March 7, 2026 08:52") from foreign outlets, via dateutil."""
    if not _MONTH_WORD.search(text + " "):
        return None
    from dateutil import parser as dateparser

    try:
        value = dateparser.parse(text, fuzzy=True)
    except (ValueError, OverflowError):
        return None
    return value.replace(tzinfo=value.tzinfo or VN_TZ).astimezone(VN_TZ)


def parse_date(text: str | None) -> datetime | None:
    """A timezone-aware datetime (+07:00) from the date forms Vietnamese pages use.

    ISO 8601 also in the sloppy forms CMSs write ("2026-03-07T08:52:11.000 +07:00", a space
    before the offset); day-first Vietnamese dates with an optional time and "GMT+7"; Unix
    timestamps; English month names. A time without an offset is Vietnam time.
    """
    text = collapse(htmllib.unescape(text or ""))
    if not text:
        return None
    if _EPOCH.match(text):
        seconds = int(text[:10])
        return datetime.fromtimestamp(seconds, UTC).astimezone(VN_TZ)
    return _from_iso(text) or _from_vietnamese(text) or _from_words(text)


def _plausible(value: datetime | None, now: datetime) -> bool:
    return value is not None and EARLIEST <= value <= now + FUTURE_SLACK


def _whole_minute(value: datetime) -> bool:
    return value.second == 0 and value.microsecond == 0


def _pick_date(
    candidates: Iterable[datetime | None], now: datetime
) -> tuple[datetime | None, bool]:
    """First plausible candidate, refined by a later one that says the same minute with seconds.

    Sources disagree on precision (tuoitre: JSON-LD 08:01:00, meta 08:01:53, page 08:01); the
    more precise reading of the same minute is the better one. Returns (date, whether any
    candidate was present at all), so a page whose only dates are in the future yields None.
    """
    seen = [c for c in candidates if c is not None]
    valid = [c for c in seen if _plausible(c, now)]
    if not valid:
        return None, bool(seen)
    best = valid[0]
    if _whole_minute(best):
        for other in valid[1:]:
            if not _whole_minute(other) and other.replace(second=0, microsecond=0) == best:
                return other, True
    return best, True


# ---------------------------------------------------------------------------------------------
# Reading the tree


@lru_cache(maxsize=1024)
def _selector(css: str) -> CSSSelector | None:
    try:
        return CSSSelector(css, translator="html")
    except SelectorError as exc:
        log.warning("bộ chọn CSS không hợp lệ %r: %s", css, exc)
        return None


@lru_cache(maxsize=1024)
def _css_xpath(css: str) -> str | None:
    try:
        return HTMLTranslator().css_to_xpath(css)
    except SelectorError:
        return None


def _select(tree, css: str | None) -> list:
    sel = _selector(css.strip()) if css and css.strip() else None
    return sel(tree) if sel is not None else []


def _outermost(elements: list) -> list:
    """Matched elements without those nested in another match, so no text is read twice."""
    chosen = set(elements)
    return [e for e in elements if not any(a in chosen for a in e.iterancestors())]


def _hidden(el) -> bool:
    if el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    style = el.get("style")
    if style and _DISPLAY_NONE.search(style):
        return True
    cls = el.get("class")
    return bool(cls) and not HIDDEN_CLASSES.isdisjoint(cls.split())


def _paragraphs(roots: Iterable, skip: set | frozenset = frozenset(), chrome: bool = False):
    """Text of the given elements as paragraphs, following block-level tags and <br>.

    Elements in `skip`, non-prose tags (captions, scripts, forms) and hidden ones are left out;
    with `chrome`, so are navigation, header, footer and aside.
    """
    paras: list[str] = []
    buf: list[str] = []

    def flush() -> None:
        text = collapse("".join(buf))
        buf.clear()
        if text:
            paras.append(text)

    def walk(el) -> None:
        tag = el.tag if isinstance(el.tag, str) else None
        if tag is None:  # comment or processing instruction: only its tail is text
            if el.tail:
                buf.append(el.tail)
            return
        tag = tag.lower()
        if el in skip or tag in SKIP_TAGS or (chrome and tag in CHROME_TAGS) or _hidden(el):
            if el.tail:
                buf.append(el.tail)
            return
        block = tag in BLOCK_TAGS
        if block:
            flush()
        elif tag in ("td", "th"):
            buf.append(" ")
        if el.text:
            buf.append(el.text)
        for child in el:
            walk(child)
        if block:
            flush()
        if el.tail:
            buf.append(el.tail)

    for root in roots:
        tail, root.tail = root.tail, None  # a root's tail is outside the article
        try:
            walk(root)
        finally:
            root.tail = tail
        flush()
    return paras


def _text_of(el) -> str:
    if el.tag == "meta":
        return collapse(el.get("content") or "")
    return " ".join(_paragraphs([el]))


def _read_meta(tree) -> dict[str, str]:
    """First non-empty content per meta key (property, name or itemprop), keys lower-cased."""
    found: dict[str, str] = {}
    for el in tree.iter("meta"):
        content = el.get("content")
        if not content or not content.strip():
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = (el.get(attr) or "").strip().lower()
            if key and key not in found:
                found[key] = content.strip()
    return found


def _unescape(text: str) -> str:
    """HTML entities undone, repeatedly: tuoitre double-escapes JSON-LD ("&amp;#7871;")."""
    for _ in range(3):
        new = htmllib.unescape(text)
        if new == text:
            break
        text = new
    return collapse(text)


# ---------------------------------------------------------------------------------------------
# JSON-LD


@dataclass
class _LinkedData:
    headline: str | None = None
    published: str | None = None
    modified: str | None = None
    authors: list[str] = field(default_factory=list)
    publisher: str | None = None
    description: str | None = None
    url: str | None = None
    language: str | None = None


_LD_DATE = re.compile(r'"(datePublished|dateModified)"\s*:\s*"([^"]{6,40})"')


def _types(obj: dict) -> set[str]:
    t = obj.get("@type")
    values = t if isinstance(t, list) else [t]
    return {v.lower() for v in values if isinstance(v, str)}


def _walk_ld(obj) -> Iterator[dict]:
    if isinstance(obj, list):
        for item in obj:
            yield from _walk_ld(item)
    elif isinstance(obj, dict):
        yield obj
        for key in ("@graph", "mainEntity"):  # not itemListElement: those are other articles
            if key in obj:
                yield from _walk_ld(obj[key])


def _names(value, persons_only: bool = True) -> list[str]:
    """Names from an author value: a string, a Person object, or a list of them."""
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict):
            if persons_only and "organization" in _types(item):
                continue
            name = item.get("name")
            if isinstance(name, str):
                names.append(name)
    return [n for n in (_unescape(n) for n in names) if n]


def _str(value) -> str | None:
    if isinstance(value, dict):
        value = value.get("@id") or value.get("url") or value.get("name")
    if isinstance(value, list) and value:
        value = value[0]
    return _unescape(value) if isinstance(value, str) and value.strip() else None


def _ld_blocks(tree) -> Iterator[str]:
    for el in tree.iter("script"):
        if "ld+json" in (el.get("type") or "").lower() and el.text and el.text.strip():
            yield el.text


def _read_jsonld(tree) -> _LinkedData:
    """The page's article object: the first of NewsArticle/Article/... anywhere in its JSON-LD.

    Malformed blocks (common: raw quotes in headlines) are skipped, but their dates are still
    fished out with a regex, since the date is what such pages most often lack elsewhere.
    """
    salvaged: dict[str, str] = {}
    for raw in _ld_blocks(tree):
        try:
            data = json.loads(raw.strip().rstrip(";"), strict=False)
        except ValueError:
            if "Article" in raw or "BlogPosting" in raw:
                for key, value in _LD_DATE.findall(raw):
                    salvaged.setdefault(key, value)
            continue
        for obj in _walk_ld(data):
            if ARTICLE_TYPES.isdisjoint(_types(obj)):
                continue
            publisher = obj.get("publisher")
            return _LinkedData(
                headline=_str(obj.get("headline") or obj.get("name")),
                published=_str(obj.get("datePublished") or obj.get("dateCreated")),
                modified=_str(obj.get("dateModified")),
                authors=_names(obj.get("author")),
                publisher=_str(publisher.get("name")) if isinstance(publisher, dict) else None,
                description=_str(obj.get("description")),
                url=_str(obj.get("url")),
                language=_str(obj.get("inLanguage")),
            )
    return _LinkedData(
        published=salvaged.get("datePublished"), modified=salvaged.get("dateModified")
    )


# ---------------------------------------------------------------------------------------------
# The page


@dataclass
class _Page:
    """One parsed page and what every step reads from it."""

    tree: lxml.html.HtmlElement
    url: str
    meta: dict[str, str]
    ld: _LinkedData
    rules: ExtractRules
    skip: set = field(default_factory=set)

    @cached_property
    def site_names(self) -> list[str]:
        names = [
            self.meta.get("og:site_name"),
            self.ld.publisher,
            self.meta.get("application-name"),
            self.meta.get("apple-mobile-web-app-title"),
            (self.meta.get("twitter:site") or "").lstrip("@"),
            host(self.url),
        ]
        return [_unescape(n) for n in names if n]

    def rule(self, css: str | None) -> list:
        return _select(self.tree, css)


def _parse(html: str):
    html = _XML_DECL.sub("", html or "", count=1)
    if not html.strip():
        return None
    try:
        return lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None


def _canonical(page: _Page) -> str | None:
    """<link rel=canonical>, else og:url; one pointing at the home page of an article is a
    CMS default, not this page's address."""
    hrefs = [
        el.get("href")
        for el in page.tree.iter("link")
        if "canonical" in (el.get("rel") or "").lower().split()
    ]
    for href in [*hrefs, page.meta.get("og:url")]:
        if not href or not href.strip():
            continue
        full = urljoin(page.url or "", _unescape(href))
        if urlsplit(full).scheme not in ("http", "https"):
            continue
        if urlsplit(full).path in ("", "/") and urlsplit(page.url or "").path not in ("", "/"):
            continue
        return canonicalize(full)
    return None


def _title(page: _Page) -> str:
    """Rule, JSON-LD headline, og:title, h1, <title>; the first that exists, cleaned."""
    candidates: list[str | None] = [_text_of(e) for e in page.rule(page.rules.title)[:1]]
    candidates += [page.ld.headline, page.meta.get("og:title"), page.meta.get("twitter:title")]
    h1 = page.tree.find(".//h1")
    if h1 is not None:
        candidates.append(_text_of(h1))
    title_el = page.tree.find(".//title")
    if title_el is not None:
        candidates.append(title_el.text_content())
    for cand in candidates:
        if cand and cand.strip():
            title = clean_title(_unescape(cand), page.site_names)
            if title:
                return title
    return ""


def _descriptions(page: _Page) -> list[str]:
    descs = [page.ld.description, page.meta.get("og:description"), page.meta.get("description")]
    return [d for d in (_unescape(d) for d in descs if d) if len(d) >= _LEAD_MIN]


def _key(text: str) -> str:
    return "".join(ch for ch in nfc(text).casefold() if ch.isalnum())


def _words(text: str) -> set[str]:
    """Case-folded words, split at anything not a letter or digit ("vnexpress.net": 2 words)."""
    return set(re.findall(r"\w+", nfc(text).casefold()))


def _agrees(text: str, desc: str) -> bool:
    """Whether an element's text is the page description (which may be cut short with "...")."""
    a, b = _key(text), _key(desc.rstrip(".… "))
    n = min(len(a), len(b), 60)
    return n >= 20 and a[:n] == b[:n]


def _inside(el, tags: frozenset) -> bool:
    return any(isinstance(a.tag, str) and a.tag in tags for a in el.iterancestors())


def _guess_lead(page: _Page) -> str | None:
    """The sapo, on pages with no rule for it: an element whose class says sapo/lead/summary,
    or failing that a heading or paragraph that repeats the page description."""
    descs = _descriptions(page)
    for el in _LEAD_XPATH(page.tree):
        tokens = (el.get("class") or "").lower().split()
        if not any(_LEAD_CLASS.search(t) for t in tokens):
            continue
        if _inside(el, frozenset({"a", "li", "nav", "footer", "aside", "header"})):
            continue
        text = _text_of(el)
        if not _LEAD_MIN <= len(text) <= _LEAD_MAX:
            continue
        if any(_agrees(text, d) for d in descs):
            return text
        # Without a description to confirm it, only an unambiguous class name will do.
        if not descs and any(_STRONG_LEAD_CLASS.search(t) for t in tokens):
            return text
    if not descs:
        return None
    for el in page.tree.iter("h2", "h3", "p"):
        if _inside(el, frozenset({"a", "li", "head"})):
            continue
        text = _text_of(el)
        if _LEAD_MIN <= len(text) <= _LEAD_MAX and any(_agrees(text, d) for d in descs):
            return text
    return None


def _trafilatura(page: _Page) -> list[str]:
    """Main text by trafilatura (metadata off: we read it ourselves), the rules' drops pruned.

    Balanced mode, not favor_precision: on the saved real pages it matches the site rules
    paragraph for paragraph, while precision mode lost tuoitre's inline boxes and the
    attachment links that are the whole content of an official-document page.
    """
    prune = [x for x in (_css_xpath(c) for c in page.rules.drop) if x]
    try:
        doc = trafilatura.bare_extraction(
            page.tree,
            url=page.url or None,
            with_metadata=False,
            include_comments=False,
            include_tables=True,
            include_images=False,
            include_links=False,
            favor_precision=False,
            prune_xpath=prune or None,
        )
    except Exception:  # trafilatura raises assorted errors on odd markup; fall back instead
        log.exception("trafilatura lỗi trên %s", page.url)
        return []
    text = getattr(doc, "text", None) or ""
    # Layout tables come out as "| cell |" rows: keep the cells, not the frame.
    lines = (collapse(line).strip("|").strip() for line in text.split("\n"))
    return [line for line in lines if line.strip("|-: ")]


def _chrome(el) -> bool:
    """Navigation, footer, sharing or comment blocks, by tag or by class/id."""
    if el.tag in CHROME_TAGS or el.tag in ("figure", "form"):
        return True
    return bool(_CHROME_NAME.search(f"{el.get('class') or ''} {el.get('id') or ''}"))


def _fallback_roots(page: _Page) -> list:
    """<article> elements; else the nearest block around the <h1> that holds paragraphs."""
    articles = page.tree.xpath("//article")
    if articles:
        return _outermost(articles)
    h1 = page.tree.find(".//h1")
    if h1 is not None:
        for anc in h1.iterancestors():
            if anc.tag == "body":
                break
            if anc.find(".//p") is not None:
                return [anc]
    body = page.tree.find("body")
    return [body if body is not None else page.tree]


def _fallback(page: _Page) -> list[str]:
    """Last resort when trafilatura finds nothing: the <p> text around the headline."""
    roots = _fallback_roots(page)
    page.skip |= _skip_set(page, roots)
    paras = [
        _text_of(p)
        for root in roots
        for p in root.iter("p")
        if p not in page.skip and not any(_chrome(a) for a in p.iterancestors())
    ]
    paras = [p for p in paras if p]
    if paras:
        return paras
    # Nothing outside chrome: the template misnames its article column; take its text anyway.
    return _paragraphs(roots, page.skip, chrome=False)


def _has_prose(paras: list[str]) -> bool:
    """Whether any paragraph reads as a sentence (8+ words), not a menu item or a label."""
    return any(len(p.split()) >= _PROSE_WORDS for p in paras)


def _without_widgets(paras: list[str]) -> list[str]:
    """Paragraphs minus the buttons and labels of sharing, comment and navigation widgets."""
    return [p for p in paras if " ".join(_words_in_order(p)) not in WIDGET_LABELS]


def _words_in_order(text: str) -> list[str]:
    return re.findall(r"\w+", nfc(text).casefold())


def _without_title(paras: list[str], title: str) -> list[str]:
    """Paragraphs minus leading ones that repeat the headline (trafilatura often keeps the h1)."""
    paras = list(paras)
    while paras and title and _key(paras[0]) == _key(title):
        paras.pop(0)
    return paras


def _is_byline(para: str, author: str | None) -> bool:
    """A short closing line that names the writer or the source rather than saying anything."""
    if len(para) > 80 or len(para.split()) > 10:
        return False
    if author and _key(para) == _key(author):
        return True
    if para[-1] in ".?!" and len(para.split()) > 4:
        return False  # a sentence, even when it starts with "Theo ..."
    if _BYLINE.search(para):
        return True
    letters = [ch for ch in para if ch.isalpha()]
    return len(letters) >= 4 and all(ch.isupper() for ch in letters) and para[-1] not in ".?!:"


def _assemble(paras: list[str], lead: str | None, title: str, author: str | None):
    """Body paragraphs with the lead first, no repeated headline, no closing byline.

    Returns (paragraphs, byline) where byline is a closing author line that was cut off.
    """
    paras = _without_title(_without_widgets(paras), title)
    byline = None
    if len(paras) > 1 and _is_byline(paras[-1], author):
        byline = paras.pop()
    if lead and not (paras and _key(paras[0]).startswith(_key(lead))):
        lead_key = _key(lead)
        for i, para in enumerate(paras[:3]):
            if _key(para) == lead_key:
                del paras[i]
                break
        paras.insert(0, lead)
    return paras, byline


def _clean_author(name: str | None, site_names: list[str]) -> str | None:
    """A byline as published, minus labels, e-mail addresses and links; None for the outlet."""
    if not name:
        return None
    name = _AUTHOR_PREFIX.sub("", _unescape(name)).strip(" -–—,;|")
    parts = [p for p in name.split() if not _URLISH.search(p)]
    name = " ".join(parts).strip(" -–—,;|")
    if not name or len(name) > 100 or not any(ch.isalpha() for ch in name):
        return None
    words = _words(name)
    for site in site_names:
        site_words = _words(site)
        if site_words and (words <= site_words or site_words <= words):
            return None
    return name


def _join_names(names: Iterable[str], site_names: list[str]) -> str | None:
    out: list[str] = []
    for name in names:
        clean = _clean_author(name, site_names)
        if clean and _key(clean) not in {_key(o) for o in out}:
            out.append(clean)
    return ", ".join(out) or None


def _author(page: _Page) -> str | None:
    names = page.site_names
    ruled = [_text_of(e) for e in _outermost(page.rule(page.rules.author))]
    for candidates in (
        ruled,
        page.ld.authors,
        [page.meta.get("article:author", "")],
        [page.meta.get("author", "")],
        [page.meta.get("byl", "")],
    ):
        found = _join_names(candidates, names)
        if found:
            return found
    return None


def _date_values(el) -> list[str]:
    values = [el.get(a) for a in ("content", "datetime", "data-time", "data-date", "title")]
    return [v for v in values if v] + [_text_of(el)]


def _rule_date(page: _Page) -> datetime | None:
    for el in page.rule(page.rules.published):
        for value in _date_values(el):
            parsed = parse_date(value)
            if parsed:
                return parsed
    return None


def _published(page: _Page, now: datetime) -> datetime | None:
    candidates = [_rule_date(page), parse_date(page.ld.published)]
    candidates += [parse_date(page.meta.get(k)) for k in PUBLISHED_META]
    value, seen = _pick_date(candidates, now)
    if value or seen:
        return value
    try:
        found = find_date(
            page.tree,
            extensive_search=False,
            original_date=True,
            outputformat="%Y-%m-%dT%H:%M:%S%z",
            url=page.url or None,
        )
    except Exception:  # htmldate on broken markup: no date rather than no article
        log.exception("htmldate lỗi trên %s", page.url)
        return None
    value = parse_date(found)
    return value if _plausible(value, now) else None


def _updated(page: _Page, now: datetime, published: datetime | None) -> datetime | None:
    candidates = [parse_date(page.ld.modified)]
    candidates += [parse_date(page.meta.get(k)) for k in MODIFIED_META]
    value, _ = _pick_date(candidates, now)
    if value and published and value < published:
        return None
    return value


def _language(page: _Page, text: str) -> str | None:
    """<html lang>, then meta and JSON-LD declarations, then Vietnamese letters in the text."""
    declared = [
        page.tree.get("lang"),
        page.tree.get("xml:lang"),
        page.meta.get("content-language"),
        page.meta.get("og:locale"),
        page.meta.get("language"),
        page.ld.language,
    ]
    for value in declared:
        code = re.split(r"[-_,;\s]", (value or "").strip().lower())[0]
        if re.fullmatch(r"[a-z]{2,3}", code):
            return code
    letters = [ch for ch in text[:5000] if ch.isalpha()]
    if letters and sum(ch in _VI_LETTERS for ch in letters) * 50 >= len(letters):
        return "vi"
    return None


def _skip_set(page: _Page, roots: list) -> set:
    """Elements the rules drop, plus author lines, which sit inside the body on many sites.

    Looked up under the given roots only: a selector over the whole page costs a full walk.
    """
    skip: set = set()
    for css in [*page.rules.drop, page.rules.author]:
        for root in roots:
            skip.update(_select(root, css))
    return skip


def extract_article(
    html: str,
    url: str,
    rules: ExtractRules | None = None,
    now: datetime | None = None,
) -> Extracted:
    """Title, text (lead first), author, dates, canonical URL and language of one article page.

    `rules` are the site's CSS selectors and override everything else; `now` bounds publication
    dates (a date more than an hour ahead of it is a CMS error, and gives None).
    """
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=VN_TZ)
    tree = _parse(html)
    if tree is None:
        return Extracted(title="", text="")
    page = _Page(tree, url or "", _read_meta(tree), _read_jsonld(tree), rules or ExtractRules())
    body_roots = _outermost(page.rule(page.rules.body))
    lead_roots = _outermost(page.rule(page.rules.lead))
    page.skip = _skip_set(page, body_roots + lead_roots)

    title = _title(page)
    author = _author(page)
    body = _paragraphs(body_roots, page.skip)
    if not body:
        found = _without_title(_without_widgets(_trafilatura(page)), title)
        body = found if _has_prose(found) else (_fallback(page) or found)
    lead = " ".join(_paragraphs(lead_roots, page.skip)) or _guess_lead(page)
    paras, byline = _assemble(body, lead, title, author)
    if author is None and byline and not re.match(r"(?i)theo\s|nguồn", byline):
        author = _clean_author(byline, page.site_names)
    text = clean_text("\n\n".join(paras))
    published = _published(page, now)
    return Extracted(
        title=title,
        text=text,
        url=_canonical(page),
        lead=clean_text(lead) if lead else None,
        author=author,
        published_at=published,
        updated_at=_updated(page, now, published),
        language=_language(page, text),
        site_name=_unescape(page.meta.get("og:site_name") or page.ld.publisher or "") or None,
    )
