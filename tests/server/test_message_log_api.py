"""The message log over a real server: a PyPI ``ocpp`` charger's frames in and out are stored
with the CALL's action on their answers, searched through the API and the CLI, and told by
"explain"; bad queries are 400 problems; ``message_log_enabled = false`` stores nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from ocpp.v16 import call
from typer.testing import CliRunner, Result

from chargedeck.cli import app
from tests.support.ocpp_lib_charger import library_charger
from tests.support.server import ServerProcess, running_server

CHARGER = "ML-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("message-log")
    with running_server(
        f"sqlite:///{folder / 'chargedeck.db'}", ["--unknown-charge-points", "accept"], folder
    ) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


@pytest.fixture(scope="module")
def talked(server: ServerProcess) -> ServerProcess:
    """ML-1 booted, started and stopped a transaction; ChargeDeck changed a key on it."""
    asyncio.run(charger_session(server))
    # 8 frames; the writer stores them within its flush interval (0.5 s).
    deadline = time.monotonic() + 5
    with server.api_client() as api:
        while len(messages(api, CHARGER)) < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
    return server


async def charger_session(server: ServerProcess) -> None:
    async with library_charger(server.ocpp_url, CHARGER) as charger:
        await charger.call(
            call.BootNotification(
                charge_point_model="Pulsar Plus",
                charge_point_vendor="Wallbox",
                firmware_version="5.5.10",
            )
        )
        started = await charger.call(
            call.StartTransaction(
                connector_id=1,
                id_tag="04A2B3C4",
                meter_start=1234,
                timestamp="2026-03-02T08:00:00Z",
            )
        )
        await charger.call(
            call.StopTransaction(
                meter_stop=12500,
                timestamp="2026-03-02T08:40:00Z",
                transaction_id=started.transaction_id,
                reason="EVDisconnected",
            )
        )
        async with server.async_api_client() as api:
            answer = await api.post(
                f"/charge-points/{CHARGER}/commands/ChangeConfiguration",
                json={"key": "HeartbeatInterval", "value": "300"},
            )
            assert answer.status_code == 200, answer.text


def messages(api: Any, charge_point_id: str, **params: str) -> list[dict[str, Any]]:
    answer = api.get(f"/charge-points/{charge_point_id}/messages", params=params)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_frames_in_and_out_are_stored_with_the_calls_action(talked: ServerProcess) -> None:
    with talked.api_client() as api:
        items = messages(api, CHARGER)

    assert [(m["direction"], m["message_type"], m["action"]) for m in reversed(items)] == [
        ("in", 2, "BootNotification"),
        ("out", 3, "BootNotification"),
        ("in", 2, "StartTransaction"),
        ("out", 3, "StartTransaction"),
        ("in", 2, "StopTransaction"),
        ("out", 3, "StopTransaction"),
        ("out", 2, "ChangeConfiguration"),
        ("in", 3, "ChangeConfiguration"),
    ]
    boot_call, boot_result = items[-1], items[-2]
    assert boot_call["message_id"] == boot_result["message_id"]
    assert '"chargePointVendor":"Wallbox"' in boot_call["frame"]
    assert boot_result["frame"].startswith(f'[3,"{boot_call["message_id"]}",')


def test_filters_and_the_cursor_narrow_the_list(talked: ServerProcess) -> None:
    with talked.api_client() as api:
        starts = messages(api, CHARGER, action="StartTransaction")
        sent = messages(api, CHARGER, direction="out", action="ChangeConfiguration")
        found = messages(api, CHARGER, q="EVDisconnected")
        by_id = messages(api, CHARGER, message_id=sent[0]["message_id"])
        first = api.get(f"/charge-points/{CHARGER}/messages", params={"limit": 3}).json()
        second = api.get(
            f"/charge-points/{CHARGER}/messages",
            params={"limit": 3, "cursor": first["next_cursor"]},
        ).json()
        everyone = api.get("/messages", params={"charge_point_id": CHARGER, "limit": 500}).json()
        future = messages(api, CHARGER, since="2999-01-01")
        recent = messages(api, CHARGER, since="1h")

    assert [m["message_type"] for m in starts] == [3, 2]
    assert [(m["direction"], m["message_type"]) for m in sent] == [("out", 2)]
    assert [m["action"] for m in found] == ["StopTransaction"]
    assert {m["action"] for m in by_id} == {"ChangeConfiguration"}
    assert [m["id"] for m in first["items"]] + [m["id"] for m in second["items"]] == [
        m["id"] for m in everyone["items"][:6]
    ]
    assert len(everyone["items"]) == 8
    assert everyone["next_cursor"] is None
    assert future == []
    assert len(recent) == 8


def test_explain_tells_the_session(talked: ServerProcess) -> None:
    with talked.api_client() as api:
        answer = api.get(f"/charge-points/{CHARGER}/explain", params={"since": "1h"})

    assert answer.status_code == 200, answer.text
    body = answer.json()
    texts = [sentence["text"] for sentence in body["sentences"]]
    assert texts[0] == (
        "booted (Wallbox Pulsar Plus, firmware 5.5.10), ChargeDeck answered Accepted"
    )
    # The tag is not in the store: Invalid, and the charger started anyway (it may).
    assert texts[1].startswith("card 04A2B3C4 was Invalid; transaction ")
    assert texts[1].endswith(" started on connector 1 at 1,234 Wh")
    assert texts[2].endswith(" stopped (EVDisconnected) at 12,500 Wh: 11.27 kWh")
    assert texts[3] == "ChargeDeck sent ChangeConfiguration HeartbeatInterval=300: Accepted"
    assert body["frames"] == 8
    assert body["lines"][0].endswith(texts[0])
    assert "frames only" in body["note"]


@pytest.mark.parametrize(
    ("path", "params", "detail"),
    [
        ("/charge-points/ML-1/messages", {"direction": "sideways"}, "expected in or out"),
        ("/charge-points/ML-1/messages", {"since": "yesterday"}, "since='yesterday'"),
        ("/charge-points/ML-1/messages", {"colour": "red"}, "unknown query parameter 'colour'"),
        ("/charge-points/ML-1/messages", {"since": "2h", "until": "3h"}, "is not after"),
        ("/charge-points/ML-1/messages", {"cursor": "abc"}, "cursor 'abc'"),
        ("/messages", {"charge_point_id": "a/b"}, ""),
        ("/charge-points/ML-1/explain", {"q": "x"}, "unknown query parameter 'q'"),
    ],
)
def test_a_bad_query_is_a_400_problem(
    talked: ServerProcess, path: str, params: dict[str, str], detail: str
) -> None:
    with talked.api_client() as api:
        answer = api.get(path, params=params)

    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert detail in answer.json()["detail"]


def test_explaining_an_unknown_charger_is_a_404(talked: ServerProcess) -> None:
    with talked.api_client() as api:
        answer = api.get("/charge-points/NOBODY/explain")

    assert answer.status_code == 404
    assert "NOBODY" in answer.json()["detail"]


def cli(server: ServerProcess, *args: str) -> Result:
    """``chargedeck ARGS`` in this process (a CLI process costs seconds of imports) on the
    server's store."""
    return CliRunner().invoke(app, list(args), env={"CHARGEDECK_DATABASE_URL": server.database_url})


