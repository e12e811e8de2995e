"""Alembic environment: uses the connection handed in by ``migrations.upgrade``.

Run through the ``alembic`` command instead, it reads ``sqlalchemy.url`` from the configuration
and connects with the async driver itself.
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from alembic import context

from chargedeck.store.engine import create_database
from chargedeck.store.schema import metadata


def _run_on(connection: sa.Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_url(database_url: str) -> None:
    database = create_database(database_url)
    try:
        async with database.writer.begin() as connection:
            await connection.run_sync(_run_on)
    finally:
        await database.dispose()


def _main() -> None:
    config = context.config
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=metadata,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic: set sqlalchemy.url or pass a connection in attributes")
    asyncio.run(_run_from_url(url))


_main()
