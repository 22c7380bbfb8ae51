"""Text normalisation for extracted articles: one canonical form before anything is stored.

Vietnamese text reaches us precomposed (NFC) or decomposed (NFD, e.g. from windows-1258 pages or
Mac keyboards). The two look identical but compare unequal, so everything is NFC'd here, and the
keys used to spot duplicates are computed from that normal form.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

# Spaces that render like a space but are not ASCII: NBSP, en/em/thin spaces, ideographic space.
_ODD_SPACES = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
# Invisible characters that only break matching: zero-width space, BOM, soft hyphen.
_INVISIBLE = re.compile(r"[\u200b\u2060\ufeff\u00ad]")
_DELETE = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad"))
_ASCII = re.compile(r"[\x00-\x7f]")
_NFC_BLOCK = 16384
_PARA_BREAK = re.compile(r"\n[ \t\r\f\v\u00a0]*\n\s*")
_WS = re.compile(r"\s+")

# Separators between a headline and the outlet name the CMS appends to it.
_TITLE_SEP = re.compile(r"\s+(?:-|–|—|\||::|»|·)\s+")
# Words that start an outlet's name ("Báo Vĩnh Long", "Cổng thông tin điện tử tỉnh ...").
_OUTLET_START = re.compile(
    r"^(?:báo|tạp chí|đài|cổng thông tin|cổng ttđt|trang thông tin|truyền hình|thông tấn xã"
    r"|tin tức|kênh)\b",
    re.IGNORECASE,
)
# "Báo cáo ...", "Đài Loan ..." start ordinary headlines, not outlet names.
_NOT_OUTLET = re.compile(
    r"^(?:báo (?:cáo|động|chí|giá|hiệu|tin|thức|danh|đáp|hại|ân|công|mộng|trước|nguy|oán)"
    r"|đài (?:loan|tưởng niệm|quan sát|phun nước)|kênh (?:đào|mương|rạch|tưới)"
    r"|tin tức (?:về|mới nhất về))\b",
    re.IGNORECASE,
)
# Brands seen as title suffixes that none of the rules above would recognise.
_KNOWN_OUTLETS = frozenset(
    {
        "vnexpress",
        "vnexpress.net",
        "tuổi trẻ",
        "tuổi trẻ online",
        "tuoi tre online",
        "thanh niên",
        "dân trí",
        "vietnamnet",
        "vietnamnet news",
        "znews",
        "zing news",
        "lao động",
        "người lao động",
        "nhân dân",
        "vtv",
        "vtv.vn",
        "vov",
        "vov.vn",
        "vtc news",
        "vietnamplus",
        "vnanet",
        "tiền phong",
        "pháp luật tp.hcm",
        "plo",
        "sggp",
        "sài gòn giải phóng",
        "công an nhân dân",
        "cand",
        "quân đội nhân dân",
        "qđnd",
        "kinh tế đô thị",
        "soha",
        "kenh14",
        "kenh14.vn",
        "cafef",
        "cafebiz",
        "24h",
        "báo mới",
        "baomoi",
        "reuters",
        "bbc news tiếng việt",
        "bbc news",
        "voa tiếng việt",
        "rfa tiếng việt",
        "rfi",
    }
)
_DOMAIN = re.compile(r"\b[\w-]+(?:\.[\w-]+)*\.(?:vn|com|net|org|info|tv|news)\b", re.IGNORECASE)
# "VnExpress", "VietNamNet", "VietnamPlus": a capital inside a word marks a brand.
_CAMEL_BRAND = re.compile(r"\b[A-ZĐ][a-zà-ỹ]+[A-Z][A-Za-z]*\b")
_MAX_OUTLET_WORDS = 8


def nfc(text: str) -> str:
    """NFC form, so precomposed and decomposed Vietnamese compare equal.

    A whole page goes through here. unicodedata renormalises the entire string once one
    decomposed letter turns up (~10 ms for 500 KB), so long text is normalised in 16 KB blocks,
    each cut just before an ASCII character: no canonical composition ends in an ASCII
    character and ASCII stops reordering, so the blocks' NFC joined is the text's NFC, and
    only the blocks holding decomposed letters cost anything.
    """
    if text.isascii():
        return text
    if len(text) <= _NFC_BLOCK:
        return unicodedata.normalize("NFC", text)
    out, start, size = [], 0, len(text)
    while start < size:
        cut = _ASCII.search(text, start + _NFC_BLOCK) if start + _NFC_BLOCK < size else None
        end = cut.start() if cut else size
        out.append(unicodedata.normalize("NFC", text[start:end]))
        start = end
    return "".join(out)


def clean_text(text: str) -> str:
    """NFC text with spaces collapsed inside paragraphs and paragraphs separated by a blank line.

    A blank line (two newlines) marks a paragraph break; any other run of whitespace, single
    newlines included, becomes one space, because that is how a browser would render it.
    """
    if not text:
        return ""
    text = nfc(text).replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", _ODD_SPACES.sub(" ", text))
    paras = (_WS.sub(" ", p).strip() for p in _PARA_BREAK.split(text))
    return "\n\n".join(p for p in paras if p)


def collapse(text: str) -> str:
    """One line: NFC, odd spaces and invisible characters gone, whitespace collapsed."""
    if not text.isascii():
        text = nfc(text).translate(_DELETE)
    # str.split() also splits on NBSP and the other Unicode spaces.
    return " ".join(text.split())


def _name_key(text: str) -> str:
    """Loose key to compare outlet names: case, punctuation and spacing ignored."""
    return "".join(ch for ch in nfc(text).casefold() if ch.isalnum())


def _is_outlet(segment: str, site_keys: set[str]) -> bool:
    """Whether a trailing title segment names the publishing outlet rather than the story."""
    seg = segment.strip()
    words = seg.split()
    if not words or len(words) > _MAX_OUTLET_WORDS or seg[-1] in '.?!…"”':
        return False
    key = _name_key(seg)
    if not key:
        return False
    if any(k and (k == key or (len(k) >= 4 and (k in key or key in k))) for k in site_keys):
        return True
    low = seg.casefold()
    if low in _KNOWN_OUTLETS or _DOMAIN.search(seg):
        return True
    if _OUTLET_START.match(seg) and not _NOT_OUTLET.match(seg):
        # An outlet name carries a proper noun: "Báo Vĩnh Long", "Đài PT-TH Cà Mau".
        return any(w[0].isupper() for w in words[1:])
    return len(words) <= 3 and bool(_CAMEL_BRAND.search(seg))


def clean_title(title: str, site_names: Iterable[str] = ()) -> str:
    """Headline without the outlet name CMSs append (" - Báo Vĩnh Long", " | VnExpress").

    Only a trailing segment that looks like an outlet is removed, so a headline's own dash
    ("Vĩnh Long - Trà Vinh hợp tác phát triển") stays.
    """
    title = collapse(title or "")
    site_keys = {_name_key(s) for s in site_names if s and s.strip()}
    for _ in range(2):  # "Tiêu đề - Kinh doanh - Báo VnExpress" loses at most two segments
        parts = _TITLE_SEP.split(title)
        if len(parts) < 2:
            break
        matches = list(_TITLE_SEP.finditer(title))
        head, tail = title[: matches[-1].start()], parts[-1]
        if not _is_outlet(tail, site_keys) or len(head.split()) < 2:
            break
        title = head.strip()
    return title


def _title_words(title: str) -> str:
    text = nfc(title or "").casefold()
    text = "".join(" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in text)
    return " ".join(text.split())


def title_key(title: str) -> str:
    """SHA-1 of the headline's words: the same story posted twice by one outlet shares it."""
    return hashlib.sha1(_title_words(title).encode("utf-8")).hexdigest()