def test_the_cli_lists_and_explains_from_the_store(talked: ServerProcess) -> None:
    listed = cli(talked, "messages", CHARGER, "--action", "StopTransaction", "--json")
    told = cli(talked, "explain", CHARGER, "--since", "1h")
    bad = cli(talked, "messages", CHARGER, "--since", "soon")

    assert listed.exit_code == 0, listed.output
    assert '"action":"StopTransaction"' in listed.stdout
    assert told.exit_code == 0, told.output
    assert "booted (Wallbox Pulsar Plus, firmware 5.5.10)" in told.stdout
    assert "11.27 kWh" in told.stdout
    assert bad.exit_code == 2
    assert "since='soon'" in bad.stderr


async def test_a_disabled_message_log_stores_nothing(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = tmp_path_factory.mktemp("no-message-log")
    with running_server(
        f"sqlite:///{folder / 'chargedeck.db'}",
        ["--unknown-charge-points", "accept", "--message-log-enabled", "false"],
        folder,
    ) as quiet:
        async with library_charger(quiet.ocpp_url, CHARGER) as charger:
            await charger.call(call.Heartbeat())
        await asyncio.sleep(0.6)  # one flush interval of an enabled log
        async with quiet.async_api_client() as api:
            answer = await api.get("/messages")
        assert quiet.error_lines() == [], quiet.log_text()

    assert answer.status_code == 200
    assert answer.json()["items"] == []
