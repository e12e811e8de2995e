"""Charging profiles (OCPP 1.6 §3.13, §5.16, §7.8-7.14) as plain values: the rules a profile must
meet before it is sent, the composite schedule a charger should report, and the limit profiles
load control sends.

The types mirror the OCPP ones (ocpp/v16/types.py) without the codec: domain/ imports nothing of
ocpp/ (STYLE layout); csms/charging_profiles.py converts between the two.

Section numbers are those of OCPP 1.6 edition 2; "facts" is
/work/shared/reference/ocpp16-facts-and-peers.md §1.7, "field notes" the Wallbox field notes.

Pure: no I/O, no clock (STYLE rule 1).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from chargedeck.domain.charger_models import SmartChargingQuirks

Purpose = Literal["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]
Kind = Literal["Absolute", "Recurring", "Relative"]
Recurrency = Literal["Daily", "Weekly"]
RateUnit = Literal["A", "W"]

DEFAULT_NUMBER_PHASES = 3
"""OCPP 1.6 §7.14: numberPhases absent means 3."""

MAX_NUMBER_PHASES: Final = 3
"""§7.14: an AC connection has at most three phases."""

NO_LIMIT: Final = math.inf
"""The limit of a composite period in which no profile limits the connector (§3.13.6: "as if no
constraints apply"). OCPP has no word for it: a charger leaves such a time out of its answer;
ChargeDeck says it explicitly, so a schedule's periods always cover its whole duration and
``compare_schedules`` can tell "no limit" from "a high limit". The API shows it as null."""

RECURRENCE_S: Final[Mapping[Recurrency, int]] = {"Daily": 86_400, "Weekly": 604_800}
"""§7.37: a Recurring schedule restarts every 24 h (Daily) or 7 days (Weekly)."""

ABSOLUTE_START_MARGIN_S: Final = 60
"""``build_limit_profile`` puts the start of an Absolute schedule this long before ``now``:
§3.13.2 RECOMMENDS a start in the past so that a replacement leaves no gap, and a minute covers
the clock difference of a charger that sets its clock from the Heartbeat answer (§4.6)."""

TENTHS_TOLERANCE: Final = 1e-6
"""A value within this many tenths of a multiple of 0.1 counts as one (binary floats: 3 x 0.1
is 0.30000000000000004); the codec uses the same tolerance (ocpp/v16/types.py)."""

# §9.4 Smart Charging configuration keys (§3.13.5: a charger with the profile SHALL report them).
CHARGE_PROFILE_MAX_STACK_LEVEL: Final = "ChargeProfileMaxStackLevel"
CHARGING_SCHEDULE_ALLOWED_CHARGING_RATE_UNIT: Final = "ChargingScheduleAllowedChargingRateUnit"
CHARGING_SCHEDULE_MAX_PERIODS: Final = "ChargingScheduleMaxPeriods"
MAX_CHARGING_PROFILES_INSTALLED: Final = "MaxChargingProfilesInstalled"
CAPABILITY_KEYS: Final = (
    CHARGE_PROFILE_MAX_STACK_LEVEL,
    CHARGING_SCHEDULE_ALLOWED_CHARGING_RATE_UNIT,
    CHARGING_SCHEDULE_MAX_PERIODS,
    MAX_CHARGING_PROFILES_INSTALLED,
)

# §9.4 ChargingScheduleAllowedChargingRateUnit is a CSL of "Current" and "Power".
_RATE_UNIT_WORDS: Final[Mapping[str, RateUnit]] = {"current": "A", "power": "W"}


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


@dataclass(frozen=True)
class InstalledProfile:
    """A profile a charger holds: the one it accepted on ``connector_id`` (0: the whole charger).

    ``installed_at`` is when ChargeDeck sent it, which stands for when the charger received it:
    a profile without validFrom is valid from receipt (§7.8), and a Recurring one without
    startSchedule is anchored there."""

    profile: Profile
    connector_id: int
    installed_at: datetime


@dataclass(frozen=True)
class ChargerCapabilities:
    """What a charger says it takes (§3.13.5, §9.4); None: not reported, so not checked."""

    max_stack_level: int | None = None
    """ChargeProfileMaxStackLevel: the highest stackLevel it takes."""
    allowed_rate_units: frozenset[RateUnit] | None = None
    """ChargingScheduleAllowedChargingRateUnit ("Current,Power") as units."""
    max_periods: int | None = None
    """ChargingScheduleMaxPeriods: periods per schedule."""
    max_profiles_installed: int | None = None
    """MaxChargingProfilesInstalled: profiles it holds at once."""


class ProfileRefused(Exception):
    """A profile ChargeDeck will not send because the charger must refuse it (or would mishandle
    it): ``code`` is short kebab-case text for scripts, the message a sentence that says what to
    change."""

    def __init__(self, code: str, sentence: str) -> None:
        super().__init__(sentence)
        self.code = code
        self.sentence = sentence


# ---- capabilities -------------------------------------------------------------------------------


def parse_allowed_rate_units(value: str) -> frozenset[RateUnit]:
    """§9.4 ChargingScheduleAllowedChargingRateUnit ("Current", "Power" or "Current,Power", any
    case and spacing) as units; ValueError naming the value otherwise."""
    units: set[RateUnit] = set()
    for word in value.split(","):
        unit = _RATE_UNIT_WORDS.get(word.strip().lower())
        if unit is None:
            raise ValueError(
                f"{CHARGING_SCHEDULE_ALLOWED_CHARGING_RATE_UNIT} is {value!r}, expected Current, "
                "Power or Current,Power"
            )
        units.add(unit)
    return frozenset(units)


def capabilities_from_configuration(
    values: Mapping[str, str | None],
) -> tuple[ChargerCapabilities, tuple[str, ...]]:
    """The capabilities in a charger's reported configuration (``values`` by the key names of
    :data:`CAPABILITY_KEYS`), and a sentence for each value that could not be read: such a
    capability stays unknown (not checked) and the caller says so in its log."""
    problems: list[str] = []

    def count(key: str) -> int | None:
        text = values.get(key)
        if text is None:
            return None
        stripped = text.strip()
        if not stripped.isdigit() or not stripped.isascii():
            problems.append(f"{key} is {text!r}, expected a whole number of 0 or more")
            return None
        return int(stripped)

    units: frozenset[RateUnit] | None = None
    unit_text = values.get(CHARGING_SCHEDULE_ALLOWED_CHARGING_RATE_UNIT)
    if unit_text is not None:
        try:
            units = parse_allowed_rate_units(unit_text)
        except ValueError as exc:
            problems.append(str(exc))
    capabilities = ChargerCapabilities(
        max_stack_level=count(CHARGE_PROFILE_MAX_STACK_LEVEL),
        allowed_rate_units=units,
        max_periods=count(CHARGING_SCHEDULE_MAX_PERIODS),
        max_profiles_installed=count(MAX_CHARGING_PROFILES_INSTALLED),
    )
    return capabilities, tuple(problems)


# ---- units --------------------------------------------------------------------------------------


def amps_for(value: float, unit: Literal["A", "kW"], phases: int, voltage_v: float) -> float:
    """Amps per phase for an operator's limit given in A (per phase) or kW (in total), drawn on
    ``phases`` phases at ``voltage_v`` phase-to-neutral: A = W / (V x phases) (facts §1.7
    "Units", §7.12). ValueError for a phase count outside 1..3 or a voltage not above 0."""
    _check_phases_and_voltage(phases, voltage_v)
    if unit == "A":
        return value
    return value * 1000.0 / (voltage_v * phases)


def watts_for(amps: float, phases: int, voltage_v: float) -> float:
    """Total watts for ``amps`` per phase on ``phases`` phases at ``voltage_v``: the reverse of
    :func:`amps_for` (§7.12: A is per phase, W is the total). ValueError as there."""
    _check_phases_and_voltage(phases, voltage_v)
    return amps * voltage_v * phases


def convert_limit(
    value: float, from_unit: RateUnit, to_unit: RateUnit, phases: int, voltage_v: float
) -> float:
    """A schedule limit in ``to_unit``: A per phase <-> W total on ``phases`` at ``voltage_v``
    (§7.12); :data:`NO_LIMIT` stays itself. ValueError as :func:`amps_for`."""
    if from_unit == to_unit or math.isinf(value):
        return value
    if from_unit == "A":
        return watts_for(value, phases, voltage_v)
    _check_phases_and_voltage(phases, voltage_v)
    return value / (voltage_v * phases)


def _check_phases_and_voltage(phases: int, voltage_v: float) -> None:
    if not 1 <= phases <= MAX_NUMBER_PHASES:
        raise ValueError(f"phases is {phases}, expected 1, 2 or 3")
    if not voltage_v > 0:
        raise ValueError(f"voltage is {voltage_v} V, expected more than 0 V")


def floor_to_tenth(value: float) -> float:
    """``value`` rounded down to 0.1, the precision of charging rates (§7.13, §7.14): a limit
    rounded this way never exceeds the one asked for by more than float noise."""
    if math.isinf(value):
        return value
    return math.floor(value * 10 + TENTHS_TOLERANCE) / 10


# ---- the rules before sending -------------------------------------------------------------------


def check_profile(
    profile: Profile,
    connector_id: int,
    *,
    capabilities: ChargerCapabilities,
    active_transaction_id: int | None,
    number_of_connectors: int | None,
    installed: Sequence[InstalledProfile] = (),
) -> None:
    """Refuse (``ProfileRefused``) a SetChargingProfile the charger must reject or would apply
    differently from what the operator means; return None when it may be sent.

    ``active_transaction_id``: the transaction running on ``connector_id`` (None: none);
    ``number_of_connectors``: NumberOfConnectors (§9.1) when known; ``installed``: what the
    charger holds, for MaxChargingProfilesInstalled (§9.4). Capabilities that are None are not
    checked.
    """
    _check_connector(profile, connector_id, active_transaction_id, number_of_connectors)
    _check_stack_level(profile, capabilities)
    _check_kind(profile)
    _check_schedule(profile.schedule, capabilities)
    _check_times(profile)
    _check_room(profile, connector_id, capabilities, installed)


def _check_connector(
    profile: Profile,
    connector_id: int,
    active_transaction_id: int | None,
    number_of_connectors: int | None,
) -> None:
    if connector_id < 0:
        raise ProfileRefused(
            "unknown-connector",
            f"connector {connector_id} does not exist: use 0 for the whole charger or a "
            "connector from 1",
        )
    if number_of_connectors is not None and connector_id > number_of_connectors:
        raise ProfileRefused(
            "unknown-connector",
            f"the charger reports {number_of_connectors} connector(s) (NumberOfConnectors): "
            f"use 0 to {number_of_connectors}, not {connector_id}",
        )
    purpose = profile.purpose
    if purpose == "ChargePointMaxProfile" and connector_id != 0:
        # §3.13.1: "ChargePointMaxProfile can only be set at Charge Point ConnectorId 0".
        raise ProfileRefused(
            "max-profile-not-on-connector-0",
            "a ChargePointMaxProfile limits the whole charger: send it to connector 0, not "
            f"connector {connector_id} (OCPP 1.6 §3.13.1)",
        )
    if purpose != "TxProfile":
        if profile.transaction_id is not None:
            # §7.8 transactionId: "Only valid if ChargingProfilePurpose is set to TxProfile".
            raise ProfileRefused(
                "transaction-id-without-tx-profile",
                f"a {purpose} is not tied to a transaction: leave out transaction id "
                f"{profile.transaction_id}, or make it a TxProfile (OCPP 1.6 §7.8)",
            )
        return
    if connector_id == 0:
        # §3.13.1: "TxProfile SHALL only be set at Charge Point ConnectorId >0".
        raise ProfileRefused(
            "tx-profile-on-connector-0",
            "a TxProfile belongs to a transaction on one connector: send it to that connector, "
            "not to connector 0 (OCPP 1.6 §3.13.1)",
        )
    if active_transaction_id is None:
        # §3.13.1: without a transaction on the connector the charger SHALL discard a TxProfile.
        raise ProfileRefused(
            "no-active-transaction",
            f"no transaction runs on connector {connector_id}: a TxProfile needs one; send a "
            "TxDefaultProfile to limit the next transactions (OCPP 1.6 §3.13.1)",
        )
    if profile.transaction_id is not None and profile.transaction_id != active_transaction_id:
        raise ProfileRefused(
            "wrong-transaction",
            f"transaction {profile.transaction_id} is not the one running on connector "
            f"{connector_id} ({active_transaction_id}): use {active_transaction_id} or leave it "
            "out (OCPP 1.6 §5.16)",
        )


def _check_stack_level(profile: Profile, capabilities: ChargerCapabilities) -> None:
    if profile.stack_level < 0:
        raise ProfileRefused(
            "stack-level-negative",
            f"stack level {profile.stack_level} is below 0, the lowest priority (OCPP 1.6 §7.8)",
        )
    highest = capabilities.max_stack_level
    if highest is not None and profile.stack_level > highest:
        raise ProfileRefused(
            "stack-level-too-high",
            f"the charger takes stack levels up to {highest} (ChargeProfileMaxStackLevel): use "
            f"0 to {highest}, not {profile.stack_level} (OCPP 1.6 §9.4)",
        )


def _check_kind(profile: Profile) -> None:
    schedule = profile.schedule
    if profile.kind == "Relative" and schedule.start_schedule is not None:
        # §7.9 Relative: the charger chooses the start (the transaction's), so there is none.
        raise ProfileRefused(
            "relative-with-start-schedule",
            "a Relative schedule starts when the transaction starts: leave out startSchedule, "
            "or make the profile Absolute (OCPP 1.6 §7.9)",
        )
    if profile.kind != "Recurring":
        if profile.recurrency_kind is not None:
            raise ProfileRefused(
                "recurrency-kind-without-recurring",
                f"recurrencyKind {profile.recurrency_kind} only applies to a Recurring profile: "
                f"leave it out or make the profile Recurring (OCPP 1.6 §7.8)",
            )
        return
    if profile.recurrency_kind is None:
        raise ProfileRefused(
            "recurring-without-recurrency-kind",
            "a Recurring profile repeats Daily or Weekly: give recurrencyKind (OCPP 1.6 §7.8)",
        )
    if schedule.start_schedule is None:
        # §7.9 Recurring restarts "at the first schedule period", anchored on startSchedule.
        raise ProfileRefused(
            "recurring-without-start-schedule",
            "a Recurring profile repeats from its startSchedule (time of day, and weekday for "
            "Weekly): give startSchedule (OCPP 1.6 §7.9, §7.13)",
        )
    cycle = RECURRENCE_S[profile.recurrency_kind]
    if schedule.duration_s is not None and schedule.duration_s > cycle:
        raise ProfileRefused(
            "recurring-duration-too-long",
            f"a {profile.recurrency_kind} schedule restarts every {cycle} s: make its duration "
            f"at most {cycle} s, not {schedule.duration_s} s (OCPP 1.6 §7.13)",
        )


def _check_schedule(schedule: Schedule, capabilities: ChargerCapabilities) -> None:
    periods = schedule.periods
    if not periods:
        raise ProfileRefused(
            "no-periods", "a schedule needs at least one period (OCPP 1.6 §7.13: 1..*)"
        )
    if periods[0].start_period_s != 0:
        raise ProfileRefused(
            "first-period-not-zero",
            f"the first period starts at {periods[0].start_period_s} s: start it at 0 s "
            "(OCPP 1.6 §7.14: the first startPeriod SHALL be 0)",
        )
    for before, after in itertools.pairwise(periods):
        if after.start_period_s <= before.start_period_s:
            raise ProfileRefused(
                "periods-not-increasing",
                f"a period starting at {after.start_period_s} s follows one starting at "
                f"{before.start_period_s} s: list periods by increasing start (OCPP 1.6 §7.14)",
            )
    most = capabilities.max_periods
    if most is not None and len(periods) > most:
        raise ProfileRefused(
            "too-many-periods",
            f"the charger takes {most} period(s) per schedule (ChargingScheduleMaxPeriods): "
            f"use at most {most}, not {len(periods)} (OCPP 1.6 §9.4)",
        )
    unit = schedule.rate_unit
    for period in periods:
        at = f"the period at {period.start_period_s} s"
        if not math.isfinite(period.limit) or period.limit < 0:
            raise ProfileRefused(
                "negative-limit",
                f"{at} has limit {period.limit} {unit}: give 0 {unit} or more (0 pauses)",
            )
        if not _is_tenth(period.limit):
            raise ProfileRefused(
                "limit-precision",
                f"{at} has limit {period.limit} {unit}: round it to 0.1 {unit} "
                "(OCPP 1.6 §7.14: multipleOf 0.1)",
            )
        phases = period.number_phases
        if phases is not None and not 1 <= phases <= MAX_NUMBER_PHASES:
            raise ProfileRefused(
                "number-phases-out-of-range",
                f"{at} has numberPhases {phases}: give 1, 2 or 3, or leave it out for 3 "
                "(OCPP 1.6 §7.14)",
            )
    allowed = capabilities.allowed_rate_units
    if allowed is not None and unit not in allowed:
        words = " or ".join(sorted("Current (A)" if u == "A" else "Power (W)" for u in allowed))
        raise ProfileRefused(
            "rate-unit-not-allowed",
            f"the charger takes schedules in {words or 'no unit'} "
            f"(ChargingScheduleAllowedChargingRateUnit), not {unit}: convert the limit "
            "(OCPP 1.6 §9.4)",
        )
    if schedule.duration_s is not None and schedule.duration_s <= 0:
        raise ProfileRefused(
            "duration-not-positive",
            f"duration {schedule.duration_s} s is not a length of time: give more than 0 s, or "
            "leave it out for a schedule without end (OCPP 1.6 §7.13)",
        )
    rate = schedule.min_charging_rate
    if rate is not None and (not math.isfinite(rate) or rate < 0 or not _is_tenth(rate)):
        raise ProfileRefused(
            "min-charging-rate-invalid",
            f"minChargingRate {rate} {unit}: give 0 {unit} or more, in steps of 0.1 "
            "(OCPP 1.6 §7.13)",
        )


def _check_times(profile: Profile) -> None:
    for name, value in (
        ("validFrom", profile.valid_from),
        ("validTo", profile.valid_to),
        ("startSchedule", profile.schedule.start_schedule),
    ):
        if value is not None and value.utcoffset() is None:
            raise ProfileRefused(
                "time-without-offset",
                f"{name} {value.isoformat()} has no UTC offset: give one, e.g. Z "
                "(OCPP 1.6 §3.15: ISO 8601, UTC recommended)",
            )
    if (
        profile.valid_from is not None
        and profile.valid_to is not None
        and profile.valid_from >= profile.valid_to
    ):
        raise ProfileRefused(
            "validity-empty",
            f"validFrom {profile.valid_from.isoformat()} is not before validTo "
            f"{profile.valid_to.isoformat()}: the profile would never be valid (OCPP 1.6 §7.8)",
        )


def _check_room(
    profile: Profile,
    connector_id: int,
    capabilities: ChargerCapabilities,
    installed: Sequence[InstalledProfile],
) -> None:
    most = capabilities.max_profiles_installed
    if most is None:
        return
    kept = [held for held in installed if not replaces(profile, connector_id, held)]
    if len(kept) + 1 > most:
        raise ProfileRefused(
            "too-many-profiles",
            f"the charger holds {len(kept)} profile(s) this one does not replace and takes "
            f"{most} (MaxChargingProfilesInstalled): clear one first, or reuse the id or the "
            "connector, purpose and stack level of one it holds (OCPP 1.6 §3.13.2, §9.4)",
        )


def replaces(profile: Profile, connector_id: int, held: InstalledProfile) -> bool:
    """Whether installing ``profile`` on ``connector_id`` replaces ``held``: the same
    chargingProfileId, or the same connector, purpose and stack level (§3.13.2; for TxProfiles
    also the same transaction, §5.16.2)."""
    old = held.profile
    if old.charging_profile_id == profile.charging_profile_id:
        return True
    same_slot = (
        held.connector_id == connector_id
        and old.purpose == profile.purpose
        and old.stack_level == profile.stack_level
    )
    if profile.purpose == "TxProfile":
        return same_slot and old.transaction_id == profile.transaction_id
    return same_slot


def _is_tenth(value: float) -> bool:
    tenths = value * 10
    return abs(tenths - round(tenths)) <= TENTHS_TOLERANCE


# ---- the limit profiles of load control ---------------------------------------------------------


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
    transaction start), so the charger falls back to its TxDefaultProfile if nobody renews it.

    One period from 0 s. The limit is rounded down to 0.1 A (or W), the precision of §7.14, so
    it never exceeds ``limit_a``. Absolute: startSchedule is ``now`` (whole seconds) less
    :data:`ABSOLUTE_START_MARGIN_S`. Relative without a transaction (a TxDefaultProfile): the
    lease counts from the start of the next transaction, the start the charger chooses (§7.9).
    ``transaction_id`` is put in only for a TxProfile. ValueError for a negative or non-finite
    limit, phases outside 1..3, a voltage not above 0 or a lease not above 0.
    """
    if not math.isfinite(limit_a) or limit_a < 0:
        raise ValueError(f"limit is {limit_a} A, expected 0 A or more")
    if lease_s is not None and not lease_s > 0:
        raise ValueError(f"lease is {lease_s} s, expected more than 0 s")
    _check_phases_and_voltage(phases, voltage_v)
    limit = floor_to_tenth(convert_limit(limit_a, "A", rate_unit, phases, voltage_v))
    stack_level = quirks.stack_level
    if max_stack_level is not None:
        stack_level = min(stack_level, max_stack_level)
    stack_level = max(stack_level, 0)
    whole_now = now.replace(microsecond=0)
    start_schedule: datetime | None = None
    duration_s: int | None = None
    if quirks.profile_kind == "Absolute":
        start_schedule = whole_now - timedelta(seconds=ABSOLUTE_START_MARGIN_S)
        if lease_s is not None:
            duration_s = math.ceil((now - start_schedule).total_seconds() + lease_s)
    elif lease_s is not None:
        elapsed = 0.0
        if transaction_started_at is not None:
            elapsed = max((now - transaction_started_at).total_seconds(), 0.0)
        duration_s = math.ceil(elapsed + lease_s)
    return Profile(
        charging_profile_id=charging_profile_id,
        stack_level=stack_level,
        purpose=purpose,
        kind=quirks.profile_kind,
        schedule=Schedule(
            rate_unit=rate_unit,
            periods=(Period(start_period_s=0, limit=limit, number_phases=phases),),
            duration_s=duration_s,
            start_schedule=start_schedule,
        ),
        transaction_id=transaction_id if purpose == "TxProfile" else None,
    )


