"""The OCPP message log: every frame in and out per charger, its searches and its retention.

Rows come in batches from the buffered writer (csms/message_log.py): one executemany per flush.
The log is not covered by the durability rule (DESIGN §6): it records what crossed the wire, it
acknowledges nothing to a charger.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import msgspec
import sqlalchemy as sa

from chargedeck.store._convert import to_records
from chargedeck.store.engine import Database
from chargedeck.store.schema import message_log
from chargedeck.store.types import sqlite_time_text

_T = message_log.c
_SQLITE_INSERT: Final = (
    "INSERT INTO message_log (charge_point_id, at, direction, message_type, message_id, action, "
    "frame) VALUES (?, ?, ?, ?, ?, ?, ?)"
)

# A page of frames in the API is at most 500 rows (server/api/common.MAX_PAGE_SIZE); "explain"
# reads at most this many frames of one charger: a day of a busy charger (MeterValues every
# 60 s, both directions) is about 3,000 frames.
MAX_EXPLAIN_FRAMES: Final = 20_000
# Retention deletes this many rows per transaction: measured 40 ms per chunk of 330-byte frames
# on SQLite (2 vCPU, loaded), so a StartTransaction's durable write never waits long behind it.
DELETE_CHUNK_ROWS: Final = 5_000


class MessageLogRow(msgspec.Struct, frozen=True, kw_only=True):
    """One frame to store, already classified by the writer."""

    charge_point_id: str
    at: datetime
    direction: str
    """in: charger -> CSMS; out: CSMS -> charger."""
    message_type: int
    """2 CALL, 3 CALLRESULT, 4 CALLERROR (OCPP-J 1.6 §4.1.3); 0: not an OCPP-J frame."""
    message_id: str
    action: str | None
    frame: str


class MessageRecord(MessageLogRow, frozen=True, kw_only=True):
    """A stored frame with its row id (the cursor of the lists)."""

    id: int


class MessageFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which frames a search returns; None: any. ``text`` is a substring of the frame."""

    charge_point_id: str | None = None
    action: str | None = None
    message_id: str | None = None
    direction: str | None = None
    since: datetime | None = None
    """Inclusive."""
    until: datetime | None = None
    """Exclusive."""
    text: str | None = None


