"""Database URLs, engines and SQLite connection settings.

SQLite allows one writer at a time, so writes go through one dedicated connection (the batch
writer and the per-call writes queue for it in the pool instead of fighting over the file lock)
and reads use a separate small pool: in WAL mode readers never block the writer. PostgreSQL uses
one pooled engine for both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from chargedeck.store.errors import ConstraintViolation, StoreUnavailable, UnsupportedDatabaseUrl

# PRAGMA synchronous values (https://sqlite.org/pragma.html#pragma_synchronous). FULL syncs the
# WAL on every commit: an acknowledged OCPP message survives power loss (DESIGN §6). NORMAL is
# durable against a crash of the process but may lose the last commits on power loss.
SQLITE_SYNCHRONOUS_MODES: Final = ("OFF", "NORMAL", "FULL", "EXTRA")

# How long a connection waits for another process's lock (a CLI command writing while `serve`
# runs) before failing with "database is locked": longer than any of our commits, short enough to
# surface a stuck process.
SQLITE_BUSY_TIMEOUT_MS: Final = 5_000

# Read connections for SQLite: readers in WAL mode run in parallel with the writer; the API rarely
# has more than a few queries in flight on a single-site install.
SQLITE_READ_POOL_SIZE: Final = 4
# Threads (each with its own connection) for one-statement reads on the hot path (Database.query).
SQLITE_QUERY_THREADS: Final = 2

# PostgreSQL pool: the batch writer holds one connection per commit, per-call writes and API reads
# share the rest; PostgreSQL's default max_connections (100) leaves room for several processes.
POSTGRES_POOL_SIZE: Final = 10
POSTGRES_MAX_OVERFLOW: Final = 10

# SQLSTATE sequence_generator_limit_exceeded: the int4 serial of transactions.id ran out.
_POSTGRES_SEQUENCE_EXHAUSTED: Final = "2200H"


def async_url(database_url: str) -> URL:
    """Map the ``database_url`` setting to the async driver: sqlite+aiosqlite or
    postgresql+asyncpg.

    Raises ``UnsupportedDatabaseUrl`` (naming the setting, never the password) for other
    databases and for in-memory SQLite, which the separate read and write connections cannot
    share.
    """
    try:
        url = make_url(database_url)
    except ArgumentError as exc:
        raise UnsupportedDatabaseUrl(
            "database_url: cannot parse the URL (not shown: it may hold a password); expected "
            "sqlite:///PATH or postgresql://USER@HOST/DB"
        ) from exc
    backend = url.get_backend_name()
    shown = url.render_as_string(hide_password=True)
    if backend == "sqlite":
        if url.database in (None, "", ":memory:") or "mode=memory" in str(url.query):
            raise UnsupportedDatabaseUrl(
                f"database_url: {shown!r} is an in-memory SQLite database; expected a file, "
                "for example sqlite:///./chargedeck.db"
            )
        return url.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+asyncpg")
    raise UnsupportedDatabaseUrl(
        f"database_url: {shown!r} is not supported; expected sqlite:///PATH or postgresql://..."
    )


class Database:
    """The engines of one store: ``writer`` for every write, ``reader`` for queries."""

    def __init__(
        self, writer: AsyncEngine, reader: AsyncEngine, sqlite_synchronous: str | None = None
    ) -> None:
        self.writer = writer
        self.reader = reader
        self.dialect_name: str = writer.dialect.name
        self.sqlite_synchronous = sqlite_synchronous
        """PRAGMA synchronous of every SQLite connection (None on PostgreSQL)."""
        self._query_engine: sa.Engine | None = None
        self._query_threads: ThreadPoolExecutor | None = None

    async def query(
        self, statement: sa.Executable, parameters: Mapping[str, Any] | None = None
    ) -> Sequence[sa.Row[Any]]:
        """Run one SELECT and return its rows: the read path of hot lookups (Authorize, the
        handshake's registration, a charge point by id).

        On SQLite the statement runs in one hop to a reader thread with a plain (synchronous)
        connection and no transaction around it: through ``read()`` every query costs four
        thread hops of aiosqlite (BEGIN, execute, fetch, ROLLBACK), measured at ~520 µs of CPU
        against ~50 µs for the SELECT itself (bench/authorize.py). A single statement sees one
        consistent snapshot anyway. On PostgreSQL it is ``read()``. Errors become
        ``StoreUnavailable``.
        """
        if self.dialect_name != "sqlite":
            async with self.read() as connection:
                return (await connection.execute(statement, parameters)).all()
        if self._query_engine is None or self._query_threads is None:
            self._query_engine, self._query_threads = self._sqlite_query_engine()
        engine = self._query_engine

        def run() -> Sequence[sa.Row[Any]]:
            with engine.connect() as connection:
                return connection.execute(statement, parameters).all()

        try:
            return await asyncio.get_running_loop().run_in_executor(self._query_threads, run)
        except (SQLAlchemyError, OSError) as exc:
            raise StoreUnavailable(f"read failed: {exc}") from exc

    @property
    def query_engine(self) -> sa.Engine:
        """The engine ``query`` reads with: the SQLite reader threads' own, else the reader's."""
        if self.dialect_name != "sqlite":
            return self.reader.sync_engine
        if self._query_engine is None or self._query_threads is None:
            self._query_engine, self._query_threads = self._sqlite_query_engine()
        return self._query_engine

    def _sqlite_query_engine(self) -> tuple[sa.Engine, ThreadPoolExecutor]:
        engine = sa.create_engine(
            self.reader.url.set(drivername="sqlite+pysqlite"),
            pool_size=SQLITE_QUERY_THREADS,
            max_overflow=0,
            # A pooled connection moves between the reader threads, one statement at a time.
            connect_args={"check_same_thread": False},
        )
        pragmas = Database.sqlite_pragmas(self.sqlite_synchronous or "FULL")

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # autocommit: no BEGIN around a SELECT
            for pragma in pragmas:
                dbapi_connection.execute(pragma)

        return engine, ThreadPoolExecutor(SQLITE_QUERY_THREADS, thread_name_prefix="store-read")

    @property
    def sqlite_path(self) -> str | None:
        """The SQLite file, for connections opened outside SQLAlchemy (None on PostgreSQL)."""
        return self.writer.url.database if self.dialect_name == "sqlite" else None

    @staticmethod
    def sqlite_pragmas(synchronous: str) -> tuple[str, ...]:
        """The pragmas every SQLite connection of the store runs when it opens."""
        return (
            "PRAGMA journal_mode=WAL",
            f"PRAGMA synchronous={synchronous}",
            f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            "PRAGMA foreign_keys=ON",
        )

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction committed on exit; database errors become store errors."""
        try:
            async with self.writer.begin() as connection:
                yield connection
        except IntegrityError as exc:
            raise ConstraintViolation(str(exc.orig)) from exc
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == _POSTGRES_SEQUENCE_EXHAUSTED:
                raise ConstraintViolation(str(exc.orig)) from exc
            raise StoreUnavailable(f"write failed: {exc}") from exc
        except (SQLAlchemyError, OSError) as exc:
            raise StoreUnavailable(f"write failed: {exc}") from exc

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for queries, one snapshot; errors become ``StoreUnavailable``."""
        try:
            async with self.reader.connect() as connection:
                yield connection
        except (SQLAlchemyError, OSError) as exc:
            raise StoreUnavailable(f"read failed: {exc}") from exc

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()
        if self._query_engine is not None and self._query_threads is not None:
            engine, self._query_engine = self._query_engine, None
            await asyncio.get_running_loop().run_in_executor(self._query_threads, engine.dispose)
            self._query_threads.shutdown(wait=False)
            self._query_threads = None


def create_database(database_url: str, *, sqlite_synchronous: str = "FULL") -> Database:
    """Build the engines for ``database_url`` (no connection is opened yet).

    ``sqlite_synchronous`` is SQLite's PRAGMA synchronous; raises ``ValueError`` naming the
    setting for a value SQLite does not know.
    """
    url = async_url(database_url)
    if url.get_backend_name() == "postgresql":
        engine = create_async_engine(
            url, pool_size=POSTGRES_POOL_SIZE, max_overflow=POSTGRES_MAX_OVERFLOW
        )
        return Database(engine, engine)
    synchronous = sqlite_synchronous.upper()
    if synchronous not in SQLITE_SYNCHRONOUS_MODES:
        raise ValueError(
            f"sqlite_synchronous: {sqlite_synchronous!r} is not one of "
            f"{', '.join(SQLITE_SYNCHRONOUS_MODES)}"
        )
    writer = create_async_engine(url, poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0)
    reader = create_async_engine(
        url, poolclass=AsyncAdaptedQueuePool, pool_size=SQLITE_READ_POOL_SIZE, max_overflow=0
    )
    _configure_sqlite(writer, synchronous=synchronous, begin="BEGIN IMMEDIATE")
    _configure_sqlite(reader, synchronous=synchronous, begin="BEGIN")
    return Database(writer, reader, sqlite_synchronous=synchronous)


def _configure_sqlite(engine: AsyncEngine, *, synchronous: str, begin: str) -> None:
    """Set the pragmas on every new connection and let SQLAlchemy, not the driver, emit BEGIN.

    The sqlite3 module's own transaction handling starts transactions lazily before the first
    INSERT, so a read-then-write is not atomic and DDL runs outside transactions. With the
    driver's handling off, the writer opens every transaction with BEGIN IMMEDIATE: it takes the
    write lock up front (waiting up to busy_timeout) instead of failing with SQLITE_BUSY mid-way.
    """
    pragmas = Database.sqlite_pragmas(synchronous)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql(begin)


def dialect_insert(
    dialect_name: str, table: sa.Table
) -> sa.dialects.postgresql.Insert | sa.dialects.sqlite.Insert:
    """An INSERT that supports ON CONFLICT, which SQLite (3.24+) and PostgreSQL spell alike."""
    from sqlalchemy.dialects import postgresql, sqlite

    if dialect_name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
