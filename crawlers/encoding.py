"""Decoding fetched pages to text, Vietnamese legacy encodings included.

Most Vietnamese sites send UTF-8, but older provincial portals still serve windows-1258, whose
Python codec yields decomposed tone marks, and many servers declare a default charset
(ISO-8859-1) that does not match the page. The result is always NFC and decoding never raises.
"""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

from crawlers.normalize import nfc

# A meta tag cannot truthfully declare UTF-16/32: a parser able to read it is reading ASCII bytes.
_META_IMPOSSIBLE = {"utf-16", "utf-16-be", "utf-16-le", "utf-32", "utf-32-be", "utf-32-le"}
_DETECT_BYTES = 64 * 1024


def _strict(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _mostly_utf8(body: bytes) -> str | None:
    """The UTF-8 reading when the bytes are UTF-8 with a few stray bad bytes at most.

    Legacy Vietnamese text (a letter byte, then a tone-mark byte >= 0xC0) never forms valid
    UTF-8 sequences, so this cannot swallow a windows-1258 page.
    """
    text = _strict(body, "utf-8")
    if text is not None:
        return text
    text = body.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127) - bad
    return text if good > 0 and bad * 2 <= good else None


def _declared(body: bytes, content_type: str | None) -> list[str]:
    """Encodings the HTTP header and the page itself declare, the more credible first.

    The header usually wins, but a header ISO-8859-1/windows-1252 next to a different <meta>
    declaration is a server default that nobody set, so the page's own word goes first then.
    """
    http = http_content_type_encoding(content_type) if content_type else None
    meta = html_body_declared_encoding(body)
    if meta in _META_IMPOSSIBLE:
        meta = "utf-8"
    found = [http, meta] if http != "cp1252" else [meta, http]
    found = [e for e in found if e]
    return [e for i, e in enumerate(found) if e not in found[:i]]


def _detect(body: bytes) -> str | None:
    """charset-normalizer's guess on the first 64 KB (enough, and keeps it fast)."""
    best = from_bytes(body[:_DETECT_BYTES]).best()
    if best is None:
        return None
    # UTF-16/32 text is full of NUL bytes; a guess of it for NUL-free bytes is noise.
    if best.encoding.startswith(("utf_16", "utf_32")) and b"\x00" not in body[:_DETECT_BYTES]:
        return None
    return best.encoding


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Return (text, encoding) for a fetched page; text is NFC.

    Evidence, strongest first: a byte-order mark (it cannot be there by accident, and browsers
    let it override the header); bytes that are (nearly all) valid UTF-8 with non-ASCII in them
    (legacy text never is, while servers often declare a stale default charset); the HTTP charset;
    the page's <meta charset> or http-equiv; charset-normalizer. Bytes the chosen codec cannot
    read are replaced, never raised.
    """
    if not body:
        return "", "utf-8"
    bom_enc, bom = read_bom(body)
    if bom_enc and bom:
        return nfc(body[len(bom) :].decode(bom_enc, "replace")), bom_enc
    if not body.isascii():
        text = _mostly_utf8(body)
        if text is not None:
            return nfc(text), "utf-8"
    declared = _declared(body, content_type)
    for enc in declared:
        text = _strict(body, enc)
        if text is not None:
            return nfc(text), codecs.lookup(enc).name
    guess = _detect(body) if not body.isascii() else None
    enc = guess or (declared[0] if declared else "utf-8")
    return nfc(body.decode(enc, "replace")), codecs.lookup(enc).name
