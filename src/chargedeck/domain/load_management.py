"""Site load management: share a tree of circuits' per-phase current among the connectors on it.

A site is a tree of circuits (DESIGN §7): the grid connection at the root, sub-boards below,
each with a current limit per grid phase. A connector hangs on one circuit and draws the same
current on each grid phase its charger is wired to (a three-phase charger's L1/L2/L3 may be
rotated onto the grid's phases; a single-phase charger uses one). Every allocation keeps the
chain of numbers that produced it, so an operator can read why a car charges at that rate.

How it shares (progressive filling, the textbook max-min fair allocation): every connector
admitted starts at its floor and a common water level rises; a connector stops rising when it
reaches its maximum or when one circuit phase it draws on is full, and the others go on. The
level's stops are events taken in time order (activations sorted by floor, caps sorted by
maximum, circuit phases in a heap of the level at which each fills up), so one allocation is
O(connectors x constraints per connector x log): under 5 ms for 1,000 connectors (bench/).
PRIORITY and FIRST_COME fill one class after the other (highest priority, earliest arrival);
EQUAL is one class. Who is paused is decided before the filling, by admitting connectors in a
fair order while their floor still fits on every circuit phase: the pause order.

Pure: no I/O, no clock; ``now`` comes in (STYLE rule 1).
"""

from __future__ import annotations

import bisect
import enum
import heapq
import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

PhaseCurrents = tuple[float, float, float]
"""Amps on grid phases L1, L2, L3."""


class Strategy(enum.StrEnum):
    """How a circuit's budget is shared among the connectors that want current."""

    EQUAL = "equal"
    """Everyone the same (max-min fair: a connector capped lower leaves the rest to the others)."""
    PRIORITY = "priority"
    """Higher ``priority`` first, each up to its maximum; equal priorities share equally."""
    FIRST_COME = "first_come"
    """Earlier ``arrived_at`` first, each up to its maximum."""


@dataclass(frozen=True)
class CircuitNode:
    """One circuit of a site: the grid connection (``parent_id`` None) or a sub-board."""

    circuit_id: int
    name: str
    parent_id: int | None
    limit_a: PhaseCurrents
    """Current limit per grid phase in A (0 on a phase the circuit does not carry)."""


@dataclass(frozen=True, order=True)
class ConnectorKey:
    """One connector of one charger."""

    charge_point_id: str
    connector_id: int


@dataclass(frozen=True)
class ConnectorDemand:
    """A connector that wants current now, with everything that bounds it besides the circuits."""

    key: ConnectorKey
    circuit_id: int
    grid_phases: tuple[int, ...]
    """Grid phase indexes (0 = L1, 1 = L2, 2 = L3) the connector draws on, one per charger phase
    in use: (0, 1, 2) plain three-phase, (1, 2, 0) rotated, (2,) single-phase on L3."""
    min_current_a: float
    """Below this the connector is paused rather than given too little (charger-model floor,
    6 A for most: IEC 61851-1)."""
    max_current_a: float
    """The most it may take now: the lowest of model maximum, operator limit, mode target."""
    max_reason: str
    """What set ``max_current_a``, for the explanation (e.g. "operator limit 16 A")."""
    step_a: float
    """Granularity the charger honours: 1.0 (whole amps, Wallbox) or 0.1 (OCPP's limit step)."""
    priority: int
    arrived_at: datetime
    """When the car arrived (transaction start): first-come order, and the tie-breaker."""
    paused_since: datetime | None
    """When load control last paused it for lack of current; None when it is not paused. The
    longest-paused connector is resumed first, so no one is starved forever."""
    charging_since: datetime | None = None
    """When load control last resumed it (or it started); the longest-running one is paused
    first when there is not enough for everyone's minimum."""


@dataclass(frozen=True)
class ConnectorAllocation:
    """The limit load control gives one connector, and why."""

    key: ConnectorKey
    limit_a: float
    """Amps per phase; 0 = paused."""
    steps: tuple[str, ...]
    """The chain that produced it, in order, e.g. ("grid 25 A/phase - household 9 A = 16 A",
    "16 A for 2 cars -> 8 A each", "model floor 6 A ok", "whole amps -> 8 A")."""

    @property
    def paused(self) -> bool:
        return self.limit_a == 0

    @property
    def explanation(self) -> str:
        return "; ".join(self.steps)


@dataclass(frozen=True)
class Reduction:
    """Current taken from a circuit's budget before sharing (e.g. household load on the grid
    connection), per grid phase, with the words for the explanation ("household")."""

    amps: PhaseCurrents
    label: str


DEFAULT_MAX_WAIT_S = 1800.0
"""Anti-starvation bound (s): a connector paused this long is served before everyone else, as if
it had the top priority (under EQUAL: before the running ones), so no one waits forever. Half an
hour: on a site too small for everyone, cars take turns of that order instead of contactors and
cars switching every few minutes (a choice, not a figure from a standard)."""

