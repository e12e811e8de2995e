"""Unknown chargers: the adoption inbox (default), and the accept and reject policies."""

from __future__ import annotations

from pathlib import Path

import pytest
import websockets
from ocpp.v16 import call
from ocpp.v16.enums import ChargePointErrorCode, ChargePointStatus, RegistrationStatus

from tests.support.ocpp_lib_charger import library_charger
from tests.support.server import ServerProcess, running_server

BOOT = call.BootNotification(charge_point_vendor="Wall Box Chargers", charge_point_model="PLP1")


async def test_an_unknown_charger_boots_pending_and_waits_in_the_inbox(
    inbox_server: ServerProcess,
) -> None:
    async with library_charger(inbox_server.ocpp_url, "NEW1") as charger:
        answer = await charger.call(BOOT)
        async with inbox_server.async_api_client() as client:
            inbox = (await client.get("/inbox")).json()
    assert answer.status == RegistrationStatus.pending
    assert answer.interval == 30
    [waiting] = [c for c in inbox["items"] if c["id"] == "NEW1"]
    assert waiting["model"] == "PLP1"


async def test_an_adopted_charger_is_accepted_on_its_next_boot(
    inbox_server: ServerProcess,
) -> None:
    async with library_charger(inbox_server.ocpp_url, "NEW2") as charger:
        assert (await charger.call(BOOT)).status == RegistrationStatus.pending
        async with inbox_server.async_api_client() as client:
            adopted = await client.post("/charge-points/NEW2/adopt")
            inbox = (await client.get("/inbox")).json()
        assert adopted.status_code == 200
        assert adopted.json()["registration"] == "registered"
        assert "NEW2" not in [c["id"] for c in inbox["items"]]
        assert (await charger.call(BOOT)).status == RegistrationStatus.accepted


async def test_a_pending_charger_may_send_nothing_but_boot_notification(
    inbox_server: ServerProcess,
) -> None:
    async with library_charger(inbox_server.ocpp_url, "NEW3") as charger:
        await charger.call(BOOT)
        with pytest.raises(Exception) as error:  # noqa: PT011 - the library's own class
            await charger.call(
                call.StatusNotification(
                    connector_id=1,
                    error_code=ChargePointErrorCode.no_error,
                    status=ChargePointStatus.available,
                ),
                suppress=False,
            )
    assert type(error.value).__name__ == "SecurityError"
    inbox_server.wait_for_log(r"NEW3: StatusNotification \S+ refused with SecurityError")


async def test_no_remote_start_is_sent_to_a_pending_charger(inbox_server: ServerProcess) -> None:
    async with library_charger(inbox_server.ocpp_url, "NEW4") as charger:
        await charger.call(BOOT)
        async with inbox_server.async_api_client() as client:
            answer = await client.post(
                "/charge-points/NEW4/commands/RemoteStartTransaction",
                json={"connectorId": 1, "idTag": "04A2B3C4"},
            )
    assert answer.status_code == 409
    assert "pending adoption" in answer.json()["detail"]
    assert charger.received == []


async def test_a_charger_registered_beforehand_is_accepted_at_once(
    inbox_server: ServerProcess,
) -> None:
    async with inbox_server.async_api_client() as client:
        created = await client.post("/charge-points", json={"id": "KNOWN1"})
        again = await client.post("/charge-points", json={"id": "KNOWN1"})
    assert created.status_code == 201
    assert again.status_code == 409
    async with library_charger(inbox_server.ocpp_url, "KNOWN1") as charger:
        assert (await charger.call(BOOT)).status == RegistrationStatus.accepted


async def test_a_known_charger_may_reconnect_without_booting(server: ServerProcess) -> None:
    # OCPP-J 1.6 §5.4: a charger need not send BootNotification on a reconnect.
    async with library_charger(server.ocpp_url, "RECON") as charger:
        await charger.call(BOOT)
    async with library_charger(server.ocpp_url, "RECON") as charger:
        answer = await charger.call(call.Heartbeat())
    assert answer.current_time


async def test_under_the_reject_policy_an_unknown_id_gets_http_404(
    tmp_path: Path,
) -> None:
    with running_server(
        f"sqlite:///{tmp_path / 'db.sqlite'}", ["--unknown-charge-points", "reject"], tmp_path
    ) as server:
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(f"{server.ocpp_url}/STRANGER", subprotocols=["ocpp1.6"]):
                pass
        assert refused.value.response.status_code == 404
        server.wait_for_log(
            r"connection refused: charge point 'STRANGER' from 127.0.0.1: unknown_charge_point: "
            r"unknown charge point 'STRANGER' \(unknown_charge_points=reject\) \(HTTP 404\)"
        )
        assert server.error_lines() == []
