"""What a node learns from the others (docs/cluster.md): the meter values of a charger held by
another node and an operator's changes made through another node reach the node that computes
the charger's limit, and an id tag change made through one node resyncs the local lists of
chargers held by every node.

Two real ``chargedeck serve`` nodes on one PostgreSQL and NATS, chargers built on the PyPI
``ocpp`` library connected straight to a node of the test's choice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from ocpp.v16 import call

from tests.cluster.conftest import Cluster, eventually
from tests.e2e.test_local_list_and_reservations import ListCharger, boot
from tests.support.ocpp_lib_charger import library_charger
from tests.support.server import ServerProcess
from tests.support.site_charger import SiteCharger, id_tag_of, open_limit_alerts

SITE_LIMIT_A = 10.0


@pytest.fixture(scope="module")
def nodes() -> Iterator[dict[str, ServerProcess]]:
    """Nodes n1 and n2 that recompute fast and raise a limit alert after 1 s over the limit."""
    cluster = Cluster()
    args = (
        "--load-control-debounce-s", "0.2",
        "--limit-min-interval-s", "0",
        "--limit-alert-window-s", "1",
    )  # fmt: skip
    try:
        yield {"n1": cluster.start("n1", *args), "n2": cluster.start("n2", *args)}
    finally:
        cluster.stop()


async def _draw(charger: SiteCharger, amps: float, offered_a: float) -> None:
    """MeterValues with Current.Import on L1-L3 and the Current.Offered the charger reports."""
    sampled = [
        {"value": f"{amps:g}", "measurand": "Current.Import", "phase": f"L{n}", "unit": "A"}
        for n in (1, 2, 3)
    ]
    sampled.append({"value": f"{offered_a:g}", "measurand": "Current.Offered", "unit": "A"})
    await charger.call(
        call.MeterValues(
            connector_id=1,
            transaction_id=charger.transaction_id,
            meter_value=[{"timestamp": datetime.now(UTC).isoformat(), "sampled_value": sampled}],
        )
    )


async def _site_and_its_lease_holder(nodes: dict[str, ServerProcess], name: str) -> tuple[str, str]:
    """A new site of SITE_LIMIT_A; the node that took its lease and the other one."""
    async with nodes["n1"].async_api_client() as http:
        site = await http.post("/sites", json={"name": name, "limit_a": SITE_LIMIT_A})
        assert site.status_code == 201, site.text
    holder_line = f"runs load management of site {site.json()['id']}"
    await eventually(
        lambda: any(holder_line in n.log_text() for n in nodes.values()), 5, "a lease holder"
    )
    [holder] = [node_name for node_name, n in nodes.items() if holder_line in n.log_text()]
    return holder, "n2" if holder == "n1" else "n1"


async def _no_alert(server: ServerProcess, charge_point_id: str) -> bool:
    return not await open_limit_alerts(server, charge_point_id)


async def test_a_charger_on_another_node_that_ignores_its_limit_raises_an_alert_on_the_holder(
    nodes: dict[str, ServerProcess],
) -> None:
    holder, other = await _site_and_its_lease_holder(nodes, "yard")
    charge_point_id = "METER-1"

    async with library_charger(nodes[other].ocpp_url, charge_point_id, SiteCharger) as charger:
        await charger.boot()
        async with nodes[holder].async_api_client() as http:
            tag = await http.post("/id-tags", json={"id_tag": id_tag_of(charge_point_id)})
            assert tag.status_code == 201, tag.text
            placed = await http.put(
                f"/charge-points/{charge_point_id}/placement", json={"site": "yard"}
            )
            assert placed.status_code == 200, placed.text
        await charger.start_charging()
        await eventually(
            lambda: charger.tx_profile_a == SITE_LIMIT_A, 10, "the holder's 10 A limit"
        )

        # It ignores the limit: 16 A on each phase, for longer than the 1 s window.
        await _draw(charger, 16.0, offered_a=SITE_LIMIT_A)
        await asyncio.sleep(1.3)  # the next sample, after the window
        await _draw(charger, 16.0, offered_a=SITE_LIMIT_A)
        await eventually(lambda: open_limit_alerts(nodes[other], charge_point_id), 10, "an alert")
        [alert] = await open_limit_alerts(nodes[other], charge_point_id)
        assert alert["limit_a"] == SITE_LIMIT_A
        assert alert["measured_a"] == 16.0
        assert "draws 16 A against a limit of 10 A" in str(alert["explanation"])
        assert "the charger reports offering 10 A" in str(alert["explanation"])
        await eventually(
            lambda: "does not honour its limit" in nodes[holder].log_text(), 5, "holder's warning"
        )
        assert "does not honour its limit" not in nodes[other].log_text()

        # Back within its limit (plus the 1 A margin): the holder clears the alert.
        await _draw(charger, 10.5, offered_a=SITE_LIMIT_A)
        await eventually(lambda: _no_alert(nodes[other], charge_point_id), 10, "the alert cleared")


async def test_a_placement_made_through_another_node_reaches_the_sites_lease_holder_at_once(
    nodes: dict[str, ServerProcess],
) -> None:
    holder, other = await _site_and_its_lease_holder(nodes, "lane")
    # The holder's first recomputation of the site (0.2 s debounce) is over: the placement
    # below can reach it only as a change relayed from the other node (else: its store read
    # every 30 s).
    await asyncio.sleep(1.0)
    async with library_charger(nodes[other].ocpp_url, "PLACED-1", SiteCharger) as charger:
        await charger.boot()
        async with nodes[other].async_api_client() as http:
            tag = await http.post("/id-tags", json={"id_tag": id_tag_of("PLACED-1")})
            assert tag.status_code == 201, tag.text
            placed = await http.put("/charge-points/PLACED-1/placement", json={"site": "lane"})
            assert placed.status_code == 200, placed.text
        await charger.start_charging()
        await eventually(
            lambda: charger.tx_profile_a == SITE_LIMIT_A, 10, "the holder's 10 A limit"
        )
        await eventually(
            lambda: "charge point PLACED-1 connector 1: limit 10 A" in nodes[holder].log_text(),
            5,
            f"the limit logged by the lease holder {holder}",
        )


async def test_an_operator_limit_set_through_one_node_reaches_a_charger_on_another(
    nodes: dict[str, ServerProcess],
) -> None:
    async with library_charger(nodes["n2"].ocpp_url, "LIMITED-1", SiteCharger) as charger:
        await charger.boot()
        async with nodes["n1"].async_api_client() as http:
            answer = await http.put(
                "/charge-points/LIMITED-1/limit", json={"value": 11, "unit": "kW"}
            )
            assert answer.status_code == 200, answer.text
        # Sent by n2, which holds the connection of this charger on no site: 11 kW over three
        # phases at 230 V = 15.94 A, down to the 0.1 A step.
        await eventually(lambda: charger.tx_default_a == 15.9, 10, "TxDefaultProfile 15.9 A")


async def test_an_id_tag_change_on_one_node_resyncs_a_charger_held_by_another(
    nodes: dict[str, ServerProcess],
) -> None:
    n2 = nodes["n2"]
    async with (
        nodes["n1"].async_api_client() as http,
        library_charger(n2.ocpp_url, "LISTED-1", ListCharger) as charger,
    ):
        await boot(charger)
        for id_tag in ("KEEP-1", "LOSE-1"):
            added = await http.post("/id-tags", json={"id_tag": id_tag})
            assert added.status_code == 201, added.text
        synced = await http.post("/charge-points/LISTED-1/local-list/sync")
        assert synced.status_code == 200, synced.text
        before = len(charger.sent("SendLocalList"))

        changed = await http.patch("/id-tags/LOSE-1", json={"blocked": True})
        assert changed.status_code == 200, changed.text
        await eventually(
            lambda: "LISTED-1: local list resynced after an id tag change" in n2.log_text(),
            10,
            "a resync on node n2",
        )
    [resync] = charger.sent("SendLocalList")[before:]
    assert resync["update_type"] == "Differential"
    assert resync["local_authorization_list"] == [
        {"id_tag": "LOSE-1", "id_tag_info": {"status": "Blocked"}}
    ]
    assert charger.entries["LOSE-1"]["status"] == "Blocked"
