"""Configuration memory: full-configuration snapshots per charger, and wanted-configuration
templates (tables configuration_snapshots and configuration_templates, migration 0004).

A snapshot's keys are masked before they are written (``domain/masking.py``), whoever calls:
a secret value never reaches the table. Keys and unknown keys are JSON text columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import msgspec
import sqlalchemy as sa

from chargedeck.domain.configuration_keys import SnapshotKey, masked_keys
from chargedeck.domain.ids import ChargePointId
from chargedeck.store.engine import Database
from chargedeck.store.errors import AlreadyExists, NotFound
from chargedeck.store.schema import configuration_snapshots, configuration_templates

_S = configuration_snapshots.c
_T = configuration_templates.c


class StoredKey(msgspec.Struct, frozen=True, kw_only=True):
    """A key of a snapshot as stored (the JSON shape of the ``keys`` column)."""

    key: str
    value: str | None
    readonly: bool


class SnapshotRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    charge_point_id: str
    taken_at: datetime
    firmware_version: str | None
    keys: list[StoredKey]
    unknown_keys: list[str]

    def snapshot_keys(self) -> list[SnapshotKey]:
        return [SnapshotKey(entry.key, entry.value, entry.readonly) for entry in self.keys]


class TemplateRecord(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    charger_model: str | None
    """A charger-model row name (domain/charger_models.py); None: every model."""
    keys: dict[str, str]
    created_at: datetime
    updated_at: datetime


_KEYS = msgspec.json.Decoder(list[StoredKey])
_NAMES = msgspec.json.Decoder(list[str])
_WANTED = msgspec.json.Decoder(dict[str, str])


def _snapshot(row: sa.Row[tuple[object, ...]]) -> SnapshotRecord:
    mapping = row._mapping
    return SnapshotRecord(
        id=mapping["id"],
        charge_point_id=mapping["charge_point_id"],
        taken_at=mapping["taken_at"],
        firmware_version=mapping["firmware_version"],
        keys=_KEYS.decode(mapping["keys"]),
        unknown_keys=_NAMES.decode(mapping["unknown_keys"]),
    )


def _template(row: sa.Row[tuple[object, ...]]) -> TemplateRecord:
    mapping = row._mapping
    return TemplateRecord(
        name=mapping["name"],
        charger_model=mapping["charger_model"],
        keys=_WANTED.decode(mapping["keys"]),
        created_at=mapping["created_at"],
        updated_at=mapping["updated_at"],
    )


class ConfigurationMemory:
    """Reads and writes of configuration snapshots and templates."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # ---- snapshots ---------------------------------------------------------------------------

    async def add_snapshot(
        self,
        charge_point_id: ChargePointId,
        keys: Sequence[SnapshotKey],
        unknown_keys: Sequence[str],
        *,
        firmware_version: str | None,
        now: datetime,
    ) -> SnapshotRecord:
        """Keep a full GetConfiguration answer, secret values masked; returns it as stored."""
        stored = [
            StoredKey(key=entry.key, value=entry.value, readonly=entry.readonly)
            for entry in masked_keys(keys)
        ]
        statement = (
            sa.insert(configuration_snapshots)
            .values(
                charge_point_id=charge_point_id,
                taken_at=now,
                firmware_version=firmware_version,
                keys=msgspec.json.encode(stored).decode(),
                unknown_keys=msgspec.json.encode(sorted(unknown_keys)).decode(),
            )
            .returning(*configuration_snapshots.c)
        )
        async with self._db.write() as connection:
            row = (await connection.execute(statement)).one()
        return _snapshot(row)

    async def list_snapshots(
        self, charge_point_id: ChargePointId, limit: int = 50
    ) -> list[SnapshotRecord]:
        """The charger's snapshots, newest first."""
        statement = (
            sa.select(configuration_snapshots)
            .where(_S.charge_point_id == charge_point_id)
            .order_by(_S.id.desc())
            .limit(limit)
        )
        async with self._db.read() as connection:
            return [_snapshot(row) for row in await connection.execute(statement)]

    async def get_snapshot(
        self, charge_point_id: ChargePointId, snapshot_id: int
    ) -> SnapshotRecord | None:
        statement = sa.select(configuration_snapshots).where(
            _S.charge_point_id == charge_point_id, _S.id == snapshot_id
        )
        async with self._db.read() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else _snapshot(row)

    async def previous_snapshot(
        self, charge_point_id: ChargePointId, snapshot_id: int
    ) -> SnapshotRecord | None:
        """The charger's snapshot taken just before ``snapshot_id`` (None: it is the first)."""
        statement = (
            sa.select(configuration_snapshots)
            .where(_S.charge_point_id == charge_point_id, _S.id < snapshot_id)
            .order_by(_S.id.desc())
            .limit(1)
        )
        async with self._db.read() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else _snapshot(row)

    # ---- templates ---------------------------------------------------------------------------

    async def add_template(
        self, name: str, charger_model: str | None, keys: Mapping[str, str], now: datetime
    ) -> TemplateRecord:
        """A new template; ``AlreadyExists`` if ``name`` is taken."""
        if await self.get_template(name) is not None:
            raise AlreadyExists(f"configuration template {name!r} exists already")
        statement = (
            sa.insert(configuration_templates)
            .values(
                name=name,
                charger_model=charger_model,
                keys=msgspec.json.encode(dict(keys)).decode(),
                created_at=now,
                updated_at=now,
            )
            .returning(*configuration_templates.c)
        )
        async with self._db.write() as connection:
            row = (await connection.execute(statement)).one()
        return _template(row)

    async def replace_template(
        self, name: str, charger_model: str | None, keys: Mapping[str, str], now: datetime
    ) -> TemplateRecord:
        """Replace the template's model and keys; ``NotFound`` if there is none named ``name``."""
        statement = (
            sa.update(configuration_templates)
            .where(_T.name == name)
            .values(
                charger_model=charger_model,
                keys=msgspec.json.encode(dict(keys)).decode(),
                updated_at=now,
            )
            .returning(*configuration_templates.c)
        )
        async with self._db.write() as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            raise NotFound(f"there is no configuration template {name!r}")
        return _template(row)

    async def get_template(self, name: str) -> TemplateRecord | None:
        async with self._db.read() as connection:
            row = (
                await connection.execute(sa.select(configuration_templates).where(_T.name == name))
            ).first()
        return None if row is None else _template(row)

    async def list_templates(self) -> list[TemplateRecord]:
        async with self._db.read() as connection:
            rows = await connection.execute(sa.select(configuration_templates).order_by(_T.name))
            return [_template(row) for row in rows]
