"""Extractive summaries in 2–3 whole sentences: the lead, then the most central sentences.

A sentence is central when it shares many words with the rest of the text (and with the title):
the mean cosine similarity of its syllable unigrams and bigrams, weighted by how rare each is in
the document. Sentences come back in the order they were written and are never cut: when the
budget is tight, a sentence is left out whole.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

from classify.text import match_key, nfc, sentences

MAX_CHARS = 360  # two or three sentences: about six lines on a phone
HARD_CHARS = 700  # the lead and one more sentence may go up to this
MIN_WORDS = 5  # shorter fragments (captions, "Ảnh: …") are not summary sentences
MAX_CANDIDATES = 20  # a summary comes from the top of an article; keeps long ones quick
MAX_TEXT = 4000  # characters read (to a paragraph break) for the same reason

# Function syllables that say nothing about what a sentence is about (match-key form).
_STOP = frozenset(
    """và của là các những có được cho với trong này đã đang sẽ một không để từ tại theo khi về
    đến thì cũng ra lại như năm ngày tháng bị do vì nên mà nhưng hay hoặc rằng nơi đây đó ông bà
    anh chị em người việc nhiều rất còn vào lên trên dưới sau trước gì nào ai thế vậy
    the a an of to in and is are was were on for by with from at as that this it be has have
    had not or but its their they he she we you""".split()
)
_DATELINE = re.compile(r"^\s*\((?:[^()]{1,40})\)\s*[-–—:]\s*")
_UPPER_DATELINE = re.compile(r"^\s*([^\W\d_][^\W\d_ .,]*(?:\s+[^\W\d_]+){0,4})\s*[-–—]\s+")
_BOILER = re.compile(
    r"^(?:\(?\s*theo\b|ảnh\s*:|video\s*:|nguồn\s*:|xem (?:thêm|chi tiết)|👉|>>|clip\s*:)",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")
# What may open a headline or a sentence; other leading symbols (emoji, bullets, arrows) go.
_OPENERS = "\"'“‘«‹([{<#@$€£¥%+-–"


def strip_leading_symbols(text: str) -> str:
    """ "⚡️ KHẨN: …" → "KHẨN: …", "📰 Tạm giữ …" → "Tạm giữ …"; quotes, brackets and "<" stay."""
    i = 0
    while i < len(text) and not text[i].isalnum() and text[i] not in _OPENERS:
        i += 1
    return text[i:] if i < len(text) else text


# Markup left in extracted text by a careless page: dropped from summaries (escaped anyway).
_TAG = re.compile(
    r"</?(?:a|abbr|b|br|div|em|font|h[1-6]|i|iframe|img|li|object|p|script|small|span|strong|"
    r"style|sub|sup|svg|table|td|th|tr|u|ul|ol)\b[^<>]{0,500}>",
    re.IGNORECASE,
)


def clean_lead(text: str) -> str:
    """The text without a leading dateline: "(TNVN) - ", "VĨNH LONG - "."""
    text = _DATELINE.sub("", text, count=1)
    m = _UPPER_DATELINE.match(text)
    if m and m.group(1).isupper() and len(m.group(1)) >= 3:
        text = text[m.end() :]
    return text


def _tokens(key: str) -> list[str]:
    """Syllable unigrams (no function words) and bigrams of a sentence's match key."""
    words = [w for w in _WORD.findall(key) if not w.isdigit()]
    uni = [w for w in words if w not in _STOP and len(w) > 1]
    bi = [
        f"{a}_{b}"
        for a, b in zip(words, words[1:], strict=False)
        if not (a in _STOP and b in _STOP)
    ]
    return uni + bi


def _usable(sentence: str, key: str, title_key: str) -> bool:
    if _BOILER.match(sentence):
        return False
    if key.rstrip(" .!?…") == title_key:
        return False
    return len(_WORD.findall(sentence)) >= MIN_WORDS


def _head(text: str, limit: int = MAX_TEXT) -> str:
    """The text up to the last paragraph break before ``limit`` (never inside a sentence);
    the whole text when it has no break there."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    return text[:cut] if cut > 0 else text


def _candidates(title: str, text: str) -> list[tuple[str, str]]:
    """(sentence, match key) for the text's sentences fit for a summary, in order."""
    title_key = match_key(title or "").rstrip(" .!?…")
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    text = _head(text or "")
    if _TAG.search(text):
        text = re.sub(r"[ \t]+([.,;:!?…])", r"\1", _TAG.sub(" ", text))
    for i, s in enumerate(sentences(text)):
        if i == 0:
            s = clean_lead(s).strip()
        s = strip_leading_symbols(s).strip()
        if not s or s in seen:
            continue
        key = match_key(s)
        if _usable(s, key, title_key):
            out.append((s, key))
            seen.add(s)
            if len(out) >= MAX_CANDIDATES:
                break
    return out


def candidate_sentences(title: str, text: str) -> list[str]:
    """The text's sentences fit for a summary, in order (dateline off the first)."""
    return [s for s, _ in _candidates(title, text)]


def summarize(
    title: str,
    text: str,
    *,
    max_sentences: int = 3,
    max_chars: int = MAX_CHARS,
    fallback: str | None = None,
) -> str:
    """2–3 whole sentences of ``text``: the lead plus the most central others, in text order.

    ``fallback`` (e.g. the item's own sapo) is used when the text gives no usable sentence.
    """
    cands = _candidates(title, text)
    if not cands and fallback:
        cands = _candidates(title, fallback)
    sents = [s for s, _ in cands]
    if not sents:
        # A very short post: keep it whole if it is short, else nothing (never cut).
        rest = nfc(" ".join((text or fallback or "").split()))
        return rest if 0 < len(rest) <= max_chars and match_key(rest) != match_key(title) else ""
    if len(sents) == 1:
        return sents[0]
    n = len(sents)
    toks = [Counter(_tokens(k)) for _, k in cands]
    title_toks = Counter(_tokens(match_key(title or "")))
    df: Counter = Counter()
    for t in toks:
        df.update(t.keys())
    idf = {t: math.log(1 + n / c) for t, c in df.items()}
    for t in title_toks:
        idf.setdefault(t, math.log(1 + n))
    vocab = {t: i for i, t in enumerate(idf)}
    m = np.zeros((n + 1, len(vocab)))
    for i, counts in enumerate([*toks, title_toks]):
        for t, v in counts.items():
            m[i, vocab[t]] = v * idf[t]
    norms = np.linalg.norm(m, axis=1)
    norms[norms == 0] = 1.0
    m /= norms[:, None]
    sims = m @ m.T  # cosine similarities; the last row and column are the title's
    np.fill_diagonal(sims, 0.0)
    central = sims[:n, :n].sum(axis=1) / (n - 1)
    scores = [float(central[i] + 0.5 * sims[i, n]) - 0.01 * i for i in range(n)]
    chosen = [0]  # the lead
    length = len(sents[0])
    for i in sorted(range(1, n), key=lambda k: -scores[k]):
        if len(chosen) >= max_sentences:
            break
        extra = len(sents[i]) + 1
        if length + extra <= max_chars or (len(chosen) == 1 and length + extra <= HARD_CHARS):
            chosen.append(i)
            length += extra
    return " ".join(sents[i] for i in sorted(chosen))
