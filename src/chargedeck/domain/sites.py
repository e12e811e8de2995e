"""What an operator may say about a site: names, strategies, circuit limits, phase wiring,
charging modes and a charger's own limit, each checked with a sentence (DESIGN §7, §10).

The API (server/api/sites.py) and the CLI (cli/sites.py) take the same input and refuse it with
the same words: every ``check_*``/``parse_*`` returns the value to store or raises
``ValueError`` saying what was wrong and what is expected. Pure: no I/O (STYLE rule 1).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Final

from chargedeck.domain.charging_modes import ChargingMode
from chargedeck.domain.load_management import PhaseCurrents, Strategy

GRID_CONNECTION_NAME: Final = "grid"
"""The name of the circuit every site has at its root: its connection to the grid."""

PHASE_ROTATIONS: Final = ("L1L2L3", "L2L3L1", "L3L1L2", "L1", "L2", "L3")
"""Which grid phase each charger phase is wired to: the rotation of a three-phase charger (its
L1 on the grid's L2 for L2L3L1, as OCPP 1.6's ConnectorPhaseRotation names it RST/STR/TRS) or
the one grid phase of a single-phase charger."""
DEFAULT_PHASE_ROTATION: Final = "L1L2L3"

MAX_CIRCUIT_LIMIT_A: Final = 10_000.0
"""Highest per-phase limit of a circuit: above the largest low-voltage transformer a site could
sit on (2,500 kVA at 400 V is about 3,600 A); a larger number is a typo."""

MAX_HOUSEHOLD_RESERVE_A: Final = MAX_CIRCUIT_LIMIT_A

MAX_METER_STALE_AFTER_S: Final = 86_400
"""A day: a grid meter reading older than that describes another household load."""

MAX_OPERATOR_LIMIT_A: Final = 80.0
"""Highest per-phase current an AC charger draws: SAE J1772 allows up to 80 A (IEC 62196-2
Type 2 stops at 63 A three-phase, 70 A single-phase)."""
MAX_OPERATOR_LIMIT_KW: Final = 350.0
"""Highest power of today's DC chargers (CCS high-power charging, 350 kW)."""
LIMIT_STEP_A: Final = 0.1
"""OCPP 1.6 §7.13 ChargingSchedulePeriod.limit: at most one digit fraction (e.g. 8.1)."""

MAX_SOLAR_POWER_W: Final = 100e6
"""Highest solar production of a site: 100 MW is a utility-scale plant; more is a typo."""

LIMIT_UNITS: Final = ("A", "kW")
MAX_NAME_LENGTH: Final = 64
"""Of a site or circuit name: what fits a table column and a phone screen."""

_OPERATOR_LIMIT = re.compile(r"(?P<value>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>a|kw)", re.IGNORECASE)


def check_name(name: str, what: str) -> str:
    """A site or circuit name (``what``: "site name", "circuit name"): 1 to 64 characters, not
    blank, no control characters; surrounding spaces are dropped."""
    stripped = name.strip()
    if not stripped:
        raise ValueError(f"{what} must not be empty")
    if len(stripped) > MAX_NAME_LENGTH:
        raise ValueError(
            f"{what} must be at most {MAX_NAME_LENGTH} characters, got {len(stripped)}"
        )
    if any(not character.isprintable() for character in stripped):
        raise ValueError(f"{what} {stripped[:MAX_NAME_LENGTH]!r} must not hold control characters")
    return stripped


def check_strategy(text: str) -> Strategy:
    try:
        return Strategy(text)
    except ValueError:
        known = ", ".join(strategy.value for strategy in Strategy)
        raise ValueError(f"strategy {text[:32]!r} is not one of {known}") from None


def check_mode(text: str) -> ChargingMode:
    try:
        return ChargingMode(text)
    except ValueError:
        known = ", ".join(mode.value for mode in ChargingMode)
        raise ValueError(f"mode {text[:32]!r} is not one of {known}") from None


