"""The car behind a simulated connector: how much it takes at a given limit and state of charge."""

from __future__ import annotations

from dataclasses import dataclass

MAX_AC_PHASES = 3
"""An AC car charges on one, two or three phases (OCPP 1.6 §7.14 numberPhases 1..3)."""


@dataclass(frozen=True)
class EvModel:
    """A battery EV on AC: it draws up to ``max_current_a`` per phase on ``phases`` phases, less
    above ``taper_from_soc`` (the constant-voltage end of a lithium-ion charge), nothing at
    ``target_soc``.

    SoC values are fractions (0-1). Raises ValueError naming the field for a value outside its
    range, so a scenario file with a typo fails at load, not mid-run.
    """

    battery_kwh: float = 60.0
    max_current_a: float = 32.0
    phases: int = 3
    start_soc: float = 0.2
    target_soc: float = 1.0
    taper_from_soc: float = 0.8

    def __post_init__(self) -> None:
        if not self.battery_kwh > 0:
            raise ValueError(f"battery_kwh is {self.battery_kwh}, expected more than 0 kWh")
        if not self.max_current_a >= 0:
            raise ValueError(f"max_current_a is {self.max_current_a}, expected 0 A or more")
        if not 1 <= self.phases <= MAX_AC_PHASES:
            raise ValueError(f"phases is {self.phases}, expected 1, 2 or 3")
        for name in ("start_soc", "target_soc", "taper_from_soc"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is {value}, expected a fraction from 0 to 1")

    def current_a(self, soc: float, limit_a: float | None) -> float:
        """Amps per phase it draws at ``soc`` (0-1) under ``limit_a`` (None: no limit).

        Full current up to ``taper_from_soc``, then falling linearly to 0 A at ``target_soc``
        (the constant-voltage phase, where the battery's own charger lowers the current), and
        never more than the limit the charger offers (IEC 61851-1: the EV takes at most the
        control pilot's current).
        """
        if soc >= self.target_soc:
            return 0.0
        wanted = self.max_current_a
        if soc > self.taper_from_soc and self.target_soc > self.taper_from_soc:
            wanted *= (self.target_soc - soc) / (self.target_soc - self.taper_from_soc)
        if limit_a is not None:
            wanted = min(wanted, limit_a)
        return max(wanted, 0.0)
