"""One site recomputation (domain/site_plan.py): the order in which limits compose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chargedeck.domain.charging_modes import ChargingMode, GridReading, ModeSettings
from chargedeck.domain.load_management import (
    CircuitNode,
    ConnectorDemand,
    ConnectorKey,
    Strategy,
)
from chargedeck.domain.site_plan import SiteConnector, plan_site

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
FUSE = CircuitNode(1, "grid", None, (32.0, 32.0, 32.0))
SETTINGS = ModeSettings(meter_stale_after_s=60.0)


def car(
    name: str,
    *,
    active: bool = True,
    online: bool = True,
    held_a: float | None = None,
    mode: ChargingMode = ChargingMode.FAST,
    max_a: float = 32.0,
) -> SiteConnector:
    return SiteConnector(
        demand=ConnectorDemand(
            key=ConnectorKey(name, 1),
            circuit_id=1,
            grid_phases=(0, 1, 2),
            min_current_a=6.0,
            max_current_a=max_a,
            max_reason=f"model maximum {max_a:g} A",
            step_a=1.0,
            priority=0,
            arrived_at=NOW,
            paused_since=None,
            charging_since=NOW - timedelta(minutes=10),
        ),
        active=active,
        online=online,
        held_a=held_a,
        mode=mode,
        mode_state=None,
        draw_a=0.0,
    )


def limits(plan_connectors: dict[ConnectorKey, object]) -> dict[str, float]:
    return {key.charge_point_id: plan.limit_a for key, plan in plan_connectors.items()}  # type: ignore[attr-defined]


def test_only_cars_that_are_plugged_in_share_the_fuse_but_everyone_has_a_safe_limit() -> None:
    plan = plan_site(
        [FUSE], [car("A"), car("B"), car("idle", active=False)], Strategy.EQUAL, None, NOW, SETTINGS
    )
    assert limits(plan.connectors) == {"A": 16.0, "B": 16.0}
    assert {key.charge_point_id: a.limit_a for key, a in plan.safe.items()} == {
        "A": 10.0,
        "B": 10.0,
        "idle": 10.0,
    }


def test_an_offline_charger_keeps_what_it_was_given_and_the_others_share_the_rest() -> None:
    plan = plan_site(
        [FUSE],
        [car("A"), car("gone", online=False, held_a=20.0)],
        Strategy.EQUAL,
        None,
        NOW,
        SETTINGS,
    )
    assert limits(plan.connectors) == {"A": 12.0}
    assert "gone offline keeps 20 A" in " ".join(plan.connectors[ConnectorKey("A", 1)].steps)


def test_household_load_from_a_fresh_grid_reading_is_taken_first() -> None:
    grid = GridReading((12.0, 12.0, 12.0), NOW - timedelta(seconds=5))
    plan = plan_site([FUSE], [car("A"), car("B")], Strategy.EQUAL, grid, NOW, SETTINGS)
    assert limits(plan.connectors) == {"A": 10.0, "B": 10.0}
    assert plan.recheck_at == NOW + timedelta(seconds=55)


def test_a_stale_grid_reading_caps_every_car_at_its_safe_limit() -> None:
    grid = GridReading((0.0, 0.0, 0.0), NOW - timedelta(minutes=5))
    plan = plan_site(
        [FUSE], [car("A"), car("B", active=False)], Strategy.EQUAL, grid, NOW, SETTINGS
    )
    (only,) = plan.connectors.values()
    assert only.limit_a == 16.0
    assert "grid reading stale" in only.steps[-1]


def test_a_solar_only_car_without_a_meter_is_paused_by_its_mode() -> None:
    plan = plan_site(
        [FUSE], [car("sun", mode=ChargingMode.SOLAR)], Strategy.EQUAL, None, NOW, SETTINGS
    )
    (only,) = plan.connectors.values()
    assert only.limit_a == 0.0
    assert only.steps[0].startswith("paused: ")


def test_a_small_cut_is_held_while_the_limits_in_force_still_fit_the_fuse() -> None:
    grid = GridReading((1.0, 1.0, 1.0), NOW)
    in_force = {ConnectorKey("A", 1): 16.0, ConnectorKey("B", 1): 15.0}
    plan = plan_site(
        [FUSE],
        [car("A"), car("B")],
        Strategy.EQUAL,
        grid,
        NOW,
        SETTINGS,
        in_force=in_force,
        dead_band_a=1.0,
    )
    assert limits(plan.connectors) == {"A": 15.0, "B": 15.0}
    assert plan.connectors[ConnectorKey("A", 1)].held


def test_a_small_cut_is_not_held_when_the_limits_in_force_would_exceed_the_fuse() -> None:
    grid = GridReading((1.0, 1.0, 1.0), NOW)
    in_force = {ConnectorKey("A", 1): 16.0, ConnectorKey("B", 1): 16.0}
    plan = plan_site(
        [FUSE],
        [car("A"), car("B")],
        Strategy.EQUAL,
        grid,
        NOW,
        SETTINGS,
        in_force=in_force,
        dead_band_a=1.0,
    )
    assert not any(connector.held for connector in plan.connectors.values())