def check_phase_rotation(text: str) -> str:
    if text not in PHASE_ROTATIONS:
        raise ValueError(
            f"phase rotation {text[:32]!r} is not one of {', '.join(PHASE_ROTATIONS)} "
            "(three-phase rotations, or the one phase of a single-phase charger)"
        )
    return text


def check_phase_limits(limits: Sequence[float]) -> PhaseCurrents:
    """A circuit's per-phase limits in A: three numbers from 0 to 10,000 (0 on a phase the
    circuit does not carry), at least one above 0."""
    if len(limits) != 3:
        raise ValueError(f"a limit per phase is 3 numbers (L1, L2, L3), got {len(limits)}")
    for phase, amps in zip(("L1", "L2", "L3"), limits, strict=True):
        if not (math.isfinite(amps) and 0 <= amps <= MAX_CIRCUIT_LIMIT_A):
            raise ValueError(
                f"limit on {phase} must be from 0 to {MAX_CIRCUIT_LIMIT_A:g} A, got {amps:g} A"
            )
    if not any(limits):
        raise ValueError("a circuit needs a limit above 0 A on at least one phase")
    return (float(limits[0]), float(limits[1]), float(limits[2]))


def phase_limits(amps: float, phases: int) -> PhaseCurrents:
    """The per-phase limits of a fuse of ``amps`` on ``phases`` (1: L1 only; 3: every phase)."""
    if phases not in (1, 3):
        raise ValueError(f"phases must be 1 or 3, got {phases}")
    return check_phase_limits((amps, amps, amps) if phases == 3 else (amps, 0.0, 0.0))


def check_household_reserve(amps: float) -> float:
    if not (math.isfinite(amps) and 0 <= amps <= MAX_HOUSEHOLD_RESERVE_A):
        raise ValueError(
            f"household reserve must be from 0 to {MAX_HOUSEHOLD_RESERVE_A:g} A per phase, "
            f"got {amps:g} A"
        )
    return float(amps)


def check_meter_stale_after(seconds: int) -> int:
    if not 1 <= seconds <= MAX_METER_STALE_AFTER_S:
        raise ValueError(
            f"meter_stale_after_s must be from 1 to {MAX_METER_STALE_AFTER_S} seconds, "
            f"got {seconds}"
        )
    return seconds


def check_operator_limit(value: float, unit: str) -> tuple[float, str]:
    """A charger's own limit as the operator typed it: A per phase from 0 to 80 in steps of
    0.1, or kW from 0 to 350. Returns (value, unit)."""
    if unit == "A":
        if not (math.isfinite(value) and 0 <= value <= MAX_OPERATOR_LIMIT_A):
            raise ValueError(
                f"a limit in A must be from 0 to {MAX_OPERATOR_LIMIT_A:g} A per phase, "
                f"got {value:g} A"
            )
        tenths = value / LIMIT_STEP_A
        if abs(tenths - round(tenths)) > 1e-6:
            raise ValueError(
                f"a limit in A goes in steps of {LIMIT_STEP_A:g} A (OCPP 1.6 §7.13), got {value:g}"
            )
        return round(value, 1), unit
    if unit == "kW":
        if not (math.isfinite(value) and 0 <= value <= MAX_OPERATOR_LIMIT_KW):
            raise ValueError(
                f"a limit in kW must be from 0 to {MAX_OPERATOR_LIMIT_KW:g} kW, got {value:g} kW"
            )
        return float(value), unit
    raise ValueError(f"unit {unit[:16]!r} is not one of {', '.join(LIMIT_UNITS)}")


def parse_operator_limit(text: str) -> tuple[float, str] | None:
    """``16A``, ``7.4 kW`` or ``none`` (no limit: None), checked like
    :func:`check_operator_limit`."""
    if text.strip().lower() == "none":
        return None
    match = _OPERATOR_LIMIT.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"limit {text[:32]!r} is not like 16A, 11kW or none")
    unit = "A" if match["unit"].lower() == "a" else "kW"
    return check_operator_limit(float(match["value"]), unit)
