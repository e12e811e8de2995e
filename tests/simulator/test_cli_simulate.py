"""``chargedeck simulate`` as an owner runs it: the real command in its own process against a
real ChargeDeck server (``chargedeck serve`` on free ports), read through its ``--json`` events,
its log lines, its exit code and the server's API."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chargedeck.csms.id_tag_registry import checked_new_id_tag
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId
from chargedeck.domain.passwords import hash_secret
from chargedeck.domain.security import SecurityProfile, chosen_authorization_key
from chargedeck.simulator.events import ConnectionState, EventKind, SimEvent
from chargedeck.simulator.view import LogLines
from chargedeck.store import open_store
from tests.support.server import ServerProcess, running_server

CARD = "04:A2:2B:1A:5C:3D:80"
PASSWORD = "the-right-password-1234"
PROTECTED_IDS = ["PW-1", "PW-2"]


async def _seed(database_url: str) -> None:
    """A registered card, and two chargers that need a password (security profile 1)."""
    store = await open_store(database_url)
    try:
        now = datetime.now(UTC)
        tag, card_uid = checked_new_id_tag(None, CARD)
        await store.id_tags.add_id_tag(tag, now=now, card_uid=card_uid)
        chosen = chosen_authorization_key(PASSWORD, False)
        assert chosen is not None
        for charge_point_id in PROTECTED_IDS:
            await store.charge_points.add_charge_point(
                ChargePointId(charge_point_id),
                Registration.REGISTERED,
                now,
                security_profile=SecurityProfile.BASIC_AUTH,
                authorization_key_hash=hash_secret(chosen[0].key),
            )
    finally:
        await store.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server that registers unknown chargers on their first boot (policy accept)."""
    folder = tmp_path_factory.mktemp("simulate")
    database_url = f"sqlite:///{folder / 'chargedeck.db'}"
    asyncio.run(_seed(database_url))
    with running_server(database_url, ["--unknown-charge-points", "accept"], folder) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


