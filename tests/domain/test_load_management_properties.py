"""Load management properties over random sites (issue 6, "tests that prove it"): trees of one to
four levels, per-phase limits, household reductions, rotated and single-phase wirings, floors,
maxima, steps, priorities, arrivals and pauses, under every strategy."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from chargedeck.domain.load_management import (
    DEFAULT_MAX_WAIT_S,
    DEFAULT_MIN_RUN_S,
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
SLACK_A = 1e-6
"""Float slack of the checks (sums of tenths are not exact in binary)."""
WIRINGS = [(0, 1, 2), (1, 2, 0), (2, 0, 1), (0,), (1,), (2,), (0, 1), (2, 1)]
PROPERTIES = settings(max_examples=200, deadline=None)


@dataclass(frozen=True)
class Site:
    circuits: list[CircuitNode]
    demands: list[ConnectorDemand]
    reductions: dict[int, Reduction]

    def budget(self, circuit_id: int, phase: int) -> float:
        node = next(node for node in self.circuits if node.circuit_id == circuit_id)
        reduction = self.reductions.get(circuit_id)
        taken = max(0.0, reduction.amps[phase]) if reduction else 0.0
        return max(0.0, node.limit_a[phase] - taken)

    def ancestors(self, circuit_id: int) -> list[int]:
        parents = {node.circuit_id: node.parent_id for node in self.circuits}
        chain: list[int] = []
        current: int | None = circuit_id
        while current is not None:
            chain.append(current)
            current = parents[current]
        return chain


def seconds_ago(seconds: int) -> datetime:
    return NOW - timedelta(seconds=seconds)


@st.composite
def sites(draw: st.DrawFn) -> Site:
    """A random tree (depth 1-4), limits per phase (sometimes 0 on a phase), a household on some
    circuits, and up to 14 demands spread over it."""
    depth = draw(st.integers(1, 4))
    limit = st.sampled_from([0.0, 6.0, 10.0, 13.0, 16.0, 20.0, 25.0, 32.0, 40.0, 63.0, 100.0])
    circuits = [CircuitNode(1, "main", None, (draw(limit), draw(limit), draw(limit)))]
    levels = {1: 1}
    for circuit_id in range(2, draw(st.integers(1, 7)) + 1):
        parents = [known for known, level in levels.items() if level < depth]
        if not parents:
            break
        parent = draw(st.sampled_from(parents))
        levels[circuit_id] = levels[parent] + 1
        amps = (draw(limit), draw(limit), draw(limit))
        circuits.append(CircuitNode(circuit_id, f"board {circuit_id}", parent, amps))
    household = st.floats(0.0, 30.0, allow_nan=False).map(lambda amps: round(amps, 1))
    reductions = {
        circuit.circuit_id: Reduction((draw(household), draw(household), draw(household)), "load")
        for circuit in circuits
        if draw(st.booleans())
    }
    demands = []
    for number in range(draw(st.integers(0, 14))):
        paused = draw(st.none() | st.integers(0, 2 * int(DEFAULT_MAX_WAIT_S)))
        arrived = draw(st.integers(0, 4 * int(DEFAULT_MAX_WAIT_S)))
        running = draw(st.none() | st.integers(0, arrived))
        demands.append(
            ConnectorDemand(
                key=ConnectorKey(f"CP{number % 5}", number),
                circuit_id=draw(st.sampled_from([circuit.circuit_id for circuit in circuits])),
                grid_phases=draw(st.sampled_from(WIRINGS)),
                min_current_a=draw(st.sampled_from([0.0, 1.5, 6.0, 6.0, 6.0, 8.0])),
                max_current_a=draw(st.sampled_from([0.0, 5.0, 6.0, 10.0, 13.5, 16.0, 32.0])),
                max_reason="maximum",
                step_a=draw(st.sampled_from([1.0, 0.1])),
                priority=draw(st.integers(0, 2)),
                arrived_at=seconds_ago(arrived),
                paused_since=None if paused is None else seconds_ago(min(paused, arrived)),
                charging_since=None
                if paused is not None or running is None
                else seconds_ago(running),
            )
        )
    return Site(circuits, demands, reductions)


def run(site: Site, strategy: Strategy) -> dict[ConnectorKey, ConnectorAllocation]:
    return allocate(site.circuits, site.demands, strategy, NOW, reductions=site.reductions)


def assert_within_every_circuit_phase(site: Site, limits: dict[ConnectorKey, float]) -> None:
    for node in site.circuits:
        for phase in range(3):
            drawn = sum(
                limits[demand.key]
                for demand in site.demands
                if phase in demand.grid_phases
                and node.circuit_id in site.ancestors(demand.circuit_id)
            )
            assert drawn <= site.budget(node.circuit_id, phase) + SLACK_A, (node, phase, drawn)


def floor_of(demand: ConnectorDemand) -> float:
    return math.ceil(max(0.0, demand.min_current_a) / demand.step_a - 1e-9) * demand.step_a


def top_of(demand: ConnectorDemand) -> float:
    return math.floor(max(0.0, demand.max_current_a) / demand.step_a + 1e-9) * demand.step_a


def assert_each_limit_is_0_or_within_its_bounds(
    demands: Sequence[ConnectorDemand], limits: dict[ConnectorKey, float]
) -> None:
    for demand in demands:
        limit = limits[demand.key]
        steps = limit / demand.step_a
        assert abs(steps - round(steps)) < 1e-6, (demand, limit)
        if limit != 0:
            assert floor_of(demand) - SLACK_A <= limit <= demand.max_current_a + SLACK_A
            assert limit >= demand.min_current_a - SLACK_A


def limits_of(allocations: dict[ConnectorKey, ConnectorAllocation]) -> dict[ConnectorKey, float]:
    return {key: allocation.limit_a for key, allocation in allocations.items()}


def same_wiring(first: ConnectorDemand, second: ConnectorDemand) -> bool:
    return first.circuit_id == second.circuit_id and set(first.grid_phases) == set(
        second.grid_phases
    )


def favoured(demand: ConnectorDemand) -> bool:
    """Served out of the priority order: starved (paused past the wait bound) or held (resumed
    within the hold after a long stay)."""
    if demand.paused_since is not None:
        return (NOW - demand.paused_since).total_seconds() >= DEFAULT_MAX_WAIT_S
    since = demand.charging_since
    return (
        since is not None
        and (NOW - since).total_seconds() < DEFAULT_MIN_RUN_S
        and (since - demand.arrived_at).total_seconds() >= DEFAULT_MAX_WAIT_S
    )


@PROPERTIES
@given(sites(), st.sampled_from(list(Strategy)))
def test_no_circuit_phase_carries_more_than_its_limit_less_its_reduction(
    site: Site, strategy: Strategy
) -> None:
    assert_within_every_circuit_phase(site, limits_of(run(site, strategy)))


@PROPERTIES
@given(sites(), st.sampled_from(list(Strategy)))
def test_every_limit_is_0_or_between_floor_and_maximum_in_steps(
    site: Site, strategy: Strategy
) -> None:
    allocations = run(site, strategy)
    assert set(allocations) == {demand.key for demand in site.demands}
    assert_each_limit_is_0_or_within_its_bounds(site.demands, limits_of(allocations))


@PROPERTIES
@given(sites())
def test_equal_gives_connectors_with_the_same_bounds_and_wiring_the_same_limit(
    site: Site,
) -> None:
    limits = limits_of(run(site, Strategy.EQUAL))
    for first in site.demands:
        for second in site.demands:
            bounds = (first.min_current_a, first.max_current_a, first.step_a)
            if (
                same_wiring(first, second)
                and bounds == (second.min_current_a, second.max_current_a, second.step_a)
                and limits[first.key] > 0
                and limits[second.key] > 0
            ):
                assert abs(limits[first.key] - limits[second.key]) <= first.step_a + SLACK_A


@PROPERTIES
@given(sites())
def test_priority_gives_no_one_less_than_a_lower_priority_on_its_wiring(site: Site) -> None:
    limits = limits_of(run(site, Strategy.PRIORITY))
    for high in site.demands:
        for low in site.demands:
            if (
                high.priority > low.priority
                and same_wiring(high, low)
                and not favoured(high)
                and not favoured(low)
                and limits[high.key] < limits[low.key]
            ):
                never = top_of(high) < floor_of(high) or top_of(high) <= 0
                capped = never or limits[high.key] >= top_of(high) - SLACK_A
                floor_too_high = limits[high.key] == 0 and floor_of(high) > floor_of(low)
                assert capped or floor_too_high, (high, low, limits[high.key], limits[low.key])


@PROPERTIES
@given(sites(), st.sampled_from(list(Strategy)), st.randoms(use_true_random=False))
def test_the_allocation_is_deterministic_whatever_the_order_of_the_demands(
    site: Site, strategy: Strategy, rng: random.Random
) -> None:
    first = run(site, strategy)
    assert run(site, strategy) == first
    shuffled = list(site.demands)
    rng.shuffle(shuffled)
    again = allocate(site.circuits, shuffled, strategy, NOW, reductions=site.reductions)
    assert limits_of(again) == limits_of(first)


@PROPERTIES
@given(sites(), st.sampled_from(list(Strategy)))
def test_every_allocation_says_why_with_numbers(site: Site, strategy: Strategy) -> None:
    for allocation in run(site, strategy).values():
        assert allocation.steps
        assert any(character.isdigit() for character in allocation.explanation)


@PROPERTIES
@given(sites())
def test_safe_limits_fit_even_when_everyone_draws_them(site: Site) -> None:
    limits = limits_of(safe_limits(site.circuits, site.demands, reductions=site.reductions))
    assert_within_every_circuit_phase(site, limits)
    assert_each_limit_is_0_or_within_its_bounds(site.demands, limits)
