"""The handler table and its refusals, over a real SQLite store and a manual clock."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chargedeck.clock import ManualClock
from chargedeck.config import Settings
from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.dispatch import HANDLERS, dispatch
from chargedeck.csms.stations import Stations
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId
from chargedeck.ocpp.errors import ActionNotSupported, InternalError, SecurityError
from chargedeck.ocpp.v16.actions import ACTIONS
from chargedeck.ocpp.v16.core import (
    BootNotificationRequest,
    HeartbeatRequest,
    MeterValuesRequest,
    ResetRequest,
)
from chargedeck.ocpp.v16.enums import RegistrationStatus, ResetType
from chargedeck.ocpp.v16.types import MeterValue, SampledValue
from chargedeck.store import Store, open_store

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)
BOOT = BootNotificationRequest(charge_point_vendor="Wall Box Chargers", charge_point_model="PLP1")


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[CsmsServices]:
    store: Store = await open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        yield CsmsServices(
            store=store, settings=Settings(), clock=ManualClock(T0), stations=Stations()
        )
    finally:
        await store.close()


def state(registration: Registration | None) -> ConnectionState:
    return ConnectionState(
        charge_point_id=ChargePointId("CP1"),
        remote_address="127.0.0.1:1",
        connected_at=T0,
        registration=registration,
    )


def test_every_action_a_charger_sends_has_a_handler() -> None:
    sent_by_charge_points = {
        name for name, action in ACTIONS.items() if action.sent_by_charge_point()
    }
    assert sent_by_charge_points == set(HANDLERS)


async def test_an_unknown_charger_under_the_inbox_policy_boots_pending(
    services: CsmsServices,
) -> None:
    connection = state(None)
    answer = await dispatch(services, connection, ACTIONS["BootNotification"], BOOT)
    assert answer.status is RegistrationStatus.PENDING  # type: ignore[attr-defined]
    assert connection.registration is Registration.PENDING
    record = await services.store.charge_points.get_charge_point(ChargePointId("CP1"))
    assert record is not None
    assert record.registration is Registration.PENDING


async def test_anything_but_boot_from_a_charger_not_accepted_is_a_security_error(
    services: CsmsServices,
) -> None:
    with pytest.raises(SecurityError, match="waiting for adoption"):
        await dispatch(
            services, state(Registration.PENDING), ACTIONS["Heartbeat"], HeartbeatRequest()
        )


async def test_a_csms_to_charger_action_sent_by_a_charger_is_not_supported(
    services: CsmsServices,
) -> None:
    with pytest.raises(ActionNotSupported):
        await dispatch(
            services,
            state(Registration.REGISTERED),
            ACTIONS["Reset"],
            ResetRequest(type=ResetType.SOFT),
        )


@pytest.mark.expect_error_log
async def test_a_store_failure_is_an_internal_error_and_nothing_is_acknowledged(
    services: CsmsServices, tmp_path: Path
) -> None:
    await services.store.charge_points.add_charge_point(
        ChargePointId("CP1"), Registration.REGISTERED, T0
    )
    with sqlite3.connect(tmp_path / "db.sqlite") as admin:
        admin.execute("DROP TABLE meter_values")
    request = MeterValuesRequest(
        connector_id=1,
        meter_value=[MeterValue(timestamp=T0, sampled_value=[SampledValue(value="1")])],
    )
    with pytest.raises(InternalError, match="MeterValues could not be stored"):
        await dispatch(services, state(Registration.REGISTERED), ACTIONS["MeterValues"], request)
