"""Charging profiles (OCPP 1.6 §3.13, §5.16, §7.8-7.14) as plain values: the rules a profile must
meet before it is sent, the composite schedule a charger should report, and the limit profiles
load control sends.

The types mirror the OCPP ones (ocpp/v16/types.py) without the codec: domain/ imports nothing of
ocpp/ (STYLE layout); csms/charging_profiles.py converts between the two.

Pure: no I/O, no clock (STYLE rule 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from chargedeck.domain.charger_models import SmartChargingQuirks

Purpose = Literal["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]
Kind = Literal["Absolute", "Recurring", "Relative"]
Recurrency = Literal["Daily", "Weekly"]
RateUnit = Literal["A", "W"]

DEFAULT_NUMBER_PHASES = 3
"""OCPP 1.6 §7.14: numberPhases absent means 3."""


@dataclass(frozen=True)
class Period:
    """§7.14 ChargingSchedulePeriod: from ``start_period_s`` after the schedule start."""

    start_period_s: int
    limit: float
    number_phases: int | None = None


@dataclass(frozen=True)
class Schedule:
    """§7.13 ChargingSchedule."""

    rate_unit: RateUnit
    periods: tuple[Period, ...]
    duration_s: int | None = None
    start_schedule: datetime | None = None
    min_charging_rate: float | None = None


@dataclass(frozen=True)
class Profile:
    """§7.8 ChargingProfile."""

    charging_profile_id: int
    stack_level: int
    purpose: Purpose
    kind: Kind
    schedule: Schedule
    transaction_id: int | None = None
    recurrency_kind: Recurrency | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None


def build_limit_profile(
    *,
    charging_profile_id: int,
    purpose: Literal["TxDefaultProfile", "TxProfile"],
    limit_a: float,
    phases: int,
    rate_unit: RateUnit,
    voltage_v: float,
    quirks: SmartChargingQuirks,
    now: datetime,
    transaction_id: int | None = None,
    transaction_started_at: datetime | None = None,
    lease_s: float | None = None,
    max_stack_level: int | None = None,
) -> Profile:
    """The profile that holds a connector (or, on connector 0, every connector) at ``limit_a``
    per phase, shaped the way the charger model takes it: its kind (Absolute with the start a
    little in the past, or Relative without ``startSchedule``), its stack level (capped by the
    charger's ChargeProfileMaxStackLevel), in A or in W for ``phases`` at ``voltage_v``. With
    ``lease_s`` the schedule ends ``lease_s`` after ``now`` (a Relative one counts from the
    transaction start), so the charger falls back to its TxDefaultProfile if nobody renews it."""
    raise NotImplementedError
