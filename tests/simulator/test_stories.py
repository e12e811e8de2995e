"""The simulator drives ChargeDeck's main user stories over real sockets (issue 8): a Wallbox with
a card, a remote start, a limit change seen in the meter values, an offline queue replayed,
free charging with AuthEnabled=false, and the two refusals the Wallbox app shows (Connection
Rejected, Certificate Validation Failed).

One real ``chargedeck serve`` (with TLS) for the module; each test uses its own charge point ids.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chargedeck.ocpp.v16.enums import RegistrationStatus
from chargedeck.simulator.ev import EvModel
from chargedeck.simulator.events import ConnectionState, EventKind
from chargedeck.simulator.models import WALLBOX_PULSAR_PLUS
from chargedeck.simulator.station import ChargerOptions
from tests.e2e.test_security_profiles import Pki, make_pki, tls_port
from tests.simulator.running_charger import Run, running
from tests.support.server import ServerProcess, running_server

CARD = "04:A2:BC:19"
CARD_ON_THE_WIRE = "19BCA204"  # Wallbox: little-endian hex, no separators (setup guide)
PASSWORD = "Wallbox-S3cret-1234"
METER_S = 0.3


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("stories")
    args = [
        "--unknown-charge-points",
        "accept",
        "--auth-failures-before-backoff",
        "1000",
        *pki.server_args(),
    ]
    with running_server(f"sqlite:///{folder / 'chargedeck.db'}", args, folder) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


def wallbox(server: ServerProcess, charge_point_id: str, **options: Any) -> ChargerOptions:
    options.setdefault("meter_interval_s", METER_S)
    options.setdefault("reconnect_base_s", 0.2)
    return ChargerOptions(server.ocpp_url, charge_point_id, **options)


async def register(server: ServerProcess, id_tag: str) -> None:
    async with server.async_api_client() as api:
        added = await api.post("/id-tags", json={"id_tag": id_tag})
    assert added.status_code == 201, added.text


async def charging_by_remote_start(server: ServerProcess, run: Run, id_tag: str) -> int:
    """Plug in and start from the API (RemoteStartTransaction): the transaction id."""
    charger = run.charger
    await charger.plug_in()
    async with server.async_api_client() as api:
        answer = await api.post(
            f"/charge-points/{charger.options.charge_point_id}/commands/RemoteStartTransaction",
            json={"connectorId": 1, "idTag": id_tag},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["response"] == {"status": "Accepted"}
    await charger.wait_for(lambda: charger.transaction_id() is not None)
    transaction_id = charger.transaction_id()
    assert transaction_id is not None
    return transaction_id


async def booted(run: Run) -> None:
    charger = run.charger
    await charger.wait_for(lambda: charger.registration is RegistrationStatus.ACCEPTED)
    await charger.wait_for(lambda: charger.queued_messages() == 0)


async def transaction(server: ServerProcess, transaction_id: int) -> dict[str, Any]:
    async with server.async_api_client() as api:
        answer = await api.get(f"/transactions/{transaction_id}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def test_a_registered_card_tapped_on_a_wallbox_charges_and_the_session_has_energy(
    server: ServerProcess,
) -> None:
    async with server.async_api_client() as api:
        added = await api.post("/id-tags", json={"uid": CARD})
    assert added.status_code == 201, added.text
    async with running(wallbox(server, "SIM-TAP"), WALLBOX_PULSAR_PLUS) as run:
        charger = run.charger
        await booted(run)
        await charger.plug_in()
        assert charger.status() == "Preparing"
        await charger.tap(CARD)
        await charger.wait_for(lambda: charger.transaction_id() is not None)
        (started,) = run.of(EventKind.TRANSACTION, action="started")
        assert started["id_tag"] == CARD_ON_THE_WIRE
        assert charger.status() == "Charging"
        transaction_id = charger.transaction_id()
        assert transaction_id is not None
        await charger.wait_for(lambda: len(run.of(EventKind.METER)) >= 3)
        energies = [meter["energy_wh"] for meter in run.of(EventKind.METER)]
        assert energies == sorted(energies)
        assert energies[-1] > energies[0]

        await charger.tap(CARD)
        (stopped,) = run.of(EventKind.TRANSACTION, action="stopped")
        assert stopped["reason"] == "Local"
        assert charger.status() == "Finishing"
        await charger.wait_for(lambda: charger.queued_messages() == 0)

    session = await transaction(server, transaction_id)
    assert session["active"] is False
    assert session["stop_reason"] == "Local"
    assert session["meter_stop"] == stopped["meter_wh"]
    assert session["energy_wh"] > 0


async def test_a_remote_start_from_the_api_makes_the_wallbox_charge(server: ServerProcess) -> None:
    await register(server, "REMOTE-1")
    async with running(wallbox(server, "SIM-REMOTE"), WALLBOX_PULSAR_PLUS) as run:
        await booted(run)
        transaction_id = await charging_by_remote_start(server, run, "REMOTE-1")
        assert run.charger.status() == "Charging"
    assert (await transaction(server, transaction_id))["id_tag"] == "REMOTE-1"


async def test_a_limit_set_in_the_api_shows_in_the_current_the_car_draws(
    server: ServerProcess,
) -> None:
    await register(server, "LIMIT-1")
    async with running(wallbox(server, "SIM-LIMIT"), WALLBOX_PULSAR_PLUS) as run:
        charger = run.charger
        await booted(run)
        await charging_by_remote_start(server, run, "LIMIT-1")
        assert charger.status() == "Charging"
        assert charger.current_a() == 32.0  # the car's maximum, nothing limits it
        async with server.async_api_client() as api:
            answer = await api.put(
                "/charge-points/SIM-LIMIT/limit", json={"value": 10, "unit": "A"}
            )
        assert answer.status_code == 200, answer.text
        await charger.wait_for(lambda: charger.limit_a() == 10.0)
        assert run.of(EventKind.LIMIT, connector_id=1)[-1]["limit_a"] == 10.0
        before = len(run.of(EventKind.METER))
        await charger.wait_for(lambda: len(run.of(EventKind.METER)) > before)
        assert run.of(EventKind.METER)[-1]["current_a"] == 10.0
        assert run.of(EventKind.METER)[-1]["offered_a"] == 10.0


async def test_offline_the_stop_is_queued_and_replayed_and_the_api_has_the_right_meter_stop(
    server: ServerProcess,
) -> None:
    await register(server, "OFFLINE-1")
    async with running(wallbox(server, "SIM-OFFLINE"), WALLBOX_PULSAR_PLUS) as run:
        charger = run.charger
        await booted(run)
        transaction_id = await charging_by_remote_start(server, run, "OFFLINE-1")

        await charger.go_offline()
        assert charger.connection_state is ConnectionState.DISCONNECTED
        await charger.wait_for(lambda: len(run.of(EventKind.QUEUED)) >= 2)
        await charger.unplug()
        (stopped,) = run.of(EventKind.TRANSACTION, action="stopped")
        assert stopped["reason"] == "EVDisconnected"
        assert run.of(EventKind.QUEUED)[-1]["action"] == "StopTransaction"
        assert charger.status() == "Available"
        queued = charger.queued_messages()
        assert queued >= 3  # MeterValues x2 and the StopTransaction at least

        await charger.go_online()
        await charger.wait_for(lambda: charger.queued_messages() == 0)
        replayed = run.of(EventKind.QUEUED, replayed=True)
        assert [r["action"] for r in replayed][-1] == "StopTransaction"
        assert len(replayed) == queued

    session = await transaction(server, transaction_id)
    assert session["active"] is False
    assert session["stop_reason"] == "EVDisconnected"
    assert session["meter_stop"] == stopped["meter_wh"]


async def test_a_wallbox_with_auth_disabled_charges_on_plug_in_as_no_authorization(
    server: ServerProcess,
) -> None:
    async with running(wallbox(server, "SIM-FREE"), WALLBOX_PULSAR_PLUS) as run:
        charger = run.charger
        await booted(run)
        async with server.async_api_client() as api:
            answer = await api.post(
                "/charge-points/SIM-FREE/commands/ChangeConfiguration",
                json={"key": "AuthEnabled", "value": "false"},
            )
        assert answer.json()["response"] == {"status": "Accepted"}
        assert charger.configuration()["AuthEnabled"] == "false"
        await charger.plug_in()
        await charger.wait_for(lambda: charger.transaction_id() is not None)
        (started,) = run.of(EventKind.TRANSACTION, action="started")
        assert started["id_tag"] == "NoAuthorization"
        assert charger.status() == "Charging"


async def test_a_wrong_password_shows_connection_rejected_with_the_servers_reason(
    server: ServerProcess,
) -> None:
    async with server.async_api_client() as api:
        assert (await api.post("/charge-points", json={"id": "SIM-PW"})).status_code == 201
        answer = await api.put("/charge-points/SIM-PW/password", json={"password": PASSWORD})
        assert answer.status_code == 200, answer.text
        answer = await api.put(
            "/charge-points/SIM-PW/security-profile", json={"security_profile": 1}
        )
        assert answer.status_code == 200, answer.text
    options = wallbox(server, "SIM-PW", password="not-the-right-one")
    async with running(options, WALLBOX_PULSAR_PLUS) as run:
        charger = run.charger
        await charger.wait_for(lambda: charger.connection_state is ConnectionState.REJECTED)
    (rejected,) = run.of(EventKind.CONNECTION, state=ConnectionState.REJECTED)[:1]
    assert rejected["http_status"] == 401
    assert rejected["reason"].startswith("HTTP 401 Unauthorized: wrong_password")
    assert run.of(EventKind.CONNECTION, state=ConnectionState.CONNECTED) == []


async def test_a_new_password_from_chargedeck_is_taken_and_used_at_the_next_connection(
    server: ServerProcess,
) -> None:
    async with server.async_api_client() as api:
        assert (await api.post("/charge-points", json={"id": "SIM-ROT"})).status_code == 201
        answer = await api.put("/charge-points/SIM-ROT/password", json={"password": PASSWORD})
        assert answer.status_code == 200, answer.text
    async with running(wallbox(server, "SIM-ROT", password=PASSWORD), WALLBOX_PULSAR_PLUS) as run:
        charger = run.charger
        await booted(run)
        async with server.async_api_client() as api:
            answer = await api.put(
                "/charge-points/SIM-ROT/password", json={"password": "Rotated-Key-5678-abcd"}
            )
        assert answer.status_code == 200, answer.text
        assert answer.json()["outcome"] == "accepted_by_charger"
        await charger.go_offline()
        await charger.go_online()
        await charger.wait_for(lambda: charger.connection_state is ConnectionState.CONNECTED)
    assert run.of(EventKind.CONNECTION, state=ConnectionState.REJECTED) == []


async def test_a_server_certificate_from_another_ca_shows_certificate_validation_failed(
    server: ServerProcess, tmp_path: Path
) -> None:
    other = make_pki(tmp_path / "other", "Someone Else's CA")
    url = f"wss://127.0.0.1:{tls_port(server)}/ocpp"
    options = ChargerOptions(url, "SIM-TLS", ca_file=str(other.ca_file), reconnect_base_s=0.2)
    async with running(options, WALLBOX_PULSAR_PLUS) as run:
        charger = run.charger
        await charger.wait_for(
            lambda: charger.connection_state is ConnectionState.CERTIFICATE_FAILED
        )
    failed = run.of(EventKind.CONNECTION, state=ConnectionState.CERTIFICATE_FAILED)[0]
    assert "certificate" in failed["reason"]


async def test_the_ca_the_server_uses_lets_the_wallbox_connect_over_tls(
    server: ServerProcess, pki: Pki
) -> None:
    url = f"wss://127.0.0.1:{tls_port(server)}/ocpp"
    options = ChargerOptions(url, "SIM-TLS-OK", ca_file=str(pki.ca_file))
    async with running(options, WALLBOX_PULSAR_PLUS) as run:
        await booted(run)
        assert run.charger.connection_state is ConnectionState.CONNECTED


async def test_a_car_that_is_full_leaves_the_connector_suspended_by_the_ev(
    server: ServerProcess,
) -> None:
    await register(server, "FULL-1")
    full = EvModel(start_soc=1.0)
    async with running(wallbox(server, "SIM-FULL"), WALLBOX_PULSAR_PLUS, full) as run:
        await booted(run)
        await charging_by_remote_start(server, run, "FULL-1")
        assert run.charger.status() == "SuspendedEV"
        assert run.charger.current_a() == 0.0


async def test_firmware_from_chargedeck_is_installed_and_the_wallbox_boots_with_its_version(
    server: ServerProcess,
) -> None:
    firmware = os.urandom(50_000)
    async with server.async_api_client() as api:
        stored = await api.post("/firmware", params={"name": "pulsar-6.8.12.bin"}, content=firmware)
        assert stored.status_code == 201, stored.text
        options = wallbox(server, "SIM-FW", reboot_delay_s=0.2)
        async with running(options, WALLBOX_PULSAR_PLUS) as run:
            charger = run.charger
            await booted(run)
            job = await api.post(
                "/firmware-jobs",
                json={
                    "firmware_id": stored.json()["id"],
                    "charge_point_ids": ["SIM-FW"],
                    "expected_version": "6.8.12",
                },
            )
            assert job.status_code == 201, job.text
            await charger.wait_for(lambda: len(run.of(EventKind.REGISTRATION)) == 2)
            assert charger.firmware_version == "6.8.12"
            job_id = job.json()["id"]
            row = await _job_row(api, job_id, "SIM-FW")
    steps = [e["status"] for e in run.of(EventKind.FILE_TRANSFER, kind="firmware")]
    assert steps == ["Downloading", "Downloaded", "Installing", "Installed"]
    assert (row["status"], row["firmware_after"]) == ("installed", "6.8.12")


async def _job_row(api: Any, job_id: int, charge_point_id: str) -> dict[str, Any]:
    """The job's row of the charger once ChargeDeck has seen the boot (within 5 s)."""
    for _ in range(50):
        job = (await api.get(f"/firmware-jobs/{job_id}")).json()
        row: dict[str, Any] = next(
            c for c in job["chargers"] if c["charge_point_id"] == charge_point_id
        )
        if row["status"] == "installed":
            break
        await asyncio.sleep(0.1)
    return row


async def test_diagnostics_asked_for_in_chargedeck_arrive_on_its_file_endpoint(
    server: ServerProcess,
) -> None:
    async with running(wallbox(server, "SIM-DIAG"), WALLBOX_PULSAR_PLUS) as run:
        charger = run.charger
        await booted(run)
        async with server.async_api_client() as api:
            asked = await api.post("/charge-points/SIM-DIAG/diagnostics", json={})
            assert asked.status_code == 201, asked.text
            await charger.wait_for(lambda: bool(run.of(EventKind.FILE_TRANSFER, status="Uploaded")))
            jobs = await api.get("/diagnostics", params={"charge_point_id": "SIM-DIAG"})
            (job,) = jobs.json()["items"]
            download = await api.get(f"/diagnostics/{job['id']}/file")
    assert asked.json()["charger_file_name"].startswith("diagnostics-SIM-DIAG-")
    assert job["status"] == "uploaded"
    assert b"registration {'status': 'Accepted'" in download.content
