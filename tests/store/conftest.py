"""Fixtures: every store test runs against SQLite (a temp file) and PostgreSQL.

PostgreSQL: one database per test session, created on the server named by
CHARGEDECK_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test) and dropped at
the end; each test starts from an empty ``public`` schema and migrates it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from chargedeck.store import Store, open_store
from chargedeck.store.engine import async_url

POSTGRES_URL = os.environ.get(
    "CHARGEDECK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)

BACKENDS = ("sqlite", "postgresql")


async def _admin(statements: list[str]) -> None:
    engine = create_async_engine(
        async_url(POSTGRES_URL), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database for this test session, dropped at the end."""
    name = f"chargedeck_store_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin([f'CREATE DATABASE "{name}"']))
    except (OSError, sa.exc.DBAPIError) as exc:
        # A skipped test proves nothing: dev.py starts PostgreSQL, so unreachable is a failure.
        pytest.fail(f"PostgreSQL not reachable at {make_url(POSTGRES_URL)!r}: {exc}")
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)']))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The database URL of this run: a new SQLite file, or the session's PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('store')}/chargedeck.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def database_url(backend: str) -> str:
    """The URL of an empty database (PostgreSQL: the ``public`` schema emptied)."""
    if backend.startswith("postgresql"):
        engine = create_async_engine(
            async_url(backend), isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        try:
            async with engine.connect() as connection:
                await connection.execute(sa.text("DROP SCHEMA public CASCADE"))
                await connection.execute(sa.text("CREATE SCHEMA public"))
        finally:
            await engine.dispose()
    return backend


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A migrated store, closed after the test."""
    opened = await open_store(database_url)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def observer(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A second engine on the same database: what it sees is committed."""
    engine = create_async_engine(async_url(database_url), poolclass=NullPool)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def now() -> datetime:
    return datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)


CountRows = Callable[..., Awaitable[int]]


@pytest.fixture
def committed_rows(observer: AsyncEngine) -> CountRows:
    """``await committed_rows(table, where="")``: rows a second connection sees (committed)."""

    async def count(table: str, where: str = "") -> int:
        # Table and condition are literals written in the tests, never outside input.
        sql = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")  # noqa: S608
        async with observer.connect() as connection:
            return int((await connection.execute(sa.text(sql))).scalar_one())

    return count