DEFAULT_MIN_RUN_S = 300.0
"""Hold (s): a connector resumed less than this long ago, after being on site for at least the
wait bound, keeps its floor against anyone but a starved one, so a resume won by waiting is not
undone at the next recomputation (a newly started car is not held: it would jump the priority
order). The charging modes' least on time (``ModeSettings.min_charging_time_s``) is as long."""

_EPSILON_A = 1e-9
"""Slack in comparisons of amps: sums of floats must not pause a connector whose floor fits."""

# A connector's state during one allocation.
_OUT = 0  # not admitted: paused, or not considered yet
_WAITING = 1  # admitted, held at its floor until the rising level reaches it
_RISING = 2  # at the level
_FROZEN = 3  # final

_Snapshot = tuple[int, float, float, int]
"""A circuit phase that filled up: (constraint, level, amps others had taken on it, connectors
it stopped at the level)."""

_PAUSE_ORDER = {
    Strategy.EQUAL: "the longest-charging car is paused first",
    Strategy.PRIORITY: "lower priority is paused first",
    Strategy.FIRST_COME: "the latest arrival is paused first",
}


def allocate(
    circuits: Sequence[CircuitNode],
    demands: Sequence[ConnectorDemand],
    strategy: Strategy,
    now: datetime,
    *,
    reductions: Mapping[int, Reduction] | None = None,
    max_wait_s: float = DEFAULT_MAX_WAIT_S,
    min_run_s: float = DEFAULT_MIN_RUN_S,
) -> dict[ConnectorKey, ConnectorAllocation]:
    """Each demanding connector's limit: on every circuit and phase the sum stays within the
    circuit's limit (less its reduction), nobody gets a non-zero limit below its floor, and the
    strategy decides who gets what. Raises ``ValueError`` for a tree that is not one (cycle,
    unknown parent or circuit), a demand on an unknown circuit, grid phases that are no wiring,
    a step that is not positive, a minimum or maximum that is no number of amps, or a connector
    demanded twice.

    Floors that differ are kept: everyone admitted gets at least its floor and the current above
    the floors is shared max-min fair (a car with an 8 A floor and one with 6 A on 14 A both
    charge, at 8 and 6 A, rather than one being paused for a 7 A share).

    Who is paused when not every floor fits (the pause order; ties by ``ConnectorKey``): under
    EQUAL the one charging longest (``charging_since``, else ``arrived_at``) first, and the
    longest-paused resumes first; under PRIORITY lower priority, then the later arrival, first;
    under FIRST_COME the later arrival first. Before all of them come connectors paused for
    ``max_wait_s`` or more (longest-paused first; under PRIORITY and FIRST_COME they are also
    filled first, as if of top priority), then connectors resumed less than ``min_run_s`` ago
    after at least ``max_wait_s`` on site (their floor is kept). A negative reduction counts as
    0: an export never raises a circuit above its fuse."""
    site = _Site(circuits, reductions)
    sharing = _Sharing(site, demands)
    order, classes, starved, held = _pause_order(demands, strategy, now, max_wait_s, min_run_s)
    # Starved connectors first, then the floors of held ones, then class after class: a class
    # admits its members in the pause order while their floors fit, then fills them.
    sharing.admit_all(order[:starved])
    sharing.admit_all(held)
    for members in classes:
        if len(members) == 1:
            sharing.admit_and_fill_one(members[0])
            continue
        sharing.admit_all(members)
        sharing.fill(sharing.admitted(members))
    return sharing.allocations(demands, _PAUSE_ORDER[strategy], safe=False)


def safe_limits(
    circuits: Sequence[CircuitNode],
    connectors: Sequence[ConnectorDemand],
    *,
    reductions: Mapping[int, Reduction] | None = None,
) -> dict[ConnectorKey, ConnectorAllocation]:
    """The fail-safe limit of every connector of a site: what it may draw if ChargeDeck is lost,
    whatever the others do. Every connector is assumed charging at once and shares equally,
    without pausing anyone (who would be paused cannot be known in advance): the equal share
    rounded down to the step, or 0 when that is below the connector's floor. A connector whose
    maximum is below its floor never charges and takes no share. Raises ``ValueError`` like
    :func:`allocate`."""
    site = _Site(circuits, reductions)
    sharing = _Sharing(site, connectors, from_zero=True)
    everyone = list(range(len(connectors)))
    sharing.admit_all(everyone)
    sharing.fill(sharing.admitted(everyone))
    return sharing.allocations(connectors, "", safe=True)


