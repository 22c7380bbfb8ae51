"""Writing items: insert, update when the content changed, or fold a duplicate into its
original. One item is one committed transaction, so a killed crawl loses nothing it stored."""

from __future__ import annotations

import datetime as dt
import zlib
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Item, ItemUrl, Rejected, Source, utcnow

Outcome = Literal["new", "updated", "unchanged", "duplicate"]

# The same title from one source within this window is the same article at another address.
TITLE_DUPLICATE_WINDOW = dt.timedelta(days=7)

_FIELDS = ("kind", "language", "title", "text", "summary", "author", "published_at")


def find_item(session: Session, urls: list[str]) -> Item | None:
    """The stored item reached by any of these addresses."""
    urls = [u for u in dict.fromkeys(urls) if u]
    if not urls:
        return None
    item = session.scalars(select(Item).where(Item.url.in_(urls)).limit(1)).first()
    if item:
        return item
    item_id = session.scalars(select(ItemUrl.item_id).where(ItemUrl.url.in_(urls)).limit(1)).first()
    return session.get(Item, item_id) if item_id else None


def _add_urls(session: Session, item: Item, urls: list[str]) -> None:
    have = set(session.scalars(select(ItemUrl.url).where(ItemUrl.url.in_(urls))))
    for u in dict.fromkeys(urls):
        if u and u != item.url and u not in have:
            session.add(ItemUrl(url=u, item_id=item.id))


def _title_duplicate(session: Session, source: Source, title_key: str, when: dt.datetime):
    lo, hi = when - TITLE_DUPLICATE_WINDOW, when + TITLE_DUPLICATE_WINDOW
    stmt = select(Item).where(Item.source_id == source.id, Item.title_key == title_key)
    for item in session.scalars(stmt):
        seen = item.published_at or item.fetched_at
        if lo <= seen <= hi:
            return item
    return None


def save_item(session: Session, source: Source, data: dict, *, now: dt.datetime | None = None):
    """Store one normalised item; return (outcome, item).

    `data` holds the record's fields plus `url` (canonical), `seen_urls`, `content_hash`,
    `title_key`, `raw_html` (text) and `source_updated_at`. Commits.
    """
    now = now or utcnow()
    urls = [data["url"], *data.get("seen_urls", [])]
    item = find_item(session, urls)
    if item is None:
        when = data.get("published_at") or now
        dup = _title_duplicate(session, source, data["title_key"], when)
        if dup is not None:
            _add_urls(session, dup, urls)
            session.commit()
            return "duplicate", dup
    raw = data.get("raw_html")
    raw_bytes = zlib.compress(raw.encode("utf-8"), 6) if raw else None
    if item is None:
        item = Item(
            url=data["url"],
            source_id=source.id,
            content_hash=data["content_hash"],
            title_key=data["title_key"],
            source_updated_at=data.get("source_updated_at"),
            fetched_at=now,
            raw_html=raw_bytes,
            extra=data.get("extra") or {},
            **{f: data.get(f) for f in _FIELDS},
        )
        session.add(item)
        session.flush()
        _add_urls(session, item, urls)
        session.commit()
        return "new", item
    outcome: Outcome = "unchanged"
    if item.content_hash != data["content_hash"]:
        for f in _FIELDS:
            if data.get(f) is not None:
                setattr(item, f, data[f])
        item.content_hash = data["content_hash"]
        item.title_key = data["title_key"]
        item.raw_html = raw_bytes or item.raw_html
        item.updated_at = now
        outcome = "updated"
    if data.get("extra"):
        item.extra = {**(item.extra or {}), **data["extra"]}
    if data.get("source_updated_at"):
        item.source_updated_at = data["source_updated_at"]
    item.fetched_at = now
    _add_urls(session, item, urls)
    session.commit()
    return outcome, item


def reject_url(session: Session, url: str, source_name: str, reason: str) -> None:
    """Remember a page we refused, so later runs don't fetch it again."""
    if session.get(Rejected, url) is None:
        session.add(Rejected(url=url, source_name=source_name, reason=reason[:300]))
        session.commit()


def stored_versions(session: Session, urls: list[str]) -> dict[str, dt.datetime | None]:
    """For each address already stored (or refused): when the source last said it changed.

    Lets a spider skip an article page unless its feed or sitemap reports a newer version.
    """
    urls = list(dict.fromkeys(u for u in urls if u))
    out: dict[str, dt.datetime | None] = {}
    for chunk in range(0, len(urls), 500):
        part = urls[chunk : chunk + 500]
        for u, t, f in session.execute(
            select(Item.url, Item.source_updated_at, Item.fetched_at).where(Item.url.in_(part))
        ):
            out[u] = t or f
        for u, t, f in session.execute(
            select(ItemUrl.url, Item.source_updated_at, Item.fetched_at)
            .join(Item, Item.id == ItemUrl.item_id)
            .where(ItemUrl.url.in_(part))
        ):
            out.setdefault(u, t or f)
        for u, at in session.execute(
            select(Rejected.url, Rejected.at).where(Rejected.url.in_(part))
        ):
            out.setdefault(u, at)
    return out
