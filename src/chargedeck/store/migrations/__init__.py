"""Alembic migrations, run from code: no alembic.ini, the script folder is this package.

``upgrade``/``downgrade`` run inside one transaction of the store's write engine (PostgreSQL and
SQLite both have transactional DDL), so a failed migration leaves the schema as it was. On
PostgreSQL an advisory lock makes concurrent ``serve`` processes migrate one after the other.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.exc import SQLAlchemyError

from chargedeck.store.engine import Database
from chargedeck.store.errors import StoreUnavailable

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent
HEAD_REVISION: Final = "0006"
"""The newest revision in versions/ (a test checks that Alembic agrees)."""

# Any constant shared by all ChargeDeck processes; "CDMIGRAT" in ASCII.
_POSTGRES_MIGRATION_LOCK: Final = 0x43444D4947524154

_Step = Callable[[Config], None]


def alembic_config() -> Config:
    """An Alembic configuration built in code, pointing at this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    return config


async def upgrade(database: Database, revision: str = "head") -> None:
    """Migrate the schema up to ``revision``; raises ``StoreUnavailable`` if it fails."""
    await _run(database, lambda config: command.upgrade(config, revision))


async def downgrade(database: Database, revision: str = "base") -> None:
    """Migrate the schema down to ``revision`` (``base`` drops every table)."""
    await _run(database, lambda config: command.downgrade(config, revision))


async def current_revision(database: Database) -> str | None:
    """The revision the database is at, None before the first migration."""
    from alembic.runtime.migration import MigrationContext

    def read(connection: sa.Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with database.read() as connection:
        return await connection.run_sync(read)


async def _run(database: Database, step: _Step) -> None:
    config = alembic_config()

    def run(connection: sa.Connection) -> None:
        config.attributes["connection"] = connection
        step(config)

    try:
        async with database.writer.begin() as connection:
            if database.dialect_name == "postgresql":
                await connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": _POSTGRES_MIGRATION_LOCK},
                )
            await connection.run_sync(run)
    except (SQLAlchemyError, OSError) as exc:
        raise StoreUnavailable(f"migration failed: {exc}") from exc
