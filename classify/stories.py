"""Story clustering: copies of one piece of news across outlets, grouped into a story.

Pure functions over :class:`StoryDoc` (no database here: the pipeline reads the store, calls
:func:`assign_stories` and writes ``Story`` rows and ``Classification.story_id`` back).

What is compared is the *head* of a document: its title and the first ~600 characters of its
text (a leading dateline like ``(TNVN) -`` dropped), keyed as in :mod:`classify.text` (NFC, one
tone-mark placement, lower case), punctuation dropped. Lines a source repeats on many of its
documents (a channel's "Đăng ký kênh…", a bot's "Đọc tiếp trên…") are left out per source.

Three kinds of link join two documents, each checked on exact data after a cheap candidate step:

* ``minhash`` — near-duplicates: 3-syllable shingles of the head. Candidates come from
  datasketch MinHash signatures banded as in LSH (bands sized for recall at the threshold, the
  banding vectorised with numpy over the batch); a pair links when the *exact* Jaccard of the
  two shingle sets reaches ``jaccard``.
* ``title`` — the same title (6 syllables or more; a title cut with "…" matches as a prefix) at
  two different sources, when the shorter head is mostly contained in the longer one: link
  posts and reposts that carry an article's title and lead but little of their own.
* ``cosine`` — rewritten copies: encoder cosine of the title+lead vectors (:func:`embed_text`)
  at least ``cosine``, from blocked matrix products over the time window, and only when the pair
  also shares *specific* evidence: ``min_shared`` anchors (place and other proper names —
  capitalised runs compared without diacritics — and numbers of two digits or more, not years),
  or one anchor and ``min_keywords`` content keywords (2-syllable words without function words).
  Anchors and keywords found in more than max(30, 20 %) of the batch (the province's own name),
  and the names given as ``common``, are not evidence. e5's cosines are compressed high
  (different news about one province reaches 0.90–0.93), so cosine alone would merge
  different events in the same place.

Links are applied strongest first (minhash, title, cosine) into a union-find, never between
documents further apart than ``window`` and never making a group span more than ``window``.
Documents already assigned (``story_id`` set) start grouped by their story. Only pairs with at
least one new document are compared, so stored stories never merge by themselves; when a new
document bridges two stored stories the older one's id is kept and the other is reported in
``merged_from``.

Thresholds (calibrated on the demo network, 216 items, and 3,000 VNTC news articles):

* ``jaccard`` 0.5: syndicated copies with small edits score 0.77–0.95 (median 0.87); the most
  similar pair of different stories 0.26 (two forum posts about the same flood).
* ``cosine`` 0.92 with the evidence rule: different press stories reach 0.913 (HCMC cooperation
  vs. the investment conference, sharing "Cổ Chiên"); at 0.91 they merge, at 0.92 none do.
  Copies are 0.97+, social rewrites of an article 0.92–0.97, cross-language coverage only
  0.82–0.86 (English coverage stays a story of its own). In VNTC, 76 of 4.5 million pairs reach
  0.92 (same case on other days, the daily oil or stock report…); the evidence rule keeps 49.
* evidence: two anchors (a two-word name or a number of 3+ digits counts 1; a single word or a
  2-digit number ½), or one anchor and 3 keywords; no link when both name two or more numbers
  and share none (different facts: yesterday's and today's price).
* ``title`` links: reposts carry 69–95 % of their head inside the article's (``containment`` 0.5).

Rumour and denial: posts asserting a rumour and the press article denying it join one story when
they share the event's names and words and their cosine passes (in the demo network 4 of the 6
asserting posts do: Cầu Ngang, Hiệp Mỹ, vỡ đê, xóa sổ…), but their cosines (0.87–0.94) overlap
those of unrelated pairs, so this is not guaranteed. Claim matching should not rely on it:
:func:`similar` and :func:`best_matches` give the same evidence as a score with a readable reason
(every asserting post finds a copy of the denial first among all press items).
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np

from classify import text as _vt

__all__ = [
    "DEFAULT_COSINE",
    "DEFAULT_JACCARD",
    "DEFAULT_WINDOW",
    "HEAD_CHARS",
    "Link",
    "Match",
    "StoryDoc",
    "StoryGroup",
    "anchors",
    "assign_stories",
    "best_matches",
    "embed_text",
    "merge_spread",
    "minhash",
    "shingles",
    "similar",
]

DEFAULT_JACCARD = 0.5
DEFAULT_COSINE = 0.92
DEFAULT_WINDOW = timedelta(days=3)
DEFAULT_MIN_SHARED = 2
DEFAULT_MIN_KEYWORDS = 3
DEFAULT_CONTAINMENT = 0.5  # a "title" link: share of the shorter head inside the longer one
HEAD_CHARS = 600
NUM_PERM = 128
SHINGLE_K = 3
MIN_TITLE_SYLLABLES = 6
MAX_TITLE_CHARS = 250  # a first line longer than this is not compared as a title
MAX_BUCKET = 200  # LSH buckets (and same-title sets) larger than this are cut
# Evidence found in more than max(GENERIC_MIN_DF, GENERIC_DF_SHARE × docs) documents of a batch
# is generic (the province's name): it does not count for a cosine link.
GENERIC_MIN_DF = 30
GENERIC_DF_SHARE = 0.2
# A shingle, keyword or anchor on max(BOILERPLATE_MIN_DF, BOILERPLATE_SHARE × its docs) documents
# of one source (with at least BOILERPLATE_MIN_DOCS in the batch) is that source's boilerplate.
BOILERPLATE_MIN_DOCS = 4
BOILERPLATE_MIN_DF = 3
BOILERPLATE_SHARE = 0.4
# Always generic (without diacritics, lower case).
GENERIC_ANCHORS = frozenset(
    {
        "viet nam",
        "vietnam",
        "ubnd",
        "hdnd",
        "tp",
        "tphcm",
        "tp.hcm",
        "hcm",
        "nha nuoc",
        "chinh phu",
        "trung uong",
        "thu tuong",
        "uy ban",
        "ban nhan",
        "nhan dan",
        "tinh uy",
        "thanh uy",
        "mekong",
        "mekong delta",
    }
)
# Cosines of e5-small for this project's texts: ~0.80 unrelated, 1.0 identical (for similar()).
_COS_FLOOR = 0.80

# Function words: a bigram with one of these is not a content keyword (match keys).
_STOP = frozenset(
    """
    của các và là có được đã cho trong với những này một không đến từ theo tại về để khi thì ra
    vào lên sẽ đang cũng như nhiều sau trước còn hơn bị do nên vì nhưng mà rằng nếu đó đây ở qua
    trên dưới hay hoặc rất lại chỉ đều vừa mới biết nói nay hôm này kia ấy nào gì ai mình tôi
    chúng ta họ nó bạn anh chị em ông bà cô chú người cả mỗi mọi từng vẫn đã rồi thế vậy sao
    thêm gần khoảng hàng nhằm cùng giữa bằng tới đi làm nhất việc điều cái con chiếc số lần
    the a an of to in on for and or is are was were be by with at from as that this it its
    """.split()
)


# ─────────────────────────────── data ───────────────────────────────


@dataclass
class StoryDoc:
    """One item as story clustering sees it."""

    item_id: int | str
    source: str
    kind: str
    title: str
    text: str
    published: datetime  # timezone-aware
    vector: np.ndarray | None = None  # L2-normalised encoder vector of embed_text(title, text)
    story_id: int | None = None  # set for items assigned in earlier runs


@dataclass(frozen=True)
class Link:
    """Why two documents belong together."""

    a: int | str  # item ids
    b: int | str
    kind: str  # minhash | title | cosine
    score: float
    shared: tuple[str, ...] = ()
    keywords: int = 0

    @property
    def reason(self) -> str:
        if self.kind == "title":
            return f"same title, containment {self.score:.2f}"
        text = f"{self.kind} {self.score:.2f}"
        if self.shared:
            text += " + shared: " + ", ".join(self.shared)
        if self.keywords:
            text += f" + {self.keywords} keywords"
        return text


@dataclass
class StoryGroup:
    """One story after a run: its members (new and already stored) and how it spread."""

    story_id: int | None  # None: a new story
    item_ids: list[int | str]  # in order of publication
    outlets: list[str]  # source names, in order of first publication
    first_seen: datetime
    last_seen: datetime
    spread: list[tuple[str, datetime]]  # (source, first time it carried the story)
    title: str  # of the earliest item
    merged_from: list[int] = field(default_factory=list)  # stored stories merged into this one
    reasons: dict[int | str, str] = field(default_factory=dict)  # item id → why it is here
    via: dict[int | str, int | str | None] = field(default_factory=dict)  # item id → matched item
    new_item_ids: list[int | str] = field(default_factory=list)  # members that came in `new`

    def reason(self, item_id: int | str) -> str:
        return self.reasons.get(item_id, "")

    @property
    def item_count(self) -> int:
        return len(self.item_ids)


@dataclass(frozen=True)
class Match:
    """How similar a candidate is to a document (see :func:`similar`)."""

    doc: StoryDoc
    score: float
    jaccard: float
    containment: float
    cosine: float | None
    shared: tuple[str, ...]
    keywords: int
    same_title: bool

    @property
    def reason(self) -> str:
        parts = [f"jaccard {self.jaccard:.2f}", f"containment {self.containment:.2f}"]
        if self.same_title:
            parts.append("same title")
        if self.cosine is not None:
            parts.append(f"cosine {self.cosine:.2f}")
        if self.shared:
            parts.append("shared: " + ", ".join(self.shared))
        if self.keywords:
            parts.append(f"{self.keywords} keywords")
        return f"{self.score:.2f} (" + "; ".join(parts) + ")"


# ─────────────────────────────── text features ───────────────────────────────

_WORD_RE = re.compile(r"[^\W_]+")
_UPPER = "".join(
    ch
    for cp in [*range(0x41, 0x5B), *range(0xC0, 0x250), *range(0x1E00, 0x1F00)]
    if (ch := chr(cp)).isupper()
)
_LETTER = r"[^\W\d_]"
# a capitalised word (its first letter upper case), possibly with inner dots (TP.HCM)
_CAP_WORD = rf"[{_UPPER}]{_LETTER}*(?:\.[{_UPPER}]{_LETTER}*)*"
_CAP_RUN_RE = re.compile(rf"(?<![\w.#]){_CAP_WORD}(?:[ \t\xa0]+{_CAP_WORD})*(?!\w)")
_HASHTAG_RE = re.compile(r"#(\w+)")
_CAMEL_RE = re.compile(rf"[{_UPPER}][^\W\d_{_UPPER}]+")
_NUMBER_RE = re.compile(r"(?<![\w.,/:-])\d+(?:[.,]\d+)*(?![\w/:]|[.,]\d)")
_THOUSANDS_RE = re.compile(r"[.,](?=\d{3}(?:\D|$))")
_DATELINE_RE = re.compile(r"^\s*\(\s*[A-ZĐ][A-ZĐa-zđ.]{1,12}\s*\)\s*[-–—:]?\s*")
_SENTENCE_ENDERS = frozenset('.!?…:;|\n"“”«»()[]–-•')
_OUTLET_WORDS = frozenset({"báo", "tạp", "đài", "kênh"})  # "Báo Vĩnh Long": an outlet (keys)
# Words that start a capitalised run without being part of the name (keys).
_NAME_LEAD = frozenset(
    """
    phường xã tỉnh huyện quận thị thành tp tp. đặc theo tại ở ông bà anh chị em cô chú
    """.split()
)
_TRUNCATED = ("…", "...")


def _nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s) if s else ""


def _head(title: str, text: str, chars: int = HEAD_CHARS) -> str:
    body = _DATELINE_RE.sub("", _nfc(text or ""), count=1)
    return f"{_nfc(title or '').strip()}\n{body[:chars]}"


@lru_cache(maxsize=200_000)
def _plain(s: str) -> str:
    return _vt.strip_diacritics(s).lower()


@lru_cache(maxsize=200_000)
def _key(word: str) -> str:
    return _vt.match_key(word)


def _syllables(text: str) -> list[str]:
    """Syllables of the match key (lower case, NFC, one tone placement), punctuation dropped."""
    return _WORD_RE.findall(_vt.match_key(text))


def shingles(text: str, k: int = SHINGLE_K) -> set[str]:
    """``k``-syllable shingles of ``text``'s match key; a text shorter than ``k`` gives itself."""
    syl = _syllables(text)
    if len(syl) < k:
        return {" ".join(syl)} if syl else set()
    return {" ".join(syl[i : i + k]) for i in range(len(syl) - k + 1)}


