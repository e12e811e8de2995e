"""``chargedeck sites ...``, ``charge-points place|limit`` and ``charge-points add --site`` as an
owner runs them: processes on a fresh SQLite file per test, before any ``serve`` (DESIGN §10);
then the server started on that file serves the set-up through its API."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.test_cli import chargedeck, sentence
from tests.support.server import running_server


def ok(*args: str, cwd: Path) -> str:
    """Run a command that must succeed; its stdout."""
    result = chargedeck(*args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_site_set_up_from_the_cli_shows_its_tree(tmp_path: Path) -> None:
    added = ok("sites", "add", "home", "--limit", "32", cwd=tmp_path)
    circuit = ok("sites", "add-circuit", "home", "garage", "--limit", "16", cwd=tmp_path)
    first = ok("charge-points", "add", "CP1", "--site", "home", cwd=tmp_path)
    ok("charge-points", "add", "CP2", cwd=tmp_path)
    placed = ok(
        "charge-points",
        "place",
        "CP2",
        "--site",
        "home",
        "--circuit",
        "garage",
        "--phases",
        "L2",
        "--priority",
        "2",
        "--mode",
        "solar",
        cwd=tmp_path,
    )
    limited = ok("charge-points", "limit", "CP2", "16A", cwd=tmp_path)
    shown = ok("sites", "show", "home", cwd=tmp_path)

    assert added == "added site home (id 1): grid connection 32 A on L1, L2, L3, shared equal\n"
    assert circuit == "added circuit garage (id 2) to site home under grid: 16 A on L1, L2, L3\n"
    assert first.splitlines()[:2] == [
        "registered charge point CP1 (security profile 0)",
        "placed on site home, circuit grid (L1L2L3)",
    ]
    assert placed == "placed CP2 on site home, circuit garage (L2, priority 2, mode solar)\n"
    assert limited == "CP2: operator limit 16 A per phase\n"
    assert shown.splitlines() == [
        "site home (id 1; shared equal; household reserve 0 A)",
        "└── grid (32 A on L1, L2, L3)",
        "    ├── garage (16 A on L1, L2, L3)",
        "    │   └── charger CP2: L2, priority 2, mode solar, limit 16 A per phase",
        "    └── charger CP1: L1L2L3, priority 0, mode fast",
    ]


def test_a_single_phase_site_has_its_limit_on_l1_only(tmp_path: Path) -> None:
    added = json.loads(
        ok(
            "sites",
            "add",
            "flat",
            "--limit",
            "40",
            "--phases",
            "1",
            "--strategy",
            "priority",
            "--household-reserve",
            "5",
            "--json",
            cwd=tmp_path,
        )
    )
    [listed] = json.loads(ok("sites", "list", "--json", cwd=tmp_path))
    grid = added["grid"]
    assert (grid["name"], grid["limit_l1_a"], grid["limit_l2_a"], grid["limit_l3_a"]) == (
        "grid",
        40.0,
        0.0,
        0.0,
    )
    assert (added["site"]["strategy"], added["site"]["household_reserve_a"]) == ("priority", 5.0)
    assert listed == added


def test_bad_input_exits_2_with_a_sentence(tmp_path: Path) -> None:
    cases = {
        ("sites", "add", "x", "--limit", "32", "--phases", "2"): "phases must be 1 or 3, got 2",
        ("sites", "add", "x", "--limit", "20000"): (
            "limit on L1 must be from 0 to 10000 A, got 20000 A"
        ),
        ("sites", "add", "x", "--limit", "32", "--strategy", "fastest"): (
            "strategy 'fastest' is not one of equal, priority, first_come"
        ),
        ("charge-points", "limit", "CP1", "16.05A"): (
            "a limit in A goes in steps of 0.1 A (OCPP 1.6 §7.13), got 16.05"
        ),
        (
            "charge-points",
            "limit",
            "CP1",
            "16 amps",
        ): "limit '16 amps' is not like 16A, 11kW or none",
        ("charge-points", "place", "CP1", "--site", "nowhere"): "there is no site named 'nowhere'",
        ("charge-points", "place", "CP1", "--site", "x", "--phases", "L1L3L2"): (
            "phase rotation 'L1L3L2' is not one of L1L2L3, L2L3L1, L3L1L2, L1, L2, L3 "
            "(three-phase rotations, or the one phase of a single-phase charger)"
        ),
    }
    for args, expected in cases.items():
        result = chargedeck(*args, cwd=tmp_path)
        assert (result.returncode, sentence(result.stderr)) == (2, f"error: {expected}"), args
    assert json.loads(ok("sites", "list", "--json", cwd=tmp_path)) == []


def test_an_unknown_site_or_circuit_changes_nothing(tmp_path: Path) -> None:
    ok("sites", "add", "home", "--limit", "25", cwd=tmp_path)
    unknown_site = chargedeck("charge-points", "add", "CP9", "--site", "nowhere", cwd=tmp_path)
    unknown_parent = chargedeck(
        "sites", "add-circuit", "home", "row", "--parent", "attic", "--limit", "10", cwd=tmp_path
    )
    assert (unknown_site.returncode, sentence(unknown_site.stderr)) == (
        2,
        "error: there is no site named 'nowhere'",
    )
    assert (unknown_parent.returncode, sentence(unknown_parent.stderr)) == (
        2,
        "error: site 'home' has no circuit named 'attic' (it has: grid)",
    )
    assert json.loads(ok("charge-points", "list", "--json", cwd=tmp_path)) == []


def test_a_limit_in_kilowatts_is_set_and_removed(tmp_path: Path) -> None:
    ok("charge-points", "add", "CP1", cwd=tmp_path)
    limit = json.loads(ok("charge-points", "limit", "CP1", "11kW", "--json", cwd=tmp_path))
    removed = ok("charge-points", "limit", "CP1", "none", cwd=tmp_path)
    unknown = chargedeck("charge-points", "limit", "CP2", "none", cwd=tmp_path)
    assert (limit["charge_point_id"], limit["value"], limit["unit"]) == ("CP1", 11.0, "kW")
    assert removed == "CP1: no operator limit (was 11 kW)\n"
    assert sentence(unknown.stderr) == "error: charge point 'CP2' is not known to this CSMS"


def test_a_deleted_site_leaves_its_chargers_unplaced(tmp_path: Path) -> None:
    ok("sites", "add", "home", "--limit", "32", cwd=tmp_path)
    ok("charge-points", "add", "CP1", "--site", "home", cwd=tmp_path)
    deleted = ok("sites", "delete", "home", cwd=tmp_path)
    [charger] = json.loads(ok("charge-points", "list", "--json", cwd=tmp_path))
    assert deleted == "deleted site home and its 1 circuit(s); no longer placed: CP1\n"
    assert charger["id"] == "CP1"
    assert json.loads(ok("sites", "list", "--json", cwd=tmp_path)) == []


def test_the_first_serve_serves_the_site_the_cli_set_up(tmp_path: Path) -> None:
    ok("sites", "add", "home", "--limit", "32", cwd=tmp_path)
    ok("charge-points", "add", "CP1", "--site", "home", cwd=tmp_path)
    ok("charge-points", "limit", "CP1", "16A", cwd=tmp_path)
    with running_server(f"sqlite:///{tmp_path / 'x.db'}", cwd=tmp_path) as server:
        with server.api_client() as client:
            shown = client.get("/sites/1").json()
        assert server.error_lines() == [], server.log_text()
    [charger] = shown["grid"]["chargers"]
    assert (shown["name"], shown["limit_a"]) == ("home", [32.0, 32.0, 32.0])
    assert (charger["charge_point_id"], charger["limit"]["value"]) == ("CP1", 16.0)
