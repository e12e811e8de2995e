"""Charge points: the adoption inbox and BootNotification records."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest

from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId
from chargedeck.store import Store
from chargedeck.store.errors import AlreadyExists, NotFound
from chargedeck.store.records import BootRecord, BootRow

CountRows = Callable[..., Awaitable[int]]

CP = ChargePointId("CP-001")
BOOT = BootRecord(
    charge_point_vendor="Wallbox",
    charge_point_model="Pulsar Plus",
    charge_point_serial_number="123",
    firmware_version="5.5.10",
    meter_type="internal",
)


async def test_added_charge_point_is_returned_with_its_registration(
    store: Store, now: datetime
) -> None:
    added = await store.charge_points.add_charge_point(CP, Registration.REGISTERED, now)
    assert added.registration is Registration.REGISTERED
    assert added.created_at == now
    assert await store.charge_points.get_charge_point(CP) == added


async def test_unknown_charge_point_is_none(store: Store) -> None:
    assert await store.charge_points.get_charge_point(ChargePointId("nope")) is None


async def test_adding_a_charge_point_twice_raises_already_exists(
    store: Store, now: datetime
) -> None:
    await store.charge_points.add_charge_point(CP, Registration.REGISTERED, now)
    with pytest.raises(AlreadyExists):
        await store.charge_points.add_charge_point(CP, Registration.PENDING, now)


async def test_adopting_registers_a_pending_charger(store: Store, now: datetime) -> None:
    await store.charge_points.add_charge_point(CP, Registration.PENDING, now)
    later = now + timedelta(minutes=5)
    adopted = await store.charge_points.adopt_charge_point(CP, later)
    assert adopted.registration is Registration.REGISTERED
    assert adopted.adopted_at == later


async def test_adopting_twice_keeps_the_first_adoption_time(store: Store, now: datetime) -> None:
    await store.charge_points.add_charge_point(CP, Registration.PENDING, now)
    await store.charge_points.adopt_charge_point(CP, now)
    again = await store.charge_points.adopt_charge_point(CP, now + timedelta(days=1))
    assert again.adopted_at == now


async def test_adopting_an_unknown_charger_raises_not_found(store: Store, now: datetime) -> None:
    with pytest.raises(NotFound):
        await store.charge_points.adopt_charge_point(CP, now)


async def test_listing_filters_by_registration(store: Store, now: datetime) -> None:
    await store.charge_points.add_charge_point(ChargePointId("B"), Registration.REGISTERED, now)
    await store.charge_points.add_charge_point(ChargePointId("A"), Registration.PENDING, now)
    await store.charge_points.add_charge_point(ChargePointId("C"), Registration.PENDING, now)
    every = await store.charge_points.list_charge_points()
    pending = await store.charge_points.list_charge_points(Registration.PENDING)
    assert [record.id for record in every] == ["A", "B", "C"]
    assert [record.id for record in pending] == ["A", "C"]


def boot_row(at: datetime, register_as: Registration, status: str = "Accepted") -> BootRow:
    return BootRow(
        charge_point_id=CP, boot=BOOT, status=status, received_at=at, register_as=register_as
    )


async def test_boot_is_committed_when_write_boot_returns(
    store: Store, now: datetime, committed_rows: CountRows
) -> None:
    await store.charge_points.add_charge_point(CP, Registration.REGISTERED, now)
    await store.writer.write_boot(boot_row(now, Registration.PENDING))
    assert await committed_rows("boot_notifications", "status = 'Accepted'") == 1
    assert await committed_rows("charge_points", "vendor = 'Wallbox' AND last_boot_at IS NOT NULL")


async def test_boot_updates_the_charger_description_and_keeps_its_registration(
    store: Store, now: datetime
) -> None:
    await store.charge_points.add_charge_point(CP, Registration.REGISTERED, now)
    later = now + timedelta(hours=1)
    await store.writer.write_boot(boot_row(later, Registration.PENDING))
    record = await store.charge_points.get_charge_point(CP)
    assert record is not None
    assert record.registration is Registration.REGISTERED
    assert (record.vendor, record.model, record.firmware_version) == (
        "Wallbox",
        "Pulsar Plus",
        "5.5.10",
    )
    assert record.last_boot_at == later
    assert record.first_seen_at == later
    boots = await store.charge_points.list_boot_notifications(CP)
    assert [(boot.charge_point_model, boot.status) for boot in boots] == [
        ("Pulsar Plus", "Accepted")
    ]


async def test_the_boot_of_an_unknown_charger_adds_it_with_the_given_registration(
    store: Store, now: datetime
) -> None:
    await store.writer.write_boot(boot_row(now, Registration.PENDING, "Pending"))
    record = await store.charge_points.get_charge_point(CP)
    assert record is not None
    assert record.registration is Registration.PENDING
    assert record.first_seen_at == now
    assert record.model == "Pulsar Plus"


async def test_boots_of_many_chargers_share_commits(store: Store, now: datetime) -> None:
    commits_before = store.writer.commits
    await asyncio.gather(
        *(
            store.writer.write_boot(
                BootRow(
                    charge_point_id=ChargePointId(f"STORM-{index}"),
                    boot=BOOT,
                    status="Accepted",
                    received_at=now,
                    register_as=Registration.REGISTERED,
                )
            )
            for index in range(200)
        )
    )
    assert len(await store.charge_points.list_charge_points()) == 200
    assert store.writer.commits - commits_before <= 4
