"""One recomputation of a site, as a pure function: from its circuits, its connectors and its meter
to every connector's limit with the chain of reasons, and every connector's fail-safe limit.

Order (DESIGN §7, the most restrictive wins): each connector's own bounds (charger model, the
operator's limit, the charger's own ceiling) -> its mode's target (fast, min + solar, solar) ->
the circuits' shares (household load taken from the grid connection first, and what offline
chargers may still draw from their circuits) -> the safe limit when the grid meter is stale.
csms/load_control.py does the I/O around it; bench/smart_charging.py runs it under a noisy meter.

Pure: no I/O, no clock (STYLE rule 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from chargedeck.domain.charging_modes import (
    ChargingMode,
    ConnectorDraw,
    GridReading,
    ModeInput,
    ModeSettings,
    ModeState,
    household_reduction,
    is_fresh,
    mode_targets,
    solar_surplus_w,
)
from chargedeck.domain.load_management import (
    CircuitNode,
    ConnectorAllocation,
    ConnectorDemand,
    ConnectorKey,
    Reduction,
    Strategy,
    allocate,
    safe_limits,
)


@dataclass(frozen=True)
class SiteConnector:
    """One connector of a charger placed on the site, as load control knows it now."""

    demand: ConnectorDemand
    """Its circuit, wiring and bounds (max = model, operator limit and charger ceiling)."""
    active: bool
    """A car is plugged in or charging on it (open transaction, or Preparing)."""
    online: bool
    """Its charger is connected and booted: a new limit can reach it."""
    held_a: float | None
    """For an offline charger: the limit it was last given (it may charge on at that)."""
    mode: ChargingMode
    mode_state: ModeState | None
    draw_a: float
    """What it draws now (Current.Import, highest phase), 0 when unknown."""


@dataclass(frozen=True)
class ConnectorPlan:
    key: ConnectorKey
    limit_a: float
    steps: tuple[str, ...]
    safe_a: float
    mode_state: ModeState | None
    held: bool = False
    """The new limit is lower than the one in force by no more than the dead band, and the limits
    in force still fit every circuit: the lower one need not be sent (a noisy meter must not
    rewrite profiles; limit_updates sends every lower limit otherwise)."""


@dataclass(frozen=True)
class SitePlan:
    connectors: dict[ConnectorKey, ConnectorPlan]
    """The limit of every active connector of an online charger."""
    safe: dict[ConnectorKey, ConnectorAllocation]
    """Every connector's fail-safe limit (domain/load_management ``safe_limits``)."""
    recheck_at: datetime | None
    """When the plan must be made again though nothing happens: the grid reading goes stale,
    or a solar start/stop delay or least on/off time runs out."""


def plan_site(
    circuits: Sequence[CircuitNode],
    connectors: Sequence[SiteConnector],
    strategy: Strategy,
    grid: GridReading | None,
    now: datetime,
    settings: ModeSettings,
    *,
    in_force: Mapping[ConnectorKey, float] | None = None,
    dead_band_a: float = 0.0,
    safe: Mapping[ConnectorKey, ConnectorAllocation] | None = None,
) -> SitePlan:
    """Every connector's limit and fail-safe limit; raises ``ValueError`` for a broken tree.
    ``in_force``: the limits the chargers hold now, so that lower limits within ``dead_band_a``
    are held back when what is in force still fits every circuit (``ConnectorPlan.held``).
    ``safe``: the site's safe limits when the caller kept them (:func:`site_safe_limits` depends
    only on the layout, not on who charges)."""
    root = next((circuit for circuit in circuits if circuit.parent_id is None), None)
    if root is None:
        raise ValueError("the site has no grid connection (a circuit without a parent)")
    if safe is None:
        safe = site_safe_limits(circuits, connectors, settings)
    active = [c for c in connectors if c.active and c.online]
    draws = [
        ConnectorDraw(key=c.demand.key, grid_phases=c.demand.grid_phases, amps=c.draw_a)
        for c in connectors
        if c.active
    ]
    reductions = {root.circuit_id: household_reduction(grid, draws, now, settings)}
    _add_offline(reductions, connectors, safe)

    # Fast connectors need no target: their maximum stands (and no hysteresis state).
    inputs = [
        ModeInput(
            key=c.demand.key,
            mode=c.mode,
            grid_phases=c.demand.grid_phases,
            min_current_a=c.demand.min_current_a,
            max_current_a=c.demand.max_current_a,
            state=c.mode_state,
        )
        for c in active
        if c.mode is not ChargingMode.FAST
    ]
    solar_keys = {i.key for i in inputs}
    surplus = (
        solar_surplus_w(grid, [d for d in draws if d.key in solar_keys], now, settings)
        if solar_keys
        else None
    )
    targets = mode_targets(inputs, surplus, now, settings)
    demands: list[ConnectorDemand] = []
    paused_by_mode: dict[ConnectorKey, str] = {}
    for connector in active:
        demand = connector.demand
        target = targets.get(demand.key)
        if target is not None and target.max_current_a <= 0:
            paused_by_mode[demand.key] = target.reason
            continue
        if target is not None and target.max_current_a < demand.max_current_a:
            demand = replace(demand, max_current_a=target.max_current_a, max_reason=target.reason)
        demands.append(demand)
    allocations = allocate(circuits, demands, strategy, now, reductions=reductions)

    stale = grid is not None and not is_fresh(grid.measured_at, now, settings)
    # Made again when the grid reading goes stale or a mode's delay runs out by itself.
    rechecks = [target.recheck_at for target in targets.values() if target.recheck_at is not None]
    if grid is not None and not stale:
        rechecks.append(grid.measured_at + timedelta(seconds=settings.meter_stale_after_s))
    recheck_at = min(rechecks, default=None)
    plans: dict[ConnectorKey, ConnectorPlan] = {}
    for connector in active:
        key = connector.demand.key
        safe_a = safe[key].limit_a if key in safe else 0.0
        target = targets.get(key)
        steps: tuple[str, ...]
        if key in paused_by_mode:
            limit_a, steps = 0.0, (f"paused: {paused_by_mode[key]}",)
        else:
            allocation = allocations.get(key)
            limit_a = allocation.limit_a if allocation is not None else 0.0
            steps = allocation.steps if allocation is not None else ("no share allocated",)
        if stale and grid is not None and limit_a > safe_a:
            steps = (
                *steps,
                f"grid reading stale (last {grid.measured_at.isoformat()}, older than "
                f"{settings.meter_stale_after_s:g} s) -> safe limit {safe_a:g} A",
            )
            limit_a = safe_a
        plans[key] = ConnectorPlan(
            key=key,
            limit_a=limit_a,
            steps=steps,
            safe_a=safe_a,
            mode_state=target.state if target is not None else connector.mode_state,
        )
    if in_force and dead_band_a > 0:
        plans = _hold_small_cuts(circuits, active, reductions, plans, in_force, dead_band_a)
    return SitePlan(connectors=plans, safe=dict(safe), recheck_at=recheck_at)


