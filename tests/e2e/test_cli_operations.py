"""The operator CLI of remote triggers (``chargedeck trigger``, ``trigger-bulk``) and of
configuration memory (``chargedeck config``, ``templates``, ``bulk``) run as processes against
``chargedeck serve``, with PyPI ``ocpp`` chargers connected (issue 7). Each command's --json
output is the server's answer; a missing token is exit 2 with the 401 hint."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import chargedeck, sentence
from tests.e2e.test_configuration_memory import KeyedCharger, TetheredCharger
from tests.e2e.test_configuration_memory import boot as boot_keyed
from tests.e2e.test_triggers import BOOT, TriggeredCharger, wait_until
from tests.support.ocpp_lib_charger import library_charger
from tests.support.server import ServerProcess, running_server

PULSAR = "Wallbox Pulsar (Plus/Max)"
"""The charger-model row of PLP1-0-2-4, the model the KeyedCharger boots as."""


@pytest.fixture(scope="module")
def cli_ops_server(
    tmp_path_factory: pytest.TempPathFactory, ocpp_transport: str
) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("cli-ops")
    with running_server(
        f"sqlite:///{folder / 'chargedeck.db'}",
        # No snapshot of its own while a test runs: only the CLI's snapshots are there.
        ["--unknown-charge-points", "accept", "--configuration-snapshot-delay-s", "3600"],
        folder,
    ) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


async def cli(
    server: ServerProcess, tmp_path: Path, *args: str, token: bool = True
) -> subprocess.CompletedProcess[str]:
    """``chargedeck ARGS --api <server>`` in a thread, so the chargers of this loop answer."""
    env = {"CHARGEDECK_API_TOKEN": server.token} if token else {}
    api = f"http://127.0.0.1:{server.http_port}"
    return await asyncio.to_thread(chargedeck, *args, "--api", api, cwd=tmp_path, env_extra=env)


def answer(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_401_hint(result: subprocess.CompletedProcess[str], scope: str) -> None:
    """Exit 2, nothing on stdout, the 401 and how to get a token of ``scope`` on stderr."""
    assert result.returncode == 2
    assert result.stdout == ""
    assert sentence(result.stderr).startswith("error: 401: ")
    hint = (
        f"pass --token or set CHARGEDECK_API_TOKEN (chargedeck tokens create NAME --scope {scope})"
    )
    assert hint in sentence(result.stderr)


# ---- chargedeck trigger, trigger-bulk ---------------------------------------------------------


async def test_trigger_asks_one_charger_and_prints_its_answer(
    cli_ops_server: ServerProcess, tmp_path: Path
) -> None:
    async with library_charger(cli_ops_server.ocpp_url, "CLI-T1", TriggeredCharger) as charger:
        await charger.call(BOOT)
        as_json = await cli(
            cli_ops_server,
            tmp_path,
            "trigger",
            "CLI-T1",
            "statusnotification",
            "--connector",
            "2",
            "--json",
        )
        plain = await cli(cli_ops_server, tmp_path, "trigger", "CLI-T1", "Heartbeat")
        await wait_until(lambda: len(charger.sent_when_asked) == 2, 5)
    assert answer(as_json) == {
        "charge_point_id": "CLI-T1",
        "requested_message": "StatusNotification",
        "connector_id": 2,
        "status": "Accepted",
        "detail": None,
    }
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == "CLI-T1: TriggerMessage(Heartbeat): Accepted"
    assert charger.triggers() == [("StatusNotification", 2), ("Heartbeat", None)]
    assert charger.sent_when_asked == ["StatusNotification", "Heartbeat"]


async def test_trigger_bulk_reports_each_charger_one_of_them_not_connected(
    cli_ops_server: ServerProcess, tmp_path: Path
) -> None:
    async with library_charger(cli_ops_server.ocpp_url, "CLI-TB-GONE") as gone:
        await gone.call(BOOT)
    async with (
        library_charger(cli_ops_server.ocpp_url, "CLI-TB-A", TriggeredCharger) as a,
        library_charger(cli_ops_server.ocpp_url, "CLI-TB-B", TriggeredCharger) as b,
    ):
        await a.call(BOOT)
        await b.call(BOOT)
        result = await cli(
            cli_ops_server,
            tmp_path,
            "trigger-bulk",
            "Heartbeat",
            "--charge-point",
            "CLI-TB-A",
            "--charge-point",
            "CLI-TB-B",
            "--charge-point",
            "CLI-TB-GONE",
            "--json",
        )
        await wait_until(lambda: a.sent_when_asked and b.sent_when_asked, 5)
    results = answer(result)
    assert [(r["charge_point_id"], r["status"]) for r in results] == [
        ("CLI-TB-A", "Accepted"),
        ("CLI-TB-B", "Accepted"),
        ("CLI-TB-GONE", "NotConnected"),
    ]
    assert (a.sent_when_asked, b.sent_when_asked) == (["Heartbeat"], ["Heartbeat"])


async def test_trigger_without_a_token_is_exit_2_with_the_401_hint(
    cli_ops_server: ServerProcess, tmp_path: Path
) -> None:
    result = await cli(cli_ops_server, tmp_path, "trigger", "CLI-T1", "Heartbeat", token=False)
    assert_401_hint(result, "operate")


# ---- chargedeck config, templates, bulk -------------------------------------------------------


async def test_config_snapshot_history_diff_and_drift_follow_the_charger(
    cli_ops_server: ServerProcess, tmp_path: Path
) -> None:
    async with library_charger(cli_ops_server.ocpp_url, "CLI-MEM", KeyedCharger) as charger:
        await boot_keyed(charger)
        first = answer(
            await cli(cli_ops_server, tmp_path, "config", "snapshot", "CLI-MEM", "--json")
        )
        added = answer(
            await cli(
                cli_ops_server,
                tmp_path,
                "templates",
                "add",
                "cli-heartbeat",
                "HeartbeatInterval=60",
                "--model",
                PULSAR,
                "--json",
            )
        )
        as_wanted = answer(
            await cli(cli_ops_server, tmp_path, "config", "drift", "CLI-MEM", "--json")
        )
        charger.keys["HeartbeatInterval"] = ("30", False)  # changed at the charger
        second = answer(
            await cli(cli_ops_server, tmp_path, "config", "snapshot", "CLI-MEM", "--json")
        )
        history = answer(
            await cli(cli_ops_server, tmp_path, "config", "history", "CLI-MEM", "--json")
        )
        diff = answer(await cli(cli_ops_server, tmp_path, "config", "diff", "CLI-MEM", "--json"))
        drifted = answer(
            await cli(cli_ops_server, tmp_path, "config", "drift", "CLI-MEM", "--json")
        )
    keys = {key["key"]: key["value"] for key in first["keys"]}
    assert keys["HeartbeatInterval"] == "60"
    assert keys["AuthorizationKey"] == "***"  # secrets arrive masked
    assert (added["name"], added["charger_model"], added["keys"]) == (
        "cli-heartbeat",
        PULSAR,
        {"HeartbeatInterval": "60"},
    )
    assert [item["id"] for item in history["items"]] == [second["id"], first["id"]]
    assert (diff["id"], diff["previous_id"]) == (second["id"], first["id"])
    assert diff["changed"] == [{"key": "HeartbeatInterval", "before": "60", "after": "30"}]
    assert (diff["added"], diff["removed"]) == ([], [])
    assert as_wanted["drifted"] is False
    assert drifted["drifted"] is True
    assert [(k["key"], k["wanted"], k["reported"], k["state"]) for k in drifted["keys"]] == [
        ("HeartbeatInterval", "60", "30", "differs")
    ]


async def test_templates_add_list_and_apply_change_the_charger(
    cli_ops_server: ServerProcess, tmp_path: Path
) -> None:
    async with library_charger(cli_ops_server.ocpp_url, "CLI-TPL", KeyedCharger) as charger:
        await boot_keyed(charger)
        added = await cli(
            cli_ops_server,
            tmp_path,
            "templates",
            "add",
            "cli-apply",
            "MeterValueSampleInterval=60",
            "WebSocketPingInterval=30",
            "--json",
        )
        listed = answer(await cli(cli_ops_server, tmp_path, "templates", "list", "--json"))
        applied = answer(
            await cli(
                cli_ops_server, tmp_path, "templates", "apply", "cli-apply", "CLI-TPL", "--json"
            )
        )
    assert answer(added)["keys"] == {
        "MeterValueSampleInterval": "60",
        "WebSocketPingInterval": "30",
    }
    [template] = [t for t in listed["items"] if t["name"] == "cli-apply"]
    assert template["charger_model"] is None
    [result] = applied["chargers"]
    assert result["charge_point_id"] == "CLI-TPL"
    assert {k["key"]: k["outcome"] for k in result["keys"]} == {
        "MeterValueSampleInterval": "accepted",
        "WebSocketPingInterval": "reboot required",
    }
    assert applied["reboot_required"] == ["CLI-TPL"]
    assert charger.keys["MeterValueSampleInterval"] == ("60", False)
    assert charger.keys["WebSocketPingInterval"] == ("30", False)


async def test_bulk_reset_reports_each_charger(
    cli_ops_server: ServerProcess, tmp_path: Path
) -> None:
    async with library_charger(cli_ops_server.ocpp_url, "CLI-B-GONE", KeyedCharger) as gone:
        await boot_keyed(gone)
    async with (
        library_charger(cli_ops_server.ocpp_url, "CLI-B1", KeyedCharger) as first,
        library_charger(cli_ops_server.ocpp_url, "CLI-B2", TetheredCharger) as second,
    ):
        await boot_keyed(first)
        await boot_keyed(second)
        result = await cli(
            cli_ops_server,
            tmp_path,
            "bulk",
            "reset",
            "CLI-B1",
            "CLI-B2",
            "CLI-B-GONE",
            "--hard",
            "--json",
        )
    body = answer(result)
    assert body["action"] == "Reset"
    assert [(r["charge_point_id"], r["outcome"], r["status"]) for r in body["results"]] == [
        ("CLI-B1", "accepted", "Accepted"),
        ("CLI-B2", "accepted", "Accepted"),
        ("CLI-B-GONE", "not connected", None),
    ]
    assert ("Reset", {"type": "Hard"}) in first.received
    assert ("Reset", {"type": "Hard"}) in second.received


async def test_config_without_a_token_is_exit_2_with_the_401_hint(
    cli_ops_server: ServerProcess, tmp_path: Path
) -> None:
    result = await cli(cli_ops_server, tmp_path, "config", "history", "CLI-MEM", token=False)
    assert_401_hint(result, "read")
