"""Migrations: create every table of schema.py, and go down and up again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from chargedeck.store import migrate, migrations
from chargedeck.store.engine import create_database
from chargedeck.store.schema import metadata

TABLES = set(metadata.tables)


async def _table_names(database_url: str) -> set[str]:
    database = create_database(database_url)
    try:
        async with database.read() as connection:
            names = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
    finally:
        await database.dispose()
    return set(names) - {"alembic_version"}


async def test_migrate_creates_every_table_of_the_schema(database_url: str) -> None:
    await migrate(database_url)
    assert await _table_names(database_url) == TABLES


async def test_downgrade_to_base_drops_every_table_and_upgrade_restores_them(
    database_url: str,
) -> None:
    database = create_database(database_url)
    try:
        await migrations.upgrade(database)
        await migrations.downgrade(database, "base")
        assert await _table_names(database_url) == set()
        assert await migrations.current_revision(database) is None
        await migrations.upgrade(database)
        assert await _table_names(database_url) == TABLES
        assert await migrations.current_revision(database) == migrations.HEAD_REVISION
    finally:
        await database.dispose()


async def test_migrating_twice_changes_nothing(database_url: str) -> None:
    await migrate(database_url)
    await migrate(database_url)
    assert await _table_names(database_url) == TABLES


async def test_migrated_schema_matches_schema_py(database_url: str) -> None:
    await migrate(database_url)
    database = create_database(database_url)

    def differences(connection: sa.Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    try:
        async with database.read() as connection:
            diff = await connection.run_sync(differences)
    finally:
        await database.dispose()
    assert diff == []


def test_head_revision_is_the_newest_migration() -> None:
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(migrations.alembic_config()).get_heads()
    assert heads == [migrations.HEAD_REVISION]


async def test_the_ids_of_high_volume_tables_are_64_bit_on_postgresql(database_url: str) -> None:
    """message_log and webhook_deliveries add rows at the frame and event rate: a 32-bit id
    would run out within days. SQLite keeps INTEGER, its 64-bit rowid alias."""
    await migrate(database_url)
    database = create_database(database_url)

    def id_types(connection: sa.Connection) -> dict[str, str]:
        inspector = sa.inspect(connection)
        return {
            table: next(
                str(column["type"])
                for column in inspector.get_columns(table)
                if column["name"] == "id"
            )
            for table in ("message_log", "webhook_deliveries")
        }

    try:
        async with database.read() as connection:
            types = await connection.run_sync(id_types)
    finally:
        await database.dispose()
    expected = "INTEGER" if database_url.startswith("sqlite") else "BIGINT"
    assert types == {"message_log": expected, "webhook_deliveries": expected}
