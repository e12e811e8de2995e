"""Reading meter values as the spec defines them (OCPP 1.6 §7.33 SampledValue)."""

from __future__ import annotations

import math

ENERGY_IMPORT_REGISTER = "Energy.Active.Import.Register"


def energy_import_register_wh(
    measurand: str | None, unit: str | None, phase: str | None, value: str
) -> int | None:
    """The total imported-energy register in whole Wh, or None if this sample is not it.

    OCPP 1.6 §7.33: an absent measurand means Energy.Active.Import.Register and an absent unit
    means Wh. Only the all-phases total counts (per-phase registers are skipped). Values are
    strings on the wire; a value that is not a finite number is not a reading (kept as sent
    in the stored samples, but not used for energy). Wh are rounded half up to an integer
    (DESIGN §6: energy in Wh as integers; half up, not Python's half-to-even, so a register
    read as 1500.5 Wh never goes backwards when the next reading is 1501).
    """
    if (measurand or ENERGY_IMPORT_REGISTER) != ENERGY_IMPORT_REGISTER or phase is not None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    unit = unit or "Wh"
    if unit == "kWh":
        number *= 1000.0
    elif unit != "Wh":
        return None
    return math.floor(number + 0.5)


CURRENT_IMPORT = "Current.Import"
CURRENT_OFFERED = "Current.Offered"
POWER_ACTIVE_IMPORT = "Power.Active.Import"
_PHASES = ("L1", "L2", "L3")


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def currents_from_samples(
    samples: list[tuple[str | None, str | None, str | None, str]],
    *,
    voltage_v: float,
    phases_wired: int,
) -> tuple[tuple[float, ...], float | None]:
    """What a connector draws per phase and what it offers, in A, from one MeterValue's samples
    ``(measurand, unit, phase, value)``; ``((), None)`` when they say nothing about current.

    Current.Import per phase L1/L2/L3 (OCPP 1.6 §7.31; a sample without a phase is the one
    figure for all phases; ``-N`` suffixes name the same conductor). Without any Current.Import,
    Power.Active.Import (W or kW, all phases) is turned into amps per phase over
    ``phases_wired`` at ``voltage_v``: a charger that samples only power can still be checked
    against its limit (issue 6: "Current.Import / Power.Active.Import samples").
    Current.Offered is the limit the charger says it offers the car (field notes §3).
    """
    per_phase: dict[str, float] = {}
    single: float | None = None
    offered: float | None = None
    power_w: float | None = None
    for measurand, unit, phase, value in samples:
        number = _number(value)
        if number is None:
            continue
        if measurand == CURRENT_IMPORT and unit in (None, "A"):
            conductor = (phase or "").removesuffix("-N")
            if conductor in _PHASES:
                per_phase[conductor] = number
            elif not phase:
                single = number
        elif measurand == CURRENT_OFFERED and unit in (None, "A"):
            offered = number
        elif measurand == POWER_ACTIVE_IMPORT and not phase and unit in (None, "W", "kW"):
            power_w = number * 1000.0 if unit == "kW" else number
    if per_phase:
        return tuple(per_phase[p] for p in _PHASES if p in per_phase), offered
    if single is not None:
        return (single,), offered
    if power_w is not None and phases_wired > 0 and voltage_v > 0:
        return (power_w / (voltage_v * phases_wired),), offered
    return (), offered


def current_offered_a(
    samples: list[tuple[str | None, str | None, str | None, str]],
) -> float | None:
    """Current.Offered (A) of one MeterValue's samples ``(measurand, unit, phase, value)``, as
    :func:`currents_from_samples` reads it; None when the charger did not send it."""
    offered: float | None = None
    for measurand, unit, _phase, value in samples:
        if measurand == CURRENT_OFFERED and unit in (None, "A"):
            number = _number(value)
            if number is not None:
                offered = number
    return offered


SOC = "SoC"
_ENERGY_UNITS = {"Wh": 1.0, "kWh": 1000.0}
_POWER_UNITS = {"W": 1.0, "kW": 1000.0}


def meter_summary(
    samples: list[tuple[str | None, str | None, str | None, str]],
) -> tuple[
    float | None, float | None, tuple[float | None, float | None, float | None] | None, float | None
]:
    """``(power_w, energy_wh, (L1, L2, L3) A, soc_percent)`` of one MeterValue's samples
    ``(measurand, unit, phase, value)``: what a dashboard shows. None where the charger did not
    send it; a per-phase current list has None for a phase it did not report, and a current sent
    without a phase counts for L1 (a single-phase reading, OCPP 1.6 §7.31)."""
    power_w: float | None = None
    energy_wh: float | None = None
    soc: float | None = None
    currents: dict[str, float] = {}
    for measurand, unit, phase, value in samples:
        number = _number(value)
        if number is None:
            continue
        name = measurand or ENERGY_IMPORT_REGISTER
        if name == ENERGY_IMPORT_REGISTER and phase is None:
            factor = _ENERGY_UNITS.get(unit or "Wh")
            if factor is not None:
                energy_wh = number * factor
        elif name == POWER_ACTIVE_IMPORT and phase is None:
            factor = _POWER_UNITS.get(unit or "W")
            if factor is not None:
                power_w = number * factor
        elif name == CURRENT_IMPORT and unit in (None, "A"):
            conductor = (phase or "L1").removesuffix("-N")
            if conductor in _PHASES:
                currents[conductor] = number
        elif name == SOC:
            soc = number
    current_a = (currents.get("L1"), currents.get("L2"), currents.get("L3")) if currents else None
    return power_w, energy_wh, current_a, soc
