"""Sent charging profiles and what became of them: answers, replacement (OCPP 1.6 §3.13.2,
§5.16.2), ClearChargingProfile filters (§5.5), TxProfiles ending with their transaction
(§3.13.1), operator ids; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chargedeck.domain.ids import ChargePointId
from chargedeck.store import Store
from chargedeck.store.charging_profiles import ChargingProfileRecord
from chargedeck.store.charging_profiles import ChargingProfileRecordStatus as Status
from chargedeck.store.errors import NotFound

CP = ChargePointId("CP1")
CP2 = ChargePointId("CP2")


async def sent(
    store: Store,
    now: datetime,
    *,
    charge_point_id: ChargePointId = CP,
    connector_id: int = 1,
    profile_id: int = 1000,
    purpose: str = "TxDefaultProfile",
    stack_level: int = 0,
    transaction_id: int | None = None,
    origin: str = "operator",
) -> ChargingProfileRecord:
    return await store.charging_profiles.record_sent(
        charge_point_id,
        connector_id=connector_id,
        charging_profile_id=profile_id,
        purpose=purpose,
        stack_level=stack_level,
        transaction_id=transaction_id,
        profile=f'{{"chargingProfileId": {profile_id}}}',
        origin=origin,
        now=now,
    )


async def accepted(store: Store, now: datetime, **fields: object) -> ChargingProfileRecord:
    record = await sent(store, now, **fields)  # type: ignore[arg-type]
    return await store.charging_profiles.record_answer(record.id, Status.ACCEPTED, now)


async def installed_ids(store: Store, charge_point_id: ChargePointId = CP) -> list[int]:
    return [
        r.charging_profile_id for r in await store.charging_profiles.list_installed(charge_point_id)
    ]


async def test_a_sent_profile_is_unanswered_and_not_installed(store: Store, now: datetime) -> None:
    record = await sent(store, now)
    assert (record.status, record.answered_at, record.installed) == (Status.UNANSWERED, None, False)
    assert record.profile == '{"chargingProfileId": 1000}'
    assert await store.charging_profiles.get(record.id) == record
    assert await installed_ids(store) == []


async def test_an_accepted_profile_is_installed(store: Store, now: datetime) -> None:
    later = now + timedelta(seconds=1)
    record = await sent(store, now)
    answered = await store.charging_profiles.record_answer(record.id, Status.ACCEPTED, later)
    assert (answered.status, answered.answered_at, answered.installed) == (
        Status.ACCEPTED,
        later,
        True,
    )
    assert await installed_ids(store) == [1000]


@pytest.mark.parametrize("status", [Status.REJECTED, Status.NOT_SUPPORTED])
async def test_a_refused_profile_is_not_installed(
    store: Store, now: datetime, status: Status
) -> None:
    record = await sent(store, now)
    assert (await store.charging_profiles.record_answer(record.id, status, now)).status is status
    assert await installed_ids(store) == []


async def test_an_answer_to_an_unknown_profile_is_not_found(store: Store, now: datetime) -> None:
    with pytest.raises(NotFound):
        await store.charging_profiles.record_answer(999, Status.ACCEPTED, now)


async def test_an_accepted_profile_replaces_the_one_with_its_id(
    store: Store, now: datetime
) -> None:
    old = await accepted(store, now, profile_id=100, connector_id=1)
    await accepted(store, now, profile_id=100, connector_id=2)
    replaced = await store.charging_profiles.get(old.id)
    assert replaced is not None
    assert (replaced.status, replaced.ended_at) == (Status.REPLACED, now)
    assert [r.connector_id for r in await store.charging_profiles.list_installed(CP)] == [2]


async def test_an_accepted_profile_replaces_the_one_in_its_slot(
    store: Store, now: datetime
) -> None:
    await accepted(store, now, profile_id=1000, stack_level=0)
    await accepted(store, now, profile_id=1001, stack_level=1)
    await accepted(store, now, profile_id=1002, stack_level=0)
    assert await installed_ids(store) == [1002, 1001]  # by stack level


async def test_a_tx_profile_replaces_only_one_of_its_own_transaction(
    store: Store, now: datetime
) -> None:
    fields = {"purpose": "TxProfile", "stack_level": 0}
    await accepted(store, now, profile_id=1000, transaction_id=7, **fields)
    await accepted(store, now, profile_id=1001, transaction_id=8, **fields)
    await accepted(store, now, profile_id=1002, transaction_id=8, **fields)
    assert await installed_ids(store) == [1000, 1002]


async def test_a_refused_profile_replaces_nothing(store: Store, now: datetime) -> None:
    await accepted(store, now, profile_id=1000)
    record = await sent(store, now, profile_id=1000)
    await store.charging_profiles.record_answer(record.id, Status.REJECTED, now)
    assert await installed_ids(store) == [1000]


async def test_another_chargers_profiles_are_not_replaced(store: Store, now: datetime) -> None:
    await accepted(store, now, profile_id=1000, charge_point_id=CP2)
    await accepted(store, now, profile_id=1000)
    assert await installed_ids(store, CP2) == [1000]


async def test_clearing_by_id_ends_only_that_profile(store: Store, now: datetime) -> None:
    await accepted(store, now, profile_id=1000, connector_id=1)
    await accepted(store, now, profile_id=1001, connector_id=2)
    cleared = await store.charging_profiles.mark_cleared(
        CP, charging_profile_id=1000, connector_id=2, now=now
    )
    assert cleared == 1
    assert await installed_ids(store) == [1001]


async def test_clearing_by_filters_ends_the_profiles_matching_all_of_them(
    store: Store, now: datetime
) -> None:
    await accepted(store, now, profile_id=1, connector_id=0, purpose="ChargePointMaxProfile")
    await accepted(store, now, profile_id=1000, connector_id=1, stack_level=0)
    await accepted(store, now, profile_id=1001, connector_id=1, stack_level=1)
    await accepted(store, now, profile_id=1002, connector_id=2, stack_level=1)
    cleared = await store.charging_profiles.mark_cleared(
        CP, connector_id=1, purpose="TxDefaultProfile", stack_level=1, now=now
    )
    assert cleared == 1
    assert await installed_ids(store) == [1, 1000, 1002]
    record = (await store.charging_profiles.list_history(CP, limit=10))[1]
    assert (record.charging_profile_id, record.status) == (1001, Status.CLEARED)


async def test_clearing_without_filters_ends_every_profile_of_the_charger(
    store: Store, now: datetime
) -> None:
    await accepted(store, now, profile_id=1000)
    await accepted(store, now, profile_id=1001, connector_id=2)
    await accepted(store, now, profile_id=1000, charge_point_id=CP2)
    assert await store.charging_profiles.mark_cleared(CP, now=now) == 2
    assert await installed_ids(store) == []
    assert await installed_ids(store, CP2) == [1000]


async def test_a_transactions_end_ends_its_tx_profiles(store: Store, now: datetime) -> None:
    later = now + timedelta(minutes=5)
    tx = await accepted(store, now, profile_id=1000, purpose="TxProfile", transaction_id=7)
    await accepted(store, now, profile_id=1001, purpose="TxProfile", transaction_id=8)
    await accepted(store, now, profile_id=1002)
    assert await store.charging_profiles.end_transaction_profiles(CP, 7, later) == 1
    ended = await store.charging_profiles.get(tx.id)
    assert ended is not None
    assert (ended.status, ended.ended_at, ended.installed) == (Status.ACCEPTED, later, False)
    assert sorted(await installed_ids(store)) == [1001, 1002]


async def test_history_is_newest_first_with_a_cursor(store: Store, now: datetime) -> None:
    records = [await sent(store, now, profile_id=1000 + index) for index in range(3)]
    history = await store.charging_profiles.list_history(CP, limit=2)
    assert [r.id for r in history] == [records[2].id, records[1].id]
    rest = await store.charging_profiles.list_history(CP, limit=2, before_id=history[-1].id)
    assert [r.id for r in rest] == [records[0].id]


async def test_operator_ids_start_at_the_first_of_the_range(store: Store, now: datetime) -> None:
    assert await store.charging_profiles.next_profile_id(CP, first=1000, last=2000) == 1000


async def test_operator_ids_follow_the_highest_sent_to_that_charger(
    store: Store, now: datetime
) -> None:
    await sent(store, now, profile_id=1004)
    await sent(store, now, profile_id=100, origin="load_control")
    await sent(store, now, profile_id=1500, charge_point_id=CP2)
    assert await store.charging_profiles.next_profile_id(CP, first=1000, last=2000) == 1005


async def test_a_used_up_id_range_is_a_value_error(store: Store, now: datetime) -> None:
    await sent(store, now, profile_id=1001)
    with pytest.raises(ValueError, match="every chargingProfileId from 1000 to 1001"):
        await store.charging_profiles.next_profile_id(CP, first=1000, last=1001)
