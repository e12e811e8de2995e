"""Remote trigger against ``chargedeck serve``, with the PyPI ``ocpp`` library's ChargePoint as
the charger: per charger, in bulk, and the boot asked of a charger that reconnects silently
(Wallbox Pulsar Pro FW 6.x, field notes Q2). Waits use the real 5 s BOOT_TRIGGER_DELAY_S."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from ocpp.routing import after, on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import TriggerMessageStatus

from chargedeck.csms.triggers import BOOT_TRIGGER_DELAY_S
from tests.support.ocpp_lib_charger import LibraryCharger, library_charger
from tests.support.server import ServerProcess

BOOT = call.BootNotification(charge_point_vendor="Wall Box Chargers", charge_point_model="PPR1")
MESSAGES = (
    "BootNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
)


class TriggeredCharger(LibraryCharger):
    """Answers TriggerMessage Accepted, then sends the message asked for (§5.17: the .conf
    first) and keeps the names of the messages it sent that way."""

    def __init__(self, charge_point_id: str, connection: Any) -> None:
        super().__init__(charge_point_id, connection)
        self.sent_when_asked: list[str] = []

    @on("TriggerMessage")
    def on_trigger_message(self, **kwargs: Any) -> Any:
        self.received.append(("TriggerMessage", kwargs))
        return call_result.TriggerMessage(status=TriggerMessageStatus.accepted)

    @after("TriggerMessage")
    async def send_triggered(self, requested_message: str, connector_id: int = 1) -> None:
        await self.call(_message(requested_message, connector_id))
        self.sent_when_asked.append(requested_message)

    def triggers(self) -> list[tuple[str, int | None]]:
        return [
            (kwargs["requested_message"], kwargs.get("connector_id"))
            for action, kwargs in self.received
            if action == "TriggerMessage"
        ]


def _message(name: str, connector_id: int) -> Any:
    if name == "BootNotification":
        return BOOT
    if name == "DiagnosticsStatusNotification":
        return call.DiagnosticsStatusNotification(status="Idle")
    if name == "FirmwareStatusNotification":
        return call.FirmwareStatusNotification(status="Idle")
    if name == "Heartbeat":
        return call.Heartbeat()
    if name == "MeterValues":
        return call.MeterValues(
            connector_id=connector_id,
            meter_value=[
                {
                    "timestamp": datetime.now(UTC).isoformat(),
                    "sampledValue": [
                        {"value": "1200", "measurand": "Energy.Active.Import.Register"}
                    ],
                }
            ],
        )
    return call.StatusNotification(
        connector_id=connector_id, error_code="NoError", status="Charging"
    )


async def wait_until(condition: Any, timeout_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition() and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def booted(server: ServerProcess, charge_point_id: str) -> None:
    """The charger is registered (policy accept) on its first boot, then disconnects."""
    async with library_charger(server.ocpp_url, charge_point_id) as charger:
        await charger.call(BOOT)


async def test_a_reconnect_without_boot_triggers_boot_and_status(server: ServerProcess) -> None:
    async with library_charger(server.ocpp_url, "TRG1") as charger:
        await charger.call(BOOT)
        started = await charger.call(
            call.StartTransaction(
                connector_id=1,
                id_tag="04A2BC19",
                meter_start=1000,
                timestamp=datetime.now(UTC).isoformat(),
            )
        )
    async with library_charger(server.ocpp_url, "TRG1", TriggeredCharger) as charger:
        await wait_until(lambda: len(charger.sent_when_asked) >= 2, BOOT_TRIGGER_DELAY_S + 4)
        assert charger.triggers()[:2] == [("BootNotification", None), ("StatusNotification", None)]
        assert charger.sent_when_asked[:2] == ["BootNotification", "StatusNotification"]
        server.wait_for_log("TRG1 sent the BootNotification ChargeDeck asked for: not a reboot")
        async with server.async_api_client() as client:
            body = (await client.get(f"/transactions/{started.transaction_id}")).json()
        assert (body["active"], body["reconciliation"]) == (True, None)


async def test_a_command_to_a_charger_that_has_not_booted_is_refused(
    server: ServerProcess,
) -> None:
    await booted(server, "TRG2")
    async with library_charger(server.ocpp_url, "TRG2"), server.async_api_client() as client:
        answer = await client.post("/charge-points/TRG2/commands/ClearCache", json={})
    assert answer.status_code == 409
    assert (
        "charge point 'TRG2' has not sent BootNotification on this connection yet"
        in answer.json()["detail"]
    )


@pytest.mark.parametrize("message", MESSAGES)
async def test_each_message_can_be_triggered(server: ServerProcess, message: str) -> None:
    charge_point_id = f"TRG3-{message[:12]}"
    async with library_charger(server.ocpp_url, charge_point_id, TriggeredCharger) as charger:
        await charger.call(BOOT)
        body: dict[str, Any] = {"requested_message": message}
        if message in ("MeterValues", "StatusNotification"):
            body["connector_id"] = 1
        async with server.async_api_client() as client:
            answer = await client.post(f"/charge-points/{charge_point_id}/trigger", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "Accepted"
        await wait_until(lambda: charger.sent_when_asked == [message], 5)
        assert charger.sent_when_asked == [message]  # and ChargeDeck answered it


async def test_a_connector_for_heartbeat_is_a_422(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        answer = await client.post(
            "/charge-points/TRG4/trigger",
            json={"requested_message": "Heartbeat", "connector_id": 1},
        )
    assert answer.status_code == 422
    assert "only for StatusNotification and MeterValues" in answer.json()["detail"]


async def test_bulk_reports_each_charger_one_of_them_disconnected(server: ServerProcess) -> None:
    await booted(server, "TRG5-C")
    async with (
        library_charger(server.ocpp_url, "TRG5-A", TriggeredCharger) as a,
        library_charger(server.ocpp_url, "TRG5-B", TriggeredCharger) as b,
    ):
        await a.call(BOOT)
        await b.call(BOOT)
        async with server.async_api_client() as client:
            answer = await client.post(
                "/bulk/trigger",
                json={
                    "charge_point_ids": ["TRG5-A", "TRG5-B", "TRG5-C"],
                    "requested_message": "Heartbeat",
                },
            )
        assert answer.status_code == 200, answer.text
        results = {r["charge_point_id"]: r["status"] for r in answer.json()["results"]}
        assert results == {"TRG5-A": "Accepted", "TRG5-B": "Accepted", "TRG5-C": "NotConnected"}
        await wait_until(lambda: a.sent_when_asked and b.sent_when_asked, 5)
        assert (a.sent_when_asked, b.sent_when_asked) == (["Heartbeat"], ["Heartbeat"])
