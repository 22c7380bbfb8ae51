"""Vietnamese text keys and segmentation.

Stored text stays as published (NFC). Matching uses keys built from it:

* :func:`match_key` — NFC, one tone-mark placement, lower case, whitespace collapsed. Both the
  "old style" (``hòa``, ``thúy``, ``khỏe``) and the "new style" (``hoà``, ``thuý``, ``khoẻ``)
  placements give the same key, and so do misplaced marks (``qùy`` → ``quỳ``, ``gìa`` → ``già``).
  The canonical placement is the one used in official unit names: ``hòa``, ``thủy``, ``khỏe``.
* :func:`plain_key` — the match key without diacritics (``đ``/``Đ`` and the look-alike ``Ð``
  U+00D0 become ``d``), for unaccented social posts and foreign press. A plain key is ambiguous
  ("ban" = bàn, bán, bạn…), so callers use it only together with context words.

:class:`KeyedText` builds both keys for a whole document and maps key offsets back to offsets in
the text as given (NFD input included), so matches can be reported on the original string.

:func:`sentences` and :func:`words` segment with underthesea's offline Punkt-style sentence
splitter and CRF word segmenter (shipped in the wheel). Only those two modules are loaded, not the
package's ``__init__`` (which pulls in transformers and torch, 2–3 s and ~300 MB); underthesea's
``classify``/``sentiment`` download models at run time and are never used here. Without the
package a regex splitter stands in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

__all__ = [
    "PLAIN_TABLE",
    "KeyedText",
    "match_key",
    "nfc",
    "plain_key",
    "segmenter",
    "sentences",
    "strip_diacritics",
    "words",
]

# ─────────────────────────────── characters ───────────────────────────────

_TONE_MARKS = {"\u0300": 1, "\u0301": 2, "\u0309": 3, "\u0303": 4, "\u0323": 5}
_TONE_COMBINING = {v: k for k, v in _TONE_MARKS.items()}
_BASE_VOWELS = "aăâeêioôơuưy"

# toned vowel (lower case, NFC) → (base vowel, tone 1..5); (base, tone) → toned vowel
_SPLIT: dict[str, tuple[str, int]] = {}
_JOIN: dict[tuple[str, int], str] = {}
for _b in _BASE_VOWELS:
    _JOIN[(_b, 0)] = _b
    _SPLIT[_b] = (_b, 0)
    for _comb, _t in _TONE_MARKS.items():
        _ch = unicodedata.normalize("NFC", _b + _comb)
        _SPLIT[_ch] = (_b, _t)
        _JOIN[(_b, _t)] = _ch

_VOWELS = "".join(sorted(_SPLIT))
_TONED = "".join(sorted(c for c, (_, t) in _SPLIT.items() if t))
_CONS = "bcdđfghjklmnpqrstvwxz"

# A syllable whose vowel cluster has two or more vowels, one of them toned: the only ones whose
# mark can sit in more than one place.
_SYLLABLE_RE = re.compile(
    rf"(?<![^\W\d_])([{_CONS}]*)((?:[{_VOWELS}]+[{_TONED}][{_VOWELS}]*)|(?:[{_TONED}][{_VOWELS}]+))"
    rf"([{_CONS}]*)(?![^\W\d_])"
)

# Whitespace of every kind → " "; dashes of every kind → "-" (one char each: offsets keep).
_WS_RE = re.compile("[\t\n\r\x0b\x0c\x85\xa0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000]")
_DASH_RE = re.compile("[\u2010-\u2015\u2212\ufe58\ufe63\uff0d]")
_APOS_RE = re.compile("[\u2018\u2019\u02bc\u02b9\u0060\u00b4]")


def _space_dash(s: str) -> str:
    """Whitespace → " ", dashes → "-", apostrophes → "'" (length preserving)."""
    return _APOS_RE.sub("'", _DASH_RE.sub("-", _WS_RE.sub(" ", s)))


_COMBINING_RE = re.compile(r"(?s).[\u0300-\u036f\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]*")


def _build_plain_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for cp in list(range(0x00C0, 0x0250)) + list(range(0x1E00, 0x1F00)):
        ch = chr(cp)
        base = unicodedata.normalize("NFD", ch)[0]
        if base != ch and base.isascii() and base.isalpha():
            table[cp] = base
    for ch in "đĐðÐ":
        table[ord(ch)] = "d" if ch.islower() else "D"
    # combining marks left over from odd input
    for cp in range(0x0300, 0x0370):
        table[cp] = ""
    return table


PLAIN_TABLE = _build_plain_table()


# ─────────────────────────────── keys ───────────────────────────────


def nfc(s: str) -> str:
    """Unicode NFC (the form text is stored in)."""
    return unicodedata.normalize("NFC", s) if s else s


def _canonical_syllable(onset: str, nucleus: str, coda: str) -> str:
    tone = 0
    bases = []
    for ch in nucleus:
        b, t = _SPLIT[ch]
        if t:
            tone = t
        bases.append(b)
    plain = "".join(bases)
    # "qu" and "gi" are onsets when another vowel follows: the mark never goes on their u/i.
    if onset.endswith("q") and plain.startswith("u") and len(plain) > 1:
        onset, plain = onset + "u", plain[1:]
    elif onset == "g" and plain.startswith("i") and len(plain) > 1:
        onset, plain = "gi", plain[1:]
    if len(plain) == 1:
        pos = 0
    else:
        marked = next((i for i, b in enumerate(plain) if b in "ăâêôơ"), None)
        if marked is not None:
            pos = marked  # ươ→ơ, uô→ô, iê/yê→ê, uâ→â, oă→ă
        elif coda:
            pos = len(plain) - 1  # hoàn, huỳnh, toán
        elif len(plain) == 3:
            pos = 1  # ngoài, xoáy, khuỷu
        else:
            pos = 0  # hòa, khỏe, thủy (official style); mùa, mía, cài, …
    out = [*plain]
    out[pos] = _JOIN[(plain[pos], tone)]
    return onset + "".join(out) + coda


_TONE_CACHE: dict[str, str] = {}


def _tone_sub(m: re.Match[str]) -> str:
    s = m.group()
    r = _TONE_CACHE.get(s)
    if r is None:
        r = _canonical_syllable(m.group(1), m.group(2), m.group(3))
        if len(_TONE_CACHE) < 200_000:
            _TONE_CACHE[s] = r
    return r


def _canonical_tones(lower: str) -> str:
    """One tone-mark placement for lower-case NFC text (length preserving)."""
    return _SYLLABLE_RE.sub(_tone_sub, lower)


def match_key(s: str) -> str:
    """NFC → one tone-mark placement → lower case, whitespace collapsed and stripped."""
    if not s:
        return ""
    k = _space_dash(nfc(s).lower())
    k = _canonical_tones(k)
    return " ".join(k.split())


def strip_diacritics(s: str) -> str:
    """Remove Vietnamese (Latin) diacritics; đ/Đ/Ð → d/D. Case is kept."""
    return nfc(s).translate(PLAIN_TABLE)


def plain_key(s: str) -> str:
    """:func:`match_key` without diacritics (đ, Đ, Ð → d). Use only with context words."""
    return match_key(s).translate(PLAIN_TABLE)


class KeyedText:
    """A document's match key and plain key, with offsets back to the text as given.

    ``key[i]`` and ``plain[i]`` come from ``text[orig(i)]``; :meth:`span` maps a key span
    ``[i, j)`` to the original span. Works for NFC and NFD input, any whitespace and dashes.
    """

    __slots__ = ("text", "key", "_plain", "_map")

    def __init__(self, text: str) -> None:
        self.text = text
        omap: list[int] | None = None
        s = text
        if not unicodedata.is_normalized("NFC", s):
            parts: list[str] = []
            omap = []
            for m in _COMBINING_RE.finditer(s):
                piece = unicodedata.normalize("NFC", m.group())
                parts.append(piece)
                omap.extend([m.start()] * len(piece))
            s = "".join(parts)
        low = s.lower()
        if len(low) != len(s):  # e.g. "İ" → "i̇": lower char by char
            parts = []
            newmap: list[int] = []
            for i, ch in enumerate(s):
                lc = ch.lower()
                parts.append(lc)
                newmap.extend([omap[i] if omap is not None else i] * len(lc))
            low, omap = "".join(parts), newmap
        k = _canonical_tones(_space_dash(low))
        if "  " in k:
            pieces: list[str] = []
            newmap = []
            pos = 0
            for m in re.finditer(r" {2,}", k):
                pieces.append(k[pos : m.start() + 1])
                rng = range(pos, m.start() + 1)
                newmap.extend(omap[pos : m.start() + 1] if omap is not None else rng)
                pos = m.end()
            pieces.append(k[pos:])
            newmap.extend(omap[pos:] if omap is not None else range(pos, len(k)))
            k, omap = "".join(pieces), newmap
        if omap is not None:
            omap.append(len(text))
        self.key = k
        self._plain: str | None = None
        self._map = omap

    @property
    def plain(self) -> str:
        """The plain key of the whole text (same offsets as :attr:`key`), built on first use."""
        if self._plain is None:
            self._plain = self.key.translate(PLAIN_TABLE)
        return self._plain

    def orig(self, i: int) -> int:
        """Offset in the original text of key offset ``i`` (``len(key)`` → ``len(text)``)."""
        return i if self._map is None else self._map[i]

    def span(self, i: int, j: int) -> tuple[int, int]:
        return self.orig(i), self.orig(j)


# ─────────────────────────────── segmentation ───────────────────────────────

_SENT_RE = re.compile(
    r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]*[A-ZÀ-ỸĐ0-9])",
)
_ABBREV_END = re.compile(r"(?:\b(?:TP|Tp|TS|ThS|PGS|GS|BS|Th\.S|St|Mr|Ms|Mrs|Dr|P|Q|H|X|TX|TT)\.)$")


_CRF_MODEL = "ws_crf_vlsp2013_20230727"  # shipped in the underthesea 9.5 wheel
_NBSP = str.maketrans({"\xa0": " ", "\u202f": " ", "\u2009": " "})


def _regex_sentences(text: str) -> list[str]:
    out: list[str] = []
    for para in re.split(r"\s*[\r\n]+\s*", text):
        para = para.strip()
        if not para:
            continue
        start = 0
        for m in _SENT_RE.finditer(para):
            head = para[start : m.start()].rstrip()
            if _ABBREV_END.search(head):
                continue
            if head:
                out.append(head)
            start = m.end()
        tail = para[start:].strip()
        if tail:
            out.append(tail)
    return out


def _regex_words(text: str) -> list[str]:
    return re.findall(r"\w+(?:[.,/:-]\w+)*|[^\w\s]", text)


@lru_cache(maxsize=1)
def segmenter() -> tuple[str, Callable[[str], list[str]], Callable[[str], list[str]]]:
    """(name, sent_tokenize, word_tokenize): underthesea's offline tokenizers, or a regex stand-in.

    Loads ``underthesea.pipeline.{sent_tokenize,word_tokenize}`` without running the package's
    ``__init__`` (which imports transformers/torch for its translation pipeline): a temporary
    package stub is put in ``sys.modules`` while the two modules and the CRF model load, then
    removed, so a later ``import underthesea`` elsewhere gets the real package.
    """
    import importlib
    import importlib.util
    import os
    import sys
    import types

    if "underthesea" in sys.modules and hasattr(sys.modules["underthesea"], "word_tokenize"):
        mod = sys.modules["underthesea"]
        return "underthesea", mod.sent_tokenize, mod.word_tokenize
    try:
        spec = importlib.util.find_spec("underthesea")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return "regex", _regex_sentences, _regex_words
    stub_installed = False
    if "underthesea" not in sys.modules:
        stub = types.ModuleType("underthesea")
        stub.__path__ = list(spec.submodule_search_locations)
        stub.__spec__ = spec
        sys.modules["underthesea"] = stub
        stub_installed = True
    result = None
    try:
        importlib.import_module("underthesea.pipeline.text_normalize")
        st = importlib.import_module("underthesea.pipeline.sent_tokenize")
        wt = importlib.import_module("underthesea.pipeline.word_tokenize")
        if getattr(wt, "word_tokenize_model", None) is None:
            crf = importlib.import_module("underthesea.models.fast_crf_sequence_tagger")
            model = crf.FastCRFSequenceTagger()
            model.load(os.path.join(os.path.dirname(wt.__file__), "models", _CRF_MODEL))
            wt.word_tokenize_model = model
        result = ("underthesea", st.sent_tokenize, wt.word_tokenize)
    except Exception:
        result = None
    finally:
        if stub_installed:
            sys.modules.pop("underthesea", None)
    if result is not None:
        return result
    try:  # another layout: the whole package (slow import), else the regex stand-in
        import underthesea

        return "underthesea", underthesea.sent_tokenize, underthesea.word_tokenize
    except Exception:
        return "regex", _regex_sentences, _regex_words


_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"]+[^\s<>\".,;:!?)\]]")
_URL_MARK = re.compile(r"URLMARK(\d+)Z")


def sentences(text: str) -> list[str]:
    """Sentences of ``text`` (NFC), paragraph breaks always ending a sentence. Web addresses
    are kept whole (a splitter would cut them at their dots)."""
    if not text:
        return []
    _, sent_tokenize, _ = segmenter()
    urls: list[str] = []

    def hide(m: re.Match[str]) -> str:
        urls.append(m.group(0))
        return f"URLMARK{len(urls) - 1}Z"

    def show(s: str) -> str:
        return _URL_MARK.sub(lambda m: urls[int(m.group(1))], s)

    out: list[str] = []
    for para in re.split(r"\s*[\r\n]+\s*", _URL.sub(hide, nfc(text).translate(_NBSP))):
        para = " ".join(para.split())
        if para:
            out.extend(show(s.strip()) for s in sent_tokenize(para) if s.strip())
    return out


def words(text: str) -> list[str]:
    """Words of ``text`` (NFC); a multi-syllable word keeps its spaces: ``"Vĩnh Long"``."""
    if not text:
        return []
    _, _, word_tokenize = segmenter()
    out: list[str] = []
    for para in re.split(r"\s*[\r\n]+\s*", nfc(text)):
        para = " ".join(para.split())
        if para:
            out.extend(word_tokenize(para))
    return out
