"""The energy of a charging session, and everything that makes it doubtful.

The session's energy is meterStop - meterStart (OCPP 1.6 §4.8 StartTransaction ``meterStart``,
§4.10 StopTransaction ``meterStop``: readings in Wh of the same register), cross-checked with
the Energy.Active.Import.Register samples of its MeterValues (§4.7). Real meters are not always
right: a Pulsar Plus register intermittently reads 0 (field notes §3, ``lbbrhzn/ocpp#1756``),
sessions arrive without meterStart or with a lifetime register as their energy (field notes G7,
``evcc-io/evcc#29374``), and StopTransaction may never come. A problem is never turned into 0:
the energy is ``None`` when it cannot be known, and each problem comes with a flag and a
sentence for the operator.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

# How far register samples may stray outside meterStart..meterStop before they disagree:
# max(10 Wh, 1 % of the session's energy). ChargeDeck's choice: 10 Wh absorbs the rounding of
# readings to whole Wh (DESIGN §6) and a reading taken at a slightly different moment; 1 % is
# the accuracy of a class 1 meter (IEC 62053-21), as good as a Wallbox's internal, non-MID
# meter claims to be (BootNotification meterType "Internal NON compliant", field notes §1).
DISAGREEMENT_MIN_WH = 10
DISAGREEMENT_PERCENT = 1


class EnergyFlag(enum.StrEnum):
    """A reason to doubt a session's energy."""

    MISSING_START = "missing_start"
    MISSING_STOP = "missing_stop"
    NEGATIVE = "negative"
    METER_RESET = "meter_reset"
    REGISTER_WENT_BACKWARDS = "register_went_backwards"
    REGISTER_DISAGREES = "register_disagrees"


@dataclass(frozen=True)
class EnergyProblem:
    """One flag and the sentence that explains it to the operator."""

    flag: EnergyFlag
    sentence: str


@dataclass(frozen=True)
class SessionEnergy:
    """A session's energy in Wh and what makes it doubtful.

    ``energy_wh`` is meterStop - meterStart, or ``None`` when either is missing or negative or
    the meter went backwards. ``register_energy_wh`` is the last register sample minus the first,
    when there are two or more and they only rise: the energy seen in MeterValues, for display
    beside a missing meterStop, never a substitute for it.
    """

    energy_wh: int | None
    register_energy_wh: int | None
    problems: tuple[EnergyProblem, ...]

    @property
    def flags(self) -> frozenset[EnergyFlag]:
        """The flags of :attr:`problems`; empty when the energy is trustworthy."""
        return frozenset(problem.flag for problem in self.problems)


def session_energy(
    meter_start_wh: int | None,
    meter_stop_wh: int | None,
    register_samples_wh: Sequence[tuple[datetime, int]],
) -> SessionEnergy:
    """The energy of a session from its meterStart, meterStop and register samples (any order).

    Flags: MISSING_START / MISSING_STOP when a reading is absent; NEGATIVE for any reading below
    0 (a register counts up from 0); METER_RESET when meterStop < meterStart (the register was
    reset or replaced during the session); REGISTER_WENT_BACKWARDS when a sample is lower than
    the one before it; REGISTER_DISAGREES when the first sample is below meterStart, or the last
    above meterStop, by more than max(10 Wh, 1 % of the session's energy). Samples need not
    reach the start and stop readings (the first comes a MeterValueSampleInterval after the
    start), so a sample span shorter than meterStop - meterStart is no disagreement.
    """
    problems: list[EnergyProblem] = []
    samples = sorted(register_samples_wh, key=lambda sample: sample[0])
    if meter_start_wh is None:
        problems.append(
            EnergyProblem(EnergyFlag.MISSING_START, "the session has no meterStart reading")
        )
    if meter_stop_wh is None:
        problems.append(
            EnergyProblem(
                EnergyFlag.MISSING_STOP,
                "the session has no meterStop reading (no StopTransaction yet, or it carried none)",
            )
        )
    negatives = [
        f"{what} {value} Wh"
        for what, value in (
            ("meterStart", meter_start_wh),
            ("meterStop", meter_stop_wh),
            *((f"register sample at {at.isoformat()}", wh) for at, wh in samples),
        )
        if value is not None and value < 0
    ]
    if negatives:
        problems.append(
            EnergyProblem(
                EnergyFlag.NEGATIVE,
                "a meter register cannot read below 0, but the session has " + ", ".join(negatives),
            )
        )
    start = meter_start_wh if meter_start_wh is not None and meter_start_wh >= 0 else None
    stop = meter_stop_wh if meter_stop_wh is not None and meter_stop_wh >= 0 else None
    energy_wh = None
    if start is not None and stop is not None:
        if stop < start:
            problems.append(
                EnergyProblem(
                    EnergyFlag.METER_RESET,
                    f"meterStop {stop} Wh is below meterStart {start} Wh: the meter was reset "
                    "or replaced during the session",
                )
            )
        else:
            energy_wh = stop - start
    backwards = next(
        ((earlier, later) for earlier, later in pairwise(samples) if later[1] < earlier[1]),
        None,
    )
    if backwards is not None:
        (earlier_at, earlier_wh), (later_at, later_wh) = backwards
        problems.append(
            EnergyProblem(
                EnergyFlag.REGISTER_WENT_BACKWARDS,
                f"the energy register went back from {earlier_wh} Wh at {earlier_at.isoformat()} "
                f"to {later_wh} Wh at {later_at.isoformat()}",
            )
        )
    register_energy_wh = None
    if len(samples) >= 2 and backwards is None and samples[0][1] >= 0:
        register_energy_wh = samples[-1][1] - samples[0][1]
    disagreement = _disagreement(start, stop, energy_wh, samples) if backwards is None else None
    if disagreement is not None:
        problems.append(EnergyProblem(EnergyFlag.REGISTER_DISAGREES, disagreement))
    return SessionEnergy(energy_wh, register_energy_wh, tuple(problems))


def disagreement_tolerance_wh(energy_wh: int | None) -> int:
    """max(10 Wh, 1 % of the session's energy), rounded up; 10 Wh when the energy is unknown."""
    if energy_wh is None:
        return DISAGREEMENT_MIN_WH
    return max(DISAGREEMENT_MIN_WH, -(-energy_wh * DISAGREEMENT_PERCENT // 100))


def _disagreement(
    start: int | None,
    stop: int | None,
    energy_wh: int | None,
    samples: Sequence[tuple[datetime, int]],
) -> str | None:
    """The sentence saying where the register samples leave meterStart..meterStop, if they do."""
    if not samples:
        return None
    tolerance = disagreement_tolerance_wh(energy_wh)
    (first_at, first_wh), (last_at, last_wh) = samples[0], samples[-1]
    findings = []
    if start is not None and first_wh < start - tolerance:
        findings.append(
            f"read {first_wh} Wh at {first_at.isoformat()}, "
            f"{start - first_wh} Wh below meterStart {start} Wh"
        )
    if stop is not None and last_wh > stop + tolerance:
        findings.append(
            f"read {last_wh} Wh at {last_at.isoformat()}, "
            f"{last_wh - stop} Wh above meterStop {stop} Wh"
        )
    if not findings:
        return None
    return f"the energy register {' and '.join(findings)} (tolerance {tolerance} Wh)"
