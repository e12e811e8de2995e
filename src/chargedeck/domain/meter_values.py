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
