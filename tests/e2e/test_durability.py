"""What the server acknowledged survives SIGKILL, and a graceful stop answers what it took in.

DESIGN §6: StartTransaction/StopTransaction/BootNotification are committed before the answer;
MeterValues/StatusNotification are answered after their group commit.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import websockets

from tests.support.server import running_server, start_server

T0 = "2026-03-01T10:00:00Z"
BOOT = {"chargePointVendor": "Wall Box Chargers", "chargePointModel": "PLP1"}


def sampled_values(energy_wh: int) -> list[dict[str, str]]:
    return [
        {"value": str(energy_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "7200.0", "measurand": "Power.Active.Import", "unit": "W"},
    ]


async def call(ws: Any, message_id: str, action: str, payload: Any) -> list[Any]:
    await ws.send(json.dumps([2, message_id, action, payload]))
    return json.loads(await asyncio.wait_for(ws.recv(), 10))  # type: ignore[no-any-return]


async def test_an_acknowledged_start_and_meter_values_survive_sigkill(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'crash.db'}"
    server = start_server(database_url, ["--unknown-charge-points", "accept"], tmp_path)
    try:
        async with websockets.connect(f"{server.ocpp_url}/CRASH1", subprotocols=["ocpp1.6"]) as ws:
            await call(ws, "1", "BootNotification", BOOT)
            started = await call(
                ws,
                "2",
                "StartTransaction",
                {"connectorId": 1, "idTag": "CARD", "meterStart": 100, "timestamp": T0},
            )
            transaction_id = started[2]["transactionId"]
            server.kill()  # right after the StartTransaction answer
    finally:
        server.terminate()
    server = start_server(database_url, ["--unknown-charge-points", "accept"], tmp_path)
    try:
        async with websockets.connect(f"{server.ocpp_url}/CRASH1", subprotocols=["ocpp1.6"]) as ws:
            for index in range(5):
                answer = await call(
                    ws,
                    f"m{index}",
                    "MeterValues",
                    {
                        "connectorId": 1,
                        "transactionId": transaction_id,
                        "meterValue": [
                            {"timestamp": T0, "sampledValue": sampled_values(200 + index)}
                        ],
                    },
                )
                assert answer[0] == 3
            server.kill()  # right after the last MeterValues answer
    finally:
        server.terminate()
    with running_server(database_url, cwd=tmp_path) as restarted:
        async with restarted.async_api_client() as client:
            body = (await client.get(f"/transactions/{transaction_id}")).json()
    assert body["meter_start"] == 100
    assert body["active"] is True
    assert [m["energy_wh"] for m in body["meter_values"]] == [200, 201, 202, 203, 204]


async def test_a_graceful_stop_answers_or_leaves_unanswered_but_loses_nothing_answered(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'stop.db'}"
    server = start_server(database_url, ["--unknown-charge-points", "accept"], tmp_path)
    chargers = 20
    sockets = [
        await websockets.connect(f"{server.ocpp_url}/STOP{i}", subprotocols=["ocpp1.6"])
        for i in range(chargers)
    ]
    transaction_ids = []
    for index, ws in enumerate(sockets):
        await call(ws, "b", "BootNotification", BOOT)
        started = await call(
            ws,
            "s",
            "StartTransaction",
            {"connectorId": 1, "idTag": "CARD", "meterStart": index, "timestamp": T0},
        )
        transaction_ids.append(started[2]["transactionId"])
    for ws, transaction_id in zip(sockets, transaction_ids, strict=True):
        await ws.send(
            json.dumps(
                [
                    2,
                    "m",
                    "MeterValues",
                    {
                        "connectorId": 1,
                        "transactionId": transaction_id,
                        "meterValue": [{"timestamp": T0, "sampledValue": sampled_values(999)}],
                    },
                ]
            )
        )
    assert server.terminate() == 0
    answered = []
    for ws, transaction_id in zip(sockets, transaction_ids, strict=True):
        try:
            async for message in ws:
                if json.loads(message)[0] == 3:
                    answered.append(transaction_id)
        except websockets.ConnectionClosed:
            pass
        assert ws.close_code == 1001  # going away, after the messages in flight
    server.wait_for_log(r"INFO chargedeck.server: stopped")
    with running_server(database_url, cwd=tmp_path) as restarted:
        async with restarted.async_api_client() as client:
            for transaction_id in answered:
                body = (await client.get(f"/transactions/{transaction_id}")).json()
                assert [m["energy_wh"] for m in body["meter_values"]] == [999]
