"""The unknown-tag inbox: idTags chargers presented that no registered tag answers to.

One row per idTag (ignoring case) with a count, so a card tapped a thousand times grows a
counter, not the table (wallbox-field-notes G8: keep an "unknown tags seen" list to enrol from,
as SteVe does). A tag registered later leaves the inbox (store/id_tags.py ``add_id_tag``).
"""

from __future__ import annotations

from datetime import datetime

import msgspec
import sqlalchemy as sa

from chargedeck.domain.ids import ChargePointId, ConnectorId, IdTag
from chargedeck.store._convert import to_record, to_records
from chargedeck.store.engine import Database, dialect_insert
from chargedeck.store.id_tags import id_tag_key
from chargedeck.store.schema import unknown_id_tags

__all__ = ["UnknownIdTagRecord", "UnknownIdTags"]

_T = unknown_id_tags.c
_RECORD_COLUMNS = tuple(column for column in unknown_id_tags.c if column.name != "id_tag_key")


class UnknownIdTagRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An idTag presented while unknown: where and when it was last seen, and how often."""

    id_tag: IdTag
    """As the charger sent it the last time."""
    first_seen_at: datetime
    last_seen_at: datetime
    count: int
    last_charge_point_id: ChargePointId
    last_connector_id: ConnectorId | None
    """None for an Authorize, which names no connector (OCPP 1.6 §6.1)."""
    last_action: str
    """The OCPP action it came in: Authorize or StartTransaction."""


class UnknownIdTags:
    """Reads and writes of ``unknown_id_tags``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def record_presented(
        self,
        id_tag: str,
        *,
        charge_point_id: ChargePointId,
        connector_id: ConnectorId | None,
        action: str,
        now: datetime,
    ) -> int:
        """Count one presentation of an unknown idTag, in one statement; returns the count."""
        insert = dialect_insert(self._db.dialect_name, unknown_id_tags)
        statement = (
            insert.values(
                id_tag_key=id_tag_key(id_tag),
                id_tag=id_tag,
                first_seen_at=now,
                last_seen_at=now,
                count=1,
                last_charge_point_id=charge_point_id,
                last_connector_id=connector_id,
                last_action=action,
            )
            .on_conflict_do_update(
                index_elements=[_T.id_tag_key],
                set_={
                    "id_tag": insert.excluded.id_tag,
                    "last_seen_at": insert.excluded.last_seen_at,
                    "count": _T.count + 1,
                    "last_charge_point_id": insert.excluded.last_charge_point_id,
                    "last_connector_id": insert.excluded.last_connector_id,
                    "last_action": insert.excluded.last_action,
                },
            )
            .returning(_T.count)
        )
        async with self._db.write() as connection:
            return int((await connection.execute(statement)).scalar_one())

    async def get_unknown_id_tag(self, id_tag: str) -> UnknownIdTagRecord | None:
        """The inbox row of ``id_tag`` (any case), or None."""
        statement = sa.select(*_RECORD_COLUMNS).where(_T.id_tag_key == id_tag_key(id_tag))
        async with self._db.read() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else to_record(UnknownIdTagRecord, row)

    async def list_unknown_id_tags(self, limit: int = 50) -> list[UnknownIdTagRecord]:
        """The inbox, the most recently presented first."""
        statement = (
            sa.select(*_RECORD_COLUMNS).order_by(_T.last_seen_at.desc(), _T.id_tag_key).limit(limit)
        )
        async with self._db.read() as connection:
            return to_records(UnknownIdTagRecord, await connection.execute(statement))