def _pause_order(
    demands: Sequence[ConnectorDemand],
    strategy: Strategy,
    now: datetime,
    max_wait_s: float,
    min_run_s: float,
) -> tuple[list[int], list[list[int]], int, list[int]]:
    """Connector indexes in the pause order (the first is paused last), the classes filled one
    after the other (each in that order), how many starved ones lead the order, and the held
    ones (in that order)."""
    count = len(demands)
    equal = strategy is Strategy.EQUAL
    if equal:  # seconds charging (since the last resume, else since arrival): shortest first
        rank = [
            (now - (demand.charging_since or demand.arrived_at)).total_seconds()
            for demand in demands
        ]
    else:  # seconds since arrival, negated: earliest first
        rank = [(demand.arrived_at - now).total_seconds() for demand in demands]
    tier = [1] * count  # 0: starved; EQUAL: 1 running, 2 paused; PRIORITY: 1 + priority rank
    paused = [
        (index, (now - demand.paused_since).total_seconds())
        for index, demand in enumerate(demands)
        if demand.paused_since is not None
    ]
    for index, waited in paused:
        if waited >= max_wait_s:
            tier[index], rank[index] = 0, -waited
        elif equal:
            tier[index], rank[index] = 2, -waited
    # Held: resumed lately (within min_run_s), after a stay long enough to have won the resume.
    recent = now - timedelta(seconds=min_run_s)
    held_flags = [
        demand.paused_since is None
        and demand.charging_since is not None
        and demand.charging_since > recent
        and (demand.charging_since - demand.arrived_at).total_seconds() >= max_wait_s
        for demand in demands
    ]
    if strategy is Strategy.PRIORITY:
        levels = sorted({demand.priority for demand in demands}, reverse=True)
        level_tier = {priority: number + 1 for number, priority in enumerate(levels)}
        tier = [
            0 if tier[index] == 0 else level_tier[demand.priority]
            for index, demand in enumerate(demands)
        ]
    order = sorted(range(count), key=rank.__getitem__)
    order.sort(key=tier.__getitem__)
    if len(set(rank)) < count:  # equal ranks: break ties by ConnectorKey
        tied = {seconds for seconds, times in Counter(rank).items() if times > 1}
        places = [place for place, index in enumerate(order) if rank[index] in tied]
        start = 0
        while start < len(places):
            end = start + 1
            first = order[places[start]]
            while (
                end < len(places)
                and places[end] == places[start] + (end - start)
                and tier[order[places[end]]] == tier[first]
                and rank[order[places[end]]] == rank[first]
            ):
                end += 1
            if end - start > 1:
                run = slice(places[start], places[start] + (end - start))
                order[run] = sorted(order[run], key=lambda index: demands[index].key)
            start = end
    starved = 0
    while starved < count and tier[order[starved]] == 0:
        starved += 1
    held = [index for index in order if held_flags[index]]
    if equal:
        return order, [order], starved, held
    # PRIORITY: a class per priority; FIRST_COME: per arrival time (all tier 1 past the starved).
    by_class = tier if strategy is Strategy.PRIORITY else rank
    cuts = [
        place
        for place in range(starved + 1, count)
        if by_class[order[place]] != by_class[order[place - 1]]
    ]
    bounds = [0, starved, *cuts, count] if starved else [0, *cuts, count]
    classes = [order[start:end] for start, end in itertools.pairwise(bounds) if end > start]
    return order, classes, starved, held


# ---- the site --------------------------------------------------------------------------------

_PHASE_SETS: dict[tuple[int, ...], tuple[int, ...]] = {
    wiring: tuple(sorted(wiring))
    for count in (1, 2, 3)
    for wiring in itertools.permutations((0, 1, 2), count)
}
"""Every valid ``grid_phases`` (one to three different phases, in any rotation) -> its phases."""


