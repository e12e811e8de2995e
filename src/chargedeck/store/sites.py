"""Sites, their circuits, where chargers hang on them, operator limits, meter readings and limit
alerts (tables sites, circuits, charger_placements, charger_limits, site_readings, limit_alerts;
migration 0005). Load control (csms/load_control.py) reads a site's layout in one call.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from chargedeck.domain.ids import ChargePointId
from chargedeck.store.engine import Database


class SiteRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    name: str
    strategy: str
    """equal, priority, first_come (domain/load_management.Strategy)."""
    household_reserve_a: float
    meter_stale_after_s: int
    created_at: datetime
    updated_at: datetime


class CircuitRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    site_id: int
    parent_id: int | None
    """None for the site's grid connection."""
    name: str
    limit_l1_a: float
    limit_l2_a: float
    limit_l3_a: float
    created_at: datetime


class PlacementRecord(msgspec.Struct, frozen=True, kw_only=True):
    """Where one charger hangs: its circuit, phase wiring, priority and charging mode."""

    charge_point_id: ChargePointId
    circuit_id: int
    phase_rotation: str
    """L1L2L3, L2L3L1, L3L1L2 (three-phase) or L1, L2, L3 (single-phase)."""
    priority: int
    mode: str
    """fast, min_solar, solar (domain/charging_modes.ChargingMode)."""
    placed_at: datetime


class ChargerLimitRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The operator's cap for one charger, as typed."""

    charge_point_id: ChargePointId
    value: float
    unit: str
    """A (per phase) or kW."""
    set_at: datetime


class SiteReadingRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The latest grid (per-phase A, import positive) or solar (W) reading of a site."""

    site_id: int
    kind: str
    """grid or solar."""
    l1_a: float | None
    l2_a: float | None
    l3_a: float | None
    power_w: float | None
    source: str
    """api or mqtt."""
    measured_at: datetime
    received_at: datetime


class LimitAlertRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    charge_point_id: ChargePointId
    connector_id: int
    limit_a: float
    measured_a: float
    over_since: datetime
    raised_at: datetime
    cleared_at: datetime | None
    explanation: str


class SiteLayout(msgspec.Struct, frozen=True, kw_only=True):
    """Everything load control needs about one site, read in one call."""

    site: SiteRecord
    circuits: list[CircuitRecord]
    placements: list[PlacementRecord]
    limits: list[ChargerLimitRecord]
    """Operator limits of the chargers placed on the site."""
    readings: list[SiteReadingRecord]


class Sites:
    """Reads and writes of the site tables. Raises ``NotFound`` for an unknown id or name and
    ``Conflict`` (store/errors.py) for a duplicate name, a second grid connection, a parent on
    another site, or a circuit that would become its own ancestor."""

    def __init__(self, database: Database) -> None:
        self._db = database
