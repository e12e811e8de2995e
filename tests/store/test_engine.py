"""Database URLs and SQLite connection settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from chargedeck.store.engine import async_url, create_database
from chargedeck.store.errors import UnsupportedDatabaseUrl


def test_sqlite_url_uses_aiosqlite() -> None:
    url = async_url("sqlite:///./chargedeck.db")
    assert url.drivername == "sqlite+aiosqlite"
    assert url.database == "./chargedeck.db"


@pytest.mark.parametrize(
    "database_url",
    ["postgresql://u:p@db/cd", "postgres://u:p@db/cd", "postgresql+asyncpg://u@db/cd"],
)
def test_postgresql_url_uses_asyncpg(database_url: str) -> None:
    assert async_url(database_url).drivername == "postgresql+asyncpg"


@pytest.mark.parametrize("database_url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_is_refused(database_url: str) -> None:
    with pytest.raises(UnsupportedDatabaseUrl, match="in-memory"):
        async_url(database_url)


def test_unsupported_database_is_refused_without_showing_the_password() -> None:
    with pytest.raises(UnsupportedDatabaseUrl, match="database_url") as raised:
        async_url("mysql://operator:s3cret@db/chargedeck")
    assert "s3cret" not in str(raised.value)


def test_unknown_sqlite_synchronous_value_is_refused_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sqlite_synchronous"):
        create_database(f"sqlite:///{tmp_path}/x.db", sqlite_synchronous="SOMETIMES")


async def _pragma(database_url: str, name: str, **settings: str) -> object:
    database = create_database(database_url, **settings)
    try:
        async with database.writer.connect() as connection:
            return (await connection.execute(sa.text(f"PRAGMA {name}"))).scalar_one()
    finally:
        await database.dispose()


async def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    assert await _pragma(f"sqlite:///{tmp_path}/x.db", "journal_mode") == "wal"


async def test_sqlite_syncs_every_commit_by_default(tmp_path: Path) -> None:
    # 2 = FULL (https://sqlite.org/pragma.html#pragma_synchronous)
    assert await _pragma(f"sqlite:///{tmp_path}/x.db", "synchronous") == 2


async def test_sqlite_synchronous_setting_is_applied(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.db"
    assert await _pragma(url, "synchronous", sqlite_synchronous="NORMAL") == 1


async def test_sqlite_enforces_foreign_keys(tmp_path: Path) -> None:
    assert await _pragma(f"sqlite:///{tmp_path}/x.db", "foreign_keys") == 1


async def test_sqlite_waits_for_locks_instead_of_failing_at_once(tmp_path: Path) -> None:
    assert await _pragma(f"sqlite:///{tmp_path}/x.db", "busy_timeout") == 5000
