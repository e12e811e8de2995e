"""The operator command table and its refusals before anything is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chargedeck.clock import ManualClock
from chargedeck.config import Settings
from chargedeck.csms.commands import (
    COMMANDS,
    ChargePointNotConnected,
    CommandNotAllowed,
    UnknownChargePoint,
    masked_answer,
    send_command,
)
from chargedeck.csms.context import CsmsServices
from chargedeck.csms.stations import Stations
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId
from chargedeck.ocpp.v16.actions import ACTIONS, FeatureProfile
from chargedeck.ocpp.v16.core import (
    GetConfigurationResponse,
    HeartbeatRequest,
    ResetRequest,
    ResetResponse,
)
from chargedeck.ocpp.v16.enums import ResetStatus, ResetType
from chargedeck.ocpp.v16.types import KeyValue
from chargedeck.store import open_store

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[CsmsServices]:
    store = await open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        yield CsmsServices(
            store=store, settings=Settings(), clock=ManualClock(T0), stations=Stations()
        )
    finally:
        await store.close()


def test_every_csms_to_charger_action_of_the_served_profiles_is_a_command() -> None:
    served = {
        name
        for name, action in ACTIONS.items()
        if action.sent_by_csms()
        and action.profile
        in (
            FeatureProfile.CORE,
            FeatureProfile.FIRMWARE_MANAGEMENT,
            FeatureProfile.LOCAL_AUTH_LIST_MANAGEMENT,
            FeatureProfile.RESERVATION,
            FeatureProfile.REMOTE_TRIGGER,
            FeatureProfile.SECURITY,
            FeatureProfile.SMART_CHARGING,
        )
    }
    assert set(COMMANDS) == served


def test_only_remote_start_and_stop_wait_for_an_accepted_boot() -> None:
    waiting = {name for name, command in COMMANDS.items() if command.needs_accepted_boot}
    assert waiting == {"RemoteStartTransaction", "RemoteStopTransaction"}


async def test_a_command_to_an_unknown_charger_is_refused(services: CsmsServices) -> None:
    with pytest.raises(UnknownChargePoint, match="'NOBODY' is not known"):
        await send_command(services, "NOBODY", ResetRequest(type=ResetType.SOFT))


async def test_a_command_to_a_known_charger_that_is_not_connected_fails_at_once(
    services: CsmsServices,
) -> None:
    await services.store.charge_points.add_charge_point(
        ChargePointId("CP1"), Registration.REGISTERED, T0
    )
    with pytest.raises(ChargePointNotConnected, match="'CP1' is not connected"):
        await send_command(services, "CP1", ResetRequest(type=ResetType.SOFT))


async def test_a_request_that_is_not_an_operator_command_is_refused(
    services: CsmsServices,
) -> None:
    with pytest.raises(CommandNotAllowed, match="not an operator command"):
        await send_command(services, "CP1", HeartbeatRequest())


def test_an_answer_shown_to_operators_has_secret_configuration_values_masked() -> None:
    answer = GetConfigurationResponse(
        configuration_key=[
            KeyValue(key="AuthorizationKey", read_only=False, value="0123456789abcdef"),
            KeyValue(key="WifiPassword", read_only=False, value="hunter22"),
            KeyValue(key="HeartbeatInterval", read_only=False, value="60"),
            KeyValue(key="WebSocketPassword", read_only=True),
        ],
        unknown_key=["NoSuchKey"],
    )
    shown = masked_answer(answer)
    assert isinstance(shown, GetConfigurationResponse)
    assert [(k.key, k.value) for k in shown.configuration_key or []] == [
        ("AuthorizationKey", "***"),
        ("WifiPassword", "***"),
        ("HeartbeatInterval", "60"),
        ("WebSocketPassword", None),
    ]
    assert shown.unknown_key == ["NoSuchKey"]
    assert answer.configuration_key is not None  # the charger's answer itself is kept
    assert answer.configuration_key[0].value == "0123456789abcdef"


def test_an_answer_without_configuration_values_is_shown_as_it_is() -> None:
    answer = ResetResponse(status=ResetStatus.ACCEPTED)
    assert masked_answer(answer) is answer
