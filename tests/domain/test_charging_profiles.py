"""The rules a charging profile must meet before ChargeDeck sends it (OCPP 1.6 §3.13, §5.16,
§7.8-7.14), the charger capabilities they are checked against (§9.4), unit conversions (§7.12)
and the limit profiles load control sends (field notes Q4, Q5, Q8)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chargedeck.domain.charger_models import GENERIC_SMART_CHARGING, SmartChargingQuirks
from chargedeck.domain.charging_profiles import (
    ABSOLUTE_START_MARGIN_S,
    ChargerCapabilities,
    InstalledProfile,
    Period,
    Profile,
    ProfileRefused,
    Schedule,
    amps_for,
    build_limit_profile,
    capabilities_from_configuration,
    check_profile,
    parse_allowed_rate_units,
    watts_for,
)

NOW = datetime(2025, 6, 1, 12, 0, 0, 250_000, tzinfo=UTC)
UNKNOWN = ChargerCapabilities()
WALLBOX = ChargerCapabilities(
    max_stack_level=1,
    allowed_rate_units=frozenset({"A"}),
    max_periods=24,
    max_profiles_installed=3,
)
RELATIVE_QUIRKS = replace(GENERIC_SMART_CHARGING, profile_kind="Relative")


def tx_default(**changes: object) -> Profile:
    """A plain TxDefaultProfile at 16 A, changed by ``changes``."""
    profile = Profile(
        charging_profile_id=1000,
        stack_level=0,
        purpose="TxDefaultProfile",
        kind="Absolute",
        schedule=Schedule(
            rate_unit="A", periods=(Period(0, 16.0),), start_schedule=NOW - timedelta(minutes=1)
        ),
    )
    return replace(profile, **changes)  # type: ignore[arg-type]


def with_schedule(**changes: object) -> Profile:
    profile = tx_default()
    return replace(profile, schedule=replace(profile.schedule, **changes))  # type: ignore[arg-type]


def passes(
    profile: Profile,
    connector_id: int = 1,
    *,
    capabilities: ChargerCapabilities = UNKNOWN,
    active_transaction_id: int | None = None,
    number_of_connectors: int | None = 2,
    installed: tuple[InstalledProfile, ...] = (),
) -> bool:
    """``check_profile`` with a two-connector charger of unknown capabilities by default."""
    check_profile(
        profile,
        connector_id,
        capabilities=capabilities,
        active_transaction_id=active_transaction_id,
        number_of_connectors=number_of_connectors,
        installed=installed,
    )
    return True


def refusal(profile: Profile, connector_id: int = 1, **context: Any) -> ProfileRefused:
    """The refusal ``passes`` raises with the same arguments."""
    with pytest.raises(ProfileRefused) as refused:
        passes(profile, connector_id, **context)
    return refused.value


# ---- purposes and connectors (§3.13.1) ----------------------------------------------------------


def test_a_plain_tx_default_profile_may_be_sent() -> None:
    assert passes(tx_default(), capabilities=WALLBOX)


@pytest.mark.parametrize("connector_id", [0, 1, 2])
def test_a_tx_default_profile_goes_to_connector_0_or_to_a_connector(connector_id: int) -> None:
    assert passes(tx_default(), connector_id)


def test_a_charge_point_max_profile_on_a_connector_is_refused() -> None:
    refused = refusal(tx_default(purpose="ChargePointMaxProfile"), 1)
    assert refused.code == "max-profile-not-on-connector-0"
    assert "send it to connector 0, not connector 1" in str(refused)


def test_a_charge_point_max_profile_on_connector_0_may_be_sent() -> None:
    assert passes(tx_default(purpose="ChargePointMaxProfile"), 0)


def test_a_tx_profile_without_an_active_transaction_is_refused() -> None:
    refused = refusal(tx_default(purpose="TxProfile"), 1, active_transaction_id=None)
    assert refused.code == "no-active-transaction"
    assert "no transaction runs on connector 1" in refused.sentence


def test_a_tx_profile_on_connector_0_is_refused() -> None:
    refused = refusal(tx_default(purpose="TxProfile"), 0, active_transaction_id=7)
    assert refused.code == "tx-profile-on-connector-0"


def test_a_tx_profile_for_another_transaction_is_refused() -> None:
    profile = tx_default(purpose="TxProfile", transaction_id=6)
    refused = refusal(profile, 1, active_transaction_id=7)
    assert refused.code == "wrong-transaction"
    assert "use 7" in refused.sentence


@pytest.mark.parametrize("transaction_id", [None, 7])
def test_a_tx_profile_for_the_running_transaction_may_be_sent(transaction_id: int | None) -> None:
    profile = tx_default(purpose="TxProfile", transaction_id=transaction_id)
    assert passes(profile, 1, active_transaction_id=7)


def test_a_transaction_id_on_a_tx_default_profile_is_refused() -> None:
    refused = refusal(tx_default(transaction_id=7), 1, active_transaction_id=7)
    assert refused.code == "transaction-id-without-tx-profile"


def test_a_connector_beyond_the_chargers_count_is_refused() -> None:
    refused = refusal(tx_default(), 3, number_of_connectors=2)
    assert refused.code == "unknown-connector"
    assert "use 0 to 2, not 3" in refused.sentence


def test_a_negative_connector_is_refused() -> None:
    assert refusal(tx_default(), -1, number_of_connectors=None).code == "unknown-connector"


def test_an_unknown_connector_count_is_not_checked() -> None:
    assert passes(tx_default(), 9, number_of_connectors=None)


# ---- stack levels (§3.13.2, §9.4) ---------------------------------------------------------------


def test_a_negative_stack_level_is_refused() -> None:
    assert refusal(tx_default(stack_level=-1)).code == "stack-level-negative"


def test_a_stack_level_above_charge_profile_max_stack_level_is_refused() -> None:
    refused = refusal(tx_default(stack_level=2), capabilities=WALLBOX)
    assert refused.code == "stack-level-too-high"
    assert "use 0 to 1, not 2" in refused.sentence


def test_the_highest_stack_level_the_charger_takes_may_be_sent() -> None:
    assert passes(tx_default(stack_level=1), capabilities=WALLBOX)


def test_an_unreported_max_stack_level_is_not_checked() -> None:
    assert passes(tx_default(stack_level=99))


# ---- periods and limits (§7.13, §7.14) ----------------------------------------------------------


def test_a_schedule_without_periods_is_refused() -> None:
    assert refusal(with_schedule(periods=())).code == "no-periods"


def test_a_first_period_that_does_not_start_at_0_is_refused() -> None:
    refused = refusal(with_schedule(periods=(Period(60, 16.0),)))
    assert refused.code == "first-period-not-zero"


@pytest.mark.parametrize("third_start", [600, 300])
def test_periods_that_do_not_strictly_increase_are_refused(third_start: int) -> None:
    periods = (Period(0, 16.0), Period(600, 10.0), Period(third_start, 6.0))
    assert refusal(with_schedule(periods=periods)).code == "periods-not-increasing"


def test_more_periods_than_charging_schedule_max_periods_are_refused() -> None:
    periods = tuple(Period(60 * index, 16.0) for index in range(25))
    refused = refusal(with_schedule(periods=periods), capabilities=WALLBOX)
    assert refused.code == "too-many-periods"
    assert "use at most 24, not 25" in refused.sentence


def test_as_many_periods_as_the_charger_takes_may_be_sent() -> None:
    periods = tuple(Period(60 * index, 16.0) for index in range(24))
    assert passes(with_schedule(periods=periods), capabilities=WALLBOX)


def test_a_negative_limit_is_refused() -> None:
    assert refusal(with_schedule(periods=(Period(0, -1.0),))).code == "negative-limit"


def test_a_limit_finer_than_a_tenth_is_refused() -> None:
    refused = refusal(with_schedule(periods=(Period(0, 16.05),)))
    assert refused.code == "limit-precision"
    assert "round it to 0.1 A" in refused.sentence


@pytest.mark.parametrize("limit", [0.0, 16.1, 3 * 0.1, 11040.0])
def test_limits_in_steps_of_a_tenth_may_be_sent(limit: float) -> None:
    assert passes(with_schedule(periods=(Period(0, limit),)))


@pytest.mark.parametrize("phases", [0, 4])
def test_a_number_of_phases_outside_1_to_3_is_refused(phases: int) -> None:
    refused = refusal(with_schedule(periods=(Period(0, 16.0, phases),)))
    assert refused.code == "number-phases-out-of-range"


@pytest.mark.parametrize("phases", [1, 2, 3])
def test_one_to_three_phases_may_be_sent(phases: int) -> None:
    assert passes(with_schedule(periods=(Period(0, 16.0, phases),)))


def test_a_rate_unit_the_charger_does_not_allow_is_refused() -> None:
    refused = refusal(
        with_schedule(rate_unit="W", periods=(Period(0, 11040.0),)), capabilities=WALLBOX
    )
    assert refused.code == "rate-unit-not-allowed"
    assert "Current (A)" in refused.sentence


def test_a_zero_duration_is_refused() -> None:
    assert refusal(with_schedule(duration_s=0)).code == "duration-not-positive"


def test_a_negative_min_charging_rate_is_refused() -> None:
    assert refusal(with_schedule(min_charging_rate=-6.0)).code == "min-charging-rate-invalid"


# ---- kinds (§7.9, §7.37) ------------------------------------------------------------------------


def test_a_relative_profile_with_a_start_schedule_is_refused() -> None:
    assert refusal(tx_default(kind="Relative")).code == "relative-with-start-schedule"


def test_a_relative_profile_without_a_start_schedule_may_be_sent() -> None:
    assert passes(replace(with_schedule(start_schedule=None), kind="Relative"))


def test_a_recurring_profile_without_recurrency_kind_is_refused() -> None:
    assert refusal(tx_default(kind="Recurring")).code == "recurring-without-recurrency-kind"


def test_a_recurring_profile_without_a_start_schedule_is_refused() -> None:
    profile = replace(with_schedule(start_schedule=None), kind="Recurring", recurrency_kind="Daily")
    assert refusal(profile).code == "recurring-without-start-schedule"


def test_a_recurrency_kind_on_an_absolute_profile_is_refused() -> None:
    refused = refusal(tx_default(recurrency_kind="Daily"))
    assert refused.code == "recurrency-kind-without-recurring"


def test_a_daily_schedule_longer_than_a_day_is_refused() -> None:
    profile = replace(with_schedule(duration_s=86_401), kind="Recurring", recurrency_kind="Daily")
    assert refusal(profile).code == "recurring-duration-too-long"


def test_a_weekly_schedule_of_a_whole_week_may_be_sent() -> None:
    profile = replace(with_schedule(duration_s=604_800), kind="Recurring", recurrency_kind="Weekly")
    assert passes(profile)


# ---- validity (§7.8) ----------------------------------------------------------------------------


def test_a_valid_from_not_before_valid_to_is_refused() -> None:
    refused = refusal(tx_default(valid_from=NOW, valid_to=NOW))
    assert refused.code == "validity-empty"


def test_a_time_without_offset_is_refused() -> None:
    refused = refusal(tx_default(valid_from=datetime(2025, 6, 1, 12, 0)))
    assert refused.code == "time-without-offset"


# ---- room on the charger (§9.4 MaxChargingProfilesInstalled) ----------------------------------


def held(profile_id: int, connector_id: int, stack_level: int) -> InstalledProfile:
    return InstalledProfile(
        profile=tx_default(charging_profile_id=profile_id, stack_level=stack_level),
        connector_id=connector_id,
        installed_at=NOW,
    )


FULL = (held(1, 0, 0), held(101, 1, 0), held(102, 2, 0))


def test_a_profile_beyond_max_charging_profiles_installed_is_refused() -> None:
    profile = tx_default(charging_profile_id=1000, stack_level=1)
    refused = refusal(profile, 1, capabilities=WALLBOX, installed=FULL)
    assert refused.code == "too-many-profiles"


def test_a_profile_that_replaces_one_by_its_id_fits_a_full_charger() -> None:
    profile = tx_default(charging_profile_id=101, stack_level=1)
    assert passes(profile, 1, capabilities=WALLBOX, installed=FULL)


def test_a_profile_that_replaces_one_by_its_slot_fits_a_full_charger() -> None:
    profile = tx_default(charging_profile_id=1000, stack_level=0)
    assert passes(profile, 2, capabilities=WALLBOX, installed=FULL)


# ---- capabilities (§3.13.5, §9.4) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("Current", {"A"}),
        ("Power", {"W"}),
        ("Current,Power", {"A", "W"}),
        (" power , CURRENT", {"A", "W"}),
    ],
)
def test_allowed_charging_rate_units_are_read_from_the_key(text: str, units: set[str]) -> None:
    assert parse_allowed_rate_units(text) == units


def test_an_unknown_charging_rate_unit_word_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="expected Current, Power or Current,Power"):
        parse_allowed_rate_units("Amps")


def test_capabilities_come_from_the_reported_keys() -> None:
    capabilities, problems = capabilities_from_configuration(
        {
            "ChargeProfileMaxStackLevel": "1",
            "ChargingScheduleAllowedChargingRateUnit": "Current",
            "ChargingScheduleMaxPeriods": "24",
            "MaxChargingProfilesInstalled": "3",
        }
    )
    assert (capabilities, problems) == (WALLBOX, ())


def test_an_unreadable_capability_stays_unknown_and_is_reported() -> None:
    capabilities, problems = capabilities_from_configuration(
        {"ChargeProfileMaxStackLevel": "ten", "ChargingScheduleMaxPeriods": None}
    )
    assert capabilities == UNKNOWN
    assert problems == (
        "ChargeProfileMaxStackLevel is 'ten', expected a whole number of 0 or more",
    )


# ---- units (§7.12) ------------------------------------------------------------------------------


def test_kilowatts_are_amps_per_phase_at_the_voltage() -> None:
    assert amps_for(11.04, "kW", 3, 230.0) == pytest.approx(16.0)
    assert amps_for(3.68, "kW", 1, 230.0) == pytest.approx(16.0)


def test_amps_stay_amps() -> None:
    assert amps_for(16.0, "A", 3, 230.0) == 16.0


def test_watts_are_the_total_over_the_phases() -> None:
    assert watts_for(16.0, 3, 230.0) == pytest.approx(11040.0)
    assert watts_for(16.0, 1, 230.0) == pytest.approx(3680.0)


@pytest.mark.parametrize("phases", [0, 4])
def test_a_phase_count_outside_1_to_3_cannot_be_converted(phases: int) -> None:
    with pytest.raises(ValueError, match="expected 1, 2 or 3"):
        amps_for(11.0, "kW", phases, 230.0)


# ---- limit profiles of load control -------------------------------------------------------------


def limit_profile(**changes: object) -> Profile:
    arguments: dict[str, object] = {
        "charging_profile_id": 100,
        "purpose": "TxDefaultProfile",
        "limit_a": 16.0,
        "phases": 3,
        "rate_unit": "A",
        "voltage_v": 230.0,
        "quirks": GENERIC_SMART_CHARGING,
        "now": NOW,
    }
    arguments.update(changes)
    return build_limit_profile(**arguments)  # type: ignore[arg-type]


def test_an_absolute_limit_profile_starts_a_minute_ago_in_whole_seconds() -> None:
    profile = limit_profile()
    assert profile.kind == "Absolute"
    assert profile.schedule.start_schedule == datetime(2025, 6, 1, 11, 59, tzinfo=UTC)
    assert profile.schedule.start_schedule == NOW.replace(microsecond=0) - timedelta(
        seconds=ABSOLUTE_START_MARGIN_S
    )
    assert profile.schedule.periods == (Period(0, 16.0, 3),)
    assert profile.schedule.duration_s is None


def test_a_limit_profile_passes_the_rules_it_is_sent_under() -> None:
    assert passes(limit_profile(), 0, capabilities=WALLBOX)
    tx = limit_profile(purpose="TxProfile", transaction_id=7, quirks=RELATIVE_QUIRKS)
    assert passes(tx, 1, capabilities=WALLBOX, active_transaction_id=7)


def test_a_relative_limit_profile_has_no_start_schedule() -> None:
    profile = limit_profile(quirks=RELATIVE_QUIRKS)
    assert (profile.kind, profile.schedule.start_schedule) == ("Relative", None)


def test_a_limit_in_watts_is_the_total_over_the_phases() -> None:
    assert limit_profile(rate_unit="W").schedule.periods == (Period(0, 11040.0, 3),)
    assert limit_profile(rate_unit="W", phases=1).schedule.periods == (Period(0, 3680.0, 1),)


def test_a_limit_is_rounded_down_to_a_tenth() -> None:
    assert limit_profile(limit_a=8.88).schedule.periods[0].limit == 8.8


def test_an_absolute_lease_ends_the_schedule_lease_seconds_after_now() -> None:
    schedule = limit_profile(lease_s=300.0).schedule
    assert schedule.start_schedule is not None
    assert schedule.duration_s is not None
    end = schedule.start_schedule + timedelta(seconds=schedule.duration_s)
    assert NOW + timedelta(seconds=300) <= end < NOW + timedelta(seconds=301)


def test_a_relative_lease_counts_from_the_transaction_start() -> None:
    profile = limit_profile(
        purpose="TxProfile",
        transaction_id=7,
        transaction_started_at=NOW - timedelta(minutes=10),
        quirks=RELATIVE_QUIRKS,
        lease_s=300.0,
    )
    assert profile.schedule.duration_s == 600 + 300


def test_the_stack_level_is_capped_by_the_chargers_maximum() -> None:
    quirks = SmartChargingQuirks(
        profile_kind="Absolute",
        stack_level=3,
        needs_remote_start=False,
        trust_current_offered=True,
        unsampled_measurands=(),
    )
    assert limit_profile(quirks=quirks, max_stack_level=1).stack_level == 1
    assert limit_profile(quirks=quirks).stack_level == 3


def test_a_transaction_id_is_only_put_in_a_tx_profile() -> None:
    assert limit_profile(transaction_id=7).transaction_id is None
    assert limit_profile(purpose="TxProfile", transaction_id=7).transaction_id == 7


def test_a_negative_limit_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="expected 0 A or more"):
        limit_profile(limit_a=-1.0)