# ---- the composite schedule ---------------------------------------------------------------------


def composite_schedule(
    profiles: Sequence[InstalledProfile],
    connector_id: int,
    start: datetime,
    duration_s: int,
    rate_unit: RateUnit,
    *,
    transaction_id: int | None,
    transaction_started_at: datetime | None,
    voltage_v: float = 230.0,
) -> Schedule:
    """The limits a charger holding ``profiles`` should apply on ``connector_id`` from ``start``
    for ``duration_s`` seconds, in ``rate_unit``: what GetCompositeSchedule (§5.7) should answer.

    At each instant (§3.13.2, §3.13.3; facts §1.7 "Composite schedule"):

    * within a purpose, the prevailing profile is the one with the highest stack level that is
      valid then (validFrom <= t < validTo; no validFrom: from receipt) and whose schedule covers
      the instant: when a schedule's duration (or a Recurring one's duration within its cycle)
      ends, the next lower stack level applies;
    * a schedule counts from startSchedule (Absolute; without one, from the transaction start,
      §7.13), from the transaction start (Relative; with no transaction, from ``start``: what a
      transaction starting now would get), or from startSchedule's time of day / weekday,
      repeated (Recurring Daily / Weekly, §7.37);
    * on a connector (> 0): the minimum of the prevailing ChargePointMaxProfile (connector 0)
      and the prevailing TxProfile of ``transaction_id`` or, where none applies, the prevailing
      TxDefaultProfile of the connector itself, else of connector 0 (§3.13.1);
    * on connector 0: what the whole charger may draw from the grid, the prevailing
      ChargePointMaxProfile (§3.13.3, §5.7).

    Limits are converted between A per phase and W in total with each period's numberPhases
    (default 3) at ``voltage_v`` and rounded down to 0.1. Where nothing limits, the period's
    limit is :data:`NO_LIMIT`. Periods start at whole seconds; an instant where a limit changes
    within a second is folded into the lower limit of that second, so the composite never
    exceeds a prevailing profile. Consecutive equal periods are merged. ValueError for a
    duration not above 0.
    """
    if duration_s <= 0:
        raise ValueError(f"duration is {duration_s} s, expected more than 0 s")
    relative_start = transaction_started_at if transaction_started_at is not None else start
    layers = _Layers.of(profiles, connector_id, transaction_id)
    end = start + timedelta(seconds=duration_s)
    changes = sorted(
        {
            moment
            for held in layers.all()
            for moment in _changes(held, relative_start, start, end)
            if start < moment < end
        }
    )

    def limit_at(moment: datetime) -> tuple[float, int | None]:
        return layers.limit_at(moment, relative_start, rate_unit, voltage_v)

    offsets = [(moment - start) / timedelta(seconds=1) for moment in changes]
    bounds = sorted(
        {0}
        | {math.floor(offset) for offset in offsets}
        | {math.ceil(offset) for offset in offsets if math.ceil(offset) < duration_s}
    )
    periods: list[Period] = []
    for index, bound in enumerate(bounds):
        following = bounds[index + 1] if index + 1 < len(bounds) else duration_s
        # The limit at the whole second, and at each change before the next bound (a change
        # between whole seconds), so the period takes the lowest of them.
        within = changes[
            bisect.bisect_right(offsets, bound) : bisect.bisect_left(offsets, following)
        ]
        candidates = [limit_at(start + timedelta(seconds=bound))]
        candidates += [limit_at(moment) for moment in within]
        limit, phases = min(candidates, key=lambda candidate: candidate[0])
        limit = floor_to_tenth(limit)
        if periods and periods[-1].limit == limit and periods[-1].number_phases == phases:
            continue
        periods.append(Period(start_period_s=bound, limit=limit, number_phases=phases))
    return Schedule(
        rate_unit=rate_unit, periods=tuple(periods), duration_s=duration_s, start_schedule=start
    )


