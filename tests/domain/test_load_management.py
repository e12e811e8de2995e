"""Site load management: sharing a tree of circuits' per-phase current among connectors (issue 6,
DESIGN §7; field notes need 3 and Q8: whole amps, 6 A floor, pause below it)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chargedeck.domain.load_management import (
    DEFAULT_MAX_WAIT_S,
    CircuitNode,
    ConnectorAllocation,
    ConnectorDemand,
    ConnectorKey,
    Reduction,
    Strategy,
    allocate,
    safe_limits,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
THREE = (0, 1, 2)
GRID = 1
GARAGE = 2


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def grid(amps: float = 32.0, *, per_phase: tuple[float, float, float] | None = None) -> CircuitNode:
    return CircuitNode(GRID, "main", None, per_phase or (amps, amps, amps))


def garage(amps: float = 16.0) -> CircuitNode:
    return CircuitNode(GARAGE, "garage", GRID, (amps, amps, amps))


def car(
    name: str,
    *,
    circuit: int = GRID,
    phases: tuple[int, ...] = THREE,
    minimum: float = 6.0,
    maximum: float = 32.0,
    reason: str = "model maximum 32 A",
    step: float = 1.0,
    priority: int = 0,
    arrived: datetime | None = None,
    paused: datetime | None = None,
    charging: datetime | None = None,
) -> ConnectorDemand:
    """A connector that wants current; by default it arrived and has charged for two hours."""
    return ConnectorDemand(
        key=ConnectorKey(name, 1),
        circuit_id=circuit,
        grid_phases=phases,
        min_current_a=minimum,
        max_current_a=maximum,
        max_reason=reason,
        step_a=step,
        priority=priority,
        arrived_at=arrived or ago(120),
        paused_since=paused,
        charging_since=None if paused else (charging or arrived or ago(120)),
    )


def limits(allocations: dict[ConnectorKey, ConnectorAllocation]) -> dict[str, float]:
    return {key.charge_point_id: allocation.limit_a for key, allocation in allocations.items()}


def equal(circuits: list[CircuitNode], demands: list[ConnectorDemand]) -> dict[str, float]:
    return limits(allocate(circuits, demands, Strategy.EQUAL, NOW))


# ---- equal share -----------------------------------------------------------------------------


def test_a_fourth_car_on_a_32_a_fuse_gets_8_a_and_so_does_everyone_else() -> None:
    three = [car("A"), car("B"), car("C")]
    assert equal([grid(32)], three) == {"A": 10, "B": 10, "C": 10}
    assert equal([grid(32)], [*three, car("D", arrived=NOW)]) == {"A": 8, "B": 8, "C": 8, "D": 8}


def test_the_explanation_has_the_numbers() -> None:
    allocations = allocate(
        [grid(32)], [car("A"), car("B"), car("C"), car("D")], Strategy.EQUAL, NOW
    )
    assert allocations[ConnectorKey("A", 1)].steps == (
        "grid 'main' 32 A/phase on L1",
        "32 A for 4 cars -> 8 A each",
        "model floor 6 A ok",
        "whole amps -> 8 A",
    )


def test_household_load_is_subtracted_first() -> None:
    allocations = allocate(
        [grid(25)],
        [car("A"), car("B")],
        Strategy.EQUAL,
        NOW,
        reductions={GRID: Reduction((9.0, 9.0, 9.0), "household")},
    )
    allocation = allocations[ConnectorKey("A", 1)]
    assert allocation.limit_a == 8
    assert allocation.steps[:2] == (
        "grid 'main' 25 A/phase on L1 - household 9 A = 16 A",
        "16 A for 2 cars -> 8 A each",
    )


def test_a_household_load_above_the_limit_leaves_nothing_not_less() -> None:
    allocations = allocate(
        [grid(16)],
        [car("A")],
        Strategy.EQUAL,
        NOW,
        reductions={GRID: Reduction((20.0, 20.0, 20.0), "household")},
    )
    assert limits(allocations) == {"A": 0}
    assert "- household 20 A = 0 A" in allocations[ConnectorKey("A", 1)].explanation


def test_a_negative_reduction_does_not_raise_the_fuse() -> None:
    allocations = allocate(
        [grid(16)],
        [car("A")],
        Strategy.EQUAL,
        NOW,
        reductions={GRID: Reduction((-10.0, -10.0, -10.0), "export")},
    )
    assert limits(allocations) == {"A": 16}


def test_a_car_capped_by_its_maximum_leaves_the_rest_to_the_others() -> None:
    demands = [car("A", maximum=10, reason="operator limit 10 A"), car("B"), car("C")]
    allocations = allocate([grid(32)], demands, Strategy.EQUAL, NOW)
    assert limits(allocations) == {"A": 10, "B": 11, "C": 11}
    assert (
        allocations[ConnectorKey("A", 1)].steps[0] == "capped by its maximum: operator limit 10 A"
    )
    assert allocations[ConnectorKey("B", 1)].steps[1] == "32 A - 10 A to 1 other = 22 A"


def test_whole_amps_are_rounded_down() -> None:
    allocations = allocate([grid(32)], [car("A"), car("B"), car("C")], Strategy.EQUAL, NOW)
    assert allocations[ConnectorKey("A", 1)].limit_a == 10
    assert allocations[ConnectorKey("A", 1)].steps[-1] == "whole amps -> 10 A"


def test_a_charger_taking_tenths_gets_tenths() -> None:
    demands = [car("A", step=0.1), car("B", step=0.1), car("C", step=0.1)]
    allocations = allocate([grid(32)], demands, Strategy.EQUAL, NOW)
    assert allocations[ConnectorKey("A", 1)].limit_a == 10.6
    assert allocations[ConnectorKey("A", 1)].steps[1:] == (
        "32 A for 3 cars -> 10.67 A each",
        "model floor 6 A ok",
        "0.1 A steps -> 10.6 A",
    )


# ---- the tree and the phases -----------------------------------------------------------------


def test_a_single_phase_charger_on_l2_only_uses_l2s_budget() -> None:
    demands = [car("A", phases=(0,)), car("B", phases=(1,)), car("C", phases=(1,))]
    assert equal([grid(16)], demands) == {"A": 16, "B": 8, "C": 8}


def test_a_three_phase_charger_is_held_by_its_tightest_phase() -> None:
    allocations = allocate([grid(per_phase=(32, 10, 32))], [car("A")], Strategy.EQUAL, NOW)
    assert limits(allocations) == {"A": 10}
    assert allocations[ConnectorKey("A", 1)].steps[0] == "grid 'main' 10 A on L2"


def test_rotated_wiring_l2l3l1_shares_like_the_plain_one() -> None:
    demands = [car("A", phases=(0, 1, 2)), car("B", phases=(1, 2, 0))]
    assert equal([grid(16)], demands) == {"A": 8, "B": 8}


def test_a_car_on_phase_l1_of_a_l2l3l1_charger_draws_on_grid_l2() -> None:
    # The charger's L1 is wired to the grid's L2: a single-phase car on it shares L2.
    demands = [car("A", phases=(1,)), car("B", phases=(1,)), car("C", phases=(2,))]
    assert equal([grid(per_phase=(32, 16, 32))], demands) == {"A": 8, "B": 8, "C": 32}


def test_a_sub_board_caps_its_cars_and_its_parent_shares_the_rest() -> None:
    demands = [car("A", circuit=GARAGE), car("B", circuit=GARAGE), car("C")]
    allocations = allocate([grid(40), garage(16)], demands, Strategy.EQUAL, NOW)
    assert limits(allocations) == {"A": 8, "B": 8, "C": 24}
    assert allocations[ConnectorKey("A", 1)].steps[:2] == (
        "sub-board 'garage' 16 A/phase on L1",
        "16 A for 2 cars -> 8 A each",
    )


def test_the_binding_circuit_and_phase_are_named() -> None:
    demands = [car("A", circuit=GARAGE, phases=(1,)), car("B", circuit=GARAGE, phases=(1,))]
    allocations = allocate([grid(40), garage(16)], demands, Strategy.EQUAL, NOW)
    assert allocations[ConnectorKey("A", 1)].steps[0] == "sub-board 'garage' 16 A/phase on L2"


def test_a_parent_smaller_than_its_sub_board_binds() -> None:
    demands = [car("A", circuit=GARAGE), car("B", circuit=GARAGE)]
    allocations = allocate([grid(20), garage(32)], demands, Strategy.EQUAL, NOW)
    assert limits(allocations) == {"A": 10, "B": 10}
    assert allocations[ConnectorKey("A", 1)].steps[0] == "grid 'main' 20 A/phase on L1"


# ---- the floor and who is paused -------------------------------------------------------------


def test_below_the_floor_the_longest_charging_car_is_paused() -> None:
    demands = [car("A", charging=ago(180)), car("B", charging=ago(60)), car("C", charging=ago(20))]
    allocations = allocate([grid(16)], demands, Strategy.EQUAL, NOW)
    assert limits(allocations) == {"A": 0, "B": 8, "C": 8}
    assert allocations[ConnectorKey("A", 1)].steps[1] == (
        "paused: 4 A left on L1 after the cars served before it, below the model floor 6 A "
        "(the longest-charging car is paused first)"
    )


def test_a_new_car_makes_the_longest_charging_one_pause() -> None:
    demands = [car("A", charging=ago(180)), car("B", charging=ago(60)), car("C", arrived=NOW)]
    assert equal([grid(12)], demands) == {"A": 0, "B": 6, "C": 6}


def test_the_longest_paused_car_is_resumed_first() -> None:
    demands = [car("A", charging=ago(60)), car("B", paused=ago(20)), car("C", paused=ago(10))]
    assert equal([grid(16)], demands) == {"A": 8, "B": 8, "C": 0}


def test_a_paused_car_waits_while_the_running_ones_fit() -> None:
    demands = [car("A", charging=ago(240)), car("B", charging=ago(180)), car("C", paused=ago(20))]
    assert equal([grid(12)], demands) == {"A": 6, "B": 6, "C": 0}


def test_under_equal_a_car_paused_longer_than_the_wait_bound_takes_a_turn() -> None:
    waited = ago(DEFAULT_MAX_WAIT_S / 60 + 1)
    demands = [car("A", charging=ago(240)), car("B", charging=ago(180)), car("C", paused=waited)]
    assert equal([grid(12)], demands) == {"A": 0, "B": 6, "C": 6}


def test_equal_times_pause_the_later_connector_key_first() -> None:
    demands = [car("B", charging=ago(60)), car("A", charging=ago(60)), car("C", charging=ago(60))]
    assert equal([grid(12)], demands) == {"A": 6, "B": 6, "C": 0}


def test_a_charger_whose_maximum_is_below_its_floor_is_paused() -> None:
    allocations = allocate(
        [grid(32)], [car("A", maximum=5, reason="operator limit 5 A")], Strategy.EQUAL, NOW
    )
    assert allocations[ConnectorKey("A", 1)].steps == (
        "paused: its maximum 5 A (operator limit 5 A) is below the model floor 6 A",
    )


def test_a_paused_car_frees_its_share_for_the_others() -> None:
    demands = [car("A", charging=ago(180)), car("B"), car("C")]
    assert equal([grid(17)], demands) == {"A": 0, "B": 8, "C": 8}  # 8.5 each, whole amps


def test_a_floor_that_is_not_a_whole_amp_rounds_up() -> None:
    # A whole-amp charger with a 5.5 A floor cannot be given 5 A: its floor is 6 A.
    assert equal([grid(11)], [car("A", minimum=5.5), car("B", minimum=5.5)]) == {"A": 11, "B": 0}


# ---- priority and first come -----------------------------------------------------------------


def test_priority_gets_its_maximum_first() -> None:
    demands = [car("A", priority=1, maximum=20, reason="operator limit 20 A"), car("B"), car("C")]
    allocations = allocate([grid(32)], demands, Strategy.PRIORITY, NOW)
    assert limits(allocations) == {"A": 20, "B": 6, "C": 6}


def test_equal_priorities_share_equally() -> None:
    demands = [car("A", priority=1), car("B", priority=1), car("C")]
    assert limits(allocate([grid(32)], demands, Strategy.PRIORITY, NOW)) == {
        "A": 16,
        "B": 16,
        "C": 0,
    }


def test_lower_priority_is_paused_first() -> None:
    demands = [
        car("A"),
        car("B", priority=1, maximum=8, reason="operator limit 8 A"),
        car("C", arrived=ago(60)),
    ]
    allocations = allocate([grid(16)], demands, Strategy.PRIORITY, NOW)
    assert limits(allocations) == {"A": 8, "B": 8, "C": 0}
    assert allocations[ConnectorKey("C", 1)].steps[1].endswith("(lower priority is paused first)")


def test_first_come_first_served() -> None:
    demands = [
        car("A", arrived=ago(30), maximum=20, reason="operator limit 20 A"),
        car("B", arrived=ago(20)),
        car("C", arrived=ago(10)),
    ]
    allocations = allocate([grid(32)], demands, Strategy.FIRST_COME, NOW)
    assert limits(allocations) == {"A": 20, "B": 12, "C": 0}
    assert allocations[ConnectorKey("B", 1)].steps[:3] == (
        "grid 'main' 32 A/phase on L1",
        "32 A - 20 A to 1 other = 12 A",
        "12 A for 1 car -> 12 A",
    )


def test_a_car_paused_longer_than_the_wait_bound_is_served_first() -> None:
    waited = ago(DEFAULT_MAX_WAIT_S / 60 + 1)
    demands = [
        car("HIGH", priority=1),
        car("LOW", paused=waited, maximum=10, reason="operator limit 10 A"),
    ]
    assert limits(allocate([grid(16)], demands, Strategy.PRIORITY, NOW)) == {"HIGH": 6, "LOW": 10}


def test_a_car_paused_less_than_the_wait_bound_keeps_waiting() -> None:
    waited = ago(DEFAULT_MAX_WAIT_S / 60 - 1)
    demands = [
        car("HIGH", priority=1),
        car("LOW", paused=waited, maximum=10, reason="operator limit 10 A"),
    ]
    assert limits(allocate([grid(16)], demands, Strategy.PRIORITY, NOW)) == {"HIGH": 16, "LOW": 0}


def test_the_wait_bound_is_a_parameter() -> None:
    demands = [car("HIGH", priority=1), car("LOW", paused=ago(5))]
    allocations = allocate([grid(16)], demands, Strategy.PRIORITY, NOW, max_wait_s=60)
    assert limits(allocations) == {"HIGH": 0, "LOW": 16}


def test_a_car_that_won_its_turn_keeps_its_floor_for_a_while() -> None:
    # LOW waited out the bound and was resumed a minute ago: HIGH does not pause it right away.
    low = car("LOW", arrived=ago(60), charging=ago(1))
    demands = [car("HIGH", priority=1, arrived=ago(90)), low]
    assert limits(allocate([grid(16)], demands, Strategy.PRIORITY, NOW)) == {"HIGH": 10, "LOW": 6}
    later = NOW + timedelta(minutes=10)
    assert limits(allocate([grid(16)], demands, Strategy.PRIORITY, later)) == {
        "HIGH": 16,
        "LOW": 0,
    }


def test_a_newly_started_car_does_not_jump_the_priority_order() -> None:
    demands = [car("HIGH", priority=1), car("NEW", arrived=NOW)]
    assert limits(allocate([grid(16)], demands, Strategy.PRIORITY, NOW)) == {"HIGH": 16, "NEW": 0}


# ---- fail-safe limits ------------------------------------------------------------------------


def test_the_safe_limit_is_the_equal_share_of_everyone() -> None:
    demands = [car("A"), car("B"), car("C"), car("D", paused=ago(5))]
    allocations = safe_limits([grid(32)], demands)
    assert limits(allocations) == {"A": 8, "B": 8, "C": 8, "D": 8}
    assert allocations[ConnectorKey("A", 1)].steps[1] == "fail-safe: 32 A / 4 connectors = 8 A"


def test_a_safe_share_below_the_floor_is_0_and_not_shared_again() -> None:
    demands = [car(name) for name in "ABCDE"]
    allocations = safe_limits([grid(16)], demands)
    assert set(limits(allocations).values()) == {0}
    assert allocations[ConnectorKey("A", 1)].steps[-1] == (
        "paused: 3.2 A share below the model floor 6 A"
    )


def test_a_phase_without_current_gives_a_safe_limit_of_0() -> None:
    allocations = safe_limits([grid(per_phase=(32, 0, 32))], [car("A", phases=(1,)), car("B")])
    assert limits(allocations) == {"A": 0, "B": 0}
    assert allocations[ConnectorKey("A", 1)].steps == (
        "grid 'main' 0 A on L2",
        "fail-safe: 0 A left on L2",
    )


def test_safe_limits_subtract_the_reduction_and_respect_sub_boards() -> None:
    demands = [car("A", circuit=GARAGE), car("B", circuit=GARAGE), car("C")]
    allocations = safe_limits(
        [grid(40), garage(16)], demands, reductions={GRID: Reduction((4.0, 4.0, 4.0), "reserve")}
    )
    assert limits(allocations) == {"A": 8, "B": 8, "C": 20}


# ---- what is not a site ----------------------------------------------------------------------


def test_two_grid_connections_are_refused() -> None:
    two_roots = [grid(), CircuitNode(9, "second", None, (16, 16, 16))]
    with pytest.raises(ValueError, match="2 grid connections"):
        allocate(two_roots, [], Strategy.EQUAL, NOW)


def test_an_unknown_parent_is_refused() -> None:
    with pytest.raises(ValueError, match="hangs on circuit 7, which is not in the site"):
        allocate([grid(), CircuitNode(3, "shed", 7, (16, 16, 16))], [], Strategy.EQUAL, NOW)


def test_a_cycle_is_refused() -> None:
    circuits = [
        grid(),
        CircuitNode(3, "a", 4, (16, 16, 16)),
        CircuitNode(4, "b", 3, (16, 16, 16)),
    ]
    with pytest.raises(ValueError, match="form a cycle"):
        safe_limits(circuits, [])


def test_a_tree_without_a_root_is_refused() -> None:
    circuits = [CircuitNode(3, "a", 4, (16, 16, 16)), CircuitNode(4, "b", 3, (16, 16, 16))]
    with pytest.raises(ValueError, match="form a cycle"):
        allocate(circuits, [], Strategy.EQUAL, NOW)


def test_a_circuit_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="circuit 1 appears twice"):
        allocate([grid(), grid()], [], Strategy.EQUAL, NOW)


def test_a_demand_on_an_unknown_circuit_is_refused() -> None:
    with pytest.raises(ValueError, match="A/1 is on circuit 5, which is not in the site"):
        allocate([grid()], [car("A", circuit=5)], Strategy.EQUAL, NOW)


def test_a_reduction_on_an_unknown_circuit_is_refused() -> None:
    with pytest.raises(ValueError, match="for circuit 5, which is not in the site"):
        allocate(
            [grid()], [], Strategy.EQUAL, NOW, reductions={5: Reduction((1, 1, 1), "household")}
        )


@pytest.mark.parametrize("phases", [(), (0, 0), (3,), (0, 1, 2, 0)])
def test_grid_phases_that_are_no_wiring_are_refused(phases: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="expected one to three different phase indexes"):
        allocate([grid()], [car("A", phases=phases)], Strategy.EQUAL, NOW)


def test_a_step_that_is_not_positive_is_refused() -> None:
    with pytest.raises(ValueError, match="expected a positive step"):
        safe_limits([grid()], [car("A", step=0)])


@pytest.mark.parametrize("maximum", [float("inf"), float("nan")])
def test_a_maximum_that_is_no_number_of_amps_is_refused(maximum: float) -> None:
    with pytest.raises(ValueError, match="expected numbers of amps"):
        allocate([grid()], [car("A", maximum=maximum)], Strategy.EQUAL, NOW)


def test_a_connector_demanded_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="A/1 is demanded twice"):
        allocate([grid()], [car("A"), replace(car("A"), priority=1)], Strategy.EQUAL, NOW)


def test_no_demand_no_allocation() -> None:
    assert allocate([grid()], [], Strategy.PRIORITY, NOW) == {}
