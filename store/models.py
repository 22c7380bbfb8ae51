"""The schema (SQLAlchemy 2). Times are stored in UTC and come back timezone-aware."""

from __future__ import annotations

import datetime as dt
import zlib

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

UTC = dt.UTC


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (naive) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime refused: {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime(), dict: JSON, list: JSON}


class Source(Base):
    """One outlet or channel from a province profile, kept in step with the profile."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    profile: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(10))
    fetch_type: Mapped[str] = mapped_column(String(20))
    urls: Mapped[list] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # An admin's pause from the review app: the profile's sync leaves it alone, crawls skip it.
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    # Validators from the last feed response, used only when the profile trusts them.
    etag: Mapped[str | None] = mapped_column(String(300))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CrawlRun(Base):
    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    profile: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    # running | ok | partial | failed | interrupted
    status: Mapped[str] = mapped_column(String(20), default="running")
    args: Mapped[dict] = mapped_column(JSON, default=dict)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    items_updated: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)

    logs: Mapped[list[FetchLog]] = relationship(back_populates="run")


class FetchLog(Base):
    """What one source gave in one run: counts and every error, for the summary and health page."""

    __tablename__ = "fetch_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id", ondelete="CASCADE"))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    source_name: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    # ok | partial | error | not_modified
    status: Mapped[str] = mapped_column(String(20), default="ok")
    pages: Mapped[int] = mapped_column(Integer, default=0)
    items_found: Mapped[int] = mapped_column(Integer, default=0)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    items_updated: Mapped[int] = mapped_column(Integer, default=0)
    items_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    items_skipped: Mapped[int] = mapped_column(Integer, default=0)
    items_dropped: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list] = mapped_column(JSON, default=list)

    run: Mapped[CrawlRun] = relationship(back_populates="logs")

    __table_args__ = (Index("ix_fetch_log_source", "source_name", "started_at"),)


class Item(Base):
    """One article or post (see ARCHITECTURE.md, 'The record')."""

    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    kind: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(300))
    published_at: Mapped[dt.datetime | None]
    # When the source says the item last changed (feed `updated`, sitemap `lastmod`).
    source_updated_at: Mapped[dt.datetime | None]
    fetched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime | None]
    content_hash: Mapped[str] = mapped_column(String(64))
    title_key: Mapped[str] = mapped_column(String(64))
    raw_html: Mapped[bytes | None] = mapped_column(LargeBinary)
    extra: Mapped[dict] = mapped_column(JSON, default=dict)

    source: Mapped[Source] = relationship()

    __table_args__ = (
        Index("ix_items_published", "published_at"),
        Index("ix_items_source_title", "source_id", "title_key"),
        Index("ix_items_kind", "kind"),
    )

    @property
    def html(self) -> str | None:
        """The raw page as fetched (decoded, NFC), for re-extraction."""
        return zlib.decompress(self.raw_html).decode("utf-8") if self.raw_html else None


class ItemUrl(Base):
    """Every address an item was reached by (feed link, utm copy, redirect), so none is fetched
    twice."""

    __tablename__ = "item_urls"

    url: Mapped[str] = mapped_column(String(2000), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)


class Rejected(Base):
    """Pages we fetched and refused (no text, future date...), so re-runs don't fetch them again."""

    __tablename__ = "rejected_urls"

    url: Mapped[str] = mapped_column(String(2000), primary_key=True)
    source_name: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(String(300))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


__all__ = [
    "Base",
    "CrawlRun",
    "FetchLog",
    "Item",
    "ItemUrl",
    "Rejected",
    "Source",
    "utcnow",
]


