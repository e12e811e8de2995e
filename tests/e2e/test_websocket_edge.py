"""The charger WebSocket edge with a raw client: handshake refusals and bad frames.

Each bad input gets its exact answer (CallError code, close code or HTTP status) and a log line
that says what was wrong; the server never crashes.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.support.server import ServerProcess, running_server

BOOT = {"chargePointVendor": "Wall Box Chargers", "chargePointModel": "PLP1"}


async def connect(server: ServerProcess, charge_point_id: str, **kwargs: Any) -> ClientConnection:
    kwargs.setdefault("subprotocols", ["ocpp1.6"])
    return await websockets.connect(f"{server.ocpp_url}/{charge_point_id}", **kwargs)


async def call(ws: ClientConnection, message_id: str, action: str, payload: Any) -> list[Any]:
    await ws.send(json.dumps([2, message_id, action, payload]))
    return json.loads(await asyncio.wait_for(ws.recv(), 10))  # type: ignore[no-any-return]


async def test_a_too_long_charge_point_id_is_refused_with_400(server: ServerProcess) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await connect(server, "X" * 49)
    assert refused.value.response.status_code == 400
    server.wait_for_log(r"refused: 400 Bad Request: charge point id is 49 characters long")


async def test_a_charger_not_offering_ocpp16_is_closed_after_the_handshake(
    server: ServerProcess,
) -> None:
    ws = await connect(server, "OLD15", subprotocols=["ocpp1.5"])
    assert ws.subprotocol is None  # OCPP-J 1.6 §3.1.2: no Sec-WebSocket-Protocol in the answer
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 10)
    assert ws.close_code == 1002
    server.wait_for_log(r"OLD15 from \S+ did not offer subprotocol ocpp1.6")


async def test_a_charger_offering_no_subprotocol_is_served_as_16(server: ServerProcess) -> None:
    ws = await connect(server, "NOPROTO", subprotocols=None)
    async with ws:
        answer = await call(ws, "1", "BootNotification", BOOT)
    assert answer[0] == 3
    assert answer[2]["status"] == "Accepted"
    server.wait_for_log(r"NOPROTO offered no subprotocol; assuming ocpp1.6")


async def test_invalid_json_is_answered_with_a_formation_violation_for_id_minus_one(
    server: ServerProcess,
) -> None:
    async with await connect(server, "BADJSON") as ws:
        await ws.send('[2, "1", "Heartbeat", {')
        answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert answer[:3] == [4, "-1", "FormationViolation"]
    server.wait_for_log(r"BADJSON: unusable frame answered with id -1: frame is not valid JSON")


async def test_a_missing_required_field_is_an_occurence_constraint_violation(
    server: ServerProcess,
) -> None:
    async with await connect(server, "MISSING") as ws:
        answer = await call(ws, "b1", "BootNotification", {"chargePointVendor": "V"})
    assert answer[:3] == [4, "b1", "OccurenceConstraintViolation"]
    assert "chargePointModel" in answer[3]
    server.wait_for_log(r"MISSING: CALL b1 \(BootNotification\) refused with Occurence")


async def test_a_wrong_type_is_a_type_constraint_violation(server: ServerProcess) -> None:
    async with await connect(server, "WRONGTYPE") as ws:
        answer = await call(
            ws, "b1", "BootNotification", {"chargePointVendor": 7, "chargePointModel": "M"}
        )
    assert answer[:3] == [4, "b1", "TypeConstraintViolation"]


async def test_an_unknown_action_is_not_implemented(server: ServerProcess) -> None:
    async with await connect(server, "UNKNOWNACT") as ws:
        answer = await call(ws, "u1", "OpenThePodBayDoors", {})
    assert answer[:3] == [4, "u1", "NotImplemented"]
    server.wait_for_log(r"UNKNOWNACT: CALL u1 \(OpenThePodBayDoors\) refused with NotImpl")


async def test_a_result_for_an_unknown_message_id_is_ignored_and_logged(
    server: ServerProcess,
) -> None:
    async with await connect(server, "STRAYRESULT") as ws:
        await ws.send('[3, "never-sent", {}]')
        answer = await call(ws, "1", "BootNotification", BOOT)  # the connection still works
    assert answer[:2] == [3, "1"]
    server.wait_for_log(r"STRAYRESULT: CALLRESULT for unknown message id 'never-sent' ignored")


async def test_a_binary_frame_closes_the_connection_with_1003(server: ServerProcess) -> None:
    ws = await connect(server, "BINARY")
    await ws.send(b'[2,"1","Heartbeat",{}]')
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 10)
    assert ws.close_code == 1003
    server.wait_for_log(r"BINARY sent a binary frame; OCPP-J uses text frames only")


async def test_an_oversized_message_closes_the_connection_with_1009(
    server: ServerProcess,
) -> None:
    ws = await connect(server, "HUGE", max_size=None)
    payload = {"vendorId": "x", "data": "y" * 70_000}
    await ws.send(json.dumps([2, "1", "DataTransfer", payload]))
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 10)
    assert ws.close_code == 1009
    server.wait_for_log(r"HUGE sent a message larger than 65536 bytes: closed with 1009")


async def test_a_second_connection_with_the_same_id_replaces_the_first(
    server: ServerProcess,
) -> None:
    first = await connect(server, "TWICE")
    await call(first, "1", "BootNotification", BOOT)
    second = await connect(server, "TWICE")
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(first.recv(), 10)
    assert first.close_code == 1000
    assert first.close_reason == "replaced by a newer connection"
    async with second:
        answer = await call(second, "2", "Heartbeat", {})
    assert answer[:2] == [3, "2"]
    server.wait_for_log(r"TWICE connected again from \S+: the older connection is closed")


async def test_a_message_id_used_again_on_the_connection_is_a_generic_error(
    server: ServerProcess,
) -> None:
    async with await connect(server, "DUPID") as ws:
        await call(ws, "b", "BootNotification", BOOT)
        start = {
            "connectorId": 1,
            "idTag": "CARD",
            "meterStart": 0,
            "timestamp": "2026-03-01T10:00:00Z",
        }
        # Two CALLs with one id back to back; a connection's CALLs are handled in order, so the
        # first is answered and the second reuses an id already used (OCPP-J 1.6 §4.1.1).
        await ws.send(json.dumps([2, "same", "StartTransaction", start]))
        await ws.send(json.dumps([2, "same", "StartTransaction", start]))
        answers = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(2)]
    assert sorted(answer[0] for answer in answers) == [3, 4]
    [refusal] = [answer for answer in answers if answer[0] == 4]
    assert refusal[:3] == [4, "same", "GenericError"]
    server.wait_for_log(
        r"DUPID: CALL same \(StartTransaction\) refused with GenericError: message id"
    )


async def test_a_handshake_when_the_store_fails_is_refused_with_503(tmp_path: Path) -> None:
    database = tmp_path / "broken.db"
    with running_server(f"sqlite:///{database}", cwd=tmp_path) as broken:
        with sqlite3.connect(database) as admin:
            admin.execute("DROP TABLE charge_points")
        with pytest.raises(websockets.InvalidStatus) as refused:
            await connect(broken, "NOSTORE")
        assert refused.value.response.status_code == 503
        broken.wait_for_log(r"refused: 503 Service Unavailable: the CSMS cannot read its store")
        broken.wait_for_log(r"ERROR .*handshake of NOSTORE: store unavailable")
