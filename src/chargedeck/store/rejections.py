"""Refused charger connections, counted per (charger, remote host, reason).

One row per combination with first/last time and a count: a flood of wrong passwords from one
address grows a counter instead of the table, and "why was my charger refused?" is one indexed
read. Written in batches by the connection guard (a refusal acknowledges nothing, so a crash may
lose the last second of counts, never a charger's data).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec
import sqlalchemy as sa

from chargedeck.domain.security import RejectionReason
from chargedeck.store._convert import to_records
from chargedeck.store.engine import Database, dialect_insert
from chargedeck.store.schema import connection_rejections

_T = connection_rejections.c


class RejectionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """Refusals of one charger id ('' when not known) from one remote host for one reason."""

    charge_point_id: str
    remote_host: str
    reason: RejectionReason
    detail: str
    """The sentence of the latest refusal."""
    first_at: datetime
    last_at: datetime
    count: int


class ConnectionRejections:
    """Reads and writes of ``connection_rejections``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def add_rejections(self, rejections: Sequence[RejectionRecord]) -> None:
        """Add counted refusals: an existing row's count grows and its last time and detail
        move on."""
        if not rejections:
            return
        insert = dialect_insert(self._db.dialect_name, connection_rejections)
        statement = insert.on_conflict_do_update(
            index_elements=[_T.charge_point_id, _T.remote_host, _T.reason],
            set_={
                "count": _T.count + insert.excluded.count,
                "last_at": insert.excluded.last_at,
                "detail": insert.excluded.detail,
            },
        )
        rows = [msgspec.structs.asdict(rejection) for rejection in rejections]
        for row in rows:
            row["reason"] = str(row["reason"])
        async with self._db.write() as connection:
            await connection.execute(statement, rows)

    async def list_rejections(
        self, charge_point_id: str | None = None, limit: int = 100
    ) -> list[RejectionRecord]:
        """Refusals, the most recent first; only one charger's when ``charge_point_id`` is given
        ('' lists those whose charger id was not known, e.g. failed TLS handshakes)."""
        columns = [c for c in connection_rejections.c if c.name != "id"]
        statement = sa.select(*columns).order_by(_T.last_at.desc(), _T.id.desc()).limit(limit)
        if charge_point_id is not None:
            statement = statement.where(_T.charge_point_id == charge_point_id)
        async with self._db.read() as connection:
            return to_records(RejectionRecord, await connection.execute(statement))