_MASK32 = np.uint64(0xFFFFFFFF)
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9))


_VOCAB: dict[str, int] = {}  # syllable → crc32, with bit 32 set for a function word or number
_NOT_CONTENT = 1 << 32


def _syllable_ids(syl: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(32-bit hashes, is-content flags) of syllables."""
    vocab = _VOCAB
    out = []
    for s in syl:
        v = vocab.get(s)
        if v is None:
            v = zlib.crc32(s.encode("utf-8"))
            if s in _STOP or s.isdigit():
                v |= _NOT_CONTENT
            if len(vocab) < 1_000_000:
                vocab[s] = v
        out.append(v)
    arr = np.array(out, dtype=np.uint64)
    return arr & _MASK32, (arr >> np.uint64(32)) == 0


def _gram_hashes(ids: np.ndarray, k: int) -> np.ndarray:
    """32-bit hashes of the ``k``-grams of syllable ids (unique, uint64)."""
    if len(ids) == 0:
        return ids
    if len(ids) < k:
        ids = np.concatenate([ids, np.zeros(k - len(ids), dtype=np.uint64)])
    n = len(ids) - k + 1
    h = np.full(n, k, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            h = (h ^ ids[j : j + n]) * _MIX[j % len(_MIX)]
            h ^= h >> np.uint64(29)
    return np.unique(h & _MASK32)


def _number_key(tok: str) -> str | None:
    """A number worth matching on ("14", "18500", "7.2"); None for 1-digit numbers and years."""
    t = _THOUSANDS_RE.sub("", tok).replace(",", ".")
    if sum(c.isdigit() for c in t) < 2:
        return None
    if "." not in t and len(t) == 4 and t[:2] in ("19", "20"):
        return None  # a year
    return t


def _sentence_start(s: str, pos: int) -> bool:
    """Does the word at ``pos`` start a sentence (only spaces and punctuation back to a sentence
    end, a line break or the start)?"""
    i = pos - 1
    while i >= 0:
        ch = s[i]
        if ch in _SENTENCE_ENDERS:
            return True
        if ch.isalnum():
            return False
        i -= 1
    return True


def _add_name(out: dict[str, str], words: list[str], head: str, start: int) -> None:
    while len(words) > 1 and _key(words[0]) in _NAME_LEAD:
        words = words[1:]
    if len(words) == 1:
        w = words[0]
        acronym = len(w) >= 2 and w.replace(".", "").isupper()
        if acronym or not _sentence_start(head, start):
            out.setdefault(_plain(w), w)
        return
    for a, b in zip(words, words[1:], strict=False):
        out.setdefault(_plain(f"{a} {b}"), f"{a} {b}")


def _anchors_of_head(head: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _CAP_RUN_RE.finditer(head):
        words = m.group().split()
        if len(words) > 1 and _key(words[0]) in _OUTLET_WORDS:
            continue  # "Báo Vĩnh Long", "Đài Truyền hình": an outlet, not the news
        _add_name(out, words, head, m.start())
    for m in _HASHTAG_RE.finditer(head):
        words = _CAMEL_RE.findall(m.group(1))
        if len(words) > 1:  # #VinhLong → "Vinh Long"
            _add_name(out, words, head, m.start())
    for m in _NUMBER_RE.finditer(head):
        key = _number_key(m.group())
        if key:
            out.setdefault("#" + key, m.group())
    return out


def anchors(title: str, text: str = "", *, chars: int = HEAD_CHARS) -> dict[str, str]:
    """Names and numbers in the title and the start of the text: key → surface.

    Names are runs of capitalised words (a single capitalised word only where it does not start a
    sentence, or when it is an acronym like ``IUU``), kept as their syllable bigrams without
    diacritics (``"cau ngang"`` → ``"Cầu Ngang"``), so "Phường Trà Vinh", "Tra Vinh" and
    "#TraVinh" share ``"tra vinh"``. Numbers have two digits or more (thousands separators
    dropped, decimal comma → point); years are left out.
    """
    return _anchors_of_head(_head(title, text, chars))


def embed_text(title: str, text: str, limit: int = 400) -> str:
    """The text to embed for story matching: the title and the lead (first paragraph, or the
    start of a post), ``limit`` characters at most; a first line repeating the title is skipped."""
    title = _nfc(title or "").strip()
    tkey = _vt.match_key(title.rstrip("…. "))
    rest: list[str] = []
    for line in _nfc(text or "").splitlines():
        line = line.strip()
        if not line:
            if rest:
                break  # the end of the first paragraph
            continue
        if not rest and tkey and tkey in _vt.match_key(line):
            continue
        rest.append(line)
    body = _DATELINE_RE.sub("", " ".join(rest), count=1)
    joined = f"{title}\n{body}" if body else title
    return joined[:limit]


@dataclass
class _Features:
    doc: StoryDoc
    t: float  # published, POSIX seconds
    sh: frozenset[int]  # 3-syllable shingle hashes (boilerplate removed)
    kw: frozenset[int]  # content keyword (bigram) hashes
    anchors: dict[str, str]
    titles: tuple[str, ...]  # match keys of the title and first line, when long enough
    has_title: bool  # titles[0] is the title (not the first line)
    prefix: str | None  # the key of a title cut with "…", matched as a prefix


def _title_keys(title: str, first_line: str) -> tuple[tuple[str, ...], bool, str | None]:
    keys: list[str] = []
    has_title = False
    prefix = None
    for n, s in enumerate((title, first_line)):
        s = s.strip()
        cut = s.endswith(_TRUNCATED)
        syl = _syllables(s)
        if cut:
            syl = syl[:-1]  # the last word may be cut
        if len(syl) < MIN_TITLE_SYLLABLES:
            continue
        key = " ".join(syl)
        if cut:
            if n == 0:
                prefix = key
            continue
        if key not in keys:
            keys.append(key)
            has_title = has_title or n == 0
    return tuple(keys), has_title, prefix


def _features(doc: StoryDoc, k: int = SHINGLE_K) -> _Features:
    head = _head(doc.title, doc.text)
    syl = _syllables(head)
    ids, content = _syllable_ids(syl)
    sh = _gram_hashes(ids, k)
    kw = _bigram_hashes(ids, content[:-1] & content[1:]) if len(ids) >= 2 else ids[:0]
    first_line = next((ln for ln in (doc.text or "")[:400].splitlines() if ln.strip()), "")
    if len(first_line) > MAX_TITLE_CHARS:
        first_line = ""  # a lead, not a copied title
    titles, has_title, prefix = _title_keys(doc.title or "", first_line)
    return _Features(
        doc=doc,
        t=_ts(doc.published),
        sh=frozenset(sh.tolist()),
        kw=frozenset(kw.tolist()),
        anchors=_anchors_of_head(head),
        titles=titles,
        has_title=has_title,
        prefix=prefix,
    )


def _bigram_hashes(ids: np.ndarray, keep: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        h = (np.uint64(2) ^ ids[:-1]) * _MIX[0]
        h ^= h >> np.uint64(29)
        h = (h ^ ids[1:]) * _MIX[1]
        h ^= h >> np.uint64(29)
    return np.unique(h[keep] & _MASK32)


def _ts(d: datetime) -> float:
    if d.tzinfo is None:  # the store's convention: naive means UTC
        d = d.replace(tzinfo=UTC)
    return d.timestamp()


def _new_minhash(num_perm: int):
    from datasketch import MinHash

    return MinHash(num_perm=num_perm, hashfunc=int)


def minhash(doc: StoryDoc, num_perm: int = NUM_PERM):
    """datasketch ``MinHash`` of the doc's head shingles, as :func:`assign_stories` builds it
    (without the per-source boilerplate removal, which needs the batch)."""
    m = _new_minhash(num_perm)
    sh = _features(doc).sh
    if sh:
        m.update_batch(np.fromiter(sh, dtype=np.uint64, count=len(sh)))
    return m


def _jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def _containment(a: frozenset[int], b: frozenset[int]) -> float:
    """Share of the smaller set inside the larger one."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


# ─────────────────────────────── batch statistics ───────────────────────────────


@dataclass
class _Stats:
    generic_anchors: set[str]
    generic_kw: set[int]


def _remove_boilerplate(feats: Sequence[_Features]) -> None:
    """Drop, per source, shingles, keywords and anchors on many of its documents."""
    by_source: dict[str, list[_Features]] = defaultdict(list)
    for f in feats:
        by_source[f.doc.source].append(f)
    for fs in by_source.values():
        if len(fs) < BOILERPLATE_MIN_DOCS:
            continue
        limit = max(BOILERPLATE_MIN_DF, BOILERPLATE_SHARE * len(fs))
        sh_df: Counter[int] = Counter()
        kw_df: Counter[int] = Counter()
        an_df: Counter[str] = Counter()
        for f in fs:
            sh_df.update(f.sh)
            kw_df.update(f.kw)
            an_df.update(f.anchors.keys())
        bad_sh = {h for h, n in sh_df.items() if n >= limit}
        bad_kw = {h for h, n in kw_df.items() if n >= limit}
        bad_an = {a for a, n in an_df.items() if n >= limit}
        if not (bad_sh or bad_kw or bad_an):
            continue
        for f in fs:
            if bad_sh:
                f.sh = f.sh - bad_sh
            if bad_kw:
                f.kw = f.kw - bad_kw
            if bad_an:
                f.anchors = {k: v for k, v in f.anchors.items() if k not in bad_an}


def _stats(feats: Sequence[_Features], common: Iterable[str]) -> _Stats:
    an_df: Counter[str] = Counter()
    kw_df: Counter[int] = Counter()
    for f in feats:
        an_df.update(f.anchors.keys())
        kw_df.update(f.kw)
    limit = max(GENERIC_MIN_DF, GENERIC_DF_SHARE * len(feats))
    generic = set(GENERIC_ANCHORS)
    for name in common:
        words = _WORD_RE.findall(_plain(_nfc(name)))
        generic.update(" ".join(p) for p in zip(words, words[1:], strict=False))
        generic.add("".join(words))  # a single word, or "vinhlong" (a hashtag, lower case)
    generic.update(k for k, n in an_df.items() if n > limit)
    return _Stats(generic, {k for k, n in kw_df.items() if n > limit})


def _anchor_weight(key: str) -> float:
    """A two-word name or a number of 3+ digits counts 1; a single word or a 2-digit number ½."""
    if key.startswith("#"):
        return 1.0 if sum(c.isdigit() for c in key) >= 3 else 0.5
    return 1.0 if " " in key else 0.5


def _numbers(f: _Features, stats: _Stats) -> set[str]:
    return {k for k in f.anchors if k.startswith("#") and k not in stats.generic_anchors}


def _evidence(a: _Features, b: _Features, stats: _Stats) -> _Evidence:
    """What ``a`` and ``b`` share beyond their cosine (anchors written as in ``a``)."""
    keys = [k for k in a.anchors if k in b.anchors and k not in stats.generic_anchors]
    kw = len((a.kw & b.kw) - stats.generic_kw)
    na, nb = _numbers(a, stats), _numbers(b, stats)
    conflict = len(na) >= 2 and len(nb) >= 2 and not (na & nb)
    out: list[str] = []
    for key in keys:
        surface = a.anchors[key]
        if out and not key.startswith("#") and " " in surface:
            last = out[-1]
            head, tail = surface.split(" ", 1)
            if not last.startswith("#") and last.rsplit(" ", 1)[-1] == head:
                out[-1] = f"{last} {tail}"  # "Ok Om" + "Om Bok" → "Ok Om Bok"
                continue
        out.append(surface)
    weight = sum(_anchor_weight(k) for k in keys)
    return _Evidence(tuple(out), weight, kw, conflict)


@dataclass(frozen=True)
class _Evidence:
    shared: tuple[str, ...]  # anchors both carry, as written in the first doc
    weight: float  # anchors counted: two-word names and 3+ digit numbers 1, others ½
    keywords: int  # content keywords both carry
    conflict: bool  # both give two numbers or more, none the same: different facts

    def passes(self, min_shared: float, min_keywords: int) -> bool:
        if self.conflict:
            return False
        return self.weight >= min_shared or (self.weight >= 1 and self.keywords >= min_keywords)


# ─────────────────────────────── union-find ───────────────────────────────


class _Groups:
    def __init__(self, feats: Sequence[_Features]) -> None:
        self.parent = list(range(len(feats)))
        self.first = [f.t for f in feats]
        self.last = [f.t for f in feats]

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, i: int, j: int, max_span: float | None) -> bool:
        a, b = self.find(i), self.find(j)
        if a == b:
            return True
        first = min(self.first[a], self.first[b])
        last = max(self.last[a], self.last[b])
        if max_span is not None and last - first > max_span:
            return False
        if a > b:
            a, b = b, a
        self.parent[b] = a
        self.first[a], self.last[a] = first, last
        return True


