"""Shared test fixtures: databases (SQLite and a real PostgreSQL) and a clean environment.

PostgreSQL tests run against the server named by DIEMTIN_TEST_PG_URL (for example
postgresql://postgres@127.0.0.1:5432/postgres, as `.ci/pg.sh` prints); each test gets its own
freshly created database, dropped afterwards. Without the variable those tests are skipped, except
in CI (env CI or DIEMTIN_REQUIRE_PG set), where a missing server is a failure: a green CI run
always means the store works on both backends.

Other test modules keep their own fixtures in their own files; the names here are few and
specific (sqlite_url, pg_url, db_url, session_factory, db_session).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from store.db import open_store

PG_ENV = "DIEMTIN_TEST_PG_URL"
# A POSIX TZ string (no tz database needed): UTC+05:45, neither UTC nor Vietnam, so a test that
# leans on the machine's local time fails everywhere instead of only on some machines.
ODD_TZ = "XXX-05:45"


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def _pg_required() -> bool:
    return _truthy("CI") or _truthy("DIEMTIN_REQUIRE_PG")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> Iterator[None]:
    """Every test: data under a temporary directory, no database URL from the developer's
    shell, and a local time zone that matches neither UTC nor Asia/Ho_Chi_Minh."""
    monkeypatch.setenv("DIEMTIN_DATA_DIR", str(tmp_path_factory.mktemp("diemtin-data")))
    monkeypatch.delenv("DIEMTIN_DATABASE_URL", raising=False)
    old_tz = os.environ.get("TZ")
    os.environ["TZ"] = ODD_TZ
    time.tzset()
    try:
        yield
    finally:
        if old_tz is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old_tz
        time.tzset()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A SQLite database file in the test's own directory (created by the first migration)."""
    return f"sqlite:///{tmp_path / 'diemtin.db'}"


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """The PostgreSQL server for tests (its maintenance database), checked once per session."""
    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        reason = f"{PG_ENV} is not set (start a server with .ci/pg.sh and export its URL)"
        if _pg_required():
            pytest.fail(f"PostgreSQL tests must run in CI: {reason}", pytrace=False)
        pytest.skip(reason)
    import psycopg

    try:
        with psycopg.connect(_libpq(url), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.fail(f"{PG_ENV}={url} does not answer: {exc}", pytrace=False)
    return url


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A new, empty database (UTF-8, UTF-8 ctype where the server has C.UTF-8) for one test."""
    import psycopg
    from psycopg import sql

    name = f"diemtin_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    ident = sql.Identifier(name)
    with psycopg.connect(_libpq(pg_server_url), autocommit=True) as conn:
        try:
            conn.execute(
                sql.SQL(
                    "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' "
                    "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
                ).format(ident)
            )
        except psycopg.Error:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(ident)
            )
    try:
        yield make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(pg_server_url), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def db_url(request) -> str:
    """The same test on SQLite and on PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def session_factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    """`open_store(db_url)`: a migrated database; its engine is disposed of afterwards."""
    factory = open_store(db_url)
    try:
        yield factory
    finally:
        factory.kw["bind"].dispose()


@pytest.fixture
def db_session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One session on the migrated test database, closed (uncommitted work rolled back) after."""
    with session_factory() as session:
        yield session


def _libpq(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://...) as a libpq one for psycopg.connect."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