def simulate(*args: str, timeout_s: float = 30) -> subprocess.CompletedProcess[str]:
    """``chargedeck simulate ARGS`` in its own process (stdout a pipe: no live table)."""
    return subprocess.run(
        [sys.executable, "-m", "chargedeck", "simulate", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        env=cli_env(),
    )


def json_lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def events_of(lines: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["kind"] == kind]


def chargers_with(lines: list[dict[str, Any]], kind: str, **match: Any) -> set[str]:
    """The chargers that sent an event of ``kind`` with these detail values."""
    return {
        e["charge_point_id"]
        for e in events_of(lines, kind)
        if all(e.get(key) == value for key, value in match.items())
    }


def cli_env() -> dict[str, str]:
    """This environment without CHARGEDECK_* settings of the developer's shell."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CHARGEDECK_")}


def test_three_wallbox_chargers_boot_and_show_connected(server: ServerProcess) -> None:
    result = simulate(
        server.ocpp_url, "--count", "3", "--id-pattern", "BOOT-{n}", "--duration", "3", "--json"
    )

    assert result.returncode == 0, result.stderr
    lines = json_lines(result)
    connected = chargers_with(lines, "connection", state="Connected")
    assert connected == {"BOOT-1", "BOOT-2", "BOOT-3"}
    accepted = chargers_with(lines, "registration", status="Accepted")
    assert accepted == {"BOOT-1", "BOOT-2", "BOOT-3"}
    assert lines[-1]["kind"] == "summary"
    assert (lines[-1]["chargers"], lines[-1]["connected"], lines[-1]["rejected"]) == (3, 3, {})


def test_every_event_line_has_the_charger_its_kind_and_a_utc_time(server: ServerProcess) -> None:
    result = simulate(server.ocpp_url, "--id-pattern", "JSON-{n}", "--duration", "2", "--json")

    assert result.returncode == 0, result.stderr
    for line in json_lines(result)[:-1]:
        assert line["charge_point_id"] == "JSON-1"
        assert datetime.fromisoformat(line["at"]).utcoffset() == timedelta(0)
        assert line["at"].endswith("Z")


def test_a_scenario_with_plug_in_and_tap_makes_a_transaction_the_api_lists(
    server: ServerProcess, tmp_path: Path
) -> None:
    scenario = tmp_path / "tap.toml"
    scenario.write_text(
        f"""
[fleet]
id_pattern = "TAP-{{n}}"
duration_s = 5

[[steps]]
at = 0
action = "wait"
state = "Accepted"
timeout_s = 5

[[steps]]
at = 0
action = "plug_in"

[[steps]]
at = 0.5
action = "tap"
card = "{CARD}"

[[steps]]
at = 0.5
action = "wait"
state = "Charging"
timeout_s = 4
""",
        encoding="utf-8",
    )

    result = simulate(server.ocpp_url, "--scenario", str(scenario), "--json")

    assert result.returncode == 0, result.stderr
    lines = json_lines(result)
    started = [e for e in events_of(lines, "transaction") if e["action"] == "started"]
    assert len(started) == 1
    assert lines[-1]["transactions_started"] == 1
    with server.api_client() as api:
        listed = api.get("/transactions", params={"charge_point_id": "TAP-1"}).json()["items"]
    assert [t["id"] for t in listed] == [started[0]["transaction_id"]]


def test_a_wrong_password_is_connection_rejected_and_exit_code_3(server: ServerProcess) -> None:
    result = simulate(
        server.ocpp_url,
        "--count",
        "2",
        "--id-pattern",
        "PW-{n}",
        "--password",
        "not-the-password-at-all",
        "--duration",
        "2.5",
        "--json",
    )

    assert result.returncode == 3, result.stderr
    lines = json_lines(result)
    rejected = chargers_with(lines, "connection", state="Connection Rejected")
    assert rejected == set(PROTECTED_IDS)
    assert chargers_with(lines, "connection", state="Connected") == set()
    assert set(lines[-1]["rejected"]) == set(PROTECTED_IDS)
    assert "every charger was rejected" in result.stderr
    assert "401" in result.stderr


def test_without_a_terminal_state_changes_are_log_lines(server: ServerProcess) -> None:
    result = simulate(
        server.ocpp_url,
        "--id-pattern",
        "PW-{n}",
        "--password",
        "wrong-password-1234567",
        "--duration",
        "2",
    )

    assert result.returncode == 3, result.stderr
    assert "PW-1: Connecting" in result.stdout.splitlines()
    assert any(
        line.startswith("PW-1: Connection Rejected (HTTP 401")
        for line in result.stdout.splitlines()
    ), result.stdout


def test_ctrl_c_stops_every_charger_and_prints_the_summary(server: ServerProcess) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chargedeck",
            "simulate",
            server.ocpp_url,
            "--count",
            "2",
            "--id-pattern",
            "INT-{n}",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    try:
        assert process.stdout is not None
        booted = 0
        while booted < 2:
            line = json.loads(process.stdout.readline())
            booted += line["kind"] == "registration"
        process.send_signal(signal.SIGINT)
        rest, errors = process.communicate(timeout=10)
    finally:
        process.kill()

    assert process.returncode == 0, errors
    lines = [json.loads(line) for line in rest.splitlines()]
    stopped = chargers_with(lines, "connection", state="Disconnected")
    assert stopped == {"INT-1", "INT-2"}
    assert lines[-1]["kind"] == "summary"
    assert lines[-1]["connected"] == 2


def test_a_charger_refused_again_and_again_is_one_log_line() -> None:
    out = io.StringIO()
    view = LogLines(out)
    at = datetime.now(UTC)
    refused = {"state": ConnectionState.REJECTED, "reason": "HTTP 401 Unauthorized"}
    for detail in [{"state": ConnectionState.CONNECTING}, refused] * 3:
        view.receive_event(SimEvent("PW-9", EventKind.CONNECTION, at, detail))

    assert out.getvalue().splitlines() == [
        "PW-9: Connecting",
        "PW-9: Connection Rejected (HTTP 401 Unauthorized)",
    ]


def test_a_bad_scenario_file_exits_2_naming_the_step_and_field(tmp_path: Path) -> None:
    scenario = tmp_path / "typo.toml"
    scenario.write_text('[[steps]]\nat = 0\naction = "plugin"\n', encoding="utf-8")

    result = simulate("--scenario", str(scenario))

    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {scenario}: step 1: action: 'plugin' is not one of")
    assert result.stdout == ""


def test_an_unreadable_scenario_file_exits_2(tmp_path: Path) -> None:
    result = simulate("--scenario", str(tmp_path / "missing.toml"))

    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {tmp_path / 'missing.toml'}: cannot read it")


def test_a_url_that_is_not_websocket_exits_2() -> None:
    result = simulate("http://127.0.0.1:9000/ocpp", "--duration", "1")

    assert result.returncode == 2
    assert result.stderr.startswith("error: CSMS_URL: 'http://127.0.0.1:9000/ocpp' must start")
