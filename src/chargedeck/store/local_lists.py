"""What each charger's Local Authorization List holds, as far as ChargeDeck knows, and the
history of what was sent (tables local_list_versions, local_list_entries, local_list_sends).

OCPP 1.6 §3.5.2, §5.15: the list changes only by SendLocalList. A charger's row in
``local_list_versions`` and its ``local_list_entries`` are what it holds after the last update
it accepted; no row means "unknown" (never synced, or an update it did not accept), and the next
update is then a Full one. Id tags compare ignoring case (§7.28 IdToken; ASCII case, as SQLite's
``lower()``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec
import sqlalchemy as sa

from chargedeck.domain.id_tags import AuthorizationDecision, AuthorizationStatus
from chargedeck.domain.ids import ChargePointId
from chargedeck.domain.local_list import LocalListEntry, UpdateType
from chargedeck.store._convert import to_records
from chargedeck.store.engine import Database, dialect_insert
from chargedeck.store.schema import local_list_entries, local_list_sends, local_list_versions

_V = local_list_versions.c
_E = local_list_entries.c
_S = local_list_sends.c
_SEND_COLUMNS = (
    _S.id,
    _S.charge_point_id,
    _S.list_version,
    _S.update_type,
    _S.entry_count,
    _S.status,
    _S.sent_at,
)


@dataclass(frozen=True)
class HeldLocalList:
    """The list a charger holds: its listVersion, when it accepted it, and its entries by id
    tag as sent."""

    version: int
    synced_at: datetime
    entries: dict[str, AuthorizationDecision]


class LocalListSendRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One SendLocalList request sent; ``status`` is the charger's UpdateStatus, None while (or
    if) it did not answer."""

    id: int
    charge_point_id: ChargePointId
    list_version: int
    update_type: UpdateType
    entry_count: int
    status: str | None
    sent_at: datetime


class LocalLists:
    """Reads and writes of the Local Authorization List tables."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def get_held(self, charge_point_id: ChargePointId) -> HeldLocalList | None:
        """What the charger holds, or None when ChargeDeck does not know."""
        async with self._db.read() as connection:
            version = (
                await connection.execute(
                    sa.select(_V.version, _V.synced_at).where(_V.charge_point_id == charge_point_id)
                )
            ).first()
            if version is None:
                return None
            rows = await connection.execute(
                sa.select(_E.id_tag, _E.status, _E.expiry_date, _E.parent_id_tag).where(
                    _E.charge_point_id == charge_point_id
                )
            )
            entries = {
                row.id_tag: AuthorizationDecision(
                    AuthorizationStatus(row.status), row.expiry_date, row.parent_id_tag
                )
                for row in rows
            }
        return HeldLocalList(version.version, version.synced_at, entries)

    async def held_version(self, charge_point_id: ChargePointId) -> tuple[int, datetime] | None:
        """The listVersion the charger holds and when it accepted it; None when unknown."""
        statement = sa.select(_V.version, _V.synced_at).where(_V.charge_point_id == charge_point_id)
        async with self._db.read() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else (row.version, row.synced_at)

    async def count_entries(self, charge_point_id: ChargePointId) -> int:
        """How many id tags the charger's list holds, as far as known (0 when unknown)."""
        async with self._db.read() as connection:
            result = await connection.execute(
                sa.select(sa.func.count()).where(_E.charge_point_id == charge_point_id)
            )
            return int(result.scalar_one())

    async def record_send(
        self,
        charge_point_id: ChargePointId,
        *,
        list_version: int,
        update_type: UpdateType,
        entry_count: int,
        now: datetime,
    ) -> int:
        """Note a SendLocalList about to be sent (status None until answered); its id."""
        statement = (
            sa.insert(local_list_sends)
            .values(
                charge_point_id=charge_point_id,
                list_version=list_version,
                update_type=update_type.value,
                entry_count=entry_count,
                status=None,
                sent_at=now,
            )
            .returning(_S.id)
        )
        async with self._db.write() as connection:
            return int((await connection.execute(statement)).scalar_one())

    async def set_send_status(self, send_id: int, status: str) -> None:
        """The charger's answer (UpdateStatus) to the send ``send_id``."""
        async with self._db.write() as connection:
            await connection.execute(
                sa.update(local_list_sends).where(_S.id == send_id).values(status=status)
            )

    async def list_sends(
        self, charge_point_id: ChargePointId, limit: int
    ) -> list[LocalListSendRecord]:
        """The sends to a charger, newest first."""
        statement = (
            sa.select(*_SEND_COLUMNS)
            .where(_S.charge_point_id == charge_point_id)
            .order_by(_S.id.desc())
            .limit(limit)
        )
        async with self._db.read() as connection:
            return to_records(LocalListSendRecord, await connection.execute(statement))

    async def has_sends(self, charge_point_id: ChargePointId) -> bool:
        """True once ChargeDeck has sent this charger a local list."""
        statement = sa.select(_S.id).where(_S.charge_point_id == charge_point_id).limit(1)
        async with self._db.read() as connection:
            return (await connection.execute(statement)).first() is not None

    async def apply_accepted(
        self,
        charge_point_id: ChargePointId,
        *,
        list_version: int,
        update_type: UpdateType,
        entries: Sequence[LocalListEntry],
        now: datetime,
    ) -> None:
        """The charger accepted a SendLocalList: it now holds ``list_version`` and, for Full,
        exactly ``entries``; for Differential, its entries changed by them (an entry without
        IdTagInfo removes its id tag, §5.15). One transaction."""
        of_charger = _E.charge_point_id == charge_point_id
        async with self._db.write() as connection:
            if update_type is UpdateType.FULL:
                await connection.execute(sa.delete(local_list_entries).where(of_charger))
            elif entries:
                keys = sorted({entry.id_tag.lower() for entry in entries})
                await connection.execute(
                    sa.delete(local_list_entries).where(
                        of_charger, sa.func.lower(_E.id_tag).in_(keys)
                    )
                )
            kept = {
                entry.id_tag.lower(): (entry.id_tag, entry.id_tag_info)
                for entry in entries
                if entry.id_tag_info is not None
            }
            if kept:
                await connection.execute(
                    sa.insert(local_list_entries),
                    [
                        {
                            "charge_point_id": charge_point_id,
                            "id_tag": id_tag,
                            "status": info.status.value,
                            "expiry_date": info.expiry_date,
                            "parent_id_tag": info.parent_id_tag,
                        }
                        for id_tag, info in kept.values()
                    ],
                )
            upsert = dialect_insert(self._db.dialect_name, local_list_versions).values(
                charge_point_id=charge_point_id, version=list_version, synced_at=now
            )
            await connection.execute(
                upsert.on_conflict_do_update(
                    index_elements=[_V.charge_point_id],
                    set_={"version": list_version, "synced_at": now},
                )
            )

    async def forget_held(self, charge_point_id: ChargePointId) -> None:
        """What the charger holds is unknown (it did not accept an update, or did not answer):
        the next update must be Full."""
        async with self._db.write() as connection:
            await connection.execute(
                sa.delete(local_list_entries).where(_E.charge_point_id == charge_point_id)
            )
            await connection.execute(
                sa.delete(local_list_versions).where(_V.charge_point_id == charge_point_id)
            )
