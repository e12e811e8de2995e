"""Simulated charger models: what a charger says about itself and how it departs from the spec.

The facts come from /work/shared/reference/wallbox-field-notes.md (cited per field) and the
Wallbox OCPP setup guide; ``chargedeck.domain.charger_models`` is ChargeDeck's side of the same
facts (the CSMS recognises a model; the simulator plays one).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SimulatedModel:
    name: str
    vendor: str
    model: str
    firmware_version: str
    uid_little_endian: bool
    """Wallbox: "RFID UID is read as little-endian, hexadecimal, with no separators" (setup
    guide): a card printed 04:A2:BC:19 goes on the wire as 19BCA204."""
    whole_amps: bool
    min_current_a: float
    max_current_a: float
    configuration: dict[str, tuple[str, bool]] = field(default_factory=dict)
    """Configuration keys as the charger reports them: key -> (value, readonly)."""