# ─────────────────────────────── links ───────────────────────────────


def _pair_ok(i: int, j: int, n_new: int) -> bool:
    """Compare each pair once, and only pairs with a new document."""
    return i != j and not (i >= n_new and j >= n_new)


def _lsh_params(jaccard: float, num_perm: int, recall: float = 0.98) -> tuple[int, int]:
    """(bands, rows): the most rows per band that still make a pair *at* the threshold a
    candidate with probability ``recall`` (1 - (1 - J^r)^b). J=0.5, 128 perms: 42 bands of 3
    (0.996 at J=0.5, 0.29 at 0.2, 0.005 at 0.05); candidates are then checked exactly."""
    best = (num_perm, 1)
    for r in range(1, 9):
        b = num_perm // r
        if 1 - (1 - max(jaccard, 0.01) ** r) ** b >= recall:
            best = (b, r)
    return best


def _signatures(feats: Sequence[_Features], num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows with shingles, their datasketch MinHash values as an (n, num_perm) matrix)."""
    base = _new_minhash(num_perm)
    rows = [i for i, f in enumerate(feats) if f.sh]
    sig = np.empty((len(rows), num_perm), dtype=np.uint64)
    for n, i in enumerate(rows):
        m = base.copy()
        sh = feats[i].sh
        m.update_batch(np.fromiter(sh, dtype=np.uint64, count=len(sh)))
        sig[n] = m.hashvalues
    return np.array(rows, dtype=np.int64), sig


def _band_pairs(rows: np.ndarray, sig: np.ndarray, bands: int, r: int) -> np.ndarray:
    """Candidate pairs (i < j, as an (n, 2) array): documents equal on all ``r`` rows of at
    least one band. The banding of datasketch's MinHashLSH, vectorised over the batch."""
    n_docs = int(rows.max()) + 1 if len(rows) else 0
    codes = [np.zeros(0, dtype=np.int64)]
    for band in range(bands):
        key = np.zeros(len(rows), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for c in range(band * r, band * r + r):
                key = (key ^ sig[:, c]) * _MIX[0]
                key ^= key >> np.uint64(31)
        order = np.argsort(key, kind="stable")
        ks = key[order]
        starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
        sizes = np.minimum(np.diff(np.r_[starts, len(ks)]), MAX_BUCKET)
        for size in np.unique(sizes[sizes >= 2]).tolist():  # all buckets of one size at once
            members = rows[order[starts[sizes == size][:, None] + np.arange(size)]]
            a, b = np.triu_indices(size, 1)
            lo = np.minimum(members[:, a], members[:, b]).ravel()
            hi = np.maximum(members[:, a], members[:, b]).ravel()
            codes.append(lo * n_docs + hi)
    uniq = np.unique(np.concatenate(codes))
    return np.stack([uniq // max(n_docs, 1), uniq % max(n_docs, 1)], axis=1)


def _lsh_links(
    feats: Sequence[_Features], n_new: int, jaccard: float, window_s: float, num_perm: int
) -> list[tuple[float, int, int]]:
    rows, sig = _signatures(feats, num_perm)
    bands, r = _lsh_params(jaccard, num_perm)
    out = []
    for i, j in _band_pairs(rows, sig, bands, r).tolist():
        if i >= n_new or abs(feats[i].t - feats[j].t) > window_s:
            continue  # only pairs with a new doc (i < j, so i is the new one)
        s = _jaccard(feats[i].sh, feats[j].sh)
        if s >= jaccard:
            out.append((s, i, j))
    return out


def _title_links(
    feats: Sequence[_Features], n_new: int, window_s: float, containment: float
) -> list[tuple[float, int, int]]:
    # a title matches another title or a first line (a repost's "📰 <title>"), not line to line
    index: dict[str, list[tuple[int, bool]]] = defaultdict(list)
    by_start: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for i, f in enumerate(feats):
        for n, key in enumerate(f.titles):
            index[key].append((i, n == 0 and f.has_title))
            by_start[" ".join(key.split()[:MIN_TITLE_SYLLABLES])].append((i, key))
    pairs: set[tuple[int, int]] = set()
    for members in index.values():
        if 2 <= len(members) <= MAX_BUCKET and any(t for _, t in members):
            for x, (i, ti) in enumerate(members):
                for j, tj in members[x + 1 :]:
                    if ti or tj:
                        pairs.add((min(i, j), max(i, j)))
    for i, f in enumerate(feats):
        if f.prefix:
            start = " ".join(f.prefix.split()[:MIN_TITLE_SYLLABLES])
            for j, key in by_start.get(start, ())[:MAX_BUCKET]:
                if key.startswith(f.prefix):
                    pairs.add((min(i, j), max(i, j)))
    out = []
    for i, j in sorted(pairs):
        if not _pair_ok(i, j, n_new):
            continue
        fi, fj = feats[i], feats[j]
        if fi.doc.source == fj.doc.source or abs(fi.t - fj.t) > window_s:
            continue
        c = _containment(fi.sh, fj.sh)
        if c >= containment:
            out.append((c, i, j))  # i < j, so i is new
    return out


def _cosine_candidates(
    feats: Sequence[_Features], n_new: int, cosine: float, window_s: float, block: int = 512
) -> list[tuple[float, int, int]]:
    """(cos, i, j) with i new, cos ≥ ``cosine``, within the window; blocked matrix products."""
    have = [i for i, f in enumerate(feats) if f.doc.vector is not None]
    if not have or not any(i < n_new for i in have):
        return []
    idx = np.array(sorted(have, key=lambda i: feats[i].t), dtype=np.int64)
    times = np.array([feats[i].t for i in idx])
    mat = np.stack([np.asarray(feats[i].doc.vector, dtype=np.float32).ravel() for i in idx])
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    mat /= np.where(norms > 0, norms, 1.0)
    pos = np.flatnonzero(idx < n_new)  # positions (in time order) of the new docs
    out: list[tuple[float, int, int]] = []
    for start in range(0, len(pos), block):
        rows = pos[start : start + block]
        lo = int(np.searchsorted(times, times[rows].min() - window_s, side="left"))
        hi = int(np.searchsorted(times, times[rows].max() + window_s, side="right"))
        sims = mat[rows] @ mat[lo:hi].T
        rr, cc = np.nonzero(sims >= cosine)
        keep = np.abs(times[rows[rr]] - times[lo + cc]) <= window_s
        for r, c in zip(rr[keep].tolist(), cc[keep].tolist(), strict=True):
            i, j = int(idx[rows[r]]), int(idx[lo + c])
            if not _pair_ok(i, j, n_new) or (j < n_new and j < i):
                continue
            out.append((float(sims[r, c]), i, j))
    return out


# ─────────────────────────────── assignment ───────────────────────────────


def assign_stories(
    new: list[StoryDoc],
    recent: list[StoryDoc],
    *,
    jaccard: float = DEFAULT_JACCARD,
    cosine: float = DEFAULT_COSINE,
    window: timedelta = DEFAULT_WINDOW,
    min_shared: int = DEFAULT_MIN_SHARED,
    min_keywords: int = DEFAULT_MIN_KEYWORDS,
    containment: float = DEFAULT_CONTAINMENT,
    common: Iterable[str] = (),
    num_perm: int = NUM_PERM,
) -> list[StoryGroup]:
    """Group ``new`` docs with each other and with ``recent`` (stored, assigned) docs.

    Returns one :class:`StoryGroup` per story that has at least one new doc (a new doc with no
    match is a story of its own), listing every member given (new and recent), in order of
    first publication. ``common``: names that are never evidence for a cosine link (the
    province's own names, current and old). ``recent`` should hold the stored docs of the last
    ``window`` (with their ``story_id``); a story's spread is computed from the docs given, see
    :func:`merge_spread` to combine it with what the store has.
    """
    if not new:
        return []
    new_ids = {d.item_id for d in new}
    recent = [d for d in recent if d.item_id not in new_ids]
    docs = [*new, *recent]
    n_new = len(new)
    feats = [_features(d) for d in docs]
    stats = _stats(feats, common)
    _remove_boilerplate(feats)
    window_s = window.total_seconds()
    groups = _Groups(feats)

    by_story: dict[int, list[int]] = defaultdict(list)  # stored stories start as groups
    for i, d in enumerate(docs):
        if d.story_id is not None:
            by_story[d.story_id].append(i)
    for members in by_story.values():
        for j in members[1:]:
            groups.union(members[0], j, None)

    links: list[tuple[int, float, int, int, Link]] = []  # (priority, -score, i, j, link)
    for s, i, j in _lsh_links(feats, n_new, jaccard, window_s, num_perm):
        links.append((0, -s, i, j, Link(docs[i].item_id, docs[j].item_id, "minhash", s)))
    for s, i, j in _title_links(feats, n_new, window_s, containment):
        links.append((1, -s, i, j, Link(docs[i].item_id, docs[j].item_id, "title", s)))
    for s, i, j in _cosine_candidates(feats, n_new, cosine, window_s):
        ev = _evidence(feats[i], feats[j], stats)
        if ev.passes(min_shared, min_keywords):
            link = Link(docs[i].item_id, docs[j].item_id, "cosine", s, ev.shared[:6], ev.keywords)
            links.append((2, -s, i, j, link))
    links.sort(key=lambda x: x[:4])

    best: dict[int, tuple[int, Link]] = {}  # doc → (other doc, first link that took it in)
    for _, _, i, j, link in links:
        if groups.find(i) == groups.find(j):
            continue
        if groups.union(i, j, window_s):
            for x, y in ((i, j), (j, i)):
                best.setdefault(x, (y, link))
    for _, _, i, j, link in links:  # members joined through others: their own best link
        if groups.find(i) == groups.find(j):
            for x, y in ((i, j), (j, i)):
                best.setdefault(x, (y, link))

    members_of: dict[int, list[int]] = defaultdict(list)
    for i in range(len(docs)):
        members_of[groups.find(i)].append(i)
    out = [
        _group(docs, feats, members, n_new, best)
        for members in members_of.values()
        if any(i < n_new for i in members)
    ]
    out.sort(key=lambda g: (_ts(g.first_seen), str(g.item_ids[0])))
    return out


def _group(
    docs: Sequence[StoryDoc],
    feats: Sequence[_Features],
    members: list[int],
    n_new: int,
    best: dict[int, tuple[int, Link]],
) -> StoryGroup:
    members = sorted(members, key=lambda i: (feats[i].t, i))
    story_first: dict[int, float] = {}
    for i in members:
        sid = docs[i].story_id
        if sid is not None:
            story_first[sid] = min(story_first.get(sid, math.inf), feats[i].t)
    story_id: int | None = None
    merged: list[int] = []
    if story_first:
        ranked = sorted(story_first, key=lambda s: (story_first[s], s))
        story_id, merged = ranked[0], sorted(ranked[1:])
    spread: list[tuple[str, datetime]] = []
    seen: set[str] = set()
    for i in members:
        if docs[i].source not in seen:
            seen.add(docs[i].source)
            spread.append((docs[i].source, docs[i].published))
    reasons: dict[int | str, str] = {}
    via: dict[int | str, int | str | None] = {}
    for i in members:
        d = docs[i]
        if d.story_id is not None:  # stored: it stays, or its story was merged in
            reasons[d.item_id] = (
                f"story {d.story_id}"
                if d.story_id == story_id
                else f"story {d.story_id} merged into {story_id}"
            )
            via[d.item_id] = None
        elif i in best:
            other, link = best[i]
            reasons[d.item_id], via[d.item_id] = link.reason, docs[other].item_id
        else:
            reasons[d.item_id], via[d.item_id] = "new story", None
    first, last = members[0], max(members, key=lambda i: feats[i].t)
    return StoryGroup(
        story_id=story_id,
        item_ids=[docs[i].item_id for i in members],
        outlets=[s for s, _ in spread],
        first_seen=docs[first].published,
        last_seen=docs[last].published,
        spread=spread,
        title=docs[first].title,
        merged_from=merged,
        reasons=reasons,
        via=via,
        new_item_ids=[docs[i].item_id for i in members if i < n_new],
    )


def merge_spread(
    stored: Iterable[tuple[str, datetime]], new: Iterable[tuple[str, datetime]]
) -> list[tuple[str, datetime]]:
    """Union of two spreads (stored story + this run): earliest time per source, in time order."""
    first: dict[str, datetime] = {}
    for src, when in [*stored, *new]:
        if src not in first or when < first[src]:
            first[src] = when
    return sorted(first.items(), key=lambda x: (x[1], x[0]))


# ─────────────────────────────── claim matching ───────────────────────────────


def _match(
    fa: _Features, fb: _Features, stats: _Stats, min_shared: int, min_keywords: int
) -> Match:
    jac = _jaccard(fa.sh, fb.sh)
    con = _containment(fa.sh, fb.sh)
    same_title = bool(set(fa.titles) & set(fb.titles))
    ev = _evidence(fa, fb, stats)
    cos = None
    sem = 0.0
    va, vb = fa.doc.vector, fb.doc.vector
    if va is not None and vb is not None:
        va = np.asarray(va, dtype=np.float32).ravel()
        vb = np.asarray(vb, dtype=np.float32).ravel()
        cos = float(va @ vb) / (float(np.linalg.norm(va) * np.linalg.norm(vb)) or 1.0)
        if ev.passes(min_shared, min_keywords):
            evidence = 1.0
        elif ev.conflict:
            evidence = 0.25
        else:
            evidence = 0.5 * min(1.0, ev.weight / min_shared + ev.keywords / (2 * min_keywords))
        sem = max(0.0, min(1.0, (cos - _COS_FLOOR) / (1.0 - _COS_FLOOR))) * evidence
    score = max(jac, con if same_title else 0.0, sem)
    return Match(fb.doc, score, jac, con, cos, ev.shared, ev.keywords, same_title)


def similar(
    a: StoryDoc,
    b: StoryDoc,
    *,
    min_shared: int = DEFAULT_MIN_SHARED,
    min_keywords: int = DEFAULT_MIN_KEYWORDS,
    common: Iterable[str] = (),
) -> float:
    """How likely ``a`` and ``b`` report the same news, in [0, 1]; time is not considered.

    The largest of: the Jaccard of their head shingles; for the same title, the containment of
    the shorter head in the longer; and, when both have vectors, the cosine rescaled from
    [0.80, 1.0] to [0, 1], times 1 when they share the evidence a cosine link needs (see
    :func:`assign_stories`) and at most 0.5 otherwise. With the defaults, :func:`assign_stories`
    links a pair from 0.5 (Jaccard) or 0.6 (cosine 0.92 with evidence).
    """
    fa, fb = _features(a), _features(b)
    return _match(fa, fb, _stats([fa, fb], common), min_shared, min_keywords).score


def best_matches(
    doc: StoryDoc,
    candidates: Sequence[StoryDoc],
    k: int = 5,
    *,
    min_shared: int = DEFAULT_MIN_SHARED,
    min_keywords: int = DEFAULT_MIN_KEYWORDS,
    common: Iterable[str] = (),
) -> list[Match]:
    """The ``k`` candidates most similar to ``doc`` (score as in :func:`similar`), best first.

    Evidence found in many of the candidates (more than max(30, 20 %)) and ``common`` names do
    not count, as in :func:`assign_stories`. Candidates scoring 0 are left out. For claim
    matching: a rumour post against the press articles of its window finds the denial.
    """
    fd = _features(doc)
    fcs = [_features(c) for c in candidates if c is not doc]
    stats = _stats([fd, *fcs], common)
    scored = [_match(fd, fc, stats, min_shared, min_keywords) for fc in fcs]
    scored = [m for m in scored if m.score > 0]
    scored.sort(key=lambda m: -m.score)
    return scored[:k]