@dataclass(frozen=True)
class _Layers:
    """The profiles that can apply to one connector, by role, highest priority first."""

    charge_point_max: tuple[InstalledProfile, ...]
    transaction: tuple[InstalledProfile, ...]
    connector_default: tuple[InstalledProfile, ...]
    charger_default: tuple[InstalledProfile, ...]
    whole_charger: bool

    @classmethod
    def of(
        cls, profiles: Sequence[InstalledProfile], connector_id: int, transaction_id: int | None
    ) -> _Layers:
        def pick(purpose: Purpose, connector: int) -> tuple[InstalledProfile, ...]:
            chosen = [
                held
                for held in profiles
                if held.profile.purpose == purpose and held.connector_id == connector
            ]
            # Highest stack level first; two on one level cannot both be held (§3.13.2), but if
            # records say so, the newer one is the one the charger kept.
            chosen.sort(key=lambda held: (held.profile.stack_level, held.installed_at))
            return tuple(reversed(chosen))

        whole_charger = connector_id == 0
        transaction: tuple[InstalledProfile, ...] = ()
        if not whole_charger and transaction_id is not None:
            transaction = tuple(
                held
                for held in pick("TxProfile", connector_id)
                if held.profile.transaction_id in (None, transaction_id)
            )
        return cls(
            charge_point_max=pick("ChargePointMaxProfile", 0),
            transaction=transaction,
            connector_default=() if whole_charger else pick("TxDefaultProfile", connector_id),
            charger_default=() if whole_charger else pick("TxDefaultProfile", 0),
            whole_charger=whole_charger,
        )

    def all(self) -> Iterable[InstalledProfile]:
        yield from self.charge_point_max
        yield from self.transaction
        yield from self.connector_default
        yield from self.charger_default

    def limit_at(
        self, moment: datetime, relative_start: datetime, unit: RateUnit, voltage_v: float
    ) -> tuple[float, int | None]:
        """The lowest prevailing limit at ``moment`` in ``unit``, with the numberPhases of the
        period that set it (None: not stated); (NO_LIMIT, None) when nothing limits."""
        found = [_prevailing(self.charge_point_max, moment, relative_start)]
        if not self.whole_charger:
            # §3.13.1: a TxProfile overrules the TxDefaultProfile; a connector's own
            # TxDefaultProfile replaces connector 0's for that connector.
            found.append(
                _prevailing(self.transaction, moment, relative_start)
                or _prevailing(self.connector_default, moment, relative_start)
                or _prevailing(self.charger_default, moment, relative_start)
            )
        lowest: tuple[float, int | None] = (NO_LIMIT, None)
        for prevailing in found:
            if prevailing is None:
                continue
            held, period = prevailing
            value = convert_limit(
                period.limit,
                held.profile.schedule.rate_unit,
                unit,
                period.number_phases or DEFAULT_NUMBER_PHASES,
                voltage_v,
            )
            if value < lowest[0]:
                lowest = (value, period.number_phases)
        return lowest


