"""A charger that connects again while its older connection is open stays online: the server
closes the older connection, and subscribers of ``GET /api/v1/events`` hear one
``charger.disconnected``, when the last connection ends, not when the older one is replaced."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from ocpp.v16 import call

from tests.server.test_events_stream import DEADLINE_S, collect, read_events
from tests.support.ocpp_lib_charger import library_charger
from tests.support.server import ServerProcess, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("replaced")
    with running_server(
        f"sqlite:///{folder / 'chargedeck.db'}", ["--unknown-charge-points", "accept"], folder
    ) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


BOOT = call.BootNotification(charge_point_model="M", charge_point_vendor="V")


async def test_a_replaced_connection_publishes_no_disconnect(server: ServerProcess) -> None:
    async with (
        server.async_api_client() as api,
        api.stream("GET", "/events", params={"charge_point_id": "RPL1"}) as answer,
    ):
        events = read_events(answer.aiter_lines())
        assert await collect(events, "", stop_at_comment="connected") == []
        async with library_charger(server.ocpp_url, "RPL1") as older:
            await older.call(BOOT)
            async with library_charger(server.ocpp_url, "RPL1") as newer:
                # The server closes the older connection once the newer one is attached.
                await asyncio.wait_for(older._connection.wait_closed(), DEADLINE_S)
                await newer.call(BOOT)
        seen = await collect(events, "charger.disconnected")
    assert [e.event for e in seen] == [
        "charger.connected",
        "charger.booted",
        "charger.connected",
        "charger.booted",
        "charger.disconnected",
    ]
