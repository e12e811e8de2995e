"""The configuration each charger last reported (GetConfiguration, OCPP 1.6 §5.8), key by key
(table charge_point_configuration).

Key names are CiString50, compared ignoring case (§7.29): a charger that reports
``localauthlistenabled`` replaces the row it reported as ``LocalAuthListEnabled``, and every
lookup ignores case (ASCII case, as SQLite's ``lower()``: configuration keys are ASCII names).
Values are kept as the charger sent them (secrets too: masking happens where they are shown,
``domain/masking.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import msgspec
import sqlalchemy as sa

from chargedeck.domain.ids import ChargePointId
from chargedeck.store._convert import to_records
from chargedeck.store.engine import Database
from chargedeck.store.schema import charge_point_configuration

_C = charge_point_configuration.c
_COLUMNS = (_C.key, _C.value, _C.readonly, _C.reported_at)


class ReportedKey(msgspec.Struct, frozen=True, kw_only=True):
    """One KeyValue of a GetConfiguration answer (§7.29); ``value`` None: known but not set."""

    key: str
    value: str | None
    readonly: bool


class ConfigurationKeyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A key as the charger last reported it, and when."""

    key: str
    value: str | None
    readonly: bool
    reported_at: datetime


class ChargerConfiguration:
    """Reads and writes of ``charge_point_configuration``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def store_reported(
        self,
        charge_point_id: ChargePointId,
        keys: Sequence[ReportedKey],
        *,
        unknown_keys: Iterable[str] = (),
        now: datetime,
        complete: bool = False,
    ) -> None:
        """Keep a GetConfiguration answer, in one transaction.

        Each reported key replaces the stored one (whatever its case); a key the charger named
        in ``unknownKey`` is forgotten. ``complete``: the answer to a GetConfiguration without a
        key list, which holds every key the charger has (§5.8), so keys it no longer reports are
        forgotten too.
        """
        reported = {entry.key.lower(): entry for entry in keys}
        forgotten = {key.lower() for key in unknown_keys} | set(reported)
        of_charger = _C.charge_point_id == charge_point_id
        async with self._db.write() as connection:
            if complete:
                await connection.execute(sa.delete(charge_point_configuration).where(of_charger))
            elif forgotten:
                await connection.execute(
                    sa.delete(charge_point_configuration).where(
                        of_charger, sa.func.lower(_C.key).in_(sorted(forgotten))
                    )
                )
            if reported:
                await connection.execute(
                    sa.insert(charge_point_configuration),
                    [
                        {
                            "charge_point_id": charge_point_id,
                            "key": entry.key,
                            "value": entry.value,
                            "readonly": entry.readonly,
                            "reported_at": now,
                        }
                        for entry in reported.values()
                    ],
                )

    async def list_keys(
        self, charge_point_id: ChargePointId, keys: Iterable[str] | None = None
    ) -> list[ConfigurationKeyRecord]:
        """The stored keys of a charger (only ``keys``, ignoring case, when given), by name."""
        statement = sa.select(*_COLUMNS).where(_C.charge_point_id == charge_point_id)
        if keys is not None:
            statement = statement.where(
                sa.func.lower(_C.key).in_(sorted({key.lower() for key in keys}))
            )
        async with self._db.read() as connection:
            return to_records(
                ConfigurationKeyRecord,
                await connection.execute(statement.order_by(sa.func.lower(_C.key))),
            )

    async def values(
        self, charge_point_id: ChargePointId, keys: Iterable[str]
    ) -> dict[str, str | None]:
        """The stored values of ``keys``, by the name asked for; a key never reported is
        absent, a key reported without a value maps to None."""
        wanted = {key.lower(): key for key in keys}
        return {
            wanted[record.key.lower()]: record.value
            for record in await self.list_keys(charge_point_id, wanted.values())
        }
