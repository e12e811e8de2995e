"""The npm ``ocpp-rpc`` client in strict mode finds nothing wrong with what ChargeDeck sends.

Strict mode validates, with ajv and the official OCPP 1.6 JSON schemas, every CALLRESULT we send
back to the charger and every CALL we send to it: an independent check of our codec. Named after
the OCTT 1.6 CSMS cases where one applies (TC_001 cold boot, TC_003 charging session, TC_010
remote start, TC_011 remote stop, TC_013/014 reset, TC_017 unlock, TC_019 configuration, TC_021
change availability, TC_064 data transfer).

One peer process serves the whole module (node and ajv take about a second to start): the tests
share its event loop and each one looks only at the events that arrived during it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.support.ocpp_rpc_charger import RpcCharger, ocpp_rpc_charger
from tests.support.server import ServerProcess

pytestmark = pytest.mark.asyncio(loop_scope="module")
CHARGE_POINT_ID = "RPC-STRICT"

T0 = "2026-03-01T10:00:00Z"
T1 = "2026-03-01T10:15:00Z"
T2 = "2026-03-01T11:00:00Z"
FINAL_SAMPLE = {
    "value": "12000",
    "context": "Transaction.End",
    "measurand": "Energy.Active.Import.Register",
    "unit": "Wh",
}
BOOT = {
    "chargePointVendor": "Wall Box Chargers",
    "chargePointModel": "PLP1-0-2-4",
    "chargePointSerialNumber": "88034",
    "firmwareVersion": "6.4.14",
    "meterType": "Internal NON compliant",
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def charger(server: ServerProcess) -> AsyncIterator[RpcCharger]:
    """The strict-mode peer, connected and booted; no strict failure over its whole life."""
    async with ocpp_rpc_charger(server.ocpp_url, CHARGE_POINT_ID) as peer:
        answer = await peer.call("BootNotification", BOOT)
        assert answer["event"] == "result", peer.describe()
        assert answer["payload"]["status"] == "Accepted"
        yield peer
    assert peer.strict_failures == [], peer.describe()
    assert peer.events_named("closed") == [{"event": "closed", "code": 1000, "reason": ""}]


def strict_failures_since(charger: RpcCharger, mark: int) -> list[dict[str, Any]]:
    return [e for e in charger.events[mark:] if e["event"] == "strict_failure"]


async def test_tc001_boot_notification_answer_passes_strict_validation(
    charger: RpcCharger,
) -> None:
    mark = len(charger.events)
    answer = await charger.call("BootNotification", BOOT)
    assert answer["event"] == "result", charger.describe()
    assert answer["payload"]["status"] == "Accepted"
    assert answer["payload"]["interval"] == 300
    assert strict_failures_since(charger, mark) == []


CHARGER_CALLS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "status-connector-0",
        "StatusNotification",
        {"connectorId": 0, "errorCode": "NoError", "status": "Available", "timestamp": T0},
    ),
    (
        "status-connector-1",
        "StatusNotification",
        {
            "connectorId": 1,
            "errorCode": "OtherError",
            "status": "Faulted",
            "info": "RCD tripped",
            "timestamp": T0,
            "vendorId": "com.wallbox",
            "vendorErrorCode": "E027",
        },
    ),
    ("authorize", "Authorize", {"idTag": "04A2B3C4"}),
    ("heartbeat", "Heartbeat", {}),
    (
        "tc064-data-transfer",
        "DataTransfer",
        {"vendorId": "com.wallbox", "messageId": "hello", "data": "x"},
    ),
    (
        "stop-unknown-transaction",
        "StopTransaction",
        {"meterStop": 10, "timestamp": T2, "transactionId": 424242, "reason": "Local"},
    ),
]


@pytest.mark.parametrize(
    ("case", "action", "payload"), CHARGER_CALLS, ids=[c[0] for c in CHARGER_CALLS]
)
async def test_every_answer_to_a_charger_message_passes_strict_validation(
    charger: RpcCharger, case: str, action: str, payload: dict[str, Any]
) -> None:
    mark = len(charger.events)
    answer = await charger.call(action, payload)
    assert answer["event"] == "result", charger.describe()
    assert answer["action"] == action
    assert strict_failures_since(charger, mark) == []


async def test_tc003_a_charging_session_passes_strict_validation_end_to_end(
    server: ServerProcess, charger: RpcCharger
) -> None:
    samples = [
        {
            "value": "1500.5",
            "context": "Sample.Periodic",
            "format": "Raw",
            "measurand": "Energy.Active.Import.Register",
            "location": "Outlet",
            "unit": "Wh",
        },
        {"value": "11004.3", "measurand": "Power.Active.Import", "unit": "W"},
        {"value": "15.4", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
        {"value": "15.2", "measurand": "Current.Import", "phase": "L2", "unit": "A"},
        {"value": "15.3", "measurand": "Current.Import", "phase": "L3", "unit": "A"},
        {"value": "231.0", "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
        {"value": "54", "measurand": "SoC", "location": "EV", "unit": "Percent"},
        {"value": "41.5", "measurand": "Temperature", "location": "Body", "unit": "Celsius"},
    ]
    mark = len(charger.events)
    authorized = await charger.call("Authorize", {"idTag": "RPCTAG"})
    started = await charger.call(
        "StartTransaction",
        {"connectorId": 1, "idTag": "RPCTAG", "meterStart": 1000, "timestamp": T0},
    )
    transaction_id = started["payload"]["transactionId"]
    metered = await charger.call(
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": transaction_id,
            "meterValue": [{"timestamp": T1, "sampledValue": samples}],
        },
    )
    stopped = await charger.call(
        "StopTransaction",
        {
            "meterStop": 12000,
            "timestamp": T2,
            "transactionId": transaction_id,
            "reason": "EVDisconnected",
            "idTag": "RPCTAG",
            "transactionData": [{"timestamp": T2, "sampledValue": [FINAL_SAMPLE]}],
        },
    )
    async with server.async_api_client() as client:
        recorded = (await client.get(f"/transactions/{transaction_id}")).json()
    answers = [authorized, started, metered, stopped]
    assert [a["event"] for a in answers] == ["result"] * 4, charger.describe()
    assert strict_failures_since(charger, mark) == []
    assert (recorded["meter_start"], recorded["meter_stop"]) == (1000, 12000)
    periodic, final = recorded["meter_values"]
    assert periodic["sampled_values"] == samples
    assert final["sampled_values"] == [FINAL_SAMPLE]


CORE_COMMANDS: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    (
        "tc021-change-availability",
        "ChangeAvailability",
        {"connectorId": 0, "type": "Inoperative"},
        {"status": "Accepted"},
    ),
    (
        "tc019-change-configuration",
        "ChangeConfiguration",
        {"key": "HeartbeatInterval", "value": "300"},  # unchanged: tests share the charger
        {"status": "Accepted"},
    ),
    ("clear-cache", "ClearCache", {}, {"status": "Accepted"}),
    (
        "tc064-data-transfer",
        "DataTransfer",
        {"vendorId": "com.wallbox", "messageId": "ping", "data": "x"},
        {"status": "Accepted"},
    ),
    (
        "tc019-get-configuration",
        "GetConfiguration",
        {"key": ["HeartbeatInterval", "NoSuchKey"]},
        {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
            "unknownKey": ["NoSuchKey"],
        },
    ),
    (
        "get-configuration-without-keys",
        "GetConfiguration",
        {},
        {
            "configurationKey": [
                {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
                {"key": "ConnectionTimeOut", "readonly": False, "value": "60"},
                {"key": "MeterValueSampleInterval", "readonly": False, "value": "60"},
                {"key": "NumberOfConnectors", "readonly": True, "value": "1"},
                {
                    "key": "SupportedFeatureProfiles",
                    "readonly": True,
                    "value": "Core,RemoteTrigger",
                },
            ]
        },
    ),
    (
        "tc010-remote-start",
        "RemoteStartTransaction",
        {"connectorId": 1, "idTag": "04A2B3C4"},
        {"status": "Accepted"},
    ),
    (
        "remote-start-with-charging-profile",
        "RemoteStartTransaction",
        {
            "connectorId": 1,
            "idTag": "04A2B3C4",
            "chargingProfile": {
                "chargingProfileId": 7,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Relative",
                "chargingSchedule": {
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [
                        {"startPeriod": 0, "limit": 16.0, "numberPhases": 3},
                        {"startPeriod": 3600, "limit": 6.5},
                    ],
                },
            },
        },
        {"status": "Accepted"},
    ),
    (
        "tc011-remote-stop",
        "RemoteStopTransaction",
        {"transactionId": 1},
        {"status": "Accepted"},
    ),
    ("tc013-hard-reset", "Reset", {"type": "Hard"}, {"status": "Accepted"}),
    ("tc014-soft-reset", "Reset", {"type": "Soft"}, {"status": "Accepted"}),
    ("tc017-unlock-connector", "UnlockConnector", {"connectorId": 1}, {"status": "Unlocked"}),
]


@pytest.mark.parametrize(
    ("case", "action", "payload", "expected"), CORE_COMMANDS, ids=[c[0] for c in CORE_COMMANDS]
)
async def test_every_core_command_passes_strict_validation_and_returns_the_answer(
    server: ServerProcess,
    charger: RpcCharger,
    case: str,
    action: str,
    payload: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    mark = len(charger.events)
    async with server.async_api_client() as client:
        answer = await client.post(
            f"/charge-points/{CHARGE_POINT_ID}/commands/{action}", json=payload
        )
    # The peer prints incoming_call before it answers; our pipe reader may still be behind.
    await charger.wait_for(lambda e: e["event"] == "incoming_call", 5, since=mark)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "charge_point_id": CHARGE_POINT_ID,
        "action": action,
        "response": expected,
    }
    [incoming] = [e for e in charger.events[mark:] if e["event"] == "incoming_call"]
    assert incoming["action"] == action
    assert incoming["payload"] == payload
    assert strict_failures_since(charger, mark) == []
