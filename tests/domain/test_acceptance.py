"""What a charger's answers mean in the acceptance check (domain/acceptance.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from chargedeck.domain.acceptance import (
    AcceptanceReport,
    Feature,
    FeatureChange,
    FeatureResult,
    Outcome,
    compare_reports,
    outcome_of_call_error,
    outcome_of_local_list_version,
    outcome_of_status,
    outcome_of_trigger,
    outcome_of_unknown_vendor_data_transfer,
    parse_charging_rate_units,
    parse_supported_feature_profiles,
    previous_of_other_firmware,
    whole_amps,
)

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)


def _report(firmware: str, **outcomes: Outcome) -> AcceptanceReport:
    return AcceptanceReport(
        charge_point_id="CP1",
        firmware_version=firmware,
        charger_model="Generic OCPP 1.6 charger",
        ran_at=T0,
        with_car=False,
        results=tuple(FeatureResult(Feature(name), o, "") for name, o in outcomes.items()),
    )


def test_call_error_not_implemented_or_not_supported_is_not_supported() -> None:
    assert outcome_of_call_error("NotImplemented") is Outcome.NOT_SUPPORTED
    assert outcome_of_call_error("NotSupported") is Outcome.NOT_SUPPORTED


def test_any_other_call_error_code_is_refused() -> None:
    assert outcome_of_call_error("FormationViolation") is Outcome.REFUSED
    assert outcome_of_call_error("RpcFrameworkError") is Outcome.REFUSED


def test_statuses_map_to_works_refused_and_not_supported() -> None:
    assert outcome_of_status("Accepted") is Outcome.WORKS
    assert outcome_of_status("Rejected") is Outcome.REFUSED
    assert outcome_of_status("Unknown") is Outcome.REFUSED
    assert outcome_of_status("NotSupported") is Outcome.NOT_SUPPORTED
    assert outcome_of_status("NotImplemented") is Outcome.NOT_SUPPORTED


def test_an_accepted_trigger_whose_message_never_arrives_is_ignored() -> None:
    assert outcome_of_trigger("Accepted", arrived=False) is Outcome.IGNORED
    assert outcome_of_trigger("Accepted", arrived=True) is Outcome.WORKS
    assert outcome_of_trigger("Rejected", arrived=False) is Outcome.REFUSED


def test_local_list_version_minus_one_means_not_supported() -> None:
    assert outcome_of_local_list_version(-1) is Outcome.NOT_SUPPORTED
    assert outcome_of_local_list_version(0) is Outcome.WORKS


def test_unknown_vendor_id_is_the_right_data_transfer_answer() -> None:
    assert outcome_of_unknown_vendor_data_transfer("UnknownVendorId") == (Outcome.WORKS, None)
    outcome, quirk = outcome_of_unknown_vendor_data_transfer("Accepted")
    assert outcome is Outcome.WORKS
    assert quirk is not None
    assert outcome_of_unknown_vendor_data_transfer("Rejected") == (Outcome.REFUSED, None)


def test_supported_feature_profiles_are_a_trimmed_list() -> None:
    assert parse_supported_feature_profiles("Core, SmartCharging,,RemoteTrigger") == (
        "Core",
        "SmartCharging",
        "RemoteTrigger",
    )


def test_allowed_charging_rate_units_become_a_and_w() -> None:
    assert parse_charging_rate_units("Current,Power") == ("A", "W")
    assert parse_charging_rate_units("Current") == ("A",)
    assert parse_charging_rate_units("Volts") == ()


def test_limits_are_rounded_down_to_whole_amps() -> None:
    assert whole_amps(31.9) == 31


def test_comparison_lists_only_features_whose_outcome_changed() -> None:
    before = _report("5.17", set_charging_profile=Outcome.REFUSED, data_transfer=Outcome.WORKS)
    after = _report("6.4", set_charging_profile=Outcome.WORKS, data_transfer=Outcome.WORKS)
    assert compare_reports(before, after) == (
        FeatureChange(Feature.SET_CHARGING_PROFILE, Outcome.REFUSED, Outcome.WORKS),
    )


def test_an_upgrade_is_compared_with_the_newest_report_of_another_firmware() -> None:
    newest = _report("6.4")
    same, other, oldest = _report("6.4"), _report("5.17"), _report("5.10")
    assert previous_of_other_firmware(newest, [same, other, oldest]) is other
    assert previous_of_other_firmware(newest, [same]) is None
