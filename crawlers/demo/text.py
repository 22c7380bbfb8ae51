"""Small Vietnamese text rules the demo uses to vary how outlets write the same words.

- `old_tone`: the older tone placement some outlets keep (hoà, thuý, khoẻ for hòa, thúy, khỏe);
- `nfd`: text pasted as decomposed Unicode (it looks the same, compares differently);
- `cp1258_form`: the shape windows-1258 can hold (base letters with â ă ê ô ơ ư precomposed,
  the five tone marks as combining characters), ready for `.encode("cp1258")`;
- `strip_diacritics` and `slugify` for unaccented posts and addresses.
"""

from __future__ import annotations

import re
import unicodedata

TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"  # huyền, sắc, ngã, hỏi, nặng

_OA_OE = re.compile(rf"([oO])([{TONE_MARKS}])([aAeE])(?![^\W\d_])")
_UY = re.compile(rf"(?<![qQ])([uU])([{TONE_MARKS}])([yY])(?![^\W\d_])")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def old_tone(text: str) -> str:
    """hòa → hoà, khỏe → khoẻ, thúy → thuý (open syllables oa, oe, uy; not after q)."""
    d = nfd(text)
    d = _OA_OE.sub(r"\1\3\2", d)
    d = _UY.sub(r"\1\3\2", d)
    return nfc(d)


def cp1258_form(text: str) -> str:
    """Vietnamese as windows-1258 writes it: tone marks split off, other marks kept composed."""
    out: list[str] = []
    base = -1
    for ch in nfd(text):
        if unicodedata.combining(ch) and ch not in TONE_MARKS and base >= 0:
            out[base] = nfc(out[base] + ch)
        else:
            if not unicodedata.combining(ch):
                base = len(out)
            out.append(ch)
    return "".join(out)


def strip_diacritics(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D").replace("\u00d0", "D")
    return "".join(ch for ch in nfd(text) if not unicodedata.combining(ch))


def slugify(text: str, limit: int = 80) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", strip_diacritics(text).lower()).strip("-")
    if len(slug) > limit:
        slug = slug[:limit].rsplit("-", 1)[0]
    return slug


def collapse(text: str) -> str:
    """Whitespace collapsed to single spaces (NBSP included)."""
    return " ".join(text.replace("\xa0", " ").split())