def _prevailing(
    layer: Sequence[InstalledProfile], moment: datetime, relative_start: datetime
) -> tuple[InstalledProfile, Period] | None:
    """The period in force at ``moment`` of the highest-stack profile in ``layer`` that is
    valid and whose schedule covers it (§3.13.2)."""
    for held in layer:
        period = _period_at(held, moment, relative_start)
        if period is not None:
            return held, period
    return None


def _period_at(held: InstalledProfile, moment: datetime, relative_start: datetime) -> Period | None:
    profile = held.profile
    valid_from = profile.valid_from if profile.valid_from is not None else held.installed_at
    if moment < valid_from or (profile.valid_to is not None and moment >= profile.valid_to):
        return None
    anchor = _anchor(held, relative_start)
    elapsed = (moment - anchor).total_seconds()
    if elapsed < 0:
        return None
    if profile.kind == "Recurring":
        elapsed %= RECURRENCE_S[profile.recurrency_kind or "Daily"]
    schedule = profile.schedule
    if schedule.duration_s is not None and elapsed >= schedule.duration_s:
        return None  # §3.13.2: beyond its duration a schedule says nothing
    found: Period | None = None
    for period in schedule.periods:
        if period.start_period_s > elapsed:
            break
        found = period
    return found


def _anchor(held: InstalledProfile, relative_start: datetime) -> datetime:
    """When the schedule's time 0 is (for Recurring: its first cycle)."""
    profile = held.profile
    start_schedule = profile.schedule.start_schedule
    if profile.kind == "Recurring":
        return start_schedule if start_schedule is not None else held.installed_at
    if profile.kind == "Absolute" and start_schedule is not None:
        return start_schedule
    return relative_start


