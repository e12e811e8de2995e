"""Site load management: share a tree of circuits' per-phase current among the connectors on it.

A site is a tree of circuits (DESIGN §7): the grid connection at the root, sub-boards below,
each with a current limit per grid phase. A connector hangs on one circuit and draws the same
current on each grid phase its charger is wired to (a three-phase charger's L1/L2/L3 may be
rotated onto the grid's phases; a single-phase charger uses one). Every allocation keeps the
chain of numbers that produced it, so an operator can read why a car charges at that rate.

Pure: no I/O, no clock; ``now`` comes in (STYLE rule 1).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

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


def allocate(
    circuits: Sequence[CircuitNode],
    demands: Sequence[ConnectorDemand],
    strategy: Strategy,
    now: datetime,
    *,
    reductions: Mapping[int, Reduction] | None = None,
) -> dict[ConnectorKey, ConnectorAllocation]:
    """Each demanding connector's limit: on every circuit and phase the sum stays within the
    circuit's limit (less its reduction), nobody gets a non-zero limit below its floor, and the
    strategy decides who gets what. Raises ``ValueError`` for a tree that is not one (cycle,
    unknown parent or circuit)."""
    raise NotImplementedError


def safe_limits(
    circuits: Sequence[CircuitNode],
    connectors: Sequence[ConnectorDemand],
    *,
    reductions: Mapping[int, Reduction] | None = None,
) -> dict[ConnectorKey, ConnectorAllocation]:
    """The fail-safe limit of every connector of a site: what it may draw if ChargeDeck is lost,
    whatever the others do. Every connector is assumed charging at once and shares equally,
    without pausing anyone (who would be paused cannot be known in advance): the equal share
    rounded down to the step, or 0 when that is below the connector's floor."""
    raise NotImplementedError
