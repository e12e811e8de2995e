"""What a node decides while a charger moves between nodes, from the presence it mirrors.

No processes: a Cluster fed presence entries and heartbeats as its NATS watches would feed them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from chargedeck.clock import ManualClock
from chargedeck.config import Settings
from chargedeck.csms.context import CsmsServices
from chargedeck.csms.stations import ChargePointDisconnected, Stations
from chargedeck.ocpp.codec import encode_message
from chargedeck.ocpp.v16.core import ResetRequest
from chargedeck.ocpp.v16.enums import ResetType
from chargedeck.server.cluster import Cluster, Presence, RouteRequest, presence_key
from chargedeck.store import open_store

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    """Node n1, which sees n2 and n3 alive (fresh heartbeats) and holds no connection."""
    store = await open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        services = CsmsServices(
            store=store,
            settings=Settings(node_name="n1"),
            clock=ManualClock(NOW),
            stations=Stations(),
        )
        node = Cluster(services)
        services.stations.cluster = node
        for name in ("n2", "n3"):
            node._heartbeats[name] = datetime.now(UTC)
        yield node
    finally:
        await store.close()


def held_by(cluster: Cluster, charge_point_id: str, node: str) -> None:
    """The presence entry of ``charge_point_id`` names ``node``, as the watch delivers it."""
    presence = Presence(
        node=node,
        remote_address="192.0.2.1",
        connected_at=NOW,
        security_profile=0,
        registration="registered",
        boot_status="Accepted",
    )
    cluster._on_presence_entry(presence_key(charge_point_id), msgspec.json.encode(presence), 7, NOW)


@pytest.mark.parametrize(
    ("presence_node", "moved"),
    [
        # Its disconnect arrived before n2 deleted its presence: the charger is gone.
        ("n2", False),
        # It connected to n3 meanwhile: online there, the site keeps it.
        ("n3", True),
        # Presence names this node, which holds no connection of it: gone.
        ("n1", False),
        # Presence names a node no longer alive: gone.
        ("n9", False),
        (None, False),
    ],
)
async def test_a_disconnect_relayed_from_n2_means_gone_unless_the_charger_is_on_another_live_node(
    cluster: Cluster, presence_node: str | None, moved: bool
) -> None:
    if presence_node is not None:
        held_by(cluster, "CP-1", presence_node)
    assert cluster._moved("CP-1", "n2") is moved


async def test_a_command_for_a_charger_no_longer_here_is_answered_disconnected_not_forwarded(
    cluster: Cluster,
) -> None:
    """Presence names n3 (the charger moved while the command travelled to n1): n1 answers
    disconnected rather than sending the command on, so it cannot bounce between nodes."""
    held_by(cluster, "CP-1", "n3")
    request = RouteRequest(
        charge_point_id="CP-1",
        kind="command",
        action="Reset",
        payload=msgspec.Raw(encode_message(ResetRequest(type=ResetType.SOFT))),
    )
    with pytest.raises(ChargePointDisconnected) as raised:
        await cluster._run_route(request)
    assert type(raised.value) is ChargePointDisconnected  # not a failed hop on to n3
