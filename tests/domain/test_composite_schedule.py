"""The composite schedule ChargeDeck computes (OCPP 1.6 §3.13.2 stacking, §3.13.3 combining
purposes, §5.7 GetCompositeSchedule) and its comparison with a charger's answer.

The worked examples are the specification's own: the daily TxDefaultProfile of §3.13.7 ("Example
data structure for smart charging": 11 kW, 6 kW from 08:00 to 20:00), the weekly calendar with a
holiday exception of §3.13.2, and the stack-level-0 profile of the OCA compliance test
TC_072_CS (6/8/10 A at 0/100/200 s for 400 s) under a shorter profile of a higher level.
Hypothesis checks the properties against a plain re-reading of the rules."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from chargedeck.domain.charging_profiles import (
    NO_LIMIT,
    InstalledProfile,
    Kind,
    Period,
    Profile,
    Purpose,
    RateUnit,
    Recurrency,
    Schedule,
    compare_schedules,
    composite_schedule,
    convert_limit,
    floor_to_tenth,
)

START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)  # a Sunday
MONDAY = datetime(2025, 6, 2, tzinfo=UTC)
WEDNESDAY_NOON = datetime(2025, 6, 4, 12, 0, tzinfo=UTC)
HOUR = 3600


def installed(
    purpose: Purpose,
    periods: tuple[Period, ...],
    *,
    connector_id: int = 1,
    stack_level: int = 0,
    kind: Kind = "Absolute",
    rate_unit: RateUnit = "A",
    start_schedule: datetime | None = START - timedelta(hours=1),
    installed_at: datetime = START - timedelta(hours=1),
    profile_id: int = 1000,
    **changes: object,
) -> InstalledProfile:
    profile = Profile(
        charging_profile_id=profile_id,
        stack_level=stack_level,
        purpose=purpose,
        kind=kind,
        schedule=Schedule(
            rate_unit=rate_unit,
            periods=periods,
            start_schedule=None if kind == "Relative" else start_schedule,
        ),
    )
    schedule_changes = {
        key: changes.pop(key) for key in ("duration_s", "min_charging_rate") if key in changes
    }
    profile = replace(profile, schedule=replace(profile.schedule, **schedule_changes), **changes)  # type: ignore[arg-type]
    return InstalledProfile(profile=profile, connector_id=connector_id, installed_at=installed_at)


def limits(
    profiles: list[InstalledProfile],
    connector_id: int = 1,
    *,
    start: datetime = START,
    duration_s: int = 3600,
    unit: RateUnit = "A",
    transaction_id: int | None = None,
    transaction_started_at: datetime | None = None,
) -> list[tuple[int, float]]:
    """The composite as (startPeriod, limit) pairs."""
    schedule = composite_schedule(
        profiles,
        connector_id,
        start,
        duration_s,
        unit,
        transaction_id=transaction_id,
        transaction_started_at=transaction_started_at,
    )
    assert schedule.duration_s == duration_s
    assert schedule.start_schedule == start
    return [(period.start_period_s, period.limit) for period in schedule.periods]


# ---- the specification's examples ---------------------------------------------------------------

# §3.13.7: TxDefaultProfile 100, stack level 0, Recurring Daily from 2013-01-01T00:00Z, 24 h, W.
SPEC_DAILY = installed(
    "TxDefaultProfile",
    (Period(0, 11000.0, 3), Period(28800, 6000.0, 3), Period(72000, 11000.0, 3)),
    connector_id=0,
    kind="Recurring",
    recurrency_kind="Daily",
    rate_unit="W",
    start_schedule=datetime(2013, 1, 1, tzinfo=UTC),
    installed_at=datetime(2013, 1, 1, tzinfo=UTC),
    duration_s=86400,
    profile_id=100,
)


def test_the_spec_daily_profile_limits_to_6_kw_from_8_to_20_every_day() -> None:
    assert limits(
        [SPEC_DAILY], start=datetime(2025, 6, 1, 6, 0, tzinfo=UTC), duration_s=86400, unit="W"
    ) == [
        (0, 11000.0),
        (2 * HOUR, 6000.0),  # 08:00
        (14 * HOUR, 11000.0),  # 20:00, and on through midnight into the next day's cycle
    ]


def test_the_spec_daily_profile_in_amps_is_per_phase_at_230_v() -> None:
    # 11000 W / (3 x 230 V) = 15.94 A, 6000 W / 690 V = 8.69 A, rounded down to 0.1 A.
    assert limits([SPEC_DAILY], start=datetime(2025, 6, 1, 6, 0, tzinfo=UTC), duration_s=86400) == [
        (0, 15.9),
        (2 * HOUR, 8.6),
        (14 * HOUR, 15.9),
    ]


# §3.13.2: "a charging profile of purpose TxDefaultProfile with a duration and recurrence of one
# week that allows full power or current charging on weekdays from 23:00h to 06:00h and from
# 00:00h to 24:00h in weekends and reduced power or current charging at other times."
FULL_A, REDUCED_A = 32.0, 10.0
WEEK = installed(
    "TxDefaultProfile",
    (
        Period(0, FULL_A),  # Monday 00:00
        *(
            period
            for day in range(5)  # Monday .. Friday
            for period in (
                Period((24 * day + 6) * HOUR, REDUCED_A),
                Period((24 * day + 23) * HOUR, FULL_A),
            )
        ),
    ),
    kind="Recurring",
    recurrency_kind="Weekly",
    start_schedule=MONDAY,
    installed_at=MONDAY,
    duration_s=7 * 24 * HOUR,
)


def test_the_spec_weekly_calendar_reduces_the_working_day_and_frees_the_night() -> None:
    assert limits([WEEK], start=WEDNESDAY_NOON, duration_s=24 * HOUR) == [
        (0, REDUCED_A),
        (11 * HOUR, FULL_A),  # Wednesday 23:00
        (18 * HOUR, REDUCED_A),  # Thursday 06:00
    ]


def test_the_spec_weekly_calendar_allows_full_power_all_weekend() -> None:
    friday_noon = WEDNESDAY_NOON + timedelta(days=2)
    assert limits([WEEK], start=friday_noon, duration_s=72 * HOUR) == [
        (0, REDUCED_A),
        (11 * HOUR, FULL_A),  # Friday 23:00, through Saturday and Sunday
        (66 * HOUR, REDUCED_A),  # Monday 06:00
    ]


def test_a_holiday_on_a_higher_stack_level_is_the_exception_to_the_weekly_calendar() -> None:
    thursday = MONDAY + timedelta(days=3)
    holiday = installed(
        "TxDefaultProfile",
        (Period(0, FULL_A),),
        stack_level=1,
        start_schedule=thursday,
        valid_from=thursday,
        valid_to=thursday + timedelta(days=1),
        profile_id=1001,
    )
    assert limits([WEEK, holiday], start=WEDNESDAY_NOON, duration_s=48 * HOUR) == [
        (0, REDUCED_A),
        (11 * HOUR, FULL_A),  # Wednesday 23:00, then the holiday all Thursday
        (42 * HOUR, REDUCED_A),  # Friday 06:00
    ]


def test_a_higher_stack_level_falls_back_to_the_lower_one_when_its_duration_ends() -> None:
    # TC_072_CS's stack-level-0 profile, under a 150 s profile of stack level 1.
    level_0 = installed(
        "TxDefaultProfile",
        (Period(0, 6.0), Period(100, 8.0), Period(200, 10.0)),
        start_schedule=START,
        duration_s=400,
    )
    level_1 = installed(
        "TxDefaultProfile",
        (Period(0, 12.0),),
        stack_level=1,
        start_schedule=START,
        duration_s=150,
        profile_id=1001,
    )
    assert limits([level_0, level_1], duration_s=500) == [
        (0, 12.0),
        (150, 8.0),
        (200, 10.0),
        (400, NO_LIMIT),  # §3.13.6: without a profile, as if no constraints apply
    ]


def test_the_highest_stack_level_without_a_duration_never_falls_back() -> None:
    level_0 = installed("TxDefaultProfile", (Period(0, 6.0),))
    level_1 = installed("TxDefaultProfile", (Period(0, 12.0),), stack_level=1, profile_id=1001)
    assert limits([level_0, level_1], duration_s=86400) == [(0, 12.0)]


# ---- combining purposes (§3.13.3) --------------------------------------------------------------


def test_the_composite_is_the_lower_of_charge_point_max_and_tx_default() -> None:
    charger_max = installed("ChargePointMaxProfile", (Period(0, 20.0),), connector_id=0)
    for default_a, expected in ((32.0, 20.0), (16.0, 16.0)):
        default = installed("TxDefaultProfile", (Period(0, default_a),), profile_id=1001)
        assert limits([charger_max, default]) == [(0, expected)]


def test_purposes_in_different_units_are_compared_in_the_unit_asked_for() -> None:
    charger_max = installed(
        "ChargePointMaxProfile", (Period(0, 11000.0),), connector_id=0, rate_unit="W"
    )
    default = installed("TxDefaultProfile", (Period(0, 20.0),), profile_id=1001)
    assert limits([charger_max, default]) == [(0, 15.9)]
    assert limits([charger_max, default], unit="W") == [(0, 11000.0)]


def test_a_one_phase_limit_in_watts_counts_one_phase() -> None:
    default = installed("TxDefaultProfile", (Period(0, 16.0, 1),))
    schedule = composite_schedule(
        [default], 1, START, 60, "W", transaction_id=None, transaction_started_at=None
    )
    assert schedule.periods == (Period(0, 3680.0, 1),)


def test_a_tx_profile_overrules_the_tx_default_profile_even_upwards() -> None:
    default = installed("TxDefaultProfile", (Period(0, 16.0),))
    tx = installed("TxProfile", (Period(0, 24.0),), transaction_id=7, profile_id=1001)
    assert limits([default, tx], transaction_id=7, transaction_started_at=START) == [(0, 24.0)]


def test_a_tx_profile_of_another_transaction_does_not_apply() -> None:
    default = installed("TxDefaultProfile", (Period(0, 16.0),))
    tx = installed("TxProfile", (Period(0, 8.0),), transaction_id=6, profile_id=1001)
    assert limits([default, tx], transaction_id=7, transaction_started_at=START) == [(0, 16.0)]
    assert limits([default, tx]) == [(0, 16.0)]


def test_the_tx_default_profile_returns_when_the_tx_profile_ends() -> None:
    default = installed("TxDefaultProfile", (Period(0, 16.0),))
    tx = installed(
        "TxProfile",
        (Period(0, 8.0),),
        start_schedule=START,
        duration_s=600,
        transaction_id=7,
        profile_id=1001,
    )
    assert limits([default, tx], transaction_id=7, transaction_started_at=START) == [
        (0, 8.0),
        (600, 16.0),
    ]


def test_a_connectors_own_tx_default_profile_comes_before_connector_0s() -> None:
    everywhere = installed("TxDefaultProfile", (Period(0, 6.0),), connector_id=0)
    own = installed("TxDefaultProfile", (Period(0, 10.0),), profile_id=1001)
    assert limits([everywhere, own]) == [(0, 10.0)]
    assert limits([everywhere, own], connector_id=2) == [(0, 6.0)]


def test_connector_0s_tx_default_profile_applies_when_the_connectors_own_ends() -> None:
    everywhere = installed("TxDefaultProfile", (Period(0, 6.0),), connector_id=0)
    own = installed(
        "TxDefaultProfile", (Period(0, 10.0),), start_schedule=START, duration_s=60, profile_id=1001
    )
    assert limits([everywhere, own]) == [(0, 10.0), (60, 6.0)]


def test_connector_0_is_what_the_whole_charger_may_draw() -> None:
    charger_max = installed("ChargePointMaxProfile", (Period(0, 20.0),), connector_id=0)
    default = installed("TxDefaultProfile", (Period(0, 10.0),), connector_id=0, profile_id=1001)
    assert limits([charger_max, default], connector_id=0) == [(0, 20.0)]


def test_nothing_installed_is_no_limit() -> None:
    assert limits([]) == [(0, NO_LIMIT)]


# ---- time: kinds, validity, whole seconds -------------------------------------------------------


def test_a_relative_schedule_counts_from_the_transaction_start() -> None:
    tx = installed(
        "TxProfile", (Period(0, 16.0), Period(600, 8.0)), kind="Relative", transaction_id=7
    )
    started = START - timedelta(seconds=300)
    assert limits([tx], transaction_id=7, transaction_started_at=started) == [(0, 16.0), (300, 8.0)]


def test_a_relative_schedule_without_a_transaction_counts_from_now() -> None:
    default = installed("TxDefaultProfile", (Period(0, 16.0), Period(600, 8.0)), kind="Relative")
    assert limits([default]) == [(0, 16.0), (600, 8.0)]


def test_an_absolute_schedule_without_start_counts_from_the_transaction_start() -> None:
    # §7.13 startSchedule: "If absent the schedule will be relative to start of charging."
    default = installed(
        "TxDefaultProfile", (Period(0, 16.0), Period(600, 8.0)), start_schedule=None
    )
    started = START - timedelta(seconds=500)
    assert limits([default], transaction_id=7, transaction_started_at=started) == [
        (0, 16.0),
        (100, 8.0),
    ]


def test_a_profile_applies_from_valid_from_and_until_valid_to() -> None:
    base = installed("TxDefaultProfile", (Period(0, 16.0),))
    later = installed(
        "TxDefaultProfile",
        (Period(0, 10.0),),
        stack_level=1,
        valid_from=START + timedelta(seconds=600),
        valid_to=START + timedelta(seconds=1200),
        profile_id=1001,
    )
    assert limits([base, later]) == [(0, 16.0), (600, 10.0), (1200, 16.0)]


def test_a_profile_without_valid_from_is_valid_from_receipt() -> None:
    default = installed(
        "TxDefaultProfile", (Period(0, 16.0),), installed_at=START + timedelta(seconds=120)
    )
    assert limits([default]) == [(0, NO_LIMIT), (120, 16.0)]


def test_a_lower_limit_within_a_second_takes_the_whole_second() -> None:
    default = installed(
        "TxDefaultProfile",
        (Period(0, 16.0), Period(60, 8.0), Period(120, 16.0)),
        start_schedule=START,
    )
    later = START + timedelta(milliseconds=250)
    # The changes fall 59.75 s and 119.75 s after the start: 8 A from second 59 to second 120.
    assert limits([default], start=later, duration_s=180) == [(0, 16.0), (59, 8.0), (120, 16.0)]


# ---- comparing with the charger's answer --------------------------------------------------------


def schedule(
    *periods: tuple[int, float], unit: RateUnit = "A", start: datetime = START
) -> Schedule:
    return Schedule(
        rate_unit=unit,
        periods=tuple(Period(begin, limit) for begin, limit in periods),
        duration_s=3600,
        start_schedule=start,
    )


def test_equal_schedules_have_no_mismatch() -> None:
    assert compare_schedules(schedule((0, 16.0)), schedule((0, 16.0)), start=START) == []


def test_a_different_limit_is_a_mismatch_with_its_time_and_both_values() -> None:
    ours = schedule((0, 16.0), (600, 10.0))
    theirs = schedule((0, 32.0), (600, 10.0))
    assert compare_schedules(ours, theirs, start=START) == [
        "from 12:00:00Z for 600 s ChargeDeck expects 16 A, the charger reports 32 A"
    ]


def test_a_limit_the_charger_does_not_report_is_a_mismatch() -> None:
    ours = schedule((0, 16.0))
    theirs = Schedule(rate_unit="A", periods=(), start_schedule=START)
    assert compare_schedules(ours, theirs, start=START) == [
        "from 12:00:00Z for 3600 s ChargeDeck expects 16 A, the charger reports no limit"
    ]


def test_a_charger_limit_chargedeck_does_not_know_is_a_mismatch() -> None:
    ours = schedule((0, NO_LIMIT))
    assert compare_schedules(ours, schedule((0, 32.0)), start=START) == [
        "from 12:00:00Z for 3600 s ChargeDeck expects no limit, the charger reports 32 A"
    ]


def test_limits_within_the_tolerance_agree() -> None:
    assert compare_schedules(schedule((0, 16.0)), schedule((0, 16.1)), start=START) == []


def test_a_charger_answering_a_moment_later_has_no_mismatch() -> None:
    ours = schedule((0, 16.0), (600, 10.0))
    theirs = schedule((0, 16.0), (599, 10.0), start=START + timedelta(seconds=1, milliseconds=400))
    assert compare_schedules(ours, theirs, start=START) == []


def test_a_charger_answering_in_watts_is_compared_in_amps() -> None:
    ours = schedule((0, 16.0))
    assert compare_schedules(ours, schedule((0, 11040.0), unit="W"), start=START) == []
    assert compare_schedules(ours, schedule((0, 6900.0), unit="W"), start=START) == [
        "from 12:00:00Z for 3600 s ChargeDeck expects 16 A, the charger reports 10 A"
    ]


def test_a_mismatch_on_another_day_names_the_date() -> None:
    late = datetime(2025, 6, 1, 23, 50, tzinfo=UTC)
    ours = schedule((0, 16.0), (1200, 10.0), start=late)
    theirs = schedule((0, 16.0), start=late)
    assert compare_schedules(ours, theirs, start=late) == [
        "from 2025-06-02 00:10:00Z for 2400 s ChargeDeck expects 10 A, the charger reports 16 A"
    ]


# ---- properties ---------------------------------------------------------------------------------

TRANSACTION = 7


@st.composite
def installed_profiles(draw: st.DrawFn, base: datetime) -> list[InstalledProfile]:
    count = draw(st.integers(0, 5))
    result: list[InstalledProfile] = []
    for index in range(count):
        purpose: Purpose = draw(
            st.sampled_from(["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"])
        )
        connector_id = {"ChargePointMaxProfile": 0, "TxProfile": 1}.get(
            purpose, draw(st.sampled_from([0, 1]))
        )
        kind: Kind = draw(st.sampled_from(["Absolute", "Relative", "Recurring"]))
        unit: RateUnit = draw(st.sampled_from(["A", "W"]))
        starts = [0]
        for _ in range(draw(st.integers(0, 3))):
            starts.append(starts[-1] + draw(st.integers(1, 3600)))
        top = 640 if unit == "A" else 22000
        periods = tuple(
            Period(
                begin,
                draw(st.integers(0, top * 10)) / 10,
                draw(st.sampled_from([None, 1, 2, 3])),
            )
            for begin in starts
        )
        recurrency: Recurrency | None = (
            draw(st.sampled_from(["Daily", "Weekly"])) if kind == "Recurring" else None
        )
        cycle = {"Daily": 86400, "Weekly": 604800, None: 100_000}[recurrency]
        duration = draw(st.none() | st.integers(1, min(cycle, 20_000)))
        start_schedule = base + timedelta(seconds=draw(st.integers(-90_000, 3600)))
        valid_from = draw(st.none() | st.integers(-3600, 3600))
        valid_length = draw(st.none() | st.integers(1, 7200))
        valid_from_at = None if valid_from is None else base + timedelta(seconds=valid_from)
        profile = Profile(
            charging_profile_id=1000 + index,
            stack_level=index,  # distinct: a charger holds one profile per level and purpose
            purpose=purpose,
            kind=kind,
            schedule=Schedule(
                rate_unit=unit,
                periods=periods,
                duration_s=duration,
                start_schedule=None if kind == "Relative" else start_schedule,
            ),
            transaction_id=draw(st.sampled_from([None, TRANSACTION, 8]))
            if purpose == "TxProfile"
            else None,
            recurrency_kind=recurrency,
            valid_from=valid_from_at,
            valid_to=None
            if valid_from_at is None or valid_length is None
            else valid_from_at + timedelta(seconds=valid_length),
        )
        result.append(
            InstalledProfile(
                profile=profile,
                connector_id=connector_id,
                installed_at=base - timedelta(seconds=draw(st.integers(0, 3600))),
            )
        )
    return result


def expected_limit(
    profiles: list[InstalledProfile],
    moment: datetime,
    *,
    relative_start: datetime,
    transaction_id: int | None,
    unit: RateUnit,
) -> float:
    """The rules read plainly: the highest-level profile of each purpose that says something at
    ``moment``, TxProfile before the connector's TxDefaultProfile before connector 0's, and the
    lowest of the ChargePointMaxProfile and that."""

    def says(held: InstalledProfile) -> float | None:
        profile = held.profile
        if moment < (profile.valid_from or held.installed_at):
            return None
        if profile.valid_to is not None and moment >= profile.valid_to:
            return None
        schedule = profile.schedule
        if profile.kind == "Relative" or schedule.start_schedule is None:
            origin = relative_start
        else:
            origin = schedule.start_schedule
        elapsed = (moment - origin).total_seconds()
        if elapsed < 0:
            return None
        if profile.kind == "Recurring":
            elapsed %= 86400 if profile.recurrency_kind == "Daily" else 604800
        if schedule.duration_s is not None and elapsed >= schedule.duration_s:
            return None
        current = [period for period in schedule.periods if period.start_period_s <= elapsed][-1]
        return convert_limit(
            current.limit, schedule.rate_unit, unit, current.number_phases or 3, 230.0
        )

    def top(purpose: Purpose, connector_id: int) -> float | None:
        said = [
            (held.profile.stack_level, value)
            for held in profiles
            if held.profile.purpose == purpose
            and held.connector_id == connector_id
            and (
                purpose != "TxProfile"
                or (
                    transaction_id is not None
                    and held.profile.transaction_id in (None, transaction_id)
                )
            )
            and (value := says(held)) is not None
        ]
        return max(said)[1] if said else None

    charger_max = top("ChargePointMaxProfile", 0)
    for purpose, connector_id in (
        ("TxProfile", 1),
        ("TxDefaultProfile", 1),
        ("TxDefaultProfile", 0),
    ):
        chain = top(purpose, connector_id)  # type: ignore[arg-type]
        if chain is not None:
            break
    candidates = [value for value in (charger_max, chain) if value is not None]
    return min(candidates) if candidates else NO_LIMIT


def limit_in(schedule: Schedule, moment: datetime, start: datetime) -> float:
    elapsed = (moment - start).total_seconds()
    return [period for period in schedule.periods if period.start_period_s <= elapsed][-1].limit


@dataclass(frozen=True)
class Case:
    """Profiles a charger holds, and a composite schedule asked of connector 1."""

    start: datetime
    profiles: list[InstalledProfile]
    transaction_id: int | None
    started_at: datetime | None
    duration_s: int
    unit: RateUnit
    offsets: list[float]

    def composite(self) -> Schedule:
        return composite_schedule(
            self.profiles,
            1,
            self.start,
            self.duration_s,
            self.unit,
            transaction_id=self.transaction_id,
            transaction_started_at=self.started_at,
        )

    def moments(self) -> list[datetime]:
        return [self.start + timedelta(seconds=offset) for offset in self.offsets]

    def expected(self, moment: datetime) -> float:
        return expected_limit(
            self.profiles,
            moment,
            relative_start=self.started_at or self.start,
            transaction_id=self.transaction_id,
            unit=self.unit,
        )


@st.composite
def cases(draw: st.DrawFn, whole_seconds: bool) -> Case:
    start = START
    if not whole_seconds:
        start += timedelta(microseconds=draw(st.integers(0, 999_999)))
    with_transaction = draw(st.booleans())
    duration = draw(st.integers(1, 7200))
    offsets: list[float]
    if whole_seconds:
        offsets = [float(o) for o in draw(st.lists(st.integers(0, duration - 1), min_size=1))]
    else:
        offsets = draw(
            st.lists(st.floats(0, duration, exclude_max=True, allow_nan=False), min_size=1)
        )
    return Case(
        start=start,
        profiles=draw(installed_profiles(START)),
        transaction_id=TRANSACTION if with_transaction else None,
        started_at=START - timedelta(seconds=draw(st.integers(0, 3600)))
        if with_transaction
        else None,
        duration_s=duration,
        unit=draw(st.sampled_from(["A", "W"])),
        offsets=offsets,
    )


@settings(max_examples=300, deadline=None)
@given(cases(whole_seconds=False))
def test_the_composite_never_exceeds_a_profile_prevailing_at_that_instant(case: Case) -> None:
    result = case.composite()
    for moment in case.moments():
        assert limit_in(result, moment, case.start) <= case.expected(moment) + 1e-6


@settings(max_examples=300, deadline=None)
@given(cases(whole_seconds=True))
def test_the_composite_periods_strictly_increase_from_0_within_the_duration(case: Case) -> None:
    result = case.composite()
    starts = [period.start_period_s for period in result.periods]
    assert starts[0] == 0
    assert all(before < after for before, after in itertools.pairwise(starts))
    assert starts[-1] < case.duration_s
    assert all(
        (before.limit, before.number_phases) != (after.limit, after.number_phases)
        for before, after in itertools.pairwise(result.periods)
    )


@settings(max_examples=300, deadline=None)
@given(cases(whole_seconds=True))
def test_the_composite_is_the_lowest_prevailing_limit_at_each_whole_second(case: Case) -> None:
    # With every time in whole seconds no change falls between seconds: nothing is folded.
    result = case.composite()
    for moment in case.moments():
        assert limit_in(result, moment, case.start) == floor_to_tenth(case.expected(moment))
