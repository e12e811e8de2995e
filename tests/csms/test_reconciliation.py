"""Open transactions after a reboot, a reconnect without a boot, or an Available connector.

In process over a real SQLite store: the charger's messages go through the real handler table
(``dispatch``); a scripted charger answers ChargeDeck's TriggerMessages the way the spec says
(the .conf first, then the triggered message, OCPP 1.6 §5.17). Time is a manual clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chargedeck.clock import ManualClock
from chargedeck.config import Settings
from chargedeck.csms import reconciliation
from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.dispatch import dispatch
from chargedeck.csms.stations import Stations
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId, ConnectorId, IdTag, TransactionId
from chargedeck.ocpp.v16.actions import ACTIONS
from chargedeck.ocpp.v16.base import Message
from chargedeck.ocpp.v16.core import (
    BootNotificationRequest,
    MeterValuesRequest,
    StatusNotificationRequest,
    StopTransactionRequest,
)
from chargedeck.ocpp.v16.enums import (
    ChargePointErrorCode,
    ChargePointStatus,
    Measurand,
    MessageTrigger,
    Reason,
    TriggerMessageStatus,
    UnitOfMeasure,
)
from chargedeck.ocpp.v16.remote_trigger import TriggerMessageRequest, TriggerMessageResponse
from chargedeck.ocpp.v16.types import MeterValue, SampledValue
from chargedeck.store import open_store
from chargedeck.store.records import StartTransactionRecord, TransactionRecord

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)
CP = ChargePointId("REC1")
BOOT = BootNotificationRequest(charge_point_vendor="Wall Box Chargers", charge_point_model="PPR1")


@dataclass
class Csms:
    services: CsmsServices
    state: ConnectionState
    clock: ManualClock

    async def receive(self, request: Message) -> Message:
        """The charger sends ``request``; ChargeDeck's answer."""
        action = ACTIONS[type(request).__name__.removesuffix("Request")]
        return await dispatch(self.services, self.state, action, request)

    async def start(self, *, connector: int = 1, meter_start: int = 1000) -> TransactionRecord:
        transaction_id, _ = await self.services.store.transactions.start_transaction(
            StartTransactionRecord(
                charge_point_id=CP,
                connector_id=ConnectorId(connector),
                id_tag=IdTag("04A2BC19"),
                meter_start=meter_start,
                started_at=self.clock.now(),
                start_id_tag_status="Accepted",
            ),
            self.clock.now(),
        )
        return await self.transaction(transaction_id)

    async def transaction(self, transaction_id: int) -> TransactionRecord:
        record = await self.services.store.transactions.get_transaction(
            TransactionId(transaction_id)
        )
        assert record is not None
        return record

    async def reading(self, transaction_id: int | None, wh: int, connector: int = 1) -> None:
        await self.receive(meter_values(connector, transaction_id, wh, self.clock.now()))

    async def status(self, status: ChargePointStatus, connector: int = 1) -> None:
        await self.receive(
            StatusNotificationRequest(
                connector_id=connector, error_code=ChargePointErrorCode.NO_ERROR, status=status
            )
        )


def meter_values(
    connector: int, transaction_id: int | None, wh: int, at: datetime
) -> MeterValuesRequest:
    return MeterValuesRequest(
        connector_id=connector,
        transaction_id=transaction_id,
        meter_value=[
            MeterValue(
                timestamp=at,
                sampled_value=[
                    SampledValue(
                        value=str(wh),
                        measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
                        unit=UnitOfMeasure.WH,
                    )
                ],
            )
        ],
    )


@pytest.fixture
async def csms(tmp_path: Path) -> AsyncIterator[Csms]:
    store = await open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    clock = ManualClock(T0)
    services = CsmsServices(store=store, settings=Settings(), clock=clock, stations=Stations())
    await store.charge_points.add_charge_point(CP, Registration.REGISTERED, T0)
    state = ConnectionState(
        charge_point_id=CP,
        remote_address="memory",
        connected_at=T0,
        registration=Registration.REGISTERED,
    )
    try:
        yield Csms(services, state, clock)
    finally:
        # Checks of Available connectors still wait out their grace period: stop them.
        running = reconciliation.background_tasks()
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await store.close()


async def settle() -> None:
    """Wait for the background work ChargeDeck started (boot and reconnect checks)."""
    await asyncio.gather(*reconciliation.background_tasks())


