"""Site load management through the REST API of a real ``chargedeck serve`` (issue 6, DESIGN §7):
sites and circuit trees, placements, operator limits, readings, effective limits, alerts and a
session's mode. Every test uses its own site names and charge point ids on the module's server.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from ocpp.v16 import call

from tests.support.ocpp_lib_charger import LibraryCharger, library_charger
from tests.support.server import ServerProcess


async def add_site(client: httpx.AsyncClient, name: str, **body: Any) -> dict[str, Any]:
    answer = await client.post("/sites", json={"name": name, "limit_a": 32, **body})
    assert answer.status_code == 201, answer.text
    site: dict[str, Any] = answer.json()
    return site


async def add_charge_point(client: httpx.AsyncClient, charge_point_id: str) -> None:
    answer = await client.post("/charge-points", json={"id": charge_point_id})
    assert answer.status_code == 201, answer.text


async def add_circuit(
    client: httpx.AsyncClient, site_id: int, name: str, **body: Any
) -> dict[str, Any]:
    answer = await client.post(
        f"/sites/{site_id}/circuits", json={"name": name, "limit_a": 16, **body}
    )
    assert answer.status_code == 201, answer.text
    circuit: dict[str, Any] = answer.json()
    return circuit


def problem(answer: httpx.Response, status: int) -> str:
    """The detail of a problem+json answer of ``status``."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    detail: str = answer.json()["detail"]
    return detail


# ---- sites ----------------------------------------------------------------------------------


