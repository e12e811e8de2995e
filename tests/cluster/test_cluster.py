"""Several nodes on one PostgreSQL and NATS, HAProxy in front (issue 9, docs/cluster.md).

Real processes throughout: NATS with JetStream, PostgreSQL, three ``chargedeck serve`` nodes,
HAProxy and chargers built on the PyPI ``ocpp`` library that reconnect through HAProxy as real
chargers do when their connection ends.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import (
    ChargingProfileStatus,
    ClearChargingProfileStatus,
    TriggerMessageStatus,
)

from tests.cluster.conftest import (
    NATS_URL,
    PRESENCE_TTL_S,
    Cluster,
    Haproxy,
    StartNode,
    eventually,
)
from tests.support.ocpp_lib_charger import LibraryCharger, library_charger
from tests.support.server import ServerProcess

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC).isoformat()


class ClusterCharger(LibraryCharger):
    """Also answers the TriggerMessage(BootNotification) ChargeDeck sends a charger silent for
    5 s (csms/triggers.py): it has booted already or boots itself."""

    @on("TriggerMessage")
    def on_trigger_message(self, **kwargs: Any) -> Any:
        self.received.append(("TriggerMessage", kwargs))
        return call_result.TriggerMessage(status=TriggerMessageStatus.rejected)

    @on("SetChargingProfile")
    def on_set_charging_profile(self, **kwargs: Any) -> Any:
        self.received.append(("SetChargingProfile", kwargs))
        return call_result.SetChargingProfile(status=ChargingProfileStatus.accepted)

    @on("ClearChargingProfile")
    def on_clear_charging_profile(self, **kwargs: Any) -> Any:
        self.received.append(("ClearChargingProfile", kwargs))
        return call_result.ClearChargingProfile(status=ClearChargingProfileStatus.accepted)

    def profiles(self) -> list[dict[str, Any]]:
        return [kwargs for action, kwargs in self.received if action == "SetChargingProfile"]


class RoamingCharger:
    """A charger that boots on every connection and reconnects 0.2 s after losing one."""

    def __init__(self, ocpp_url: str, charge_point_id: str) -> None:
        self.ocpp_url = ocpp_url
        self.charge_point_id = charge_point_id
        self.charger: LibraryCharger | None = None
        self.connections = 0
        self.received: list[tuple[str, dict[str, Any]]] = []
        """What the CSMS sent it, over all its connections."""

    async def run(self) -> None:
        while True:
            try:
                async with library_charger(
                    self.ocpp_url, self.charge_point_id, ClusterCharger
                ) as charger:
                    charger.received = self.received
                    await charger.call(
                        call.BootNotification(charge_point_vendor="Acme", charge_point_model="AC22")
                    )
                    await charger.call(
                        call.StatusNotification(
                            connector_id=1, error_code="NoError", status="Available"
                        )
                    )
                    self.charger = charger
                    self.connections += 1
                    await charger._connection.wait_closed()
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException):
                pass
            self.charger = None
            await asyncio.sleep(0.2)


async def holder(server: ServerProcess, charge_point_id: str) -> str | None:
    """The node the API of ``server`` says holds the charger (None: not connected)."""
    async with server.async_api_client() as http:
        response = await http.get(f"/charge-points/{charge_point_id}")
    if response.status_code != 200:
        return None
    connection = response.json()["connection"]
    return connection["node"] if connection["connected"] else None


async def start_fleet(
    proxy: Haproxy, count: int, tasks: list[asyncio.Task[None]], prefix: str = "CP"
) -> list[RoamingCharger]:
    """``count`` chargers through HAProxy, connected one after the other (round robin)."""
    fleet = []
    for index in range(count):
        charger = RoamingCharger(proxy.ocpp_url, f"{prefix}-{index}")
        tasks.append(asyncio.create_task(charger.run()))
        await eventually(lambda c=charger: c.connections == 1, 10, f"{charger.charge_point_id} up")  # type: ignore[misc]
        fleet.append(charger)
    return fleet


async def where(server: ServerProcess, fleet: list[RoamingCharger]) -> dict[str, str | None]:
    return {c.charge_point_id: await holder(server, c.charge_point_id) for c in fleet}


async def three_nodes_behind_haproxy(
    start_node: StartNode,
    haproxy: Callable[[dict[str, int]], Haproxy],
    tasks: list[asyncio.Task[None]],
) -> tuple[dict[str, ServerProcess], list[RoamingCharger], dict[str, str | None]]:
    """Nodes n1-n3, HAProxy in front, six chargers through it; where each charger landed."""
    nodes = {name: start_node(name) for name in ("n1", "n2", "n3")}
    proxy = haproxy({name: node.ocpp_port for name, node in nodes.items()})
    fleet = await start_fleet(proxy, 6, tasks)
    return nodes, fleet, await where(nodes["n1"], fleet)


async def test_a_command_sent_through_node_1_reaches_a_charger_on_node_3(
    start_node: StartNode,
    haproxy: Callable[[dict[str, int]], Haproxy],
    task_group: list[asyncio.Task[None]],
) -> None:
    nodes, fleet, placement = await three_nodes_behind_haproxy(start_node, haproxy, task_group)
    assert sorted(map(str, placement.values())) == ["n1", "n1", "n2", "n2", "n3", "n3"]
    assert await where(nodes["n2"], fleet) == placement  # every node sees the same presence
    on_n3 = next(c for c in fleet if placement[c.charge_point_id] == "n3")

    async with nodes["n1"].async_api_client() as http:
        response = await http.post(
            f"/charge-points/{on_n3.charge_point_id}/commands/RemoteStartTransaction",
            json={"connectorId": 1, "idTag": "CARD-7"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["response"] == {"status": "Accepted"}
    assert ("RemoteStartTransaction", {"connector_id": 1, "id_tag": "CARD-7"}) in on_n3.received


async def test_a_command_is_checked_by_the_node_holding_the_charger(
    node_pair: tuple[ServerProcess, ServerProcess],
) -> None:
    n1, n2 = node_pair
    async with library_charger(n2.ocpp_url, "NOT-BOOTED", ClusterCharger) as charger:
        await charger.call(call.BootNotification(charge_point_vendor="A", charge_point_model="B"))
    async with library_charger(n2.ocpp_url, "NOT-BOOTED", ClusterCharger):  # no boot this time
        await eventually(lambda: holder(n1, "NOT-BOOTED"), 5, "NOT-BOOTED present on n1")
        async with n1.async_api_client() as http:
            response = await http.post(
                "/charge-points/NOT-BOOTED/commands/Reset", json={"type": "Soft"}
            )
    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("/command-not-allowed")
    assert "has not sent BootNotification on this connection yet" in response.json()["detail"]


async def test_a_charger_connecting_to_a_second_node_is_taken_over_by_it(
    node_pair: tuple[ServerProcess, ServerProcess],
) -> None:
    n1, n2 = node_pair
    async with library_charger(n1.ocpp_url, "TAKEN", ClusterCharger) as first:
        await first.call(call.BootNotification(charge_point_vendor="A", charge_point_model="B"))
        await eventually(lambda: holder(n2, "TAKEN"), 5, "TAKEN present on n2")
        async with library_charger(n2.ocpp_url, "TAKEN", ClusterCharger) as second:
            await second.call(
                call.BootNotification(charge_point_vendor="A", charge_point_model="B")
            )
            await asyncio.wait_for(first._connection.wait_closed(), 5)
            assert first._connection.close_code == 1000
            assert first._connection.close_reason == "taken over by node n2"
            assert await holder(n1, "TAKEN") == "n2"
    await eventually(lambda: _offline(n1, "TAKEN"), 5, "TAKEN offline once both closed")


async def _offline(server: ServerProcess, charge_point_id: str) -> bool:
    async with server.async_api_client() as http:
        response = await http.get(f"/charge-points/{charge_point_id}")
    return response.status_code == 404 or not response.json()["connection"]["connected"]


async def test_a_killed_nodes_chargers_move_to_the_others_and_nothing_acknowledged_is_lost(
    start_node: StartNode,
    haproxy: Callable[[dict[str, int]], Haproxy],
    task_group: list[asyncio.Task[None]],
) -> None:
    nodes, fleet, placement = await three_nodes_behind_haproxy(start_node, haproxy, task_group)
    on_n3 = [c for c in fleet if placement[c.charge_point_id] == "n3"]
    assert len(on_n3) == 2

    # Acknowledged by node 3 just before it dies: a start and its meter values.
    charger = on_n3[0].charger
    assert charger is not None
    started = await charger.call(
        call.StartTransaction(connector_id=1, id_tag="CARD-9", meter_start=1000, timestamp=NOW)
    )
    for energy in (1100, 1200):
        await charger.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=started.transaction_id,
                meter_value=[
                    {
                        "timestamp": NOW,
                        "sampledValue": [
                            {"value": str(energy), "measurand": "Energy.Active.Import.Register"}
                        ],
                    }
                ],
            )
        )
    # A charger held by node 3 that does not come back (it was not behind HAProxy).
    async with library_charger(nodes["n3"].ocpp_url, "STRANDED", ClusterCharger) as stranded:
        await stranded.call(call.BootNotification(charge_point_vendor="A", charge_point_model="B"))
        await eventually(lambda: holder(nodes["n1"], "STRANDED"), 5, "STRANDED present")

        killed_at = time.monotonic()
        nodes["n3"].kill()
        async with nodes["n1"].async_api_client() as http:
            refused = await http.post(
                "/charge-points/STRANDED/commands/Reset", json={"type": "Soft"}
            )
        # Within the presence TTL node 3 still counts as alive: the answer names it.
        assert refused.status_code == 503, refused.text
        assert refused.json()["detail"] == (
            "charge point 'STRANDED' is connected to node 'n3', which cannot be reached: "
            "it is not running"
        )

        async def moved() -> bool:
            now_at = await where(nodes["n1"], on_n3)
            return all(node in ("n1", "n2") for node in now_at.values())

        await eventually(moved, 15, "node 3's chargers reconnected to node 1 or 2")
        moved_after_s = time.monotonic() - killed_at
        await eventually(
            lambda: _offline(nodes["n1"], "STRANDED"),
            PRESENCE_TTL_S + 3,
            "STRANDED offline once node 3's heartbeat expired",
        )
    print(f"node 3's chargers reconnected elsewhere {moved_after_s:.2f} s after its SIGKILL")

    async with nodes["n2"].async_api_client() as http:
        body = (await http.get(f"/transactions/{started.transaction_id}")).json()
    assert body["meter_start"] == 1000
    assert [m["energy_wh"] for m in body["meter_values"]] == [1100, 1200]

    # The moved charger answers commands sent through any node.
    moved_charger = on_n3[1]
    async with nodes["n2"].async_api_client() as http:
        response = await http.post(
            f"/charge-points/{moved_charger.charge_point_id}/commands/RemoteStartTransaction",
            json={"connectorId": 1, "idTag": "CARD-8"},
        )
    assert response.status_code == 200, response.text


async def test_events_of_every_node_reach_the_event_stream_of_every_node(
    node_pair: tuple[ServerProcess, ServerProcess],
) -> None:
    n1, n2 = node_pair
    seen: list[str] = []

    async def listen() -> None:
        async with (
            n1.async_api_client() as http,
            http.stream("GET", "/events", params={"types": "charger.booted"}) as stream,
        ):
            async for line in stream.aiter_lines():
                if line.startswith("data:") and "EVENTFUL" in line:
                    seen.append(line)

    listener = asyncio.create_task(listen())
    try:
        await asyncio.sleep(0.3)  # the stream is open
        async with library_charger(n2.ocpp_url, "EVENTFUL", ClusterCharger) as charger:
            await charger.call(
                call.BootNotification(charge_point_vendor="A", charge_point_model="B")
            )
            await eventually(lambda: seen, 5, "n2's charger.booted on n1's event stream")
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    assert len(seen) == 1
    assert '"node":"n2"' in seen[0]


async def test_a_sites_load_management_runs_on_one_node_and_moves_when_it_dies(
    start_node: StartNode,
) -> None:
    nodes = {"n1": start_node("n1"), "n2": start_node("n2")}
    async with nodes["n1"].async_api_client() as http:
        site = (await http.post("/sites", json={"name": "depot", "limit_a": 20})).json()
    holder_line = f"runs load management of site {site['id']}"
    await eventually(
        lambda: any(holder_line in n.log_text() for n in nodes.values()), 5, "a lease holder"
    )
    [lease_holder] = [name for name, n in nodes.items() if holder_line in n.log_text()]
    survivor = "n2" if lease_holder == "n1" else "n1"
    async with (
        library_charger(nodes["n1"].ocpp_url, "LM-1", ClusterCharger) as on_n1,
        library_charger(nodes["n2"].ocpp_url, "LM-2", ClusterCharger) as on_n2,
    ):
        chargers = {"n1": on_n1, "n2": on_n2}
        for charger in chargers.values():
            await charger.call(
                call.BootNotification(charge_point_vendor="Acme", charge_point_model="AC22")
            )
        async with nodes[survivor].async_api_client() as http:
            for charge_point_id in ("LM-1", "LM-2"):
                placed = await http.put(
                    f"/charge-points/{charge_point_id}/placement", json={"site": "depot"}
                )
                assert placed.status_code == 200, placed.text
        for charger in chargers.values():
            await charger.call(
                call.StartTransaction(connector_id=1, id_tag="CARD-1", meter_start=0, timestamp=NOW)
            )
            await charger.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
            )
        # The holder sends both chargers their limits, the one on the other node included.
        await eventually(
            lambda: all(c.profiles() for c in chargers.values()), 10, "profiles to both chargers"
        )
        assert holder_line not in nodes[survivor].log_text()  # one node manages the site

        sent_before = len(chargers[survivor].profiles())
        nodes[lease_holder].kill()
        await eventually(
            lambda: holder_line in nodes[survivor].log_text(),
            PRESENCE_TTL_S + 3,
            f"{survivor} takes the site's lease once {lease_holder}'s expires",
        )
        await eventually(
            lambda: len(chargers[survivor].profiles()) > sent_before,
            10,
            f"{survivor} manages its charger's limit",
        )


async def test_a_webhook_receives_each_event_of_every_node_exactly_once(
    node_pair: tuple[ServerProcess, ServerProcess],
) -> None:
    n1, n2 = node_pair
    received: list[dict[str, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    http_server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=http_server.serve_forever, daemon=True)
    thread.start()
    try:
        async with n1.async_api_client() as http:
            created = await http.post(
                "/webhooks",
                json={
                    "name": "fleet",
                    "url": f"http://127.0.0.1:{http_server.server_address[1]}/hook",
                },
            )
            assert created.status_code == 201, created.text
        for node, charge_point_id in ((n1, "HOOK-1"), (n2, "HOOK-2")):
            async with library_charger(node.ocpp_url, charge_point_id, ClusterCharger) as charger:
                await charger.call(
                    call.BootNotification(charge_point_vendor="A", charge_point_model="B")
                )

        def booted() -> set[str]:
            return {e["event"]["charge_point_id"] for e in received if "HOOK-" in str(e)}

        await eventually(lambda: booted() == {"HOOK-1", "HOOK-2"}, 10, "both boots delivered")
        await asyncio.sleep(1.0)  # room for a second delivery, which must not come
    finally:
        http_server.shutdown()
        http_server.server_close()
        thread.join(5)
    ours = [e for e in received if "HOOK-" in str(e)]
    ids = [e["id"] for e in ours]
    assert len(ids) == len(set(ids)), ids  # no event twice, though both nodes have the webhook
    boots = [e for e in ours if e["event"]["type"] == "charger.booted"]
    assert sorted((e["node"], e["event"]["charge_point_id"]) for e in boots) == [
        ("n1", "HOOK-1"),
        ("n2", "HOOK-2"),
    ]


def serve_exit(*args: str) -> subprocess.CompletedProcess[str]:
    """``chargedeck serve`` with ``args``, expected to stop at its start."""
    return subprocess.run(
        [sys.executable, "-m", "chargedeck", "serve", "--ocpp-port", "0", "--http-port", "0",
         "--files-port", "0", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_cluster_node_on_sqlite_refuses_to_start_with_a_sentence(tmp_path: Path) -> None:
    done = serve_exit(
        "--cluster-url", NATS_URL, "--database-url", f"sqlite:///{tmp_path / 'c.db'}"
    )  # fmt: skip
    assert done.returncode != 0
    assert "the nodes of a cluster share one PostgreSQL database" in done.stderr


def test_a_node_that_cannot_reach_nats_refuses_to_start_naming_cluster_url() -> None:
    cluster = Cluster()
    try:
        done = serve_exit(
            "--cluster-url", "nats://127.0.0.1:1", "--database-url", cluster.database_url
        )  # fmt: skip
    finally:
        cluster.stop()
    assert done.returncode != 0
    assert "cannot connect to NATS at cluster_url (nats://127.0.0.1:1)" in done.stderr


async def test_a_taken_over_connection_publishes_no_disconnect(
    node_pair: tuple[ServerProcess, ServerProcess],
) -> None:
    """The charger is online on n2 when n1 closes its older connection: the one
    charger.disconnected is n2's, when the charger leaves n2."""
    n1, n2 = node_pair
    seen: list[dict[str, Any]] = []

    async def listen() -> None:
        async with (
            n1.async_api_client() as http,
            http.stream(
                "GET",
                "/events",
                params={"types": "charger.disconnected", "charge_point_id": "MOVED"},
            ) as stream,
        ):
            async for line in stream.aiter_lines():
                if line.startswith("data:"):
                    seen.append(json.loads(line.removeprefix("data:")))

    listener = asyncio.create_task(listen())
    try:
        await asyncio.sleep(0.3)  # the stream is open
        async with library_charger(n1.ocpp_url, "MOVED", ClusterCharger) as first:
            await first.call(call.BootNotification(charge_point_vendor="A", charge_point_model="B"))
            await eventually(lambda: holder(n2, "MOVED"), 5, "MOVED present on n2")
            async with library_charger(n2.ocpp_url, "MOVED", ClusterCharger) as second:
                await asyncio.wait_for(first._connection.wait_closed(), 5)
                await second.call(
                    call.BootNotification(charge_point_vendor="A", charge_point_model="B")
                )
        await eventually(lambda: seen, 5, "charger.disconnected on n1's event stream")
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    assert [event["node"] for event in seen] == ["n2"]
