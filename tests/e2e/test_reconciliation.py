"""A charger that reboots or reconnects with a transaction open, against ``chargedeck serve``.

The charger is the PyPI ``ocpp`` library's ChargePoint (it checks our answers against the
official 1.6 schemas), answering TriggerMessage the way the spec says: the .conf, then the
triggered message (OCPP 1.6 §5.17).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import websockets
from ocpp.routing import after, on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import TriggerMessageStatus

from chargedeck.csms.reconciliation import RECONNECT_BOOT_WAIT_S
from tests.support.ocpp_lib_charger import LibraryCharger, library_charger
from tests.support.server import ServerProcess

BOOT = call.BootNotification(charge_point_vendor="Wall Box Chargers", charge_point_model="PPR1")
# The edge calls csms/reconciliation.on_connected when a connection opens (server/ocpp_ws.py).


class TriggeredCharger(LibraryCharger):
    """Answers TriggerMessage Accepted, then sends the connector's ``status`` or a MeterValues
    with ``register_wh`` for ``transaction_id``."""

    def __init__(
        self, charge_point_id: str, connection: Any, status: str, transaction_id: int
    ) -> None:
        super().__init__(charge_point_id, connection)
        self.status = status
        self.transaction_id = transaction_id
        self.register_wh = 2600

    @on("TriggerMessage")
    def on_trigger_message(self, **kwargs: Any) -> Any:
        self.received.append(("TriggerMessage", kwargs))
        return call_result.TriggerMessage(status=TriggerMessageStatus.accepted)

    @after("TriggerMessage")
    async def send_triggered(self, requested_message: str, connector_id: int = 1) -> None:
        # Asked without a connector: its one connector (OCPP 1.6 §5.17).
        if requested_message == "BootNotification":
            await self.call(BOOT)  # the Pulsar Pro boots when asked (csms/triggers.py)
        elif requested_message == "StatusNotification":
            await self.call(
                call.StatusNotification(
                    connector_id=connector_id, error_code="NoError", status=self.status
                )
            )
        elif requested_message == "MeterValues":
            await self.call(readings(connector_id, self.transaction_id, self.register_wh))


def readings(connector_id: int, transaction_id: int | None, wh: int) -> Any:
    return call.MeterValues(
        connector_id=connector_id,
        transaction_id=transaction_id,
        meter_value=[
            {
                "timestamp": datetime.now(UTC).isoformat(),
                "sampledValue": [
                    {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
                ],
            }
        ],
    )


@asynccontextmanager
async def triggered_charger(
    ocpp_url: str, charge_point_id: str, status: str, transaction_id: int
) -> AsyncIterator[TriggeredCharger]:
    async with websockets.connect(
        f"{ocpp_url}/{charge_point_id}", subprotocols=["ocpp1.6"], compression=None
    ) as connection:
        charger = TriggeredCharger(charge_point_id, connection, status, transaction_id)
        loop_task = asyncio.create_task(charger.start())
        try:
            yield charger
        finally:
            loop_task.cancel()
            await asyncio.gather(loop_task, return_exceptions=True)


async def charge(charger: LibraryCharger, meter_start: int, register_wh: int) -> int:
    """Boot, plug in, start a transaction and report one register reading; its id."""
    await charger.call(BOOT)
    await charger.call(
        call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
    )
    started = await charger.call(
        call.StartTransaction(
            connector_id=1,
            id_tag="04A2BC19",
            meter_start=meter_start,
            timestamp=(datetime.now(UTC) - timedelta(minutes=30)).isoformat(),
        )
    )
    transaction_id: int = started.transaction_id
    await charger.call(readings(1, transaction_id, register_wh))
    return transaction_id


async def wait_for(
    client: httpx.AsyncClient, transaction_id: int, field: str, value: Any, timeout_s: float
) -> dict[str, Any]:
    """The transaction's view once ``field`` is ``value`` (polled; fails after timeout_s)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        body: dict[str, Any] = (await client.get(f"/transactions/{transaction_id}")).json()
        if body[field] == value or asyncio.get_running_loop().time() > deadline:
            return body
        await asyncio.sleep(0.1)


async def test_a_charger_that_reboots_mid_session_has_its_transaction_reconciled(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "REBOOT1") as charger:
        transaction_id = await charge(charger, meter_start=1000, register_wh=2300)
    async with library_charger(server.ocpp_url, "REBOOT1") as charger:
        await charger.call(BOOT)  # it restarted: the transaction is gone from its memory
        async with server.async_api_client() as client:
            body = await wait_for(client, transaction_id, "active", False, timeout_s=10)
    assert (body["meter_stop"], body["stop_reason"], body["reconciliation"]) == (
        2300,
        "Reboot",
        "closed_at_boot",
    )
    assert body["energy_wh"] == 1300
    assert "closed_by_chargedeck" in [flag["flag"] for flag in body["energy_flags"]]
    server.wait_for_log(rf"transaction {transaction_id} .* closed by ChargeDeck \(closed_at_boot\)")


async def test_a_reconnect_without_boot_while_charging_keeps_the_transaction(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "RECONNECT1") as charger:
        transaction_id = await charge(charger, meter_start=1000, register_wh=1500)
    # Wallbox Pulsar Pro FW 6.x: connects again and sends no BootNotification (field notes Q2).
    async with triggered_charger(
        server.ocpp_url, "RECONNECT1", "Charging", transaction_id
    ) as charger:
        async with server.async_api_client() as client:
            body = await wait_for(
                client,
                transaction_id,
                "reconciliation",
                "recovered",
                timeout_s=RECONNECT_BOOT_WAIT_S + 15,
            )
        triggers = [
            (kwargs["requested_message"], kwargs.get("connector_id"))
            for action, kwargs in charger.received
            if action == "TriggerMessage"
        ]
    assert triggers == [
        ("BootNotification", None),  # csms/triggers.py, after 5 s
        ("StatusNotification", None),  # csms/triggers.py, once the boot is answered
        ("StatusNotification", 1),
        ("MeterValues", 1),
    ]
    assert (body["active"], body["reconciliation"]) == (True, "recovered")
