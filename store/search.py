"""Full-text search over items (title and text), on SQLite FTS5 or PostgreSQL.

An officer types free text, in Vietnamese, often without diacritics, sometimes pasted with quotes
or stray punctuation. The query is never handed to the database's own query syntax: it is parsed
here into terms and each term travels as a bound parameter, quoted as a literal phrase, so no
input can raise a syntax error or inject anything. What is understood:

- words: every word must occur (AND);
- ``"a quoted phrase"`` (or “curly quotes”): the words in that order (an unclosed quote runs to
  the end);
- ``-word`` or ``-"a phrase"``: leave out items that contain it;
- ``word OR word`` (upper case ``OR``): either side; AND binds tighter, as on both backends;
- ``prefix*``: words starting with it (at least two letters or digits).

Everything else (``:``, ``^``, ``(``, ``'``, ``;``...) is plain text: the tokenizer drops it, and
a word it splits (``Trà-Vinh``, ``title:IUU``) is looked up as a phrase.

SQLite (the embedded default) folds diacritics (``unicode61 remove_diacritics 2``), so "tra vinh"
finds "Trà Vinh". FTS5 does not fold ``đ`` to ``d``, so an unaccented word with a ``d`` is also
looked up with ``đ`` ("dong thap" finds "Đồng Tháp").

PostgreSQL uses the ``simple`` configuration, which lower-cases but does NOT fold diacritics:
"Trà Vinh" finds "trà vinh" and "TRÀ VINH", but "tra vinh" finds only text written without
diacritics. (Folding needs the ``unaccent`` extension and a migration; not done yet.) Lower-casing
of non-ASCII letters follows the database's LC_CTYPE: create it with a UTF-8 locale such as
C.UTF-8 (a database with the plain "C" locale does not lower-case "Đ" or "À").

Snippets are plain text, not HTML: matched words are wrapped in MARK_START/MARK_END, so a web
page escapes the snippet first and then turns the markers into ``<mark>`` elements.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from store.models import UTCDateTime

MARK_START = "«"
MARK_END = "»"

MAX_QUERY_CHARS = 1000
MAX_TERMS = 32
MAX_LIMIT = 500
# An unaccented word with this many `d`s or fewer is also tried with `đ` (2**n variants per term).
MAX_D_VARIANTS = 3
# bm25 column weights (title, text): a word in the title counts ten times one in the body.
TITLE_WEIGHT = 10.0
TEXT_WEIGHT = 1.0
SNIPPET_TOKENS = 24


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One result. `rank`: higher is better, comparable only within one result list."""

    id: int
    url: str
    title: str
    source: str
    kind: str
    published_at: dt.datetime | None
    snippet: str
    rank: float


@dataclass(frozen=True, slots=True)
class Term:
    """A word or phrase from the query: its words as typed (NFC), whether it is a prefix."""

    words: tuple[str, ...]
    prefix: bool = False

    @property
    def text(self) -> str:
        return " ".join(self.words)


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """Positive terms as OR-groups of AND-ed terms, and terms whose items are left out."""

    groups: tuple[tuple[Term, ...], ...]
    exclude: tuple[Term, ...]

    def __bool__(self) -> bool:
        return bool(self.groups)


_TOKEN = re.compile(r'(-?)"([^"]*)"?|[^\s"]+')
_ALNUM = re.compile(r"[^\W_]")
_PREFIX = re.compile(r"^[^\W_]{2,}$")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Typographic quotes (phones and word processors type them) delimit phrases too.
_QUOTES = str.maketrans({c: '"' for c in "\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033"})


def _words(chunk: str) -> tuple[str, ...]:
    """Whitespace-separated words that hold at least one letter or digit (others add nothing)."""
    return tuple(w for w in chunk.split() if _ALNUM.search(w))


def parse_query(query: str) -> ParsedQuery:
    """Free text → terms; never fails. Empty when nothing searchable is left."""
    query = unicodedata.normalize("NFC", query or "")[:MAX_QUERY_CHARS]
    # Control characters (NUL is refused by PostgreSQL) and lone surrogates (not encodable as
    # UTF-8) would make the driver raise: they separate words like spaces.
    query = _UNSAFE.sub(" ", query).translate(_QUOTES)
    groups: list[list[Term]] = [[]]
    exclude: list[Term] = []
    count = 0
    for m in _TOKEN.finditer(query):
        if count >= MAX_TERMS:
            break
        if m.group(2) is not None:  # a quoted phrase
            negated = m.group(1) == "-"
            term = Term(_words(m.group(2)))
        else:
            token = m.group(0)
            if token == "OR":
                if groups[-1]:
                    groups.append([])
                continue
            negated = token.startswith("-")
            token = token.lstrip("-")
            stripped = token.rstrip("*")
            if stripped != token and _PREFIX.match(stripped):
                term = Term((stripped,), prefix=True)
            else:
                term = Term(_words(stripped))
        if not term.words:
            continue
        count += 1
        (exclude if negated else groups[-1]).append(term)
    return ParsedQuery(tuple(tuple(g) for g in groups if g), tuple(exclude))


# --- SQLite FTS5 -----------------------------------------------------------------------------


def _d_variants(term_text: str) -> list[str]:
    """The term as typed, plus `đ` for `d` in its unaccented (ASCII) words: FTS5 keeps `đ`."""
    words = term_text.split(" ")
    spots = [
        (wi, ci)
        for wi, w in enumerate(words)
        if w.isascii()
        for ci, ch in enumerate(w)
        if ch in "dD"
    ][:MAX_D_VARIANTS]
    if not spots:
        return [term_text]
    out = []
    for choice in itertools.product((False, True), repeat=len(spots)):
        chars = [list(w) for w in words]
        for (wi, ci), to_dd in zip(spots, choice, strict=True):
            if to_dd:
                chars[wi][ci] = "đ"
        out.append(" ".join("".join(c) for c in chars))
    return out


