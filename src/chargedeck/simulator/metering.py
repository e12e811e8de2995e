"""One meter reading of a simulated connector as its charger model writes it (OCPP 1.6 §7.33
MeterValue, §7.43 SampledValue; field notes §3).

Every value is a string (§7.43), with format Raw, location Outlet (SoC: EV) and the reading
context; which measurands appear is the model's choice, not MeterValuesSampledData's (a Wallbox
accepts any measurand there and sends what it sends, field notes §3). Pure: the time comes in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from chargedeck.ocpp.v16.enums import (
    Location,
    Measurand,
    Phase,
    ReadingContext,
    UnitOfMeasure,
    ValueFormat,
)
from chargedeck.ocpp.v16.types import MeterValue, SampledValue
from chargedeck.simulator.models import SimulatedModel

_PHASES = (Phase.L1, Phase.L2, Phase.L3)
_TO_NEUTRAL = (Phase.L1_N, Phase.L2_N, Phase.L3_N)


@dataclass(frozen=True)
class Reading:
    """What the connector's meter and control pilot say at one moment."""

    energy_wh: float
    power_w: float
    current_a: float
    """Per phase the car draws on."""
    offered_a: float
    soc: float
    """0-1."""
    car_phases: int


def whole_seconds(moment: datetime) -> datetime:
    """Wallbox timestamps are UTC with second precision (field notes §3)."""
    return moment.astimezone(UTC).replace(microsecond=0)


def amps_text(amps: float, whole: bool) -> str:
    """A current as the model writes it: "16" on a whole-amp Wallbox (field notes §3:
    Current.Offered is an integer), "15.4" otherwise."""
    return str(round(amps)) if whole else f"{amps:.1f}"


def meter_value(
    model: SimulatedModel, reading: Reading, context: ReadingContext, now: datetime
) -> MeterValue:
    """The MeterValue of ``reading``: the model's measurands in its order, Current.Import per
    phase the charger is wired to (0 on the phases the car does not use), Voltage per phase to
    neutral."""
    values: list[SampledValue] = []

    def add(
        text: str,
        measurand: Measurand,
        unit: UnitOfMeasure,
        phase: Phase | None = None,
        location: Location = Location.OUTLET,
    ) -> None:
        values.append(
            SampledValue(
                value=text,
                context=context,
                format=ValueFormat.RAW,
                measurand=measurand,
                phase=phase,
                location=location,
                unit=unit,
            )
        )

    voltage = model.voltage_v
    for measurand in model.measurands:
        if measurand is Measurand.ENERGY_ACTIVE_IMPORT_REGISTER:
            add(f"{reading.energy_wh:.1f}", measurand, UnitOfMeasure.WH)
        elif measurand is Measurand.POWER_ACTIVE_IMPORT:
            add(f"{reading.power_w:.1f}", measurand, UnitOfMeasure.W)
        elif measurand is Measurand.CURRENT_OFFERED:
            add(amps_text(reading.offered_a, model.whole_amps), measurand, UnitOfMeasure.A)
        elif measurand is Measurand.POWER_OFFERED:
            offered_w = reading.offered_a * model.phases * voltage
            add(f"{offered_w:.0f}", measurand, UnitOfMeasure.W)
        elif measurand is Measurand.CURRENT_IMPORT:
            for index, phase in enumerate(_PHASES[: model.phases]):
                amps = reading.current_a if index < reading.car_phases else 0.0
                add(f"{amps:.1f}", measurand, UnitOfMeasure.A, phase)
        elif measurand is Measurand.VOLTAGE:
            for phase in _TO_NEUTRAL[: model.phases]:
                add(f"{voltage:.1f}", measurand, UnitOfMeasure.V, phase)
        elif measurand is Measurand.SOC:
            soc = f"{reading.soc * 100:.0f}"
            add(soc, measurand, UnitOfMeasure.PERCENT, location=Location.EV)
    return MeterValue(timestamp=whole_seconds(now), sampled_value=values)
