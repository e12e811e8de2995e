"""A charger built on the PyPI ``ocpp`` library goes through the Core profile both ways.

Named after the OCTT 1.6 CSMS cases where one applies (TC_001 cold boot, TC_003/004 charging
session, TC_010 remote start, TC_011 remote stop, TC_013 hard reset, TC_014 soft reset,
TC_017 unlock, TC_019 get/change configuration, TC_021 change availability, TC_064 data transfer).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from ocpp.v16 import call
from ocpp.v16.enums import (
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    DataTransferStatus,
    RegistrationStatus,
)

from tests.support.ocpp_lib_charger import library_charger
from tests.support.server import ServerProcess

T0 = "2026-03-01T10:00:00Z"
T1 = "2026-03-01T11:00:00Z"


def api(server: ServerProcess) -> httpx.AsyncClient:
    return server.async_api_client()


async def boot(charger: Any) -> Any:
    return await charger.call(
        call.BootNotification(
            charge_point_vendor="Wall Box Chargers",
            charge_point_model="PLP1-0-2-4",
            charge_point_serial_number="88034",
            firmware_version="6.4.14",
            meter_type="Internal NON compliant",
        )
    )


async def test_tc001_boot_is_accepted_with_the_heartbeat_interval(server: ServerProcess) -> None:
    async with library_charger(server.ocpp_url, "TC001") as charger:
        answer = await boot(charger)
        assert answer.status == RegistrationStatus.accepted
        assert answer.interval == 300
        async with api(server) as client:
            body = (await client.get("/charge-points/TC001")).json()
    assert body["registration"] == "registered"
    assert body["model"] == "PLP1-0-2-4"
    assert body["firmware_version"] == "6.4.14"
    assert body["connection"]["connected"] is True
    assert body["connection"]["boot_status"] == "Accepted"


async def test_heartbeat_answers_the_current_time(server: ServerProcess) -> None:
    async with library_charger(server.ocpp_url, "HB1") as charger:
        await boot(charger)
        before = datetime.now(UTC)
        answer = await charger.call(call.Heartbeat())
    answered = datetime.fromisoformat(answer.current_time)
    assert abs((answered - before).total_seconds()) < 5


async def test_status_notifications_are_stored_for_connector_0_and_each_connector(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "ST1") as charger:
        await boot(charger)
        for connector_id, status in (
            (0, ChargePointStatus.available),
            (1, ChargePointStatus.preparing),
            (1, ChargePointStatus.charging),
        ):
            await charger.call(
                call.StatusNotification(
                    connector_id=connector_id,
                    error_code=ChargePointErrorCode.no_error,
                    status=status,
                    timestamp=T0,
                    info="",
                    vendor_id="com.wallbox",
                    vendor_error_code="",
                )
            )
        async with api(server) as client:
            detail = (await client.get("/charge-points/ST1")).json()
            history = (await client.get("/charge-points/ST1/status-history")).json()
    connectors = {c["connector_id"]: c["status"] for c in detail["connectors"]}
    assert connectors == {0: "Available", 1: "Charging"}
    assert [h["status"] for h in history["items"]].count("Preparing") == 1
    assert len(history["items"]) == 3


async def test_authorize_accepts_a_known_tag_and_refuses_an_unknown_one(
    server: ServerProcess,
) -> None:
    async with api(server) as client:
        created = await client.post("/id-tags", json={"id_tag": "04A2B3C4", "owner": "Ana"})
        assert created.status_code == 201
        blocked = await client.post("/id-tags", json={"id_tag": "DEADBEEF", "blocked": True})
        assert blocked.status_code == 201
    async with library_charger(server.ocpp_url, "AU1") as charger:
        await boot(charger)
        known = await charger.call(call.Authorize(id_tag="04a2b3c4"))  # case-insensitive
        unknown = await charger.call(call.Authorize(id_tag="00000000"))
        refused = await charger.call(call.Authorize(id_tag="DEADBEEF"))
    assert known.id_tag_info["status"] == AuthorizationStatus.accepted
    assert unknown.id_tag_info["status"] == AuthorizationStatus.invalid
    assert refused.id_tag_info["status"] == AuthorizationStatus.blocked


async def test_tc003_a_charging_session_is_recorded_with_its_meter_values(
    server: ServerProcess,
) -> None:
    samples = [
        {
            "value": "1500.5",
            "context": "Sample.Periodic",
            "measurand": "Energy.Active.Import.Register",
            "unit": "Wh",
        },
        {"value": "11004.3", "measurand": "Power.Active.Import", "unit": "W"},
        {"value": "15.4", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
        {"value": "231.0", "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
    ]
    async with library_charger(server.ocpp_url, "TX1") as charger:
        await boot(charger)
        started = await charger.call(
            call.StartTransaction(connector_id=1, id_tag="TXTAG", meter_start=1000, timestamp=T0)
        )
        transaction_id = started.transaction_id
        await charger.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=transaction_id,
                meter_value=[{"timestamp": T0, "sampledValue": samples}],
            )
        )
        stopped = await charger.call(
            call.StopTransaction(
                meter_stop=12000,
                timestamp=T1,
                transaction_id=transaction_id,
                reason="EVDisconnected",
                id_tag="TXTAG",
                transaction_data=[
                    {"timestamp": T1, "sampledValue": [{"value": "12000", "unit": "Wh"}]}
                ],
            )
        )
        async with api(server) as client:
            body = (await client.get(f"/transactions/{transaction_id}")).json()
    assert 1 <= transaction_id <= 2**31 - 1
    assert started.id_tag_info["status"] == AuthorizationStatus.invalid  # unknown tag: recorded
    assert stopped.id_tag_info["status"] == AuthorizationStatus.invalid
    assert body["meter_start"] == 1000
    assert body["meter_stop"] == 12000
    assert body["energy_wh"] == 11000
    assert body["stop_reason"] == "EVDisconnected"
    assert body["active"] is False
    periodic, final = body["meter_values"]
    assert periodic["sampled_values"] == samples  # stored as sent
    assert periodic["energy_wh"] == 1501  # rounded Wh
    assert final["source"] == "StopTransaction"
    assert final["energy_wh"] == 12000


async def test_a_repeated_start_transaction_gets_the_same_transaction_id(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "TX2") as charger:
        await boot(charger)
        request = call.StartTransaction(connector_id=1, id_tag="AB", meter_start=5, timestamp=T0)
        first = await charger.call(request)
        second = await charger.call(request)
    assert first.transaction_id == second.transaction_id


async def test_a_stop_for_an_unknown_transaction_is_accepted(server: ServerProcess) -> None:
    async with library_charger(server.ocpp_url, "TX3") as charger:
        await boot(charger)
        answer = await charger.call(
            call.StopTransaction(meter_stop=10, timestamp=T1, transaction_id=987654)
        )
    assert answer is not None  # a CALLRESULT, not a CALLERROR
    server.wait_for_log(r"TX3 stopped transaction 987654 which is unknown transaction")


async def test_tc064_data_transfer_from_an_unknown_vendor_is_unknown_vendor_id(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "DT1") as charger:
        await boot(charger)
        answer = await charger.call(
            call.DataTransfer(vendor_id="com.example", message_id="hello", data="x")
        )
    assert answer.status == DataTransferStatus.unknown_vendor_id


async def test_firmware_and_diagnostics_status_notifications_are_answered(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "FW1") as charger:
        await boot(charger)
        firmware = await charger.call(call.FirmwareStatusNotification(status="Downloading"))
        diagnostics = await charger.call(call.DiagnosticsStatusNotification(status="Idle"))
    assert firmware is not None
    assert diagnostics is not None


CORE_COMMANDS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}, {"status": "Accepted"}),
    ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}, {"status": "Accepted"}),
    ("ClearCache", {}, {"status": "Accepted"}),
    (
        "DataTransfer",
        {"vendorId": "com.wallbox", "data": "ping"},
        {"status": "Accepted", "data": "pong"},
    ),
    (
        "GetConfiguration",
        {"key": ["HeartbeatInterval"]},
        {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "60"}],
            "unknownKey": [],
        },
    ),
    ("RemoteStartTransaction", {"connectorId": 1, "idTag": "04A2B3C4"}, {"status": "Accepted"}),
    ("RemoteStopTransaction", {"transactionId": 1}, {"status": "Accepted"}),
    ("Reset", {"type": "Soft"}, {"status": "Accepted"}),
    ("UnlockConnector", {"connectorId": 1}, {"status": "Unlocked"}),
]


@pytest.mark.parametrize(
    ("action", "payload", "expected"), CORE_COMMANDS, ids=[c[0] for c in CORE_COMMANDS]
)
async def test_every_core_command_reaches_the_charger_and_returns_its_answer(
    server: ServerProcess, action: str, payload: dict[str, Any], expected: dict[str, Any]
) -> None:
    charge_point_id = f"CMD-{action}"
    async with library_charger(server.ocpp_url, charge_point_id) as charger:
        await boot(charger)
        async with api(server) as client:
            answer = await client.post(
                f"/charge-points/{charge_point_id}/commands/{action}", json=payload
            )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "charge_point_id": charge_point_id,
        "action": action,
        "response": expected,
    }
    assert [name for name, _ in charger.received] == [action]


async def test_a_command_to_a_charger_that_is_not_connected_is_409_at_once(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "GONE") as charger:
        await boot(charger)
    async with api(server) as client:
        answer = await client.post("/charge-points/GONE/commands/Reset", json={"type": "Soft"})
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == "charge point 'GONE' is not connected"


async def test_a_command_with_an_invalid_payload_is_422_with_the_reason(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "BADCMD") as charger:
        await boot(charger)
        async with api(server) as client:
            answer = await client.post(
                "/charge-points/BADCMD/commands/Reset", json={"type": "Sideways"}
            )
    assert answer.status_code == 422
    assert "PropertyConstraintViolation" in answer.json()["detail"]
    assert charger.received == []


async def test_an_action_that_is_not_a_command_is_404(server: ServerProcess) -> None:
    async with api(server) as client:
        answer = await client.post("/charge-points/X1/commands/BootNotification", json={})
    assert answer.status_code == 404
    assert "is not sent by a CSMS" in answer.json()["detail"]


async def test_a_command_to_an_unknown_charger_is_404(server: ServerProcess) -> None:
    async with api(server) as client:
        answer = await client.post("/charge-points/NOBODY/commands/Reset", json={"type": "Soft"})
    assert answer.status_code == 404
    assert answer.json()["detail"] == "charge point 'NOBODY' is not known to this CSMS"