def _changes(
    held: InstalledProfile, relative_start: datetime, start: datetime, end: datetime
) -> Iterable[datetime]:
    """Every instant at which what ``held`` says may change."""
    profile = held.profile
    yield profile.valid_from if profile.valid_from is not None else held.installed_at
    if profile.valid_to is not None:
        yield profile.valid_to
    anchor = _anchor(held, relative_start)
    schedule = profile.schedule
    offsets = [period.start_period_s for period in schedule.periods]
    if schedule.duration_s is not None:
        offsets.append(schedule.duration_s)
    cycle_starts = [anchor]
    if profile.kind == "Recurring":
        cycle = timedelta(seconds=RECURRENCE_S[profile.recurrency_kind or "Daily"])
        offsets.append(int(cycle.total_seconds()))
        first = max(math.floor((start - anchor) / cycle), 0)
        last = math.ceil((end - anchor) / cycle)
        cycle_starts = [anchor + cycle * number for number in range(first, last + 1)]
    for cycle_start in cycle_starts:
        for offset in offsets:
            yield cycle_start + timedelta(seconds=offset)


# ---- comparing with the charger's answer --------------------------------------------------------


def compare_schedules(
    ours: Schedule,
    theirs: Schedule,
    *,
    start: datetime,
    tolerance: float = 0.1,
    time_tolerance_s: float = 2.0,
    voltage_v: float = 230.0,
) -> list[str]:
    """Where the charger's composite schedule (``theirs``, GetCompositeSchedule §5.7) differs
    from ChargeDeck's (``ours``): one sentence per stretch of time with its start, length and
    both values, e.g. "from 12:00:00Z for 600 s ChargeDeck expects 16 A, the charger reports
    32 A". Empty when they agree.

    Both are laid on the clock from their own startSchedule (``start`` when they have none) over
    ``ours``'s duration from ``start``; a time a schedule does not cover (before its first
    period, after its duration) is "no limit". ``theirs`` is converted to ``ours``'s unit with
    its numberPhases (default 3) at ``voltage_v``. Values within ``tolerance`` agree; a
    difference lasting less than ``time_tolerance_s`` is a boundary the two clocks put a moment
    apart (the charger's start is when it received the request), not a mismatch.
    ValueError when ``ours`` has no duration.
    """
    if ours.duration_s is None:
        raise ValueError("ChargeDeck's schedule needs a duration to compare over")
    end = start + timedelta(seconds=ours.duration_s)
    moments = sorted(
        {start}
        | {
            moment
            for schedule in (ours, theirs)
            for moment in _schedule_changes(schedule, start)
            if start < moment < end
        }
    )
    unit = ours.rate_unit
    stretches: list[tuple[datetime, datetime, float, float]] = []
    for index, moment in enumerate(moments):
        until = moments[index + 1] if index + 1 < len(moments) else end
        expected = _schedule_limit_at(ours, moment, start, unit, voltage_v)
        reported = _schedule_limit_at(theirs, moment, start, unit, voltage_v)
        if _agree(expected, reported, tolerance):
            continue
        if stretches and stretches[-1][1] == moment and stretches[-1][2:] == (expected, reported):
            stretches[-1] = (stretches[-1][0], until, expected, reported)
        else:
            stretches.append((moment, until, expected, reported))
    return [
        f"from {_clock(begin, start)} for {_whole(seconds)} s ChargeDeck expects "
        f"{_limit_text(expected, unit)}, the charger reports {_limit_text(reported, unit)}"
        for begin, until, expected, reported in stretches
        if (seconds := (until - begin).total_seconds()) >= time_tolerance_s
    ]


