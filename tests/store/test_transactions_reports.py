"""Reconciliation writes, report pages and tariffs in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest

from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId, ConnectorId, IdTag, TransactionId
from chargedeck.domain.tariffs import Tariff, TimeWindow
from chargedeck.domain.transactions import Reconciliation
from chargedeck.store import Store
from chargedeck.store.errors import ConstraintViolation
from chargedeck.store.records import (
    MeterValueRow,
    StartTransactionRecord,
    StopOutcome,
    StopTransactionRecord,
    TransactionRecord,
)
from chargedeck.store.tariffs import UnknownChargePointForTariff, UnknownTariff
from chargedeck.store.transactions import RecordedSession, SessionFilter

CP = ChargePointId("CP-001")
OTHER_CP = ChargePointId("CP-002")


@pytest.fixture
async def chargers(store: Store, now: datetime) -> None:
    await store.charge_points.add_charge_point(CP, Registration.REGISTERED, now)
    await store.charge_points.add_charge_point(OTHER_CP, Registration.REGISTERED, now)


async def started(
    store: Store, now: datetime, *, connector: int = 1, meter_start: int = 1000
) -> TransactionRecord:
    transaction_id, _ = await store.transactions.start_transaction(
        StartTransactionRecord(
            charge_point_id=CP,
            connector_id=ConnectorId(connector),
            id_tag=IdTag("04A2BC19"),
            meter_start=meter_start,
            started_at=now,
            start_id_tag_status="Accepted",
        ),
        now,
    )
    record = await store.transactions.get_transaction(transaction_id)
    assert record is not None
    return record


async def readings(
    store: Store,
    transaction_id: int,
    samples: list[tuple[datetime, int]],
    charge_point: ChargePointId = CP,
) -> None:
    await store.writer.write_meter_values(
        [
            MeterValueRow(
                charge_point_id=charge_point,
                connector_id=ConnectorId(1),
                transaction_id=TransactionId(transaction_id),
                timestamp=at,
                sampled_values="[]",
                received_at=at,
                energy_wh=wh,
            )
            for at, wh in samples
        ]
    )


def session(
    started_at: datetime,
    *,
    charge_point: ChargePointId = CP,
    id_tag: str = "CARD-A",
    owner: str | None = None,
    meter_start: int = 0,
    energy_wh: int | None = 1000,
) -> RecordedSession:
    return RecordedSession(
        charge_point_id=charge_point,
        connector_id=ConnectorId(1),
        id_tag=IdTag(id_tag),
        meter_start=meter_start,
        started_at=started_at,
        meter_stop=None if energy_wh is None else meter_start + energy_wh,
        stopped_at=None if energy_wh is None else started_at + timedelta(hours=1),
        stop_reason=None if energy_wh is None else "Local",
        owner=owner,
    )


# ---- reconciliation writes ---------------------------------------------------------------------


@pytest.mark.usefixtures("chargers")
async def test_the_last_reading_is_the_highest_register_sample_at_or_above_meter_start(
    store: Store, now: datetime
) -> None:
    transaction = await started(store, now, meter_start=1000)
    minute = timedelta(minutes=1)
    await readings(
        store,
        transaction.id,
        [(now + minute, 1500), (now + 2 * minute, 0), (now + 3 * minute, 2400)],
    )
    await readings(store, transaction.id, [(now + 4 * minute, 9_999_999)], charge_point=OTHER_CP)
    assert await store.transactions.last_register_reading(transaction) == (now + 3 * minute, 2400)


@pytest.mark.usefixtures("chargers")
async def test_a_transaction_without_readings_has_no_last_reading(
    store: Store, now: datetime
) -> None:
    transaction = await started(store, now, meter_start=1000)
    await readings(store, transaction.id, [(now + timedelta(minutes=1), 0)])  # a zero drop
    assert await store.transactions.last_register_reading(transaction) is None


@pytest.mark.usefixtures("chargers")
async def test_closing_by_reconciliation_records_how_and_when(store: Store, now: datetime) -> None:
    transaction = await started(store, now)
    later = now + timedelta(hours=2)
    closed = await store.transactions.close_by_reconciliation(
        transaction,
        kind=Reconciliation.CLOSED_AT_BOOT,
        meter_stop=2400,
        stopped_at=now + timedelta(hours=1),
        stop_reason="Reboot",
        now=later,
    )
    assert closed is True
    record = await store.transactions.get_transaction(transaction.id)
    assert record is not None
    assert (record.meter_stop, record.stopped_at, record.stop_reason) == (
        2400,
        now + timedelta(hours=1),
        "Reboot",
    )
    assert (record.reconciliation, record.reconciled_at) == ("closed_at_boot", later)


@pytest.mark.usefixtures("chargers")
async def test_a_closed_transaction_is_not_closed_again_by_reconciliation(
    store: Store, now: datetime
) -> None:
    transaction = await started(store, now)
    stop = StopTransactionRecord(
        charge_point_id=CP,
        transaction_id=transaction.id,
        meter_stop=5000,
        stopped_at=now + timedelta(hours=1),
    )
    await store.transactions.stop_transaction(stop, [], now)
    closed = await store.transactions.close_by_reconciliation(
        transaction,
        kind=Reconciliation.CLOSED_WHEN_AVAILABLE,
        meter_stop=None,
        stopped_at=now,
        stop_reason="Other",
        now=now,
    )
    assert closed is False
    record = await store.transactions.get_transaction(transaction.id)
    assert record is not None
    assert (record.meter_stop, record.reconciliation) == (5000, None)


@pytest.mark.usefixtures("chargers")
async def test_a_late_stop_transaction_corrects_a_reconciled_close(
    store: Store, now: datetime
) -> None:
    transaction = await started(store, now)
    await store.transactions.close_by_reconciliation(
        transaction,
        kind=Reconciliation.CLOSED_AT_BOOT,
        meter_stop=2400,
        stopped_at=now + timedelta(minutes=30),
        stop_reason="Reboot",
        now=now + timedelta(hours=1),
    )
    stop = StopTransactionRecord(
        charge_point_id=CP,
        transaction_id=transaction.id,
        meter_stop=2600,
        stopped_at=now + timedelta(minutes=31),
        reason="HardReset",
    )
    assert await store.transactions.stop_transaction(stop, [], now) is StopOutcome.STOPPED
    record = await store.transactions.get_transaction(transaction.id)
    assert record is not None
    assert (record.meter_stop, record.stop_reason, record.reconciliation) == (
        2600,
        "HardReset",
        "corrected_by_stop",
    )
    # The charger repeats it (it did not get our answer): recorded, nothing changes.
    assert await store.transactions.stop_transaction(stop, [], now) is (StopOutcome.ALREADY_STOPPED)


@pytest.mark.usefixtures("chargers")
async def test_recovered_marks_an_open_transaction_and_leaves_it_open(
    store: Store, now: datetime
) -> None:
    transaction = await started(store, now)
    assert await store.transactions.mark_recovered(transaction, now) is True
    record = await store.transactions.get_transaction(transaction.id)
    assert record is not None
    assert (record.active, record.reconciliation) == (True, "recovered")


@pytest.mark.usefixtures("chargers")
async def test_open_transactions_received_after_a_boot_are_not_the_boots(
    store: Store, now: datetime
) -> None:
    before = await started(store, now, connector=1)
    after = await started(store, now + timedelta(seconds=5), connector=2)
    at_boot = await store.transactions.open_transactions(CP, received_until=now)
    assert [t.id for t in at_boot] == [before.id]
    assert [t.id for t in await store.transactions.open_transactions(CP)] == [before.id, after.id]


@pytest.mark.usefixtures("chargers")
async def test_meter_values_received_since_a_moment_are_found(store: Store, now: datetime) -> None:
    transaction = await started(store, now)
    await readings(store, transaction.id, [(now + timedelta(seconds=10), 1100)])
    found = store.transactions.meter_values_received_since
    assert await found(transaction, now + timedelta(seconds=10)) is True
    assert await found(transaction, now + timedelta(seconds=11)) is False


# ---- report pages ----------------------------------------------------------------------------


@pytest.mark.usefixtures("chargers")
async def test_a_page_carries_the_group_the_chargers_tariff_and_its_own_readings(
    store: Store, now: datetime
) -> None:
    await store.id_tags.add_id_tag(IdTag("04A2BC19"), now=now, parent_id_tag=IdTag("FLEET"))
    tariff = await store.tariffs.add_tariff(
        "home", Tariff("EUR", Decimal("0.30"), "UTC"), is_default=False, now=now
    )
    await store.tariffs.assign_tariff(CP, tariff.id)
    transaction = await started(store, now)
    minute = timedelta(minutes=1)
    await readings(store, transaction.id, [(now + 2 * minute, 1200), (now + minute, 1100)])
    await readings(store, transaction.id, [(now + minute, 7)], charge_point=OTHER_CP)
    [page] = [page async for page in store.transactions.iter_sessions(SessionFilter())]
    [found] = page
    assert (found.id, found.group_id_tag, found.tariff_id) == (transaction.id, "FLEET", tariff.id)
    assert found.register_samples == ((now + minute, 1100), (now + 2 * minute, 1200))


@pytest.mark.usefixtures("chargers")
async def test_pages_cover_every_session_once_in_transaction_id_order(
    store: Store, now: datetime
) -> None:
    await store.transactions.import_sessions(
        [session(now + timedelta(minutes=n), meter_start=n) for n in range(10)], now
    )
    pages = [page async for page in store.transactions.iter_sessions(SessionFilter(), 3)]
    assert [len(page) for page in pages] == [3, 3, 3, 1]
    ids = [s.id for page in pages for s in page]
    assert ids == sorted(ids)
    assert len(set(ids)) == 10


@pytest.mark.usefixtures("chargers")
async def test_importing_the_same_sessions_twice_stores_them_once(
    store: Store, now: datetime
) -> None:
    sessions = [session(now + timedelta(minutes=n)) for n in range(5)]
    await store.transactions.import_sessions(sessions, now)
    await store.transactions.import_sessions(sessions, now)
    assert await store.transactions.count_sessions(SessionFilter()) == 5


@pytest.mark.usefixtures("chargers")
async def test_filters_select_by_period_tag_owner_group_and_charger(
    store: Store, now: datetime
) -> None:
    await store.id_tags.add_id_tag(IdTag("CARD-B"), now=now, parent_id_tag=IdTag("fleet"))
    day = timedelta(days=1)
    await store.transactions.import_sessions(
        [
            session(now, id_tag="card-a", owner="Ana"),
            session(now + day, id_tag="CARD-B", owner="Bo"),
            session(now + 2 * day, id_tag="CARD-B", charge_point=OTHER_CP),
        ],
        now,
    )

    async def tags(where: SessionFilter) -> list[tuple[str, str]]:
        count = await store.transactions.count_sessions(where)
        page = await store.transactions.session_page(where)
        assert count == len(page)
        return [(s.id_tag, s.charge_point_id) for s in page]

    assert await tags(SessionFilter(started_from=now + day)) == [
        ("CARD-B", CP),
        ("CARD-B", OTHER_CP),
    ]
    assert await tags(SessionFilter(started_from=now, started_before=now + day)) == [("card-a", CP)]
    assert await tags(SessionFilter(id_tag="CARD-A")) == [("card-a", CP)]
    assert await tags(SessionFilter(owner="Bo")) == [("CARD-B", CP)]
    assert await tags(SessionFilter(group="FLEET")) == [("CARD-B", CP), ("CARD-B", OTHER_CP)]
    assert await tags(SessionFilter(charge_point_id=OTHER_CP)) == [("CARD-B", OTHER_CP)]


# ---- tariffs -----------------------------------------------------------------------------------

NIGHT = Tariff(
    "EUR", Decimal("0.30"), "Europe/Madrid", (TimeWindow(time(22), time(6), Decimal("0.12")),)
)


async def test_a_tariff_comes_back_as_it_was_stored(store: Store, now: datetime) -> None:
    added = await store.tariffs.add_tariff("night", NIGHT, is_default=True, now=now)
    [listed] = await store.tariffs.list_tariffs()
    assert listed == added
    assert (listed.name, listed.tariff, listed.is_default) == ("night", NIGHT, True)


async def test_a_new_default_tariff_replaces_the_old_default(store: Store, now: datetime) -> None:
    await store.tariffs.add_tariff("night", NIGHT, is_default=True, now=now)
    await store.tariffs.add_tariff(
        "flat", Tariff("EUR", Decimal("0.25"), "UTC"), is_default=True, now=now
    )
    defaults = [t.name for t in await store.tariffs.list_tariffs() if t.is_default]
    assert defaults == ["flat"]


async def test_two_tariffs_cannot_share_a_name(store: Store, now: datetime) -> None:
    await store.tariffs.add_tariff("night", NIGHT, is_default=False, now=now)
    with pytest.raises(ConstraintViolation):
        await store.tariffs.add_tariff("night", NIGHT, is_default=False, now=now)


@pytest.mark.usefixtures("chargers")
async def test_a_charger_gets_a_tariff_and_back_to_the_default(store: Store, now: datetime) -> None:
    tariff = await store.tariffs.add_tariff("night", NIGHT, is_default=False, now=now)
    await store.tariffs.assign_tariff(CP, tariff.id)
    assert await store.tariffs.tariff_of_charge_point(CP) == tariff.id
    await store.tariffs.assign_tariff(CP, None)
    assert await store.tariffs.tariff_of_charge_point(CP) is None


@pytest.mark.usefixtures("chargers")
async def test_an_unknown_tariff_or_charger_cannot_be_assigned(store: Store, now: datetime) -> None:
    tariff = await store.tariffs.add_tariff("night", NIGHT, is_default=False, now=now)
    with pytest.raises(UnknownTariff, match="there is no tariff 999"):
        await store.tariffs.assign_tariff(CP, 999)
    with pytest.raises(UnknownChargePointForTariff, match="'NOBODY' is not known"):
        await store.tariffs.assign_tariff(ChargePointId("NOBODY"), tariff.id)