@dataclass
class ScriptedCharger:
    """A connected charger that answers TriggerMessage with ``answer`` and then, if accepted,
    sends the triggered StatusNotification (``status``) or MeterValues (its register reading
    ``register_wh``, carrying ``transaction_id``)."""

    csms: Csms
    status: ChargePointStatus
    transaction_id: int | None = None
    register_wh: int = 2500
    answer: TriggerMessageStatus = TriggerMessageStatus.ACCEPTED
    received: list[TriggerMessageRequest] = field(default_factory=list)
    _sending: list[asyncio.Task[Any]] = field(default_factory=list)

    @property
    def state(self) -> ConnectionState:
        return self.csms.state

    async def call(self, request: Message, timeout_s: float | None = None) -> Message:
        assert isinstance(request, TriggerMessageRequest)
        self.received.append(request)
        if self.answer is TriggerMessageStatus.ACCEPTED:
            self._sending.append(asyncio.get_running_loop().create_task(self._send(request)))
        return TriggerMessageResponse(status=self.answer)

    async def _send(self, request: TriggerMessageRequest) -> None:
        await asyncio.sleep(0)  # the .conf goes out first
        connector = request.connector_id or 0
        if request.requested_message is MessageTrigger.STATUS_NOTIFICATION:
            await self.csms.status(self.status, connector)
        elif request.requested_message is MessageTrigger.METER_VALUES:
            await self.csms.reading(self.transaction_id, self.register_wh, connector)

    async def close(self, code: int, reason: str) -> None:
        await asyncio.gather(*self._sending)


def connected(csms: Csms, charger: ScriptedCharger) -> ScriptedCharger:
    csms.services.stations.attach(charger)
    return charger


async def reconnect(csms: Csms) -> None:
    """The charger connected again and sent no BootNotification but the one ChargeDeck asked
    for (csms/triggers.py): nothing else is sent to a charger before its boot is answered."""
    if csms.state.boot_status is None:
        csms.state.boot_status = "Accepted"
        csms.state.boot_triggered_at = csms.clock.now()
    await reconciliation.reconcile_after_connect(
        csms.services, csms.state, boot_wait_s=0, answer_wait_s=2
    )


# ---- boot --------------------------------------------------------------------------------------


async def test_a_reboot_closes_the_open_transaction_with_its_last_reading(csms: Csms) -> None:
    transaction = await csms.start(meter_start=1000)
    csms.clock.advance(600)
    await csms.reading(transaction.id, 2200)
    read_at = csms.clock.now()
    csms.clock.advance(600)
    await csms.receive(BOOT)
    await settle()
    record = await csms.transaction(transaction.id)
    assert (record.meter_stop, record.stopped_at, record.stop_reason) == (2200, read_at, "Reboot")
    assert (record.reconciliation, record.reconciled_at) == ("closed_at_boot", csms.clock.now())


async def test_a_boot_chargedeck_triggered_is_not_a_reboot(csms: Csms) -> None:
    transaction = await csms.start(meter_start=1000)
    csms.clock.advance(600)
    csms.state.boot_triggered_at = csms.clock.now()  # csms/triggers.py asked for this boot
    await csms.receive(BOOT)
    await settle()
    assert (await csms.transaction(transaction.id)).active


async def test_a_reboot_without_any_reading_leaves_the_energy_unknown(csms: Csms) -> None:
    transaction = await csms.start(meter_start=1000)
    csms.clock.advance(600)
    await csms.receive(BOOT)
    await settle()
    record = await csms.transaction(transaction.id)
    assert (record.active, record.meter_stop, record.stopped_at) == (False, None, csms.clock.now())
    assert record.reconciliation == "closed_at_boot"


async def test_a_boot_does_not_close_a_session_started_after_it(csms: Csms) -> None:
    await csms.receive(BOOT)
    csms.clock.advance(1)
    after = await csms.start()
    await settle()
    assert (await csms.transaction(after.id)).active


async def test_the_chargers_late_stop_transaction_replaces_chargedecks_close(csms: Csms) -> None:
    transaction = await csms.start(meter_start=1000)
    csms.clock.advance(60)
    await csms.reading(transaction.id, 1500)
    await csms.receive(BOOT)
    await settle()
    # A hard reset: the StopTransaction comes after the next boot (OCPP 1.6 §5.14).
    await csms.receive(
        StopTransactionRequest(
            meter_stop=1600,
            timestamp=T0 + timedelta(seconds=90),
            transaction_id=transaction.id,
            reason=Reason.HARD_RESET,
        )
    )
    record = await csms.transaction(transaction.id)
    assert (record.meter_stop, record.stop_reason, record.reconciliation) == (
        1600,
        "HardReset",
        "corrected_by_stop",
    )


# ---- reconnect without a boot -----------------------------------------------------------------


async def test_a_charger_still_charging_after_a_reconnect_keeps_its_transaction(
    csms: Csms,
) -> None:
    transaction = await csms.start(connector=2)
    await csms.status(ChargePointStatus.CHARGING, connector=2)
    csms.clock.advance(300)
    charger = connected(
        csms, ScriptedCharger(csms, ChargePointStatus.CHARGING, transaction_id=transaction.id)
    )
    await reconnect(csms)
    assert [(r.requested_message, r.connector_id) for r in charger.received] == [
        (MessageTrigger.STATUS_NOTIFICATION, 2),
        (MessageTrigger.METER_VALUES, 2),
    ]
    record = await csms.transaction(transaction.id)
    assert (record.active, record.reconciliation) == (True, "recovered")