class Story(Base):
    """Copies of one piece of news across outlets (near-duplicates and rewrites)."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(Text)  # the earliest item's title
    first_seen: Mapped[dt.datetime]
    last_seen: Mapped[dt.datetime]
    item_count: Mapped[int] = mapped_column(Integer, default=1)
    outlets: Mapped[list] = mapped_column(JSON, default=list)  # source names, first seen first
    # [(source name, ISO time first seen)], for spread over time
    spread: Mapped[list] = mapped_column(JSON, default=list)


class Classification(Base):
    """What classify says about one item; re-written when the item or its story changes."""

    __tablename__ = "classifications"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    relevant: Mapped[bool] = mapped_column(Boolean, index=True)
    relevance: Mapped[float] = mapped_column(Float)
    places: Mapped[list] = mapped_column(JSON, default=list)
    relevance_reasons: Mapped[list] = mapped_column(JSON, default=list)
    story_id: Mapped[int | None] = mapped_column(
        ForeignKey("stories.id", ondelete="SET NULL"), index=True
    )
    topics: Mapped[dict] = mapped_column(JSON, default=dict)  # code -> probability
    tone: Mapped[str | None] = mapped_column(String(20))
    tone_scores: Mapped[dict] = mapped_column(JSON, default=dict)
    sensitivity: Mapped[str | None] = mapped_column(String(20), index=True)
    sensitivity_reasons: Mapped[list] = mapped_column(JSON, default=list)
    misleading: Mapped[str] = mapped_column(String(20), default="khong", index=True)
    misleading_score: Mapped[float] = mapped_column(Float, default=0.0)
    misleading_evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    rules_fired: Mapped[list] = mapped_column(JSON, default=list)
    model_version: Mapped[str] = mapped_column(String(120))
    classified_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ItemVector(Base):
    """The encoder's embedding of an item (title + lead), float16, for story matching."""

    __tablename__ = "item_vectors"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    model_version: Mapped[str] = mapped_column(String(120))
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class Decision(Base):
    """An officer's decision on an item, append-only: the newest row per item is in force.

    The database refuses UPDATE and DELETE on this table (triggers, migration 0005): a decision
    is changed by appending a new row, which the review app fills with everything in force.

    Corrected labels (None: kept as classified), proposed handling (đề xuất), status and note.
    The review app writes these; the digest reads them; `classify train --with-reviews` learns
    from them.
    """

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    user: Mapped[str] = mapped_column(String(120))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(20))  # confirm | dismiss | correct | exclude
    relevant: Mapped[bool | None] = mapped_column(Boolean)
    topics: Mapped[list | None] = mapped_column(JSON)
    tone: Mapped[str | None] = mapped_column(String(20))
    sensitivity: Mapped[str | None] = mapped_column(String(20))
    misleading: Mapped[str | None] = mapped_column(String(20))
    handling: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(20))  # moi | dang_xu_ly | da_xu_ly | bo_qua
    note: Mapped[str | None] = mapped_column(Text)
    # Who should handle it, the digest's wording of it, and its place in its digest section
    # (1 first; None: the digest's own order). Carried forward like the rest by review.decisions.
    assignee: Mapped[str | None] = mapped_column(String(120))
    summary: Mapped[str | None] = mapped_column(Text)
    rank: Mapped[int | None] = mapped_column(Integer)


class Digest(Base):
    """One day's press digest for a profile: what was built, its number, where its files are.

    The (profile, date) pair is unique, so a day has one digest; `deliveries` is the ledger that
    makes sending idempotent.
    """

    __tablename__ = "digests"

    id: Mapped[int] = mapped_column(primary_key=True)
    profile: Mapped[str] = mapped_column(String(120))
    date: Mapped[dt.date]
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)  # bulletin number, sequential per year
    window_start: Mapped[dt.datetime]
    window_end: Mapped[dt.datetime]
    built_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # built | approved | sending | sent | failed
    status: Mapped[str] = mapped_column(String(20), default="built")
    files: Mapped[dict] = mapped_column(JSON, default=dict)  # format -> path
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    approved_by: Mapped[str | None] = mapped_column(String(120))
    approved_at: Mapped[dt.datetime | None]

    __table_args__ = (
        UniqueConstraint("profile", "date", name="uq_digest_day"),
        UniqueConstraint("profile", "year", "number", name="uq_digest_number"),
    )


class Delivery(Base):
    """One digest (or alert) to one recipient; the row exists before the SMTP call, and `sent`
    is set only after the server accepted it."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digests.id", ondelete="CASCADE"))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[dt.datetime | None]
    resend: Mapped[int] = mapped_column(Integer, default=0)  # 0 first send; n for --resend n

    __table_args__ = (
        UniqueConstraint("digest_id", "alert_id", "recipient", "resend", name="uq_delivery"),
    )


class Alert(Base):
    """An immediate alert for a sensitive or misleading story: at most one per story."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(40))  # nhay_cam | sai_lech
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="pending")


# ── the review app: people, sessions, tokens, the audit log ─────────────────────────────────


class User(Base):
    """An officer's account. Roles nest: officer < lead (approves, sends) < admin (users,
    sources). Only a password hash (argon2) is kept; disabled accounts stay for the audit log."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20), default="officer")  # officer | lead | admin
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A browser session. `id` is the SHA-256 of the cookie's secret, so the table alone lets
    nobody in; a row without user is a visitor at the sign-in form (its CSRF token)."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class LoginAttempt(Base):
    """Sign-in attempts, for throttling per user name and per address."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    username: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_login_attempts_user", "username", "at"),
        Index("ix_login_attempts_address", "address", "at"),
    )


class ApiToken(Base):
    """A per-user token for the JSON API; only its SHA-256 is kept, shown once when made."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, to tell tokens apart
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class SavedFilter(Base):
    """A named queue filter (its query string), per user."""

    __tablename__ = "saved_filters"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    query: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_saved_filter"),)


class AuditLog(Base):
    """Who changed what, when, from what to what. Append-only: the database refuses UPDATE and
    DELETE (triggers, migration 0005) and the app has no path that edits it."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    user: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(120))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    address: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_object", "object_type", "object_id"),)