def content_hash(title: str, text: str) -> str:
    """SHA-256 over normalised title and text: changes only when the words change."""
    body = collapse(title or "") + "\n" + collapse(text or "")
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


_VI_LETTERS = set("ăâđêôơưàáạảãằắặẳẵầấậẩẫèéẹẻẽềếệểễìíịỉĩòóọỏõồốộổỗờớợởỡùúụủũừứựửữỳýỵỷỹ")
_EN_WORDS = frozenset("the and of to in is for on with that was are by as from has have".split())
# Vietnamese function words as typed without diacritics in social posts.
_VI_PLAIN = frozenset(
    "khong nguoi duoc cua cho nhung minh roi nay voi ve la va nha sao gio thi cung da dang se "
    "mot cac nhieu qua oi ai biet nghe noi tinh xa huyen bao".split()
)


def guess_language(text: str, default: str = "vi") -> str:
    """'vi' or 'en' for a post whose channel carries both; `default` when unsure (Vietnamese
    written without diacritics looks like neither)."""
    letters = [c for c in nfc(text).lower() if c.isalpha()]
    if not letters:
        return default
    if sum(c in _VI_LETTERS for c in letters) / len(letters) > 0.08:  # names in English: less
        return "vi"
    words = re.findall(r"[a-z']+", text.lower())
    if not words:
        return default
    vi = sum(w in _VI_PLAIN for w in words) / len(words)
    en = sum(w in _EN_WORDS for w in words) / len(words)
    if vi > 0.12 and vi > en:
        return "vi"
    if en > 0.06:
        return "en"
    return default
