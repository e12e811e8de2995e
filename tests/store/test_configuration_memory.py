"""Configuration snapshots and templates (migration 0004), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargedeck.domain.configuration_keys import SnapshotKey
from chargedeck.domain.ids import ChargePointId
from chargedeck.domain.masking import MASK
from chargedeck.store import Store
from chargedeck.store.errors import AlreadyExists, NotFound

CP = ChargePointId("CP-MEM-1")
OTHER = ChargePointId("CP-MEM-2")
KEYS = [
    SnapshotKey("HeartbeatInterval", "60", False),
    SnapshotKey("AuthorizationKey", "0123456789abcdef0123", False),
    SnapshotKey("WebSocketPassword", "wallbox-secret", False),
    SnapshotKey("NumberOfConnectors", "1", True),
]


async def test_a_snapshot_is_stored_with_secret_values_masked(
    store: Store, now: datetime, observer: AsyncEngine
) -> None:
    taken = await store.configuration_memory.add_snapshot(
        CP, KEYS, ["Nope"], firmware_version="6.7.38", now=now
    )
    assert {key.key: key.value for key in taken.keys} == {
        "AuthorizationKey": MASK,
        "HeartbeatInterval": "60",
        "NumberOfConnectors": "1",
        "WebSocketPassword": MASK,
    }
    assert taken.unknown_keys == ["Nope"]
    assert taken.firmware_version == "6.7.38"
    async with observer.connect() as connection:
        raw = (await connection.execute(sa.text("SELECT keys FROM configuration_snapshots"))).all()
    assert "wallbox-secret" not in str(raw)
    assert "0123456789abcdef0123" not in str(raw)


async def test_snapshots_are_listed_newest_first_per_charger_with_the_previous_one(
    store: Store, now: datetime
) -> None:
    memory = store.configuration_memory
    first = await memory.add_snapshot(CP, KEYS, [], firmware_version=None, now=now)
    await memory.add_snapshot(OTHER, KEYS, [], firmware_version=None, now=now)
    second = await memory.add_snapshot(
        CP, KEYS[:1], [], firmware_version=None, now=now + timedelta(minutes=1)
    )
    assert [s.id for s in await memory.list_snapshots(CP)] == [second.id, first.id]
    assert await memory.previous_snapshot(CP, second.id) == first
    assert await memory.previous_snapshot(CP, first.id) is None
    assert await memory.get_snapshot(OTHER, first.id) is None
    assert await memory.get_snapshot(CP, second.id) == second


async def test_templates_are_added_once_replaced_and_listed_by_name(
    store: Store, now: datetime
) -> None:
    memory = store.configuration_memory
    added = await memory.add_template("home", None, {"HeartbeatInterval": "300"}, now)
    with pytest.raises(AlreadyExists):
        await memory.add_template("home", None, {"HeartbeatInterval": "60"}, now)
    later = now + timedelta(hours=1)
    replaced = await memory.replace_template(
        "home", "Wallbox Pulsar Pro", {"MeterValueSampleInterval": "60"}, later
    )
    assert (replaced.created_at, replaced.updated_at) == (added.created_at, later)
    assert replaced.keys == {"MeterValueSampleInterval": "60"}
    assert replaced.charger_model == "Wallbox Pulsar Pro"
    await memory.add_template("alpha", None, {"BlinkRepeat": "2"}, now)
    assert [t.name for t in await memory.list_templates()] == ["alpha", "home"]
    with pytest.raises(NotFound):
        await memory.replace_template("nope", None, {"BlinkRepeat": "2"}, now)
    assert await memory.get_template("nope") is None
