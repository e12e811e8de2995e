"""The car behind a simulated connector: how much it takes at a given limit and state of charge."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EvModel:
    """A battery EV on AC: it draws up to ``max_current_a`` per phase on ``phases`` phases, less
    above ``taper_from_soc`` (the constant-voltage end of a lithium-ion charge), nothing at
    ``target_soc``."""

    battery_kwh: float = 60.0
    max_current_a: float = 32.0
    phases: int = 3
    start_soc: float = 0.2
    target_soc: float = 1.0
    taper_from_soc: float = 0.8

    def current_a(self, soc: float, limit_a: float | None) -> float:
        """Amps per phase it draws at ``soc`` (0-1) under ``limit_a`` (None: no limit)."""
        raise NotImplementedError