async def test_a_connector_available_after_a_reconnect_closes_the_transaction(
    csms: Csms,
) -> None:
    transaction = await csms.start(meter_start=1000)
    await csms.status(ChargePointStatus.CHARGING)
    csms.clock.advance(60)
    await csms.reading(transaction.id, 1800)
    read_at = csms.clock.now()
    csms.clock.advance(300)
    connected(csms, ScriptedCharger(csms, ChargePointStatus.AVAILABLE))
    await reconnect(csms)
    record = await csms.transaction(transaction.id)
    assert (record.meter_stop, record.stopped_at, record.stop_reason) == (1800, read_at, "Other")
    assert record.reconciliation == "closed_at_reconnect"


async def test_charging_without_meter_values_for_the_transaction_keeps_it_open_unconfirmed(
    csms: Csms, caplog: pytest.LogCaptureFixture
) -> None:
    transaction = await csms.start()
    csms.clock.advance(300)
    connected(csms, ScriptedCharger(csms, ChargePointStatus.CHARGING, transaction_id=None))
    await reconnect(csms)
    record = await csms.transaction(transaction.id)
    assert (record.active, record.reconciliation) == (True, None)
    assert f"transaction {transaction.id} stays open" in caplog.text


async def test_a_refused_trigger_leaves_the_transaction_open(
    csms: Csms, caplog: pytest.LogCaptureFixture
) -> None:
    transaction = await csms.start()
    csms.clock.advance(300)
    connected(
        csms,
        ScriptedCharger(
            csms, ChargePointStatus.AVAILABLE, answer=TriggerMessageStatus.NOT_IMPLEMENTED
        ),
    )
    await reconnect(csms)
    assert (await csms.transaction(transaction.id)).active
    assert "answered TriggerMessage(StatusNotification) for connector 1 with NotImplemented" in (
        caplog.text
    )


async def test_a_charger_that_boots_after_connecting_is_not_asked(csms: Csms) -> None:
    await csms.start()
    charger = connected(csms, ScriptedCharger(csms, ChargePointStatus.AVAILABLE))
    await csms.receive(BOOT)  # sets the connection's boot status
    await reconnect(csms)
    assert charger.received == []


async def test_on_connected_returns_at_once_and_asks_later(csms: Csms) -> None:
    await csms.start()
    charger = connected(csms, ScriptedCharger(csms, ChargePointStatus.AVAILABLE))
    timer = reconciliation.on_connected(csms.services, csms.state)
    assert charger.received == []
    assert timer.when() - asyncio.get_running_loop().time() > 9
    timer.cancel()


# ---- Available with a transaction open ----------------------------------------------------------


async def test_a_transaction_left_open_on_an_available_connector_is_closed(
    csms: Csms, caplog: pytest.LogCaptureFixture
) -> None:
    transaction = await csms.start(meter_start=1000)
    csms.clock.advance(60)
    await csms.reading(transaction.id, 1300)
    csms.clock.advance(60)
    await csms.status(ChargePointStatus.AVAILABLE)
    closed = await reconciliation.close_if_left_open(
        csms.services, CP, ConnectorId(1), csms.clock.now(), grace_s=0
    )
    assert closed is True
    record = await csms.transaction(transaction.id)
    assert (record.meter_stop, record.reconciliation) == (1300, "closed_when_available")
    assert caplog.records[-1].levelno == logging.WARNING


async def test_a_stop_transaction_within_the_grace_period_wins(csms: Csms) -> None:
    transaction = await csms.start(meter_start=1000)
    await csms.status(ChargePointStatus.AVAILABLE)
    check = asyncio.create_task(
        reconciliation.close_if_left_open(
            csms.services, CP, ConnectorId(1), csms.clock.now(), grace_s=0.2
        )
    )
    await asyncio.sleep(0.05)
    await csms.receive(
        StopTransactionRequest(meter_stop=1400, timestamp=T0, transaction_id=transaction.id)
    )
    assert await check is False
    record = await csms.transaction(transaction.id)
    assert (record.meter_stop, record.reconciliation) == (1400, None)


async def test_a_connector_that_charges_again_keeps_its_transaction(csms: Csms) -> None:
    transaction = await csms.start()
    await csms.status(ChargePointStatus.AVAILABLE)
    reported_at = csms.clock.now()
    await csms.status(ChargePointStatus.CHARGING)
    closed = await reconciliation.close_if_left_open(
        csms.services, CP, ConnectorId(1), reported_at, grace_s=0
    )
    assert closed is False
    assert (await csms.transaction(transaction.id)).active


async def test_an_available_stamped_before_the_start_says_nothing_about_it(csms: Csms) -> None:
    transaction = await csms.start()
    await csms.status(ChargePointStatus.AVAILABLE)
    closed = await reconciliation.close_if_left_open(
        csms.services, CP, ConnectorId(1), T0 - timedelta(minutes=5), grace_s=0
    )
    assert closed is False
    assert (await csms.transaction(transaction.id)).active


async def test_an_available_connector_without_a_transaction_starts_no_wait(csms: Csms) -> None:
    await csms.status(ChargePointStatus.AVAILABLE)
    checks = reconciliation.background_tasks()
    assert checks  # the handler started the check; it ends at once with nothing open
    await asyncio.wait_for(asyncio.gather(*checks), timeout=5)