def _fts5_term(term: Term) -> str:
    """A term as FTS5 string literals (quotes doubled), OR-ed over its `đ` variants."""
    star = " *" if term.prefix else ""
    variants = ['"' + v.replace('"', '""') + '"' + star for v in _d_variants(term.text)]
    return variants[0] if len(variants) == 1 else "(" + " OR ".join(variants) + ")"


def fts5_query(parsed: ParsedQuery) -> str:
    """The FTS5 MATCH expression. Only literals made by `_fts5_term` and the operators AND, OR,
    NOT and parentheses appear in it; it is passed as a bound parameter."""
    ands = [" AND ".join(_fts5_term(t) for t in group) for group in parsed.groups]
    expr = "(" + (ands[0] if len(ands) == 1 else " OR ".join(f"({a})" for a in ands)) + ")"
    for term in parsed.exclude:
        expr += " NOT " + _fts5_term(term)
    return expr


_SQLITE_SQL = f"""
SELECT i.id, i.url, i.title, s.name AS source, i.kind, i.published_at,
       snippet(items_fts, 1, :mark_start, :mark_end, '…', {SNIPPET_TOKENS}) AS snippet,
       -bm25(items_fts, {TITLE_WEIGHT}, {TEXT_WEIGHT}) AS score
FROM items_fts
JOIN items i ON i.id = items_fts.rowid
JOIN sources s ON s.id = i.source_id
WHERE items_fts MATCH :match {{filters}}
ORDER BY score DESC, i.id DESC
LIMIT :limit OFFSET :offset
"""


# --- PostgreSQL ------------------------------------------------------------------------------


def _pg_tsquery(parsed: ParsedQuery, params: dict) -> str:
    """A tsquery expression whose every piece of user text is a bound parameter: each term goes
    through websearch_to_tsquery as a quoted phrase (or to_tsquery `word:*` for a prefix, the
    word being letters and digits only), combined with the tsquery operators && || !!."""

    def one(term: Term) -> str:
        name = f"t{len(params)}"
        if term.prefix:
            params[name] = term.words[0] + ":*"
            return f"to_tsquery('simple', :{name})"
        params[name] = '"' + term.text.replace('"', " ") + '"'
        return f"websearch_to_tsquery('simple', :{name})"

    expr = " || ".join("(" + " && ".join(one(t) for t in group) + ")" for group in parsed.groups)
    expr = f"({expr})"
    for term in parsed.exclude:
        expr += f" && !!{one(term)}"
    return expr


_PG_SQL = f"""
WITH q AS (SELECT {{tsquery}} AS tsq),
hits AS (
    SELECT i.id, ts_rank(i.search, q.tsq) AS score
    FROM items i JOIN sources s ON s.id = i.source_id, q
    WHERE i.search @@ q.tsq {{filters}}
    ORDER BY score DESC, i.id DESC
    LIMIT :limit OFFSET :offset
)
SELECT i.id, i.url, i.title, s.name AS source, i.kind, i.published_at,
       ts_headline('simple', i.text, q.tsq,
                   'StartSel="' || :mark_start || '", StopSel="' || :mark_end
                   || '", MaxWords={SNIPPET_TOKENS}, MinWords=8, MaxFragments=1') AS snippet,
       hits.score
FROM hits JOIN items i ON i.id = hits.id JOIN sources s ON s.id = i.source_id, q
ORDER BY hits.score DESC, i.id DESC
"""


# --- the one entry point ---------------------------------------------------------------------


def search_items(
    session: Session,
    query: str,
    *,
    since: dt.datetime | None = None,
    source: str | list[str] | None = None,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[SearchHit]:
    """Items matching `query`, best first (title hits before body hits).

    `since` (timezone-aware) keeps items published (or, lacking a date, fetched) at or after it;
    `source` is a source name or a list of names (an empty list filters nothing); `kind` is an
    item kind such as ``press_local``. A blank query, or one with nothing searchable, gives [].
    """
    parsed = parse_query(query)
    limit = min(int(limit), MAX_LIMIT)
    if not parsed or limit <= 0:
        return []
    params: dict = {
        "limit": limit,
        "offset": max(int(offset), 0),
        "mark_start": MARK_START,
        "mark_end": MARK_END,
    }
    binds = []
    filters = ""
    if since is not None:
        filters += " AND COALESCE(i.published_at, i.fetched_at) >= :since"
        params["since"] = since
        binds.append(bindparam("since", type_=UTCDateTime()))
    if isinstance(source, str):
        source = [source]
    if source:
        filters += " AND s.name IN :sources"
        params["sources"] = list(source)
        binds.append(bindparam("sources", expanding=True))
    if kind:
        filters += " AND i.kind = :kind"
        params["kind"] = kind

    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        params["match"] = fts5_query(parsed)
        sql = _SQLITE_SQL.format(filters=filters)
    elif dialect == "postgresql":
        sql = _PG_SQL.format(tsquery=_pg_tsquery(parsed, params), filters=filters)
    else:
        raise NotImplementedError(f"no full-text search for {dialect}")

    stmt = text(sql).bindparams(*binds).columns(published_at=UTCDateTime())
    rows = session.execute(stmt, params).mappings()
    return [
        SearchHit(
            id=r["id"],
            url=r["url"],
            title=r["title"],
            source=r["source"],
            kind=r["kind"],
            published_at=r["published_at"],
            snippet=r["snippet"] or "",
            rank=float(r["score"] or 0.0),
        )
        for r in rows
    ]


__all__ = ["MARK_END", "MARK_START", "SearchHit", "parse_query", "search_items"]