def _like_pattern(text: str) -> str:
    """``text`` as a LIKE pattern that matches it literally anywhere (escape character \\)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(statement: sa.Select[Any], search: MessageFilter) -> sa.Select[Any]:
    if search.charge_point_id is not None:
        statement = statement.where(_T.charge_point_id == search.charge_point_id)
    if search.action is not None:
        statement = statement.where(_T.action == search.action)
    if search.message_id is not None:
        statement = statement.where(_T.message_id == search.message_id)
    if search.direction is not None:
        statement = statement.where(_T.direction == search.direction)
    if search.since is not None:
        statement = statement.where(_T.at >= search.since)
    if search.until is not None:
        statement = statement.where(_T.at < search.until)
    if search.text is not None:
        statement = statement.where(_T.frame.like(_like_pattern(search.text), escape="\\"))
    return statement


class MessageLog:
    """Reads and writes of ``message_log``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def add_messages(self, rows: Sequence[MessageLogRow]) -> None:
        """Store a batch of frames in one transaction (one executemany).

        On SQLite the rows go to the driver as tuples (the time as UtcDateTime stores it):
        measured, SQLAlchemy's per-row parameter processing was two thirds of a flush (about
        10 of 16 µs per frame).
        """
        if not rows:
            return
        async with self._db.write() as connection:
            if self._db.dialect_name == "sqlite":
                await connection.exec_driver_sql(
                    _SQLITE_INSERT,
                    [
                        (
                            row.charge_point_id,
                            sqlite_time_text(row.at),
                            row.direction,
                            row.message_type,
                            row.message_id,
                            row.action,
                            row.frame,
                        )
                        for row in rows
                    ],
                )
            else:
                params = [msgspec.structs.asdict(row) for row in rows]
                await connection.execute(sa.insert(message_log), params)

    async def list_messages(
        self, search: MessageFilter, *, before_id: int | None = None, limit: int = 50
    ) -> list[MessageRecord]:
        """Frames matching ``search``, newest first; ``before_id`` is the cursor: the frames
        logged before that row.

        One charger's frames are read in the order of the (charge_point_id, at) index (time,
        then row id): measured with 30,000 frames per charger on SQLite, ordering them by row id
        alone sorted them all for each page (500 ms a page). The log is written in the order it
        was recorded, so both orders agree; frames of all chargers go by row id.
        """
        statement = _where(sa.select(message_log), search)
        async with self._db.read() as connection:
            if search.charge_point_id is None:
                if before_id is not None:
                    statement = statement.where(_T.id < before_id)
                statement = statement.order_by(_T.id.desc())
            else:
                if before_id is not None:
                    cursor_at = await connection.scalar(sa.select(_T.at).where(_T.id == before_id))
                    statement = statement.where(
                        _T.id < before_id
                        if cursor_at is None  # deleted by retention meanwhile
                        else sa.or_(
                            _T.at < cursor_at, sa.and_(_T.at == cursor_at, _T.id < before_id)
                        )
                    )
                statement = statement.order_by(_T.at.desc(), _T.id.desc())
            return to_records(MessageRecord, await connection.execute(statement.limit(limit)))

    async def frames_of(
        self,
        charge_point_id: str,
        since: datetime | None,
        until: datetime | None,
        limit: int = MAX_EXPLAIN_FRAMES,
    ) -> list[MessageRecord]:
        """One charger's frames in [since, until), oldest first (what "explain" tells); when more
        than ``limit`` match, the newest ``limit`` of them."""
        search = MessageFilter(charge_point_id=charge_point_id, since=since, until=until)
        statement = (
            _where(sa.select(message_log), search).order_by(_T.at.desc(), _T.id.desc()).limit(limit)
        )
        async with self._db.read() as connection:
            records = to_records(MessageRecord, await connection.execute(statement))
        records.reverse()
        return records

    async def delete_older_than(self, cutoff: datetime, chunk: int = DELETE_CHUNK_ROWS) -> int:
        """Delete frames logged before ``cutoff``, ``chunk`` rows per transaction; returns how
        many."""
        return await self._delete_chunks(_T.at < cutoff, chunk)

    async def delete_beyond(self, max_rows: int, chunk: int = DELETE_CHUNK_ROWS) -> int:
        """Keep the newest ``max_rows`` frames (by row id), delete the older ones, ``chunk``
        rows per transaction; returns how many were deleted."""
        statement = sa.select(_T.id).order_by(_T.id.desc()).offset(max_rows).limit(1)
        async with self._db.read() as connection:
            threshold = await connection.scalar(statement)
        if threshold is None:
            return 0
        return await self._delete_chunks(_T.id <= threshold, chunk)

    async def _delete_chunks(self, condition: sa.ColumnElement[bool], chunk: int) -> int:
        """Delete the rows matching ``condition``, oldest first, in transactions of ``chunk``
        rows: the store's writer is never held for long (durable writes wait behind it)."""
        deleted = 0
        while True:
            oldest = sa.select(_T.id).where(condition).order_by(_T.id).limit(chunk)
            async with self._db.write() as connection:
                result = await connection.execute(
                    sa.delete(message_log).where(_T.id.in_(oldest.scalar_subquery()))
                )
            count = int(result.rowcount or 0)
            deleted += count
            if count < chunk:
                return deleted

    async def count(self) -> int:
        """How many frames are stored."""
        async with self._db.read() as connection:
            value = await connection.scalar(sa.select(sa.func.count()).select_from(message_log))
        return int(value or 0)