def site_safe_limits(
    circuits: Sequence[CircuitNode],
    connectors: Sequence[SiteConnector],
    settings: ModeSettings,
) -> dict[ConnectorKey, ConnectorAllocation]:
    """Every connector's fail-safe limit: the grid connection less the household reserve, shared
    as if every connector charged at once (domain/load_management ``safe_limits``)."""
    root = next((circuit for circuit in circuits if circuit.parent_id is None), None)
    reserve = settings.household_reserve_a
    return safe_limits(
        circuits,
        [connector.demand for connector in connectors],
        reductions=(
            {root.circuit_id: Reduction((reserve, reserve, reserve), "household reserve")}
            if reserve > 0 and root is not None
            else None
        ),
    )


def _hold_small_cuts(
    circuits: Sequence[CircuitNode],
    active: Sequence[SiteConnector],
    reductions: Mapping[int, Reduction],
    plans: dict[ConnectorKey, ConnectorPlan],
    in_force: Mapping[ConnectorKey, float],
    dead_band_a: float,
) -> dict[ConnectorKey, ConnectorPlan]:
    """Mark lower limits within the dead band as held if keeping every such connector at its
    limit in force still fits every circuit and phase (else none is held: the fuse first)."""
    kept: dict[ConnectorKey, float] = {}
    held: set[ConnectorKey] = set()
    for key, plan in plans.items():
        current = in_force.get(key)
        if current is not None and 0 < plan.limit_a < current <= plan.limit_a + dead_band_a:
            kept[key] = current
            held.add(key)
        else:
            kept[key] = plan.limit_a
    if not held or not _fits(circuits, active, reductions, kept):
        return plans
    return {key: replace(plan, held=True) if key in held else plan for key, plan in plans.items()}


def _fits(
    circuits: Sequence[CircuitNode],
    active: Sequence[SiteConnector],
    reductions: Mapping[int, Reduction],
    limits: Mapping[ConnectorKey, float],
) -> bool:
    """Whether ``limits`` keep every circuit and phase within its limit less its reduction."""
    parent = {circuit.circuit_id: circuit.parent_id for circuit in circuits}
    load: dict[int, list[float]] = {circuit.circuit_id: [0.0, 0.0, 0.0] for circuit in circuits}
    for connector in active:
        amps = limits.get(connector.demand.key, 0.0)
        if amps <= 0:
            continue
        circuit_id: int | None = connector.demand.circuit_id
        while circuit_id is not None:
            for phase in connector.demand.grid_phases:
                load[circuit_id][phase] += amps
            circuit_id = parent.get(circuit_id)
    for circuit in circuits:
        taken = reductions.get(circuit.circuit_id)
        for phase in range(3):
            budget = circuit.limit_a[phase] - (taken.amps[phase] if taken is not None else 0.0)
            if load[circuit.circuit_id][phase] > max(budget, 0.0) + 1e-9:
                return False
    return True


def _add_offline(
    reductions: dict[int, Reduction],
    connectors: Sequence[SiteConnector],
    safe: Mapping[ConnectorKey, ConnectorAllocation],
) -> None:
    """A charger ChargeDeck cannot reach keeps charging at what it was given last (or its safe
    limit): that current is taken from its circuit before the others share it."""
    for connector in connectors:
        if not connector.active or connector.online:
            continue
        demand = connector.demand
        held = connector.held_a
        if held is None:
            held = safe[demand.key].limit_a if demand.key in safe else 0.0
        if held <= 0:
            continue
        amps = [0.0, 0.0, 0.0]
        for phase in demand.grid_phases:
            amps[phase] += held
        words = f"{demand.key.charge_point_id} offline keeps {held:g} A"
        existing = reductions.get(demand.circuit_id)
        if existing is None:
            reductions[demand.circuit_id] = Reduction((amps[0], amps[1], amps[2]), words)
        else:
            reductions[demand.circuit_id] = Reduction(
                (
                    existing.amps[0] + amps[0],
                    existing.amps[1] + amps[1],
                    existing.amps[2] + amps[2],
                ),
                f"{existing.label}, {words}",
            )
