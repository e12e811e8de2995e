"""Persistence: SQLAlchemy Core over SQLite (WAL) or PostgreSQL, one schema, Alembic migrations.

SQL lives only in this package (DESIGN §6). ``open_store`` gives a ``Store`` whose repository
attributes do the per-call, committed-before-return writes and the reads, and whose ``writer``
batches the high-rate writes (group commit).
"""

from __future__ import annotations

from types import TracebackType

from chargedeck.store import migrations
from chargedeck.store.acceptance import AcceptanceReports
from chargedeck.store.batch_writer import (
    DEFAULT_HEARTBEAT_FLUSH_S,
    DEFAULT_MAX_BATCH_ROWS,
    DEFAULT_MAX_DELAY_S,
    BatchWriter,
)
from chargedeck.store.certificates import Certificates
from chargedeck.store.charge_points import ChargePoints
from chargedeck.store.charging_profiles import ChargingProfiles
from chargedeck.store.configuration import ChargerConfiguration
from chargedeck.store.configuration_memory import ConfigurationMemory
from chargedeck.store.connectors import Connectors
from chargedeck.store.diagnostics import Diagnostics
from chargedeck.store.engine import Database, create_database
from chargedeck.store.firmware import Firmware
from chargedeck.store.id_tags import IdTags
from chargedeck.store.local_lists import LocalLists
from chargedeck.store.message_log import MessageLog
from chargedeck.store.notifications import Notifications
from chargedeck.store.operators import Operators
from chargedeck.store.registrations import RegistrationLookup
from chargedeck.store.rejections import ConnectionRejections
from chargedeck.store.reservations import Reservations
from chargedeck.store.security_records import SecurityRecords
from chargedeck.store.sites import Sites
from chargedeck.store.tariffs import Tariffs
from chargedeck.store.transactions import Transactions
from chargedeck.store.unknown_id_tags import UnknownIdTags
from chargedeck.store.webhooks import Webhooks

__all__ = ["Store", "migrate", "open_store"]


class Store:
    """The store of one process: repositories over one database and its batch writer."""

    def __init__(self, database: Database, writer: BatchWriter) -> None:
        self.database = database
        self.charge_points = ChargePoints(database)
        self.connectors = Connectors(database)
        self.id_tags = IdTags(database)
        self.transactions = Transactions(database)
        self.tariffs = Tariffs(database)
        self.notifications = Notifications(database)
        self.registrations = RegistrationLookup(database)
        self.certificates = Certificates(database)
        self.operators = Operators(database)
        self.security_records = SecurityRecords(database)
        self.rejections = ConnectionRejections(database)
        self.unknown_id_tags = UnknownIdTags(database)
        self.configuration = ChargerConfiguration(database)
        self.configuration_memory = ConfigurationMemory(database)
        self.local_lists = LocalLists(database)
        self.reservations = Reservations(database)
        self.acceptance_reports = AcceptanceReports(database)
        self.firmware = Firmware(database)
        self.diagnostics = Diagnostics(database)
        self.sites = Sites(database)
        self.charging_profiles = ChargingProfiles(database)
        self.message_log = MessageLog(database)
        self.webhooks = Webhooks(database)
        self.writer = writer

    async def close(self) -> None:
        """Commit what the batch writer holds, then close every connection."""
        try:
            await self.writer.close()
        finally:
            await self.database.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


async def open_store(
    database_url: str,
    *,
    migrate: bool = True,
    sqlite_synchronous: str = "FULL",
    max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
    max_delay_s: float = DEFAULT_MAX_DELAY_S,
    heartbeat_flush_s: float = DEFAULT_HEARTBEAT_FLUSH_S,
) -> Store:
    """Connect to ``database_url``, migrate it to the latest schema (unless ``migrate`` is
    False) and start the batch writer on the running loop. Close it with ``await store.close()``.

    Raises ``UnsupportedDatabaseUrl`` for a URL it cannot use, ``ValueError`` for a bad
    ``sqlite_synchronous`` and ``StoreUnavailable`` if the database cannot be reached or migrated.
    """
    database = create_database(database_url, sqlite_synchronous=sqlite_synchronous)
    try:
        if migrate:
            await migrations.upgrade(database)
        writer = BatchWriter(
            database,
            max_batch_rows=max_batch_rows,
            max_delay_s=max_delay_s,
            heartbeat_flush_s=heartbeat_flush_s,
        )
    except BaseException:
        await database.dispose()
        raise
    writer.start()
    return Store(database, writer)


async def migrate(database_url: str) -> None:
    """Migrate the database to the latest schema (``chargedeck migrate``)."""
    database = create_database(database_url)
    try:
        await migrations.upgrade(database)
    finally:
        await database.dispose()