def _schedule_changes(schedule: Schedule, start: datetime) -> Iterable[datetime]:
    origin = schedule.start_schedule if schedule.start_schedule is not None else start
    for period in schedule.periods:
        yield origin + timedelta(seconds=period.start_period_s)
    if schedule.duration_s is not None:
        yield origin + timedelta(seconds=schedule.duration_s)


def _schedule_limit_at(
    schedule: Schedule, moment: datetime, start: datetime, unit: RateUnit, voltage_v: float
) -> float:
    origin = schedule.start_schedule if schedule.start_schedule is not None else start
    elapsed = (moment - origin).total_seconds()
    if elapsed < 0 or (schedule.duration_s is not None and elapsed >= schedule.duration_s):
        return NO_LIMIT
    found: Period | None = None
    for period in schedule.periods:
        if period.start_period_s > elapsed:
            break
        found = period
    if found is None:
        return NO_LIMIT
    phases = found.number_phases
    if phases is None or not 1 <= phases <= MAX_NUMBER_PHASES:
        phases = DEFAULT_NUMBER_PHASES  # a charger's answer is read, not judged, here
    return convert_limit(found.limit, schedule.rate_unit, unit, phases, voltage_v)


def _agree(expected: float, reported: float, tolerance: float) -> bool:
    if math.isinf(expected) or math.isinf(reported):
        return expected == reported
    return abs(expected - reported) <= tolerance + TENTHS_TOLERANCE


def _clock(moment: datetime, start: datetime) -> str:
    """HH:MM:SSZ in UTC, with the date when it is not ``start``'s."""
    utc = moment.astimezone(UTC)
    if utc.date() != start.astimezone(UTC).date():
        return utc.strftime("%Y-%m-%d %H:%M:%SZ")
    return utc.strftime("%H:%M:%SZ")


def _whole(seconds: float) -> str:
    return str(round(seconds))


def _limit_text(value: float, unit: RateUnit) -> str:
    if math.isinf(value):
        return "no limit"
    rounded = round(value, 1)
    text = f"{rounded:.1f}".removesuffix(".0")
    return f"{text} {unit}"
