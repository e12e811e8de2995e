"""``GET /api/v1/events``: live events as Server-Sent Events from a real ``chargedeck serve``,
with a PyPI ``ocpp`` charger causing them (WHATWG HTML §9.2 framing: id, event, data)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httpx
import pytest
from ocpp.v16 import call

from tests.support.ocpp_lib_charger import library_charger
from tests.support.server import ServerProcess, running_server

DEADLINE_S = 10.0


@dataclass(frozen=True)
class SseEvent:
    id: str | None
    event: str
    data: Any


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("events")
    with running_server(
        f"sqlite:///{folder / 'chargedeck.db'}", ["--unknown-charge-points", "accept"], folder
    ) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


async def read_events(lines: AsyncIterator[str]) -> AsyncIterator[SseEvent | str]:
    """Events of an SSE stream, and comment lines (``: text``) as plain strings."""
    fields: dict[str, str] = {}
    async for line in lines:
        if line.startswith(":"):
            yield line[1:].strip()
        elif line == "":
            if fields:
                yield SseEvent(fields.get("id"), fields["event"], json.loads(fields["data"]))
            fields = {}
        else:
            name, _, value = line.partition(": ")
            fields[name] = value


async def collect(
    events: AsyncIterator[SseEvent | str], until: str, *, stop_at_comment: str | None = None
) -> list[SseEvent]:
    """Events up to and including the first of type ``until`` (or up to a comment)."""
    seen: list[SseEvent] = []

    async def run() -> None:
        async for item in events:
            if isinstance(item, str):
                if item == stop_at_comment:
                    return
                continue
            seen.append(item)
            if item.event == until:
                return

    await asyncio.wait_for(run(), DEADLINE_S)
    return seen


async def boot_and_report(server: ServerProcess, charge_point_id: str) -> None:
    async with library_charger(server.ocpp_url, charge_point_id) as charger:
        await charger.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        await charger.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
        )


async def test_a_stream_sees_connection_boot_and_status_in_order(server: ServerProcess) -> None:
    async with (
        server.async_api_client() as api,
        api.stream("GET", "/events", params={"charge_point_id": "SSE1"}) as answer,
    ):
        assert answer.status_code == HTTPStatus.OK
        assert answer.headers["content-type"].startswith("text/event-stream")
        events = read_events(answer.aiter_lines())
        assert await collect(events, "", stop_at_comment="connected") == []
        await boot_and_report(server, "SSE1")
        seen = await collect(events, "charger.disconnected")
    assert [e.event for e in seen] == [
        "charger.connected",
        "charger.booted",
        "connector.status",
        "charger.disconnected",
    ]
    ids = [int(e.id or 0) for e in seen]
    assert ids == sorted(set(ids))
    status = seen[2].data
    assert status["event"] == {
        "type": "connector.status",
        "charge_point_id": "SSE1",
        "connector_id": 1,
        "status": "Available",
        "error_code": "NoError",
        "info": None,
        "vendor_error_code": None,
    }
    assert status["id"] != seen[1].data["id"]


async def test_a_type_filter_passes_only_those_types(server: ServerProcess) -> None:
    async with (
        server.async_api_client() as api,
        api.stream(
            "GET",
            "/events",
            params={"types": "connector.status,charger.disconnected", "charge_point_id": "SSE2"},
        ) as answer,
    ):
        events = read_events(answer.aiter_lines())
        await collect(events, "", stop_at_comment="connected")
        await boot_and_report(server, "SSE2")
        seen = await collect(events, "charger.disconnected")
    assert [e.event for e in seen] == ["connector.status", "charger.disconnected"]


async def test_last_event_id_replays_what_followed_it(server: ServerProcess) -> None:
    async with (
        server.async_api_client() as api,
        api.stream("GET", "/events", params={"charge_point_id": "SSE3"}) as answer,
    ):
        events = read_events(answer.aiter_lines())
        await collect(events, "", stop_at_comment="connected")
        await boot_and_report(server, "SSE3")
        first = await collect(events, "charger.disconnected")
    assert first[0].event == "charger.connected"
    async with (
        server.async_api_client() as api,
        api.stream(
            "GET",
            "/events",
            params={"charge_point_id": "SSE3"},
            headers={"Last-Event-ID": str(first[0].id)},
        ) as answer,
    ):
        replayed = await collect(read_events(answer.aiter_lines()), "", stop_at_comment="connected")
    assert [(e.id, e.event) for e in replayed] == [(e.id, e.event) for e in first[1:]]


async def test_a_last_event_id_the_server_never_sent_announces_a_gap(
    server: ServerProcess,
) -> None:
    async with (
        server.async_api_client() as api,
        api.stream(
            "GET",
            "/events",
            params={"charge_point_id": "NOBODY"},
            headers={"Last-Event-ID": "999999999"},
        ) as answer,
    ):
        seen = await collect(read_events(answer.aiter_lines()), "", stop_at_comment="connected")
    assert [e.event for e in seen] == ["gap"]
    assert seen[0].data["last_event_id"] == 999999999


@pytest.mark.parametrize(
    ("params", "headers", "detail"),
    [
        ({"types": "connector.status,charger.exploded"}, {}, "'charger.exploded' is not an"),
        ({"types": ","}, {}, "no type is not an event type"),
        ({"charge_point_id": "a/b"}, {}, "/"),
        ({}, {"Last-Event-ID": "abc"}, "Last-Event-ID 'abc' is not an event id"),
    ],
)
def test_a_bad_filter_or_last_event_id_is_a_400_with_a_sentence(
    server: ServerProcess, params: dict[str, str], headers: dict[str, str], detail: str
) -> None:
    with server.api_client() as api:
        answer = api.get("/events", params=params, headers=headers)
    assert answer.status_code == HTTPStatus.BAD_REQUEST, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert detail in answer.json()["detail"]


def test_the_stream_needs_credentials(server: ServerProcess) -> None:
    answer = httpx.get(f"{server.api_url}/events", timeout=10)
    assert answer.status_code == HTTPStatus.UNAUTHORIZED


def test_the_server_stops_promptly_with_a_stream_open(tmp_path: Any) -> None:
    with running_server(f"sqlite:///{tmp_path / 'chargedeck.db'}", cwd=tmp_path) as server:
        with (
            server.api_client() as api,
            api.stream("GET", "/events") as answer,
        ):
            lines = answer.iter_lines()
            assert next(lines) == ": connected"
            started = time.monotonic()
            returncode = server.terminate(timeout_s=10)
            stopped_after_s = time.monotonic() - started
            assert list(lines) == [""]  # the blank line ending the comment; then the end
        assert returncode == 0, server.log_text()
        assert stopped_after_s < 5, server.log_text()
        assert server.error_lines() == [], server.log_text()
