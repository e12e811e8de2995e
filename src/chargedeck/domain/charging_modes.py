"""Charging modes and the site's dynamic inputs: household load, solar surplus, stale meters.

Owners want three modes (field notes, need 2; evcc's PV modes): **fast** (as much as the fuse
allows), **min + solar** (the connector's minimum always, more from solar surplus) and **solar**
(only from surplus, with start/stop hysteresis and a least on/off time that protect contactors
and the car). The grid meter (per-phase current, import positive) tells how much the household
takes: it is subtracted from the grid connection's budget. A reading older than the site's
``meter_stale_after_s`` is not used: load control falls back to the safe limits.

Pure: no I/O, no clock (STYLE rule 1).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from chargedeck.domain.load_management import ConnectorKey, PhaseCurrents, Reduction


class ChargingMode(enum.StrEnum):
    FAST = "fast"
    MIN_SOLAR = "min_solar"
    SOLAR = "solar"


@dataclass(frozen=True)
class GridReading:
    """The grid connection meter: current per phase in A, import positive, export negative."""

    amps: PhaseCurrents
    measured_at: datetime


@dataclass(frozen=True)
class SolarReading:
    """Solar production in W (shown in explanations; the surplus comes from the grid meter)."""

    power_w: float
    measured_at: datetime


@dataclass(frozen=True)
class ModeSettings:
    """The numbers the modes run on (settings of the same names, config.py)."""

    nominal_voltage_v: float = 230.0
    solar_start_delay_s: float = 120.0
    solar_stop_delay_s: float = 30.0
    min_charging_time_s: float = 300.0
    meter_stale_after_s: float = 60.0
    household_reserve_a: float = 0.0


@dataclass(frozen=True)
class ConnectorDraw:
    """What a connector draws now (its latest Current.Import per phase, averaged), and where."""

    key: ConnectorKey
    grid_phases: tuple[int, ...]
    amps: float


@dataclass(frozen=True)
class ModeState:
    """Memory of the solar hysteresis for one connector, handed back on the next call."""

    charging: bool
    since: datetime
    """When ``charging`` last changed."""
    below_since: datetime | None = None
    """Since when the surplus share has been below the minimum (while charging)."""
    above_since: datetime | None = None
    """Since when the surplus share has covered the minimum (while not charging)."""


@dataclass(frozen=True)
class ModeInput:
    key: ConnectorKey
    mode: ChargingMode
    grid_phases: tuple[int, ...]
    min_current_a: float
    max_current_a: float
    state: ModeState | None
    """None the first time the connector is seen charging."""


@dataclass(frozen=True)
class ModeTarget:
    """The most the mode lets a connector take now (0 = the mode pauses it), and why."""

    key: ConnectorKey
    max_current_a: float
    reason: str
    state: ModeState


def is_fresh(measured_at: datetime | None, now: datetime, settings: ModeSettings) -> bool:
    """Whether a reading taken at ``measured_at`` may still be used."""
    raise NotImplementedError


def household_reduction(
    grid: GridReading | None,
    draws: Sequence[ConnectorDraw],
    now: datetime,
    settings: ModeSettings,
) -> Reduction:
    """The grid connection's budget taken by everything but the chargers: the meter's import on
    each phase less what the site's connectors draw there, never below 0; the household reserve
    when there is no fresh reading."""
    raise NotImplementedError


def solar_surplus_w(
    grid: GridReading | None,
    draws: Sequence[ConnectorDraw],
    now: datetime,
    settings: ModeSettings,
) -> float | None:
    """Power the solar-mode connectors may use without importing: what they draw now plus what
    is exported (minus what is imported), in W; None without a fresh grid reading."""
    raise NotImplementedError


def mode_targets(
    inputs: Sequence[ModeInput],
    surplus_w: float | None,
    now: datetime,
    settings: ModeSettings,
) -> Mapping[ConnectorKey, ModeTarget]:
    """Each connector's target under its mode. Fast: its maximum. Min + solar: its minimum plus
    its share of the surplus. Solar: its share of the surplus once that has covered its minimum
    for ``solar_start_delay_s``; paused after it stayed below for ``solar_stop_delay_s``; never
    switched again within ``min_charging_time_s``. Without a surplus figure (no fresh meter)
    min + solar gets its minimum and solar pauses."""
    raise NotImplementedError
