"""Transactions: idempotent start, stops that are never refused, listing (DESIGN §6)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId, ConnectorId, IdTag, TransactionId
from chargedeck.store import Store
from chargedeck.store.errors import ConstraintViolation
from chargedeck.store.records import (
    MeterValueRow,
    MeterValueSource,
    ReconciliationKind,
    StartTransactionRecord,
    StopOutcome,
    StopTransactionRecord,
)

CountRows = Callable[..., Awaitable[int]]
CP = ChargePointId("CP-001")
OTHER_CP = ChargePointId("CP-002")
INT32_MAX = 2**31 - 1


@pytest.fixture
async def chargers(store: Store, now: datetime) -> None:
    await store.charge_points.add_charge_point(CP, Registration.REGISTERED, now)
    await store.charge_points.add_charge_point(OTHER_CP, Registration.REGISTERED, now)


def start(
    now: datetime, *, connector: int = 1, meter_start: int = 1000, charge_point: str = CP
) -> StartTransactionRecord:
    return StartTransactionRecord(
        charge_point_id=ChargePointId(charge_point),
        connector_id=ConnectorId(connector),
        id_tag=IdTag("04A2BC19"),
        meter_start=meter_start,
        started_at=now,
        start_id_tag_status="Accepted",
    )


def stop(now: datetime, transaction_id: int, meter_stop: int = 5000) -> StopTransactionRecord:
    return StopTransactionRecord(
        charge_point_id=CP,
        transaction_id=TransactionId(transaction_id),
        meter_stop=meter_stop,
        stopped_at=now + timedelta(hours=1),
        reason="Local",
    )


def sample(now: datetime, energy_wh: int, connector: int = 0) -> MeterValueRow:
    return MeterValueRow(
        charge_point_id=CP,
        connector_id=ConnectorId(connector),
        transaction_id=None,
        timestamp=now,
        sampled_values=f'[{{"value":"{energy_wh}"}}]',
        energy_wh=energy_wh,
        received_at=now,
    )


@pytest.mark.usefixtures("chargers")
async def test_start_creates_a_transaction_committed_before_return(
    store: Store, now: datetime, committed_rows: CountRows
) -> None:
    transaction_id, created = await store.transactions.start_transaction(start(now), now)
    assert created is True
    assert await committed_rows("transactions", f"id = {transaction_id}") == 1


@pytest.mark.usefixtures("chargers")
async def test_repeated_start_returns_the_same_transaction_id(store: Store, now: datetime) -> None:
    first, _ = await store.transactions.start_transaction(start(now), now)
    again, created = await store.transactions.start_transaction(start(now), now)
    assert (again, created) == (first, False)


@pytest.mark.usefixtures("chargers")
async def test_concurrent_repeated_starts_create_one_transaction(
    store: Store, now: datetime
) -> None:
    results = await asyncio.gather(
        *(store.transactions.start_transaction(start(now), now) for _ in range(10))
    )
    assert len({transaction_id for transaction_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1


@pytest.mark.usefixtures("chargers")
async def test_start_with_another_meter_start_is_a_new_transaction(
    store: Store, now: datetime
) -> None:
    first, _ = await store.transactions.start_transaction(start(now), now)
    second, created = await store.transactions.start_transaction(start(now, meter_start=2000), now)
    assert created is True
    assert second != first


@pytest.mark.usefixtures("chargers")
async def test_transaction_ids_are_within_int32(store: Store, now: datetime) -> None:
    for meter_start in range(3):
        transaction_id, _ = await store.transactions.start_transaction(
            start(now, meter_start=meter_start), now
        )
        assert 1 <= transaction_id <= INT32_MAX


@pytest.mark.usefixtures("chargers")
async def test_start_beyond_int32_is_refused_rather_than_sent_to_a_charger(
    store: Store, now: datetime, observer: AsyncEngine
) -> None:
    await store.transactions.start_transaction(start(now), now)
    async with observer.begin() as connection:
        if observer.dialect.name == "sqlite":
            await connection.execute(
                sa.text("UPDATE sqlite_sequence SET seq = :max WHERE name = 'transactions'"),
                {"max": INT32_MAX},
            )
        else:
            await connection.execute(
                sa.text("SELECT setval('transactions_id_seq', :max)"), {"max": INT32_MAX}
            )
    with pytest.raises(ConstraintViolation):
        await store.transactions.start_transaction(start(now, meter_start=2), now)


async def test_start_on_an_unknown_charger_raises_constraint_violation(
    store: Store, now: datetime
) -> None:
    with pytest.raises(ConstraintViolation):
        await store.transactions.start_transaction(start(now), now)


@pytest.mark.usefixtures("chargers")
async def test_stop_closes_the_transaction(store: Store, now: datetime) -> None:
    transaction_id, _ = await store.transactions.start_transaction(start(now), now)
    outcome = await store.transactions.stop_transaction(stop(now, transaction_id), [], now)
    record = await store.transactions.get_transaction(transaction_id)
    assert outcome is StopOutcome.STOPPED
    assert record is not None
    assert (record.meter_stop, record.stop_reason, record.active) == (5000, "Local", False)
    assert record.stopped_at == now + timedelta(hours=1)


@pytest.mark.usefixtures("chargers")
async def test_stop_of_an_unknown_transaction_is_accepted_and_recorded(
    store: Store, now: datetime, committed_rows: CountRows
) -> None:
    outcome = await store.transactions.stop_transaction(stop(now, 4242), [], now)
    recorded = await store.transactions.list_stop_reconciliations(CP)
    assert outcome is StopOutcome.UNKNOWN_TRANSACTION
    assert [(r.transaction_id, r.kind, r.meter_stop) for r in recorded] == [
        (4242, ReconciliationKind.UNKNOWN_TRANSACTION, 5000)
    ]
    assert await committed_rows("stop_reconciliation") == 1


@pytest.mark.usefixtures("chargers")
async def test_stop_of_another_chargers_transaction_is_unknown(store: Store, now: datetime) -> None:
    transaction_id, _ = await store.transactions.start_transaction(
        start(now, charge_point=OTHER_CP), now
    )
    outcome = await store.transactions.stop_transaction(stop(now, transaction_id), [], now)
    record = await store.transactions.get_transaction(transaction_id)
    assert outcome is StopOutcome.UNKNOWN_TRANSACTION
    assert record is not None
    assert record.active


@pytest.mark.usefixtures("chargers")
async def test_second_stop_is_already_stopped_and_recorded(store: Store, now: datetime) -> None:
    transaction_id, _ = await store.transactions.start_transaction(start(now), now)
    await store.transactions.stop_transaction(stop(now, transaction_id), [], now)
    outcome = await store.transactions.stop_transaction(
        stop(now, transaction_id, meter_stop=6000), [], now
    )
    record = await store.transactions.get_transaction(transaction_id)
    recorded = await store.transactions.list_stop_reconciliations()
    assert outcome is StopOutcome.ALREADY_STOPPED
    assert record is not None
    assert record.meter_stop == 5000
    assert [(r.kind, r.meter_stop) for r in recorded] == [
        (ReconciliationKind.ALREADY_STOPPED, 6000)
    ]


@pytest.mark.usefixtures("chargers")
async def test_transaction_data_is_stored_with_the_transaction_and_its_connector(
    store: Store, now: datetime
) -> None:
    transaction_id, _ = await store.transactions.start_transaction(start(now, connector=2), now)
    data = [sample(now + timedelta(minutes=30), 3000), sample(now, 1000)]
    await store.transactions.stop_transaction(stop(now, transaction_id), data, now)
    stored = await store.transactions.meter_values_for_transaction(transaction_id)
    assert [(v.energy_wh, v.connector_id, v.source) for v in stored] == [
        (1000, 2, MeterValueSource.STOP_TRANSACTION),
        (3000, 2, MeterValueSource.STOP_TRANSACTION),
    ]
    assert stored[0].sampled_values == '[{"value":"1000"}]'


@pytest.mark.usefixtures("chargers")
async def test_transaction_data_of_an_unknown_transaction_is_kept(
    store: Store, now: datetime
) -> None:
    await store.transactions.stop_transaction(stop(now, 777), [sample(now, 10, connector=1)], now)
    stored = await store.transactions.meter_values_for_transaction(TransactionId(777))
    assert [(v.energy_wh, v.connector_id) for v in stored] == [(10, 1)]


@pytest.mark.usefixtures("chargers")
async def test_repeated_identical_stop_does_not_store_its_transaction_data_twice(
    store: Store, now: datetime
) -> None:
    transaction_id, _ = await store.transactions.start_transaction(start(now), now)
    data = [sample(now, 1000)]
    await store.transactions.stop_transaction(stop(now, transaction_id), data, now)
    outcome = await store.transactions.stop_transaction(stop(now, transaction_id), data, now)
    assert outcome is StopOutcome.ALREADY_STOPPED
    assert len(await store.transactions.meter_values_for_transaction(transaction_id)) == 1


@pytest.mark.usefixtures("chargers")
async def test_active_transaction_for_connector_ignores_stopped_ones(
    store: Store, now: datetime
) -> None:
    stopped, _ = await store.transactions.start_transaction(start(now, meter_start=1), now)
    await store.transactions.stop_transaction(stop(now, stopped), [], now)
    assert await store.transactions.active_transaction_for_connector(CP, ConnectorId(1)) is None
    active, _ = await store.transactions.start_transaction(start(now, meter_start=2), now)
    found = await store.transactions.active_transaction_for_connector(CP, ConnectorId(1))
    assert found is not None
    assert found.id == active


async def test_unknown_transaction_is_none(store: Store) -> None:
    assert await store.transactions.get_transaction(TransactionId(1)) is None


@pytest.mark.usefixtures("chargers")
async def test_transactions_are_listed_newest_first_in_pages(store: Store, now: datetime) -> None:
    ids = [
        (await store.transactions.start_transaction(start(now, meter_start=n), now))[0]
        for n in range(5)
    ]
    first_page = await store.transactions.list_transactions(limit=2)
    second_page = await store.transactions.list_transactions(limit=2, before_id=first_page[-1].id)
    last_page = await store.transactions.list_transactions(limit=2, before_id=second_page[-1].id)
    assert [t.id for t in first_page + second_page + last_page] == ids[::-1]


@pytest.mark.usefixtures("chargers")
async def test_transactions_are_listed_by_charger_and_activity(store: Store, now: datetime) -> None:
    mine, _ = await store.transactions.start_transaction(start(now), now)
    other, _ = await store.transactions.start_transaction(start(now, charge_point=OTHER_CP), now)
    done, _ = await store.transactions.start_transaction(start(now, meter_start=9), now)
    await store.transactions.stop_transaction(stop(now, done), [], now)
    by_charger = await store.transactions.list_transactions(charge_point_id=OTHER_CP)
    active = await store.transactions.list_transactions(active=True)
    finished = await store.transactions.list_transactions(active=False)
    assert [t.id for t in by_charger] == [other]
    assert [t.id for t in active] == [other, mine]
    assert [t.id for t in finished] == [done]
