"""Reservations: ids never reused, statuses, expiry (OCPP 1.6 §5.13), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chargedeck.domain.ids import ChargePointId, IdTag, TransactionId
from chargedeck.domain.reservations import Reservation
from chargedeck.store import Store
from chargedeck.store.errors import NotFound
from chargedeck.store.reservations import ReservationRecord, ReservationRecordStatus

CP = ChargePointId("CP1")
CP2 = ChargePointId("CP2")


async def add(
    store: Store, now: datetime, charge_point_id: ChargePointId = CP, minutes: int = 30
) -> ReservationRecord:
    return await store.reservations.add_reservation(
        charge_point_id,
        connector_id=1,
        id_tag=IdTag("TAG1"),
        parent_id_tag=IdTag("GROUP"),
        expiry_date=now + timedelta(minutes=minutes),
        now=now,
    )


async def test_a_new_reservation_is_unanswered_with_an_id_never_used_before(
    store: Store, now: datetime
) -> None:
    first = await add(store, now)
    second = await add(store, now, CP2)
    assert first.status is ReservationRecordStatus.UNANSWERED
    assert second.id > first.id >= 1
    assert await store.reservations.get_reservation(first.id) == first


async def test_ids_are_not_reused_after_the_newest_is_gone(store: Store, now: datetime) -> None:
    first = await add(store, now)
    await store.reservations.set_status(first.id, ReservationRecordStatus.CANCELLED, now)
    assert (await add(store, now)).id == first.id + 1


async def test_a_status_change_keeps_the_transaction_that_used_it(
    store: Store, now: datetime
) -> None:
    record = await add(store, now)
    later = now + timedelta(minutes=1)
    used = await store.reservations.set_status(
        record.id, ReservationRecordStatus.USED, later, transaction_id=TransactionId(42)
    )
    assert (used.status, used.transaction_id, used.updated_at) == (
        ReservationRecordStatus.USED,
        42,
        later,
    )


async def test_changing_an_unknown_reservation_raises_not_found(
    store: Store, now: datetime
) -> None:
    with pytest.raises(NotFound):
        await store.reservations.set_status(99, ReservationRecordStatus.ACTIVE, now)


async def test_active_and_unanswered_reservations_expire_at_their_expiry_date(
    store: Store, now: datetime
) -> None:
    active = await add(store, now, minutes=10)
    await store.reservations.set_status(active.id, ReservationRecordStatus.ACTIVE, now)
    unanswered = await add(store, now, minutes=10)
    used = await add(store, now, minutes=10)
    await store.reservations.set_status(used.id, ReservationRecordStatus.USED, now)
    later = await add(store, now, minutes=20)
    await store.reservations.set_status(later.id, ReservationRecordStatus.ACTIVE, now)

    assert await store.reservations.expire_due(now + timedelta(minutes=10)) == 2
    statuses = {
        r.id: r.status for r in await store.reservations.list_reservations(charge_point_id=CP)
    }
    assert statuses == {
        active.id: ReservationRecordStatus.EXPIRED,
        unanswered.id: ReservationRecordStatus.EXPIRED,
        used.id: ReservationRecordStatus.USED,
        later.id: ReservationRecordStatus.ACTIVE,
    }


async def test_reservations_are_listed_newest_first_by_charger_status_and_page(
    store: Store, now: datetime
) -> None:
    ids = [(await add(store, now, cp)).id for cp in (CP, CP2, CP, CP)]
    await store.reservations.set_status(ids[3], ReservationRecordStatus.ACTIVE, now)
    listed = store.reservations.list_reservations
    assert [r.id for r in await listed()] == ids[::-1]
    assert [r.id for r in await listed(charge_point_id=CP)] == [ids[3], ids[2], ids[0]]
    assert [r.id for r in await listed(statuses=[ReservationRecordStatus.ACTIVE])] == [ids[3]]
    assert [r.id for r in await listed(limit=2, before_id=ids[3])] == [ids[2], ids[1]]


async def test_a_record_reads_as_the_domain_reservation(store: Store, now: datetime) -> None:
    record = await add(store, now)
    cancelled = await store.reservations.set_status(
        record.id, ReservationRecordStatus.CANCELLED, now
    )
    assert cancelled.to_domain() == Reservation(
        reservation_id=record.id,
        connector_id=1,
        id_tag="TAG1",
        parent_id_tag="GROUP",
        expiry_date=now + timedelta(minutes=30),
        cancelled=True,
    )
