"""Batch writer: a write returns once committed; concurrent writes share commits (DESIGN §6)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId, ConnectorId, TransactionId
from chargedeck.store import Store, open_store
from chargedeck.store.errors import StoreUnavailable
from chargedeck.store.records import (
    DiagnosticsStatusRow,
    FirmwareStatusRow,
    MeterValueRow,
    MeterValueSource,
    StatusRow,
)

CountRows = Callable[..., Awaitable[int]]
CP = ChargePointId("CP-001")


def meter_row(now: datetime, energy_wh: int, transaction_id: int | None = 7) -> MeterValueRow:
    return MeterValueRow(
        charge_point_id=CP,
        connector_id=ConnectorId(1),
        transaction_id=None if transaction_id is None else TransactionId(transaction_id),
        timestamp=now,
        sampled_values=msgspec.json.encode(
            [{"value": str(energy_wh), "measurand": "Energy.Active.Import.Register"}]
        ).decode(),
        energy_wh=energy_wh,
        received_at=now,
    )


def status_row(now: datetime, status: str, connector: int = 1) -> StatusRow:
    return StatusRow(
        charge_point_id=CP,
        connector_id=ConnectorId(connector),
        status=status,
        error_code="NoError",
        timestamp=now,
        received_at=now,
    )


async def test_meter_values_are_committed_when_write_returns(
    store: Store, now: datetime, committed_rows: CountRows
) -> None:
    await store.writer.write_meter_values([meter_row(now, 1), meter_row(now, 2)])
    assert await committed_rows("meter_values", "transaction_id = 7") == 2


async def test_meter_values_are_stored_with_source_meter_values(
    store: Store, now: datetime
) -> None:
    await store.writer.write_meter_values([meter_row(now, 1)])
    (stored,) = await store.transactions.meter_values_for_transaction(TransactionId(7))
    assert (stored.source, stored.energy_wh, stored.timestamp) == (
        MeterValueSource.METER_VALUES,
        1,
        now,
    )


async def test_status_is_committed_to_history_and_connector_when_write_returns(
    store: Store, now: datetime, committed_rows: CountRows
) -> None:
    await store.writer.write_status(status_row(now, "Preparing"))
    assert await committed_rows("connector_status_history", "status = 'Preparing'") == 1
    assert await committed_rows("connectors", "status = 'Preparing'") == 1


async def test_connector_shows_the_latest_status_received(store: Store, now: datetime) -> None:
    await store.writer.write_status(status_row(now, "Preparing"))
    await asyncio.gather(
        store.writer.write_status(status_row(now, "Charging")),
        store.writer.write_status(status_row(now - timedelta(seconds=1), "SuspendedEV")),
        store.writer.write_status(status_row(now, "Available", connector=2)),
    )
    connectors = await store.connectors.list_connectors(CP)
    assert [(c.connector_id, c.status) for c in connectors] == [
        (1, "SuspendedEV"),
        (2, "Available"),
    ]


async def test_status_history_is_newest_first_and_filters_by_connector(
    store: Store, now: datetime
) -> None:
    for status in ("Preparing", "Charging", "Finishing"):
        await store.writer.write_status(status_row(now, status))
    await store.writer.write_status(status_row(now, "Available", connector=2))
    history = await store.connectors.status_history(CP, ConnectorId(1), limit=2)
    assert [h.status for h in history] == ["Finishing", "Charging"]
    assert len(await store.connectors.status_history(CP)) == 4


async def test_concurrent_writes_share_few_commits(store: Store, now: datetime) -> None:
    commits_before = store.writer.commits
    await asyncio.gather(
        *(store.writer.write_meter_values([meter_row(now, n)]) for n in range(200)),
        *(store.writer.write_status(status_row(now, "Charging", n)) for n in range(50)),
    )
    assert store.writer.commits - commits_before <= 2
    assert len(await store.transactions.meter_values_for_transaction(TransactionId(7))) == 200


async def test_a_failing_observer_does_not_keep_writers_waiting(
    store: Store, now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_observer(rows: int, seconds: float) -> None:
        raise RuntimeError("metrics bug")

    store.writer.observer = broken_observer
    with caplog.at_level("ERROR", logger="chargedeck.store.batch_writer"):
        await asyncio.wait_for(store.writer.write_status(status_row(now, "Charging")), 5.0)
        await asyncio.wait_for(store.writer.write_status(status_row(now, "Finishing")), 5.0)

    assert store.writer.commits >= 2
    assert "the commit observer failed" in caplog.text
    caplog.clear()  # the logged error is the expected one


async def test_a_batch_holds_at_most_max_batch_rows(database_url: str, now: datetime) -> None:
    store = await open_store(database_url, max_batch_rows=10)
    try:
        await asyncio.gather(
            *(store.writer.write_meter_values([meter_row(now, n)]) for n in range(35))
        )
        assert store.writer.commits == 4
        assert store.writer.rows_committed == 35
    finally:
        await store.close()


async def _refuse_meter_values(observer: AsyncEngine) -> None:
    """Make the database refuse every meter value: at INSERT on SQLite, at COMMIT on
    PostgreSQL (a deferred constraint trigger)."""
    async with observer.begin() as connection:
        if observer.dialect.name == "sqlite":
            await connection.execute(
                sa.text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON meter_values "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            )
        else:
            await connection.execute(
                sa.text(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
                )
            )
            await connection.execute(
                sa.text(
                    "CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON meter_values "
                    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )


@pytest.mark.expect_error_log
async def test_failed_commit_raises_store_unavailable_in_every_waiter(
    store: Store, now: datetime, observer: AsyncEngine, committed_rows: CountRows
) -> None:
    await _refuse_meter_values(observer)
    results = await asyncio.gather(
        *(store.writer.write_meter_values([meter_row(now, n)]) for n in range(20)),
        store.writer.write_status(status_row(now, "Charging")),
        return_exceptions=True,
    )
    assert all(isinstance(result, StoreUnavailable) for result in results)
    assert all(result.__cause__ is not None for result in results)  # type: ignore[union-attr]
    assert await committed_rows("connector_status_history") == 0


@pytest.mark.expect_error_log
async def test_writer_keeps_working_after_a_failed_commit(
    store: Store, now: datetime, observer: AsyncEngine, committed_rows: CountRows
) -> None:
    await _refuse_meter_values(observer)
    with pytest.raises(StoreUnavailable):
        await store.writer.write_meter_values([meter_row(now, 1)])
    await store.writer.write_status(status_row(now, "Charging"))
    assert await committed_rows("connector_status_history") == 1


async def test_close_commits_everything_queued(
    database_url: str, now: datetime, committed_rows: CountRows
) -> None:
    store = await open_store(database_url)
    writes = [
        asyncio.create_task(store.writer.write_meter_values([meter_row(now, n)])) for n in range(50)
    ]
    await asyncio.sleep(0)  # the writes are queued, none committed yet
    await store.close()
    await asyncio.gather(*writes)
    assert await committed_rows("meter_values") == 50


async def test_write_after_close_raises_store_unavailable(database_url: str, now: datetime) -> None:
    store = await open_store(database_url)
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.writer.write_meter_values([meter_row(now, 1)])


async def test_heartbeat_sets_last_heartbeat_at_in_the_next_batch(
    store: Store, now: datetime
) -> None:
    await store.charge_points.add_charge_point(CP, Registration.REGISTERED, now)
    store.writer.note_heartbeat(CP, now + timedelta(seconds=1))
    store.writer.note_heartbeat(CP, now + timedelta(seconds=2))
    await store.writer.write_status(status_row(now, "Available"))
    record = await store.charge_points.get_charge_point(CP)
    assert record is not None
    assert record.last_heartbeat_at == now + timedelta(seconds=2)


async def test_heartbeat_alone_is_committed_after_the_flush_interval(
    database_url: str, now: datetime
) -> None:
    store = await open_store(database_url, heartbeat_flush_s=1.0)
    try:
        await store.charge_points.add_charge_point(CP, Registration.REGISTERED, now)
        store.writer.note_heartbeat(CP, now)
        record = await store.charge_points.get_charge_point(CP)
        assert record is not None
        assert record.last_heartbeat_at is None  # no commit of its own right away
        assert store.writer.commits == 0
        for _ in range(150):
            await asyncio.sleep(0.02)
            if store.writer.commits:
                break
        record = await store.charge_points.get_charge_point(CP)
        assert record is not None
        assert record.last_heartbeat_at == now
    finally:
        await store.close()


async def test_firmware_and_diagnostics_statuses_are_committed_when_write_returns(
    store: Store, now: datetime
) -> None:
    await store.writer.write_firmware_status(
        FirmwareStatusRow(charge_point_id=CP, status="Downloading", received_at=now)
    )
    await store.writer.write_diagnostics_status(
        DiagnosticsStatusRow(charge_point_id=CP, status="Uploaded", received_at=now)
    )
    firmware = await store.notifications.list_firmware_statuses(CP)
    diagnostics = await store.notifications.list_diagnostics_statuses(CP)
    assert [(f.status, f.received_at) for f in firmware] == [("Downloading", now)]
    assert [d.status for d in diagnostics] == ["Uploaded"]