async def test_a_site_is_added_with_its_grid_connection_and_listed(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        site = await add_site(client, "S-home", strategy="priority", household_reserve_a=4)
        listed = (await client.get("/sites")).json()["items"]
    assert (site["name"], site["strategy"], site["household_reserve_a"]) == (
        "S-home",
        "priority",
        4.0,
    )
    assert site["limit_a"] == [32.0, 32.0, 32.0]
    assert site["meter_stale_after_s"] == 60
    assert site in listed


async def test_a_single_phase_site_has_its_limit_on_l1_only(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        site = await add_site(client, "S-1ph", limit_a=40, phases=1)
        per_phase = await add_site(client, "S-per-phase", limit_a=[25, 20, 0])
    assert site["limit_a"] == [40.0, 0.0, 0.0]
    assert per_phase["limit_a"] == [25.0, 20.0, 0.0]


async def test_a_second_site_of_the_same_name_is_a_conflict(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        await add_site(client, "S-twice")
        again = await client.post("/sites", json={"name": "S-twice", "limit_a": 16})
    assert problem(again, 409) == "there is a site named 'S-twice' already"


async def test_bad_site_settings_are_422_with_a_sentence(server: ServerProcess) -> None:
    cases = {
        "strategy 'fastest' is not one of equal, priority, first_come": {"strategy": "fastest"},
        "limit on L1 must be from 0 to 10000 A, got 10001 A": {"limit_a": 10001},
        "limit on L2 must be from 0 to 10000 A, got -1 A": {"limit_a": [16, -1, 16]},
        "phases must be 1 or 3, got 2": {"phases": 2},
        "a circuit needs a limit above 0 A on at least one phase": {"limit_a": 0},
        "site name must not be empty": {"name": "  "},
        "household reserve must be from 0 to 10000 A per phase, got -2 A": {
            "household_reserve_a": -2
        },
    }
    async with server.async_api_client() as client:
        for sentence, change in cases.items():
            answer = await client.post("/sites", json={"name": "S-bad", "limit_a": 16, **change})
            assert problem(answer, 422) == sentence
        assert "S-bad" not in {s["name"] for s in (await client.get("/sites")).json()["items"]}


async def test_a_site_shows_its_tree_chargers_limits_and_readings(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        site = await add_site(client, "S-tree")
        garage = await add_circuit(client, site["id"], "garage", limit_a=[20, 20, 0])
        row = await add_circuit(client, site["id"], "row", parent_id=garage["id"])
        for charge_point_id in ("T-CP1", "T-CP2"):
            await add_charge_point(client, charge_point_id)
        placed = await client.put(
            "/charge-points/T-CP1/placement",
            json={"circuit_id": row["id"], "phase_rotation": "L2L3L1", "priority": 3},
        )
        assert placed.status_code == 200, placed.text
        await client.put("/charge-points/T-CP2/placement", json={"site": "S-tree"})
        await client.put("/charge-points/T-CP1/limit", json={"value": 16, "unit": "A"})
        reading = await client.post(
            f"/sites/{site['id']}/readings",
            json={"kind": "grid", "l1_a": 9.5, "l2_a": 3, "l3_a": -2},
        )
        assert reading.status_code == 202, reading.text
        shown = (await client.get(f"/sites/{site['id']}")).json()

    grid = shown["grid"]
    assert (grid["name"], grid["parent_id"], grid["limit_a"]) == ("grid", None, [32.0] * 3)
    assert [c["charge_point_id"] for c in grid["chargers"]] == ["T-CP2"]
    assert grid["chargers"][0]["phase_rotation"] == "L1L2L3"
    [garage_node] = grid["circuits"]
    assert (garage_node["name"], garage_node["limit_a"]) == ("garage", [20.0, 20.0, 0.0])
    [row_node] = garage_node["circuits"]
    [charger] = row_node["chargers"]
    assert (charger["charge_point_id"], charger["phase_rotation"], charger["priority"]) == (
        "T-CP1",
        "L2L3L1",
        3,
    )
    assert (charger["limit"]["value"], charger["limit"]["unit"]) == (16.0, "A")
    [grid_reading] = shown["readings"]
    assert (grid_reading["kind"], grid_reading["source"]) == ("grid", "api")
    assert (grid_reading["l1_a"], grid_reading["l2_a"], grid_reading["l3_a"]) == (9.5, 3.0, -2.0)


async def test_a_site_is_changed_including_its_grid_limit(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        site = await add_site(client, "S-change")
        changed = await client.patch(
            f"/sites/{site['id']}",
            json={"name": "S-changed", "strategy": "first_come", "limit_a": 25, "phases": 1},
        )
        shown = (await client.get(f"/sites/{site['id']}")).json()
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["strategy"]) == ("S-changed", "first_come")
    assert shown["limit_a"] == shown["grid"]["limit_a"] == [25.0, 0.0, 0.0]


async def test_a_deleted_site_is_gone_and_its_chargers_unplaced(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        site = await add_site(client, "S-delete")
        await add_charge_point(client, "D-CP1")
        await client.put("/charge-points/D-CP1/placement", json={"site": "S-delete"})
        deleted = await client.delete(f"/sites/{site['id']}")
        shown = await client.get(f"/sites/{site['id']}")
        unplace = await client.delete("/charge-points/D-CP1/placement")
        charger = await client.get("/charge-points/D-CP1")
    assert deleted.status_code == 200, deleted.text
    assert problem(shown, 404) == f"there is no site {site['id']}"
    assert problem(unplace, 404) == "charge point 'D-CP1' is not placed on a site"
    assert charger.status_code == 200


async def test_an_unknown_or_malformed_site_id_is_an_error(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        unknown = await client.patch("/sites/999999", json={"name": "x"})
        malformed = await client.get("/sites/home")
    assert problem(unknown, 404) == "there is no site 999999"
    assert problem(malformed, 400) == "site id 'home' is not a number from 1 to 2147483647"


# ---- circuits -------------------------------------------------------------------------------


async def test_a_circuit_is_moved_renamed_and_deleted(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        site = await add_site(client, "C-site")
        garage = await add_circuit(client, site["id"], "garage")
        carport = await add_circuit(client, site["id"], "carport", limit_a=10, phases=1)
        moved = await client.patch(
            f"/circuits/{carport['id']}",
            json={"parent_id": garage["id"], "name": "carport east", "limit_a": [8, 8, 8]},
        )
        deleted = await client.delete(f"/circuits/{moved.json()['id']}")
        tree = (await client.get(f"/sites/{site['id']}")).json()["grid"]
    assert carport["parent_id"] == site["grid_circuit_id"]
    assert carport["limit_a"] == [10.0, 0.0, 0.0]
    assert moved.status_code == 200, moved.text
    assert (moved.json()["parent_id"], moved.json()["name"], moved.json()["limit_a"]) == (
        garage["id"],
        "carport east",
        [8.0, 8.0, 8.0],
    )
    assert deleted.status_code == 200, deleted.text
    assert [c["name"] for c in tree["circuits"]] == ["garage"]
    assert tree["circuits"][0]["circuits"] == []


async def test_circuit_tree_rules_are_409_with_a_sentence(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        site = await add_site(client, "C-rules")
        other = await add_site(client, "C-other")
        garage = await add_circuit(client, site["id"], "garage")
        row = await add_circuit(client, site["id"], "row", parent_id=garage["id"])
        await add_charge_point(client, "C-CP1")
        await client.put("/charge-points/C-CP1/placement", json={"circuit_id": row["id"]})
        under_itself = await client.patch(
            f"/circuits/{garage['id']}", json={"parent_id": row["id"]}
        )
        other_site = await client.post(
            f"/sites/{site['id']}/circuits",
            json={"name": "x", "parent_id": other["grid_circuit_id"], "limit_a": 16},
        )
        same_name = await client.post(
            f"/sites/{site['id']}/circuits", json={"name": "garage", "limit_a": 16}
        )
        grid = await client.delete(f"/circuits/{site['grid_circuit_id']}")
        with_children = await client.delete(f"/circuits/{garage['id']}")
        with_charger = await client.delete(f"/circuits/{row['id']}")
        unknown = await client.delete("/circuits/999999")
    assert problem(under_itself, 409) == "circuit 'garage' cannot hang from 'row': that is below it"
    assert problem(other_site, 409).endswith("is on another site, not on site 'C-rules'")
    assert problem(same_name, 409) == "site 'C-rules' has a circuit named 'garage' already"
    assert problem(grid, 409).endswith(
        "is the grid connection of its site; delete the site instead"
    )
    assert problem(with_children, 409) == (
        "circuit 'garage' still has circuits below it (row); move or delete them first"
    )
    assert problem(with_charger, 409).startswith("circuit 'row' still has chargers on it (C-CP1)")
    assert problem(unknown, 404) == "there is no circuit 999999"


# ---- placements and limits --------------------------------------------------------------------


async def test_a_charger_is_placed_by_site_and_circuit_name_and_unplaced(
    server: ServerProcess,
) -> None:
    async with server.async_api_client() as client:
        site = await add_site(client, "P-site")
        garage = await add_circuit(client, site["id"], "garage")
        await add_charge_point(client, "P-CP1")
        placed = await client.put(
            "/charge-points/P-CP1/placement",
            json={"site": "P-site", "circuit": "garage", "phase_rotation": "L3", "mode": "solar"},
        )
        unplaced = await client.delete("/charge-points/P-CP1/placement")
        again = await client.delete("/charge-points/P-CP1/placement")
    assert placed.status_code == 200, placed.text
    view = placed.json()
    assert (view["site_id"], view["circuit_id"], view["phase_rotation"], view["mode"]) == (
        site["id"],
        garage["id"],
        "L3",
        "solar",
    )
    assert (view["priority"], view["charge_point_id"]) == (0, "P-CP1")
    assert unplaced.json() == view
    assert problem(again, 404) == "charge point 'P-CP1' is not placed on a site"


async def test_bad_placements_are_refused_with_a_sentence(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        site = await add_site(client, "P-bad")
        await add_charge_point(client, "P-CP2")
        url = "/charge-points/P-CP2/placement"
        answers = {
            "rotation": await client.put(url, json={"site": "P-bad", "phase_rotation": "L1L3L2"}),
            "mode": await client.put(url, json={"site": "P-bad", "mode": "turbo"}),
            "both": await client.put(
                url, json={"site": "P-bad", "circuit_id": site["grid_circuit_id"]}
            ),
            "neither": await client.put(url, json={}),
            "site": await client.put(url, json={"site": "P-nowhere"}),
            "circuit": await client.put(url, json={"site": "P-bad", "circuit": "attic"}),
            "circuit_id": await client.put(url, json={"circuit_id": 999999}),
            "charger": await client.put(
                "/charge-points/P-NOBODY/placement", json={"site": "P-bad"}
            ),
        }
    assert problem(answers["rotation"], 422) == (
        "phase rotation 'L1L3L2' is not one of L1L2L3, L2L3L1, L3L1L2, L1, L2, L3 "
        "(three-phase rotations, or the one phase of a single-phase charger)"
    )
    assert problem(answers["mode"], 422) == "mode 'turbo' is not one of fast, min_solar, solar"
    assert problem(answers["both"], 422).startswith("give circuit_id, or site")
    assert problem(answers["neither"], 422).startswith("give circuit_id, or site")
    assert problem(answers["site"], 404) == "there is no site named 'P-nowhere'"
    assert problem(answers["circuit"], 404) == "site 'P-bad' has no circuit named 'attic'"
    assert problem(answers["circuit_id"], 404) == "there is no circuit 999999"
    assert problem(answers["charger"], 404) == "charge point 'P-NOBODY' is not known to this CSMS"


async def test_an_operator_limit_is_set_in_amps_or_kilowatts_and_removed(
    server: ServerProcess,
) -> None:
    async with server.async_api_client() as client:
        await add_charge_point(client, "L-CP1")
        amps = await client.put("/charge-points/L-CP1/limit", json={"value": 16.5, "unit": "A"})
        kilowatts = await client.put("/charge-points/L-CP1/limit", json={"value": 11, "unit": "kW"})
        removed = await client.delete("/charge-points/L-CP1/limit")
        again = await client.delete("/charge-points/L-CP1/limit")
    assert (amps.json()["value"], amps.json()["unit"]) == (16.5, "A")
    assert (kilowatts.json()["value"], kilowatts.json()["unit"]) == (11.0, "kW")
    assert removed.json() == kilowatts.json()
    assert problem(again, 404) == "charge point 'L-CP1' has no operator limit"


async def test_operator_limits_out_of_range_are_422(server: ServerProcess) -> None:
    cases = {
        "a limit in A must be from 0 to 80 A per phase, got 81 A": {"value": 81, "unit": "A"},
        "a limit in A goes in steps of 0.1 A (OCPP 1.6 §7.13), got 16.05": {
            "value": 16.05,
            "unit": "A",
        },
        "a limit in kW must be from 0 to 350 kW, got 351 kW": {"value": 351, "unit": "kW"},
        "a limit in A must be from 0 to 80 A per phase, got -1 A": {"value": -1, "unit": "A"},
        "unit 'W' is not one of A, kW": {"value": 7000, "unit": "W"},
    }
    async with server.async_api_client() as client:
        await add_charge_point(client, "L-CP2")
        for sentence, body in cases.items():
            answer = await client.put("/charge-points/L-CP2/limit", json=body)
            assert problem(answer, 422) == sentence
        unknown = await client.put("/charge-points/L-NOBODY/limit", json={"value": 6, "unit": "A"})
    assert problem(unknown, 404) == "charge point 'L-NOBODY' is not known to this CSMS"


# ---- readings, effective limits, alerts ---------------------------------------------------------


async def test_a_single_phase_site_may_leave_out_l2_and_l3(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        site = await add_site(client, "R-1ph", limit_a=25, phases=1)
        answer = await client.post(
            f"/sites/{site['id']}/readings", json={"kind": "grid", "l1_a": 7}
        )
    assert answer.status_code == 202, answer.text
    assert (answer.json()["l1_a"], answer.json()["l2_a"], answer.json()["l3_a"]) == (7.0, 0, 0)


async def test_a_solar_reading_is_stored_as_the_sites_latest(server: ServerProcess) -> None:
    measured_at = datetime.now(UTC).replace(microsecond=0)
    async with server.async_api_client() as client:
        site = await add_site(client, "R-solar")
        answer = await client.post(
            f"/sites/{site['id']}/readings",
            json={"kind": "solar", "power_w": 4200, "measured_at": measured_at.isoformat()},
        )
        [reading] = (await client.get(f"/sites/{site['id']}")).json()["readings"]
    assert answer.status_code == 202, answer.text
    assert answer.json() == {
        "site_id": site["id"],
        "kind": "solar",
        "l1_a": None,
        "l2_a": None,
        "l3_a": None,
        "power_w": 4200.0,
        "measured_at": measured_at.isoformat().replace("+00:00", "Z"),
    }
    assert (reading["kind"], reading["power_w"]) == ("solar", 4200.0)
    assert datetime.fromisoformat(reading["measured_at"]) == measured_at


async def test_bad_readings_are_refused_with_a_sentence(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        site = await add_site(client, "R-bad")
        url = f"/sites/{site['id']}/readings"
        missing_phase = await client.post(url, json={"kind": "grid", "l1_a": 7})
        naive = await client.post(
            url, json={"kind": "solar", "power_w": 1, "measured_at": "2025-06-01T12:00:00"}
        )
        ahead = await client.post(
            url, json={"kind": "solar", "power_w": 1, "measured_at": "2030-01-01T00:00:00Z"}
        )
        negative = await client.post(url, json={"kind": "solar", "power_w": -5})
        kind = await client.post(url, json={"kind": "wind", "power_w": 5})
        unknown = await client.post("/sites/999999/readings", json={"kind": "solar", "power_w": 1})
    assert problem(missing_phase, 422) == "l2_a is missing: site 'R-bad' has a limit of 32 A on L2"
    assert (
        problem(naive, 422) == "measured_at 2025-06-01T12:00:00 needs an offset, e.g. Z or +01:00"
    )
    assert problem(ahead, 422).startswith(
        "measured_at 2030-01-01T00:00:00+00:00 is more than 300 s ahead of this server's clock"
    )
    assert problem(negative, 422) == "power_w must be from 0 to 1e+08 W, got -5"
    assert "wind" in problem(kind, 422)
    assert problem(unknown, 404) == "there is no site 999999"


async def test_effective_limits_of_a_charger_are_a_page(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        await add_charge_point(client, "E-CP1")
        known = await client.get("/charge-points/E-CP1/effective-limits")
        unknown = await client.get("/charge-points/E-NOBODY/effective-limits")
    assert known.status_code == 200, known.text
    assert isinstance(known.json()["items"], list)
    assert problem(unknown, 404) == "charge point 'E-NOBODY' is not known to this CSMS"


async def test_limit_alerts_are_listed_and_filtered(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        every = await client.get("/limit-alerts", params={"charge_point_id": "A-CP1"})
        open_only = await client.get("/limit-alerts", params={"open": "true"})
        bad = await client.get("/limit-alerts", params={"open": "yes"})
    assert every.json() == {"items": [], "next_cursor": None}
    assert open_only.status_code == 200, open_only.text
    assert problem(bad, 400) == "open='yes': expected true or false"


# ---- a session's mode -------------------------------------------------------------------------


async def test_a_running_sessions_mode_is_set_and_reset(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        tag = await client.post("/id-tags", json={"id_tag": "MODE-TAG"})
        assert tag.status_code == 201, tag.text
        async with library_charger(server.ocpp_url, "M-CP1", LibraryCharger) as charger:
            await charger.call(
                call.BootNotification(charge_point_vendor="ChargeDeck Labs", charge_point_model="X")
            )
            started = await charger.call(
                call.StartTransaction(
                    connector_id=1,
                    id_tag="MODE-TAG",
                    meter_start=0,
                    timestamp=datetime.now(UTC).isoformat(),
                )
            )
            url = f"/transactions/{started.transaction_id}/mode"
            solar = await client.put(url, json={"mode": "solar"})
            bad = await client.put(url, json={"mode": "turbo"})
            reset = await client.put(url, json={"mode": None})
            await charger.call(
                call.StopTransaction(
                    meter_stop=1000,
                    timestamp=datetime.now(UTC).isoformat(),
                    transaction_id=started.transaction_id,
                )
            )
            stopped = await client.put(url, json={"mode": "fast"})
        unknown = await client.put("/transactions/2147483647/mode", json={"mode": "fast"})
    assert solar.json() == {
        "transaction_id": started.transaction_id,
        "charge_point_id": "M-CP1",
        "mode": "solar",
    }
    assert problem(bad, 422) == "mode 'turbo' is not one of fast, min_solar, solar"
    assert reset.json()["mode"] is None
    assert problem(stopped, 409).startswith(f"transaction {started.transaction_id} stopped at ")
    assert problem(unknown, 404) == "no transaction 2147483647"
