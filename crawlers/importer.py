"""Import exported social posts (Facebook pages, TikTok) from CSV or JSONL files.

Exports come from the office's own tools; no login, no private data: only public posts, with the
page or account name as published. Rows go through the same validate → normalise → store steps
as crawled items.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from crawlers.extract import parse_date
from crawlers.items import ScrapedItem
from crawlers.pipelines import Invalid, normalise, record, validate
from crawlers.spiders.base import headline
from store.items import save_item
from store.models import Source, utcnow

UTC = dt.UTC

# Column names used by common export tools, most specific first.
URL_KEYS = ("url", "permalink_url", "post_url", "link", "webVideoUrl", "video_url", "permalink")
TEXT_KEYS = ("text", "message", "content", "desc", "description", "caption", "body")
TITLE_KEYS = ("title",)
AUTHOR_KEYS = ("author", "page_name", "page", "authorMeta.name", "author_name", "username", "from")
TIME_KEYS = (
    "published",
    "published_at",
    "created_time",
    "createTime",
    "create_time",
    "created_at",
    "timestamp",
    "date",
)
METRIC_KEYS = (
    "reactions",
    "likes",
    "like_count",
    "diggCount",
    "shares",
    "shareCount",
    "comments",
    "commentCount",
    "playCount",
    "views",
)


@dataclass
class ImportResult:
    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicate: int = 0
    errors: list[str] = field(default_factory=list)


def _flat(row: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in row.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, f"{key}."))
        else:
            out[key] = v
    return out


def _first(row: dict, keys) -> str | None:
    for k in keys:
        v = row.get(k)
        if v not in (None, ""):
            return str(v)
    return None


def _when(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    if value.strip().isdigit():  # epoch seconds (TikTok) or milliseconds
        n = int(value)
        return dt.datetime.fromtimestamp(n / 1000 if n > 10**11 else n, UTC)
    return parse_date(value)


def read_rows(path: Path) -> Iterator[tuple[int, dict | None, str | None]]:
    """(line number, row, error) for each row of a CSV or JSONL file."""
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        with path.open(encoding="utf-8-sig") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    yield n, None, f"dòng {n}: JSON hỏng ({exc})"
                    continue
                yield (
                    n,
                    _flat(row) if isinstance(row, dict) else None,
                    (None if isinstance(row, dict) else f"dòng {n}: không phải đối tượng JSON"),
                )
    else:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for n, row in enumerate(csv.DictReader(fh), 2):
                yield n, row, None


def row_item(row: dict, source_name: str, kind: str, language: str) -> ScrapedItem:
    url = _first(row, URL_KEYS)
    text = _first(row, TEXT_KEYS) or ""
    if not url:
        raise Invalid("thiếu địa chỉ bài đăng (url)")
    extra = {k: row[k] for k in METRIC_KEYS if row.get(k) not in (None, "")}
    return ScrapedItem(
        url=url,
        source=source_name,
        kind=kind,
        language=language,
        title=_first(row, TITLE_KEYS) or headline(text),
        text=text,
        author=_first(row, AUTHOR_KEYS),
        published_at=_when(_first(row, TIME_KEYS)),
        seen_urls=[url],
        extra={"imported": True, **extra},
    )


def import_posts(
    factory, source: Source, path: Path, *, now: dt.datetime | None = None
) -> ImportResult:
    now = now or utcnow()
    result = ImportResult()
    with factory() as session:
        source = session.get(Source, source.id)
        for n, row, err in read_rows(path):
            result.rows += 1
            if err:
                result.errors.append(err)
                continue
            try:
                item = normalise(
                    validate(row_item(row, source.name, source.kind, source.language), now)
                )
            except Invalid as exc:
                result.errors.append(f"dòng {n}: {exc}")
                continue
            outcome, _ = save_item(session, source, record(item), now=now)
            setattr(result, outcome, getattr(result, outcome) + 1)
    return result
