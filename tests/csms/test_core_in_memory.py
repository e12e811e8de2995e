"""The Core profile in memory: a charger session talks to the CSMS session and its handlers.

No sockets: frames move between two OcppSession objects, the CSMS side dispatches each CALL to
the real handler table over a real SQLite store, and time is a manual clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chargedeck.clock import ManualClock
from chargedeck.config import Settings
from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.dispatch import dispatch
from chargedeck.csms.stations import Stations
from chargedeck.domain.charge_points import Registration, UnknownChargePointPolicy
from chargedeck.domain.ids import ChargePointId, IdTag, TransactionId
from chargedeck.ocpp.errors import CallErrorSent
from chargedeck.ocpp.session import CallFailed, CallReceived, ResultReceived
from chargedeck.ocpp.v16.base import Message
from chargedeck.ocpp.v16.core import (
    AuthorizeRequest,
    BootNotificationRequest,
    HeartbeatRequest,
    MeterValuesRequest,
    StartTransactionRequest,
    StatusNotificationRequest,
    StopTransactionRequest,
)
from chargedeck.ocpp.v16.enums import (
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    Measurand,
    Reason,
    RegistrationStatus,
    UnitOfMeasure,
)
from chargedeck.ocpp.v16.types import MeterValue, SampledValue
from chargedeck.store import open_store
from tests.support.pair import SessionPair

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)
CP = ChargePointId("MEM1")
BOOT = BootNotificationRequest(charge_point_vendor="Wall Box Chargers", charge_point_model="PLP1")


@dataclass
class Harness:
    """A charger session joined to the CSMS session, the CSMS answering through dispatch()."""

    pair: SessionPair
    services: CsmsServices
    state: ConnectionState
    clock: ManualClock

    async def call(self, request: Message) -> Message | CallErrorSent | CallFailed:
        """Charger sends ``request``; returns the typed answer it receives."""
        self.pair.charger.send_call(request, self.pair.now)
        for event in self.pair.to_csms():
            assert isinstance(event, CallReceived)
            try:
                answer = await dispatch(self.services, self.state, event.action, event.request)
            except CallErrorSent as error:
                self.pair.csms.send_call_error(event.message_id, error)
            else:
                self.pair.csms.send_call_result(event.message_id, answer)
        [received] = self.pair.to_charger()
        if isinstance(received, ResultReceived):
            return received.response
        assert isinstance(received, CallFailed)
        return received


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    store = await open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    clock = ManualClock(T0)
    settings = Settings(unknown_charge_points=UnknownChargePointPolicy.ACCEPT)
    services = CsmsServices(store=store, settings=settings, clock=clock, stations=Stations())
    state = ConnectionState(
        charge_point_id=CP, remote_address="memory", connected_at=T0, registration=None
    )
    try:
        yield Harness(SessionPair(), services, state, clock)
    finally:
        await store.close()


async def test_boot_is_accepted_and_recorded(harness: Harness) -> None:
    answer = await harness.call(BOOT)
    assert answer.status is RegistrationStatus.ACCEPTED
    assert answer.current_time == T0
    record = await harness.services.store.charge_points.get_charge_point(CP)
    assert record is not None
    assert record.registration is Registration.REGISTERED
    assert record.last_boot_at == T0


async def test_heartbeat_answers_the_csms_clock(harness: Harness) -> None:
    await harness.call(BOOT)
    harness.clock.advance(300)
    answer = await harness.call(HeartbeatRequest())
    assert answer.current_time == T0 + timedelta(seconds=300)


async def test_a_charging_session_end_to_end(harness: Harness) -> None:
    store = harness.services.store
    await store.id_tags.add_id_tag(IdTag("04A2B3C4"), now=T0, owner="Ana")
    await harness.call(BOOT)
    await harness.call(
        StatusNotificationRequest(
            connector_id=1,
            error_code=ChargePointErrorCode.NO_ERROR,
            status=ChargePointStatus.PREPARING,
        )
    )
    authorized = await harness.call(AuthorizeRequest(id_tag="04a2b3c4"))
    assert authorized.id_tag_info.status is AuthorizationStatus.ACCEPTED
    started = await harness.call(
        StartTransactionRequest(connector_id=1, id_tag="04A2B3C4", meter_start=100, timestamp=T0)
    )
    transaction_id = TransactionId(started.transaction_id)
    harness.clock.advance(60)
    await harness.call(
        MeterValuesRequest(
            connector_id=1,
            transaction_id=transaction_id,
            meter_value=[
                MeterValue(
                    timestamp=T0 + timedelta(seconds=60),
                    sampled_value=[
                        SampledValue(
                            value="0.9",
                            measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
                            unit=UnitOfMeasure.KWH,
                        )
                    ],
                )
            ],
        )
    )
    stopped = await harness.call(
        StopTransactionRequest(
            meter_stop=1100,
            timestamp=T0 + timedelta(hours=1),
            transaction_id=transaction_id,
            reason=Reason.EV_DISCONNECTED,
        )
    )
    assert stopped.id_tag_info is None
    record = await store.transactions.get_transaction(transaction_id)
    assert record is not None
    assert (record.meter_start, record.meter_stop, record.stop_reason) == (
        100,
        1100,
        "EVDisconnected",
    )
    [reading] = await store.transactions.meter_values_for_transaction(transaction_id)
    assert reading.energy_wh == 900
    connectors = await store.connectors.list_connectors(CP)
    assert [(c.connector_id, c.status) for c in connectors] == [(1, "Preparing")]


async def test_messages_before_the_first_boot_of_an_unknown_charger_are_refused(
    harness: Harness,
) -> None:
    answer = await harness.call(HeartbeatRequest())
    assert isinstance(answer, CallFailed)
    assert answer.error.code == "SecurityError"