class _Site:
    """A checked circuit tree, flattened: constraint ``3 * position + phase`` is one grid phase
    of one circuit, with its budget (limit less reduction, never below 0)."""

    def __init__(
        self, circuits: Sequence[CircuitNode], reductions: Mapping[int, Reduction] | None
    ) -> None:
        by_id: dict[int, CircuitNode] = {}
        for node in circuits:
            if node.circuit_id in by_id:
                raise ValueError(f"circuit {node.circuit_id} appears twice in the site")
            by_id[node.circuit_id] = node
        roots = [node for node in circuits if node.parent_id is None]
        if len(roots) > 1:
            names = ", ".join(_circuit_name(node) for node in roots)
            raise ValueError(
                f"the site has {len(roots)} grid connections ({names} have no parent): "
                "a site is one tree with one root"
            )
        children: dict[int, list[CircuitNode]] = {}
        for node in circuits:
            if node.parent_id is None:
                continue
            if node.parent_id not in by_id:
                raise ValueError(
                    f"{_circuit_name(node)} hangs on circuit {node.parent_id}, "
                    "which is not in the site"
                )
            children.setdefault(node.parent_id, []).append(node)
        self.nodes: list[CircuitNode] = list(roots)
        self.position: dict[int, int] = {node.circuit_id: 0 for node in roots}
        self.ancestors: list[tuple[int, ...]] = [(0,)] if roots else []
        for node in self.nodes:  # grows while walking: breadth first from the root
            above = self.ancestors[self.position[node.circuit_id]]
            for child in children.get(node.circuit_id, ()):
                position = len(self.nodes)
                self.position[child.circuit_id] = position
                self.nodes.append(child)
                self.ancestors.append((position, *above))
        if len(self.nodes) < len(by_id):
            raise ValueError(_cycle_words(by_id, self.position))
        self.reduction: list[float] = [0.0] * (3 * len(self.nodes))
        self.reduction_label: list[str] = [""] * len(self.nodes)
        for circuit_id, reduction in (reductions or {}).items():
            if circuit_id not in self.position:
                raise ValueError(
                    f"reduction '{reduction.label}' is for circuit {circuit_id}, "
                    "which is not in the site"
                )
            position = self.position[circuit_id]
            self.reduction_label[position] = reduction.label
            for phase in range(3):
                self.reduction[3 * position + phase] = max(0.0, reduction.amps[phase])
        self.budget: list[float] = [
            max(0.0, self.nodes[c // 3].limit_a[c % 3] - self.reduction[c])
            for c in range(3 * len(self.nodes))
        ]

    def place(
        self, circuit_id: int, grid_phases: tuple[int, ...]
    ) -> tuple[int, tuple[int, ...]] | None:
        """(circuit position, sorted grid phases) of a connector; None for an unknown circuit or
        phases that are not a wiring (:meth:`misplaced` says which)."""
        position = self.position.get(circuit_id)
        phases = _PHASE_SETS.get(grid_phases)
        if position is None or phases is None:
            return None
        return position, phases

    def misplaced(self, demand: ConnectorDemand) -> str:
        """Why :meth:`place` found no place for a demand: the sentence of its ``ValueError``."""
        if demand.circuit_id not in self.position:
            return (
                f"connector {_key_words(demand.key)} is on circuit {demand.circuit_id}, "
                "which is not in the site"
            )
        return (
            f"connector {_key_words(demand.key)} has grid phases {demand.grid_phases}: expected "
            "one to three different phase indexes 0 (L1), 1 (L2), 2 (L3)"
        )

    def constraints(self, position: int, phases: tuple[int, ...]) -> tuple[int, ...]:
        """The circuit phases a connector draws on: its phases on its circuit and on every
        circuit above."""
        return tuple([3 * above + phase for phase in phases for above in self.ancestors[position]])

    def budget_words(self, constraint: int) -> str:
        """E.g. "grid 'main' 25 A/phase on L1 - household 9 A = 16 A"."""
        position, phase = divmod(constraint, 3)
        node = self.nodes[position]
        limit = max(0.0, node.limit_a[phase])
        per_phase = "/phase" if node.limit_a[0] == node.limit_a[1] == node.limit_a[2] else ""
        words = f"{_circuit_name(node)} {_fmt(limit)} A{per_phase} on L{phase + 1}"
        reduction = self.reduction[constraint]
        if reduction > 0:
            label = self.reduction_label[position]
            words += f" - {label} {_fmt(reduction)} A = {_fmt(self.budget[constraint])} A"
        return words


def _circuit_name(node: CircuitNode) -> str:
    kind = "grid" if node.parent_id is None else "sub-board"
    return f"{kind} '{node.name}'"


def _cycle_words(by_id: Mapping[int, CircuitNode], reached: Mapping[int, int]) -> str:
    start = next(circuit_id for circuit_id in by_id if circuit_id not in reached)
    path = [start]
    parent = by_id[start].parent_id
    while parent is not None and parent not in path:
        path.append(parent)
        parent = by_id[parent].parent_id
    loop = path[path.index(parent) :] if parent is not None else path
    chain = " -> ".join(f"'{by_id[circuit_id].name}' ({circuit_id})" for circuit_id in loop)
    return f"circuits {chain} -> back form a cycle: a site is a tree"


def _key_words(key: ConnectorKey) -> str:
    return f"{key.charge_point_id}/{key.connector_id}"


# ---- the sharing -----------------------------------------------------------------------------


class _Sharing:
    """Progressive filling of one site: connectors by index, circuit phases by constraint.

    ``base[c]`` is what is fixed on constraint c (final currents, floors of waiting connectors);
    ``rising[c]`` how many connectors on it are at the level: c is full when
    ``base + rising x level`` reaches its budget. Connectors with the same circuit phases form a
    wiring; updates of the constraints are made per wiring where several move at once."""

    def __init__(
        self, site: _Site, demands: Sequence[ConnectorDemand], *, from_zero: bool = False
    ) -> None:
        self.site = site
        self.cap = site.budget
        constraint_count = len(site.budget)
        self.base = [0.0] * constraint_count
        self.rising = [0] * constraint_count
        # Wirings and bounds are worked out once per distinct value, then looked up.
        wiring_keys = [(demand.circuit_id, demand.grid_phases) for demand in demands]
        wiring_by_key: dict[tuple[int, tuple[int, ...]], int] = {}
        wiring_by_place: dict[tuple[int, tuple[int, ...]], int] = {}
        self.wiring_cons: list[tuple[int, ...]] = []
        for key in dict.fromkeys(wiring_keys):
            place = site.place(*key)
            if place is None:
                raise ValueError(site.misplaced(demands[wiring_keys.index(key)]))
            wiring = wiring_by_place.get(place)
            if wiring is None:  # rotations of one charger on one circuit share a wiring
                wiring = wiring_by_place[place] = len(self.wiring_cons)
                self.wiring_cons.append(site.constraints(*place))
            wiring_by_key[key] = wiring
        self.wiring_of: list[int] = [wiring_by_key[key] for key in wiring_keys]
        self.wiring_members: list[list[int]] = [[] for _ in self.wiring_cons]
        for index, wiring in enumerate(self.wiring_of):
            self.wiring_members[wiring].append(index)
        bound_keys = [
            (demand.min_current_a, demand.max_current_a, demand.step_a) for demand in demands
        ]
        bound_by_key: dict[tuple[float, float, float], int] = {}
        bound_floor: list[float] = []
        bound_top: list[float] = []
        for low, high, step in dict.fromkeys(bound_keys):
            if not (step > 0 and math.isfinite(step)):
                demand = demands[bound_keys.index((low, high, step))]
                raise ValueError(
                    f"connector {_key_words(demand.key)} has step {step} A: expected a positive "
                    "step (1.0 whole amps, 0.1 for OCPP's limit step)"
                )
            if not (math.isfinite(low) and math.isfinite(high)):
                demand = demands[bound_keys.index((low, high, step))]
                raise ValueError(
                    f"connector {_key_words(demand.key)} has minimum {low} A and maximum "
                    f"{high} A: expected numbers of amps"
                )
            bound_by_key[low, high, step] = len(bound_floor)
            bound_floor.append(_round_up(max(0.0, low), step))
            bound_top.append(_round_down(max(0.0, high), step))
        self.bound_of = bound_of = [bound_by_key[key] for key in bound_keys]
        self.step_floor = [bound_floor[bound] for bound in bound_of]
        """The floor rounded up to the step: no non-zero limit below it."""
        self.floor = [0.0] * len(demands) if from_zero else self.step_floor
        """Where the filling starts a connector (0 for the fail-safe one, which pauses no one)."""
        self.top = [bound_top[bound] for bound in bound_of]
        """The maximum rounded down to the step."""
        can_charge = [
            top > 0 and floor <= top  # both on the step's multiples: compared exactly
            for floor, top in zip(bound_floor, bound_top, strict=True)
        ]
        self.can_charge = [can_charge[bound] for bound in bound_of]
        self.on_constraint: list[list[int]] = [[] for _ in range(constraint_count)]
        """The wirings drawing on each constraint."""
        for wiring, cons in enumerate(self.wiring_cons):
            for constraint in cons:
                self.on_constraint[constraint].append(wiring)
        self.live = [0] * len(self.wiring_cons)
        """Connectors of each wiring admitted and not final (waiting or rising)."""
        self.state = [_OUT] * len(demands)
        self.value = [0.0] * len(demands)
        self.stopped_by: list[_Snapshot | None] = [None] * len(demands)
        self.refused: dict[int, tuple[int, float]] = {}
        """Connectors whose floor did not fit (paused) -> a circuit phase too full for it and the
        room left there at the time."""

    # -- admission: who gets at least its floor ------------------------------------------------

    def admit_all(self, order: Sequence[int]) -> None:
        """Admit connectors in the pause order (the first is the last to be paused) while their
        floor fits on every circuit phase they draw on; one check for all when everyone fits.
        The others are paused (limit 0): below the floor a charger is paused, never given less
        (field notes Q8: "never send 5.x A"; IEC 61851-1's 6 A minimum)."""
        state, can_charge, floor, wiring_of = (
            self.state,
            self.can_charge,
            self.floor,
            self.wiring_of,
        )
        candidates = [index for index in order if state[index] == _OUT and can_charge[index]]
        if not candidates:
            return
        cap, base, wiring_cons = self.cap, self.base, self.wiring_cons
        if len(candidates) > 1:
            per_wiring = self._per_wiring(candidates, floor)
            needed: dict[int, float] = {}
            for wiring, (_, amps) in per_wiring.items():
                for c in wiring_cons[wiring]:
                    needed[c] = needed.get(c, 0.0) + amps
            if all(
                cap[c] - base[c] >= amps - _EPSILON_A and cap[c] - base[c] > _EPSILON_A
                for c, amps in needed.items()
            ):
                for c, amps in needed.items():
                    base[c] += amps
                for index in candidates:
                    state[index] = _WAITING
                for wiring, (admitted, _) in per_wiring.items():
                    self.live[wiring] += admitted
                return
        # Rooms only shrink: a floor refused on a wiring refuses every floor as high after it.
        blocked: dict[int, tuple[float, int]] = {}
        for index in candidates:
            low = floor[index]
            wiring = wiring_of[index]
            known = blocked.get(wiring)
            if known is not None and low >= known[0]:
                self.refused[index] = (known[1], cap[known[1]] - base[known[1]])
                continue
            need = low - _EPSILON_A if low > _EPSILON_A else _EPSILON_A
            cons = wiring_cons[wiring]
            for c in cons:
                if cap[c] - base[c] < need:
                    self.refused[index] = (c, cap[c] - base[c])
                    if known is None or low < known[0]:
                        blocked[wiring] = (low, c)
                    break
            else:
                for c in cons:
                    base[c] += low
                state[index] = _WAITING
                self.live[wiring] += 1

    def admit_and_fill_one(self, index: int) -> None:
        """A class of one (FIRST_COME's usual case): :meth:`admit_all` and :meth:`fill` in one
        pass over its circuit phases."""
        state = self.state[index]
        if state == _WAITING:  # held: its floor is already kept
            self._fill_one(index)
            return
        if state != _OUT or not self.can_charge[index]:
            return
        cap, base = self.cap, self.base
        cons = self.wiring_cons[self.wiring_of[index]]
        low = self.floor[index]
        need = low - _EPSILON_A if low > _EPSILON_A else _EPSILON_A
        level, full = self.top[index], -1
        for c in cons:
            room = cap[c] - base[c]
            if room < need:
                self.refused[index] = (c, room)
                return
            if room < level:
                level, full = room, c
        level = max(level, low)
        if full >= 0:
            self.stopped_by[index] = (full, level, base[full], 1)
        for c in cons:
            base[c] += level
        self.state[index] = _FROZEN
        self.value[index] = level

    def admitted(self, order: Sequence[int]) -> list[int]:
        state = self.state
        return [index for index in order if state[index] == _WAITING]

    # -- filling -------------------------------------------------------------------------------

    def fill(self, members: list[int]) -> None:
        """Raise the level for ``members`` (admitted, waiting at their floor) until each is
        stopped by its maximum or by a full circuit phase. Events in level order: floors reached
        (sorted list), maxima reached (sorted list), circuit phases full (a heap of the level at
        which each fills; an entry made stale by a connector stopping below it is pushed again
        when it comes up, since stopping early only makes a constraint fill later)."""
        if len(members) <= 1:
            if members:
                self._fill_one(members[0])
            return
        cap, base, rising, state, value = self.cap, self.base, self.rising, self.state, self.value
        floor, top, stopped_by = self.floor, self.top, self.stopped_by
        wiring_cons, on_constraint, wiring_members = (
            self.wiring_cons,
            self.on_constraint,
            self.wiring_members,
        )
        live = self.live
        heappush, heappop, heapreplace = heapq.heappush, heapq.heappop, heapq.heapreplace
        by_floor = sorted(members, key=floor.__getitem__)
        by_top = sorted(members, key=top.__getitem__)
        floors = [floor[index] for index in by_floor]
        tops = [top[index] for index in by_top]
        count = len(members)
        next_up = next_cap = 0
        heap: list[tuple[float, int]] = []
        level = 0.0
        while True:
            while next_up < count and state[by_floor[next_up]] != _WAITING:
                next_up += 1
            at_floor = floors[next_up] if next_up < count else math.inf
            while next_cap < count and state[by_top[next_cap]] == _FROZEN:
                next_cap += 1
            at_top = tops[next_cap] if next_cap < count else math.inf
            at_full = math.inf
            while heap:
                at, constraint = heap[0]
                sharing = rising[constraint]
                if sharing == 0:
                    heappop(heap)
                    continue
                fresh = (cap[constraint] - base[constraint]) / sharing
                if fresh > at + _EPSILON_A:
                    heapreplace(heap, (fresh, constraint))
                    continue
                at_full = fresh if fresh > level else level
                break
            if at_floor <= at_top and at_floor <= at_full:
                if at_floor == math.inf:
                    return
                level = at_floor
                end = bisect.bisect_right(floors, level + _EPSILON_A, next_up)
                batch = [index for index in by_floor[next_up:end] if state[index] == _WAITING]
                next_up = end
                for index in batch:
                    state[index] = _RISING
                touched: set[int] = set()
                for wiring, (started, total) in self._per_wiring(
                    batch, floor, ascending=True
                ).items():
                    cons = wiring_cons[wiring]
                    for c in cons:
                        rising[c] += started
                        base[c] -= total
                    touched.update(cons)
                for c in touched:
                    heappush(heap, ((cap[c] - base[c]) / rising[c], c))
            elif at_top <= at_full:
                level = at_top
                end = bisect.bisect_right(tops, level + _EPSILON_A, next_cap)
                batch = [index for index in by_top[next_cap:end] if state[index] == _RISING]
                next_cap = end
                for index in batch:
                    state[index] = _FROZEN
                    value[index] = top[index]
                for wiring, (stopped, total) in self._per_wiring(
                    batch, top, ascending=True
                ).items():
                    live[wiring] -= stopped
                    for c in wiring_cons[wiring]:
                        rising[c] -= stopped
                        base[c] += total
            else:
                full = heappop(heap)[1]
                level = at_full
                snapshot = (full, level, base[full], rising[full])
                for wiring in on_constraint[full]:
                    if not live[wiring]:
                        continue
                    live[wiring] = 0
                    stopped = 0
                    for index in wiring_members[wiring]:
                        now_state = state[index]
                        if now_state == _RISING:
                            state[index] = _FROZEN
                            value[index] = level
                            stopped_by[index] = snapshot
                            stopped += 1
                        elif now_state == _WAITING:
                            state[index] = _FROZEN
                            value[index] = floor[index]
                            stopped_by[index] = snapshot
                    if stopped:
                        total = stopped * level
                        for c in wiring_cons[wiring]:
                            rising[c] -= stopped
                            base[c] += total

    def _per_wiring(
        self, batch: list[int], amps: list[float], *, ascending: bool = False
    ) -> dict[int, tuple[int, float]]:
        """Wiring -> (how many of ``batch`` are on it, the sum of their ``amps``). A batch in
        ascending ``amps`` whose ends are equal is all equal: no sum to make (the usual case)."""
        counts = Counter(map(self.wiring_of.__getitem__, batch))
        if ascending and batch and amps[batch[0]] == amps[batch[-1]]:
            each = amps[batch[0]]
            return {wiring: (number, number * each) for wiring, number in counts.items()}
        totals: dict[int, float] = {}
        for index in batch:
            wiring = self.wiring_of[index]
            totals[wiring] = totals.get(wiring, 0.0) + amps[index]
        return {wiring: (number, totals[wiring]) for wiring, number in counts.items()}

    def _fill_one(self, index: int) -> None:
        """One connector alone in its class: up to its maximum or the first full circuit phase."""
        cap, base = self.cap, self.base
        cons = self.wiring_cons[self.wiring_of[index]]
        low = self.floor[index]
        level, full = self.top[index], -1
        for c in cons:
            room = cap[c] - base[c] + low
            if room < level:
                level, full = room, c
        level = max(level, low)
        if full >= 0:
            self.stopped_by[index] = (full, level, base[full] - low, 1)
        for c in cons:
            base[c] += level - low
        self.state[index] = _FROZEN
        self.value[index] = level
        self.live[self.wiring_of[index]] -= 1

    # -- the result ----------------------------------------------------------------------------

    def allocations(
        self, demands: Sequence[ConnectorDemand], pause_order: str, *, safe: bool
    ) -> dict[ConnectorKey, ConnectorAllocation]:
        """One allocation per demand; the words are built once per distinct outcome: connectors
        with the same state, stopping circuit phase, bounds, level and reason share them."""
        words = _Words(self, safe, pause_order)
        outcomes: list[tuple[object, ...]] = list(
            zip(
                self.state,
                map(id, self.stopped_by),
                self.bound_of,
                self.value,
                [demand.max_reason for demand in demands],
                strict=True,
            )
        )
        for index, (full, room) in self.refused.items():
            outcomes[index] = ("refused", full, room, self.bound_of[index])
        first: dict[tuple[object, ...], int] = dict(
            zip(reversed(outcomes), range(len(outcomes) - 1, -1, -1), strict=True)
        )
        said = {outcome: words.outcome(index, demands[index]) for outcome, index in first.items()}
        result = {
            demand.key: ConnectorAllocation(demand.key, *said[outcome])
            for demand, outcome in zip(demands, outcomes, strict=True)
        }
        if len(result) < len(demands):
            seen: set[ConnectorKey] = set()
            for demand in demands:
                if demand.key in seen:
                    raise ValueError(f"connector {_key_words(demand.key)} is demanded twice")
                seen.add(demand.key)
        return result


def _round_down(amps: float, step: float) -> float:
    """Down to a multiple of ``step``: whole amps for Wallbox (a Pulsar Pro given 8.8 A charged
    at 16 A, field notes Q8), 0.1 A for OCPP's limit (1.6 JSON schema: multipleOf 0.1). Down
    never breaks a circuit. A float a hair under a multiple (8.3 / 0.1) counts as on it."""
    return round(math.floor(amps / step + _EPSILON_A) * step, 9)


def _round_up(amps: float, step: float) -> float:
    """Up to a multiple of ``step``: a floor of 5.5 A is 6 A for a whole-amp charger."""
    return round(math.ceil(amps / step - _EPSILON_A) * step, 9)


def _fmt(amps: float) -> str:
    """Amps for people: 8, 10.67."""
    if float(amps).is_integer():
        return str(int(amps))
    return f"{amps:.2f}".rstrip("0").rstrip(".")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class _Words:
    """The steps of one outcome, with the numbers: the binding circuit phase and its budget, what
    others took there, the share, the floor and the rounding."""

    def __init__(self, sharing: _Sharing, safe: bool, pause_order: str) -> None:
        self.sharing = sharing
        self.safe = safe
        self.pause_order = pause_order
        self.noun = "connector" if safe else "car"
        self.with_current: dict[int, int] = {}
        self.shares: dict[int, tuple[str, ...]] = {}

    def outcome(self, index: int, demand: ConnectorDemand) -> tuple[float, tuple[str, ...]]:
        """(limit, steps) of one connector."""
        sharing = self.sharing
        low, top, step = sharing.step_floor[index], sharing.top[index], demand.step_a
        reason = demand.max_reason or f"{_fmt(demand.max_current_a)} A"
        if sharing.state[index] != _FROZEN:
            refused = sharing.refused.get(index)
            if refused is not None:
                full, room = refused
                left = f"{_fmt(max(0.0, room))} A left on L{full % 3 + 1}"
                return 0.0, (
                    sharing.site.budget_words(full),
                    f"fail-safe: {left}"
                    if self.safe
                    else f"paused: {left} after the cars "
                    f"served before it, below the model floor {_fmt(low)} A ({self.pause_order})",
                )
            if top <= 0:
                return 0.0, (f"paused: its maximum is 0 A ({reason})",)
            return 0.0, (
                f"paused: its maximum {_fmt(top)} A ({reason}) is below the model floor "
                f"{_fmt(low)} A",
            )
        value = sharing.value[index]
        snapshot = sharing.stopped_by[index]
        if snapshot is None:
            lines = [f"capped by its maximum: {reason}"]
            if self.safe:
                lines[0] = f"fail-safe: {lines[0]}"
        else:
            shared = self.shares.get(id(snapshot))
            if shared is None:
                shared = self.shares[id(snapshot)] = tuple(self._share(snapshot))
            lines = list(shared)
            if value > snapshot[1] + _EPSILON_A:
                lines.append(f"kept at its floor {_fmt(value)} A")
        limit = _round_down(value, step)
        if limit <= 0 or limit < low - _EPSILON_A:  # only the fail-safe filling gets here
            lines.append(f"paused: {_fmt(value)} A share below the model floor {_fmt(low)} A")
            return 0.0, tuple(lines)
        if low > 0:
            lines.append(f"model floor {_fmt(low)} A ok")
        rounding = "whole amps" if step == 1 else f"{_fmt(step)} A steps"
        lines.append(f"{rounding} -> {_fmt(limit)} A")
        return limit, tuple(lines)

    def _share(self, snapshot: _Snapshot) -> list[str]:
        full, level, taken, sharers = snapshot
        site = self.sharing.site
        budget = site.budget[full]
        left = budget - taken
        lines = [site.budget_words(full)]
        if taken > _EPSILON_A:
            others = self._with_current(full) - sharers
            whom = f" to {_plural(others, 'other')}" if others > 0 else " to others"
            lines.append(f"{_fmt(budget)} A - {_fmt(taken)} A{whom} = {_fmt(left)} A")
        if self.safe:
            lines.append(
                f"fail-safe: {_fmt(left)} A / {_plural(sharers, self.noun)} = {_fmt(level)} A"
            )
        elif sharers == 1:
            lines.append(f"{_fmt(left)} A for 1 car -> {_fmt(level)} A")
        else:
            lines.append(f"{_fmt(left)} A for {sharers} cars -> {_fmt(level)} A each")
        return lines

    def _with_current(self, constraint: int) -> int:
        """How many connectors have current on a constraint (counted once, for the words)."""
        found = self.with_current.get(constraint)
        if found is None:
            sharing = self.sharing
            value, state = sharing.value, sharing.state
            found = self.with_current[constraint] = sum(
                1
                for wiring in sharing.on_constraint[constraint]
                for index in sharing.wiring_members[wiring]
                if state[index] == _FROZEN and value[index] > 0
            )
        return found
