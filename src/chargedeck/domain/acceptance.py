"""The charger acceptance check as rules over plain values: what each answer means.

The Wallbox setup guide (§3.1) says correct operation is only assured after a factory acceptance
test of the charger with the CSMS; ``chargedeck check`` runs a scripted one
(``csms/acceptance.py``) and reports, per feature, one :class:`Outcome`. This module holds the
feature names, how a charger's answer (a status, a CALLERROR code, no answer) maps to an outcome,
the report, and the comparison of two reports (the same charger before and after a firmware
upgrade). No I/O and no clock: times come in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Outcome(enum.StrEnum):
    """What the charger did with one feature of the check."""

    WORKS = "works"
    """Answered as OCPP 1.6 says, and did what it was asked."""
    REFUSED = "refused"
    """Understood the request and said no (Rejected), or answered with a CALLERROR other than
    NotImplemented/NotSupported, or an answer that does not match the schema."""
    NOT_SUPPORTED = "not_supported"
    """Said it does not implement the feature: CALLERROR NotImplemented or NotSupported
    (OCPP-J 1.6 §4.2.3 Table 7), a NotSupported/NotImplemented status, or listVersion -1."""
    IGNORED = "ignored"
    """Said yes (TriggerMessage Accepted) but the message it promised never arrived within the
    check's window, or never answered the request at all."""
    SKIPPED = "skipped"
    """Not tried: it needs a car (``--with-car``), or trying it could have changed the charger."""


class Feature(enum.StrEnum):
    """The features the check tries, in the order it tries them."""

    CONFIGURATION_READ = "configuration_read"
    SUPPORTED_FEATURE_PROFILES = "supported_feature_profiles"
    HEARTBEAT_TRIGGER = "heartbeat_trigger"
    STATUS_TRIGGER = "status_trigger"
    SET_CHARGING_PROFILE = "set_charging_profile"
    COMPOSITE_SCHEDULE = "composite_schedule"
    CLEAR_CHARGING_PROFILE = "clear_charging_profile"
    LOCAL_LIST_VERSION = "local_list_version"
    DATA_TRANSFER = "data_transfer"
    REMOTE_START_STOP = "remote_start_stop"


# OCPP-J 1.6 §4.2.3 Table 7: NotImplemented = action not known, NotSupported = known but not
# supported. Peers swap the two (the PyPI ``ocpp`` library, reference notes §1.1): both mean
# "the charger does not do this".
_NOT_SUPPORTED_CODES = frozenset({"NotImplemented", "NotSupported"})


def outcome_of_call_error(code: str) -> Outcome:
    """A CALLERROR's code as an outcome: NotImplemented/NotSupported = not supported; any other
    code (a charger's own, too: peers send 2.0.1 codes) = refused."""
    return Outcome.NOT_SUPPORTED if code in _NOT_SUPPORTED_CODES else Outcome.REFUSED


def outcome_of_status(status: str) -> Outcome:
    """A response status as an outcome: Accepted works; NotSupported / NotImplemented (the
    SetChargingProfile and TriggerMessage enums, OCPP 1.6 §7.11, §7.44) are not supported;
    anything else (Rejected, Unknown) is refused."""
    if status == "Accepted":
        return Outcome.WORKS
    if status in _NOT_SUPPORTED_CODES:
        return Outcome.NOT_SUPPORTED
    return Outcome.REFUSED


def outcome_of_trigger(status: str, arrived: bool) -> Outcome:
    """TriggerMessage (OCPP 1.6 §5.17): Accepted and the message arrived = works; Accepted and it
    did not = ignored; otherwise as :func:`outcome_of_status`."""
    outcome = outcome_of_status(status)
    if outcome is Outcome.WORKS and not arrived:
        return Outcome.IGNORED
    return outcome


def outcome_of_local_list_version(list_version: int) -> Outcome:
    """GetLocalListVersion.conf (OCPP 1.6 §6.28): -1 = the charger has no Local Authorization
    List support; 0 or more is a version (0 = empty list)."""
    return Outcome.NOT_SUPPORTED if list_version < 0 else Outcome.WORKS


def outcome_of_unknown_vendor_data_transfer(status: str) -> tuple[Outcome, str | None]:
    """DataTransfer (OCPP 1.6 §4.3/§5.6) with a vendorId nobody uses: UnknownVendorId is the right
    answer; Accepted or UnknownMessageId still shows DataTransfer works, with a quirk to report;
    Rejected is refused."""
    if status == "UnknownVendorId":
        return Outcome.WORKS, None
    if status in ("Accepted", "UnknownMessageId"):
        return Outcome.WORKS, f"DataTransfer for an unknown vendorId answered {status}"
    return Outcome.REFUSED, None


def parse_supported_feature_profiles(value: str) -> tuple[str, ...]:
    """The CSL of the SupportedFeatureProfiles key (OCPP 1.6 §9.1.36), entries trimmed, empty
    entries dropped, order kept."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def parse_charging_rate_units(value: str) -> tuple[str, ...]:
    """ChargingScheduleAllowedChargingRateUnit (OCPP 1.6 §9.4.3, CSL of Current, Power) as the
    ChargingRateUnit values it allows: Current -> A, Power -> W; unknown entries dropped."""
    units = {"current": "A", "power": "W"}
    found = (units.get(part.strip().casefold()) for part in value.split(","))
    return tuple(dict.fromkeys(unit for unit in found if unit is not None))


def whole_amps(limit_a: float) -> int:
    """A current limit as whole amps, rounded down: Wallbox chargers honour whole amps only
    (field notes Q8, ``evcc-io/evcc#22087``), and rounding down never raises a limit."""
    return int(limit_a)


@dataclass(frozen=True)
class FeatureResult:
    """One feature's outcome and the sentence that says what was seen."""

    feature: Feature
    outcome: Outcome
    detail: str


@dataclass(frozen=True)
class AcceptanceReport:
    """The result of one acceptance check of one charger.

    ``charger_model`` names the charger-model row (``domain/charger_models.py``) that applies;
    ``supported_feature_profiles`` and ``charging_rate_units`` are what the charger reported
    (None: it did not say); ``profile_kinds`` the ChargingProfileKinds it accepted in a
    TxDefaultProfile; ``quirks`` are departures from OCPP 1.6 the check observed.
    """

    charge_point_id: str
    firmware_version: str | None
    charger_model: str
    ran_at: datetime
    with_car: bool
    results: tuple[FeatureResult, ...]
    supported_feature_profiles: tuple[str, ...] | None = None
    charging_rate_units: tuple[str, ...] | None = None
    profile_kinds: tuple[str, ...] = ()
    quirks: tuple[str, ...] = ()

    def outcome(self, feature: Feature) -> Outcome | None:
        """The outcome of ``feature``, None if the report has none (an older report)."""
        for result in self.results:
            if result.feature is feature:
                return result.outcome
        return None


@dataclass(frozen=True)
class FeatureChange:
    """A feature whose outcome differs between two reports (None: absent from that report)."""

    feature: Feature
    before: Outcome | None
    after: Outcome | None


def compare_reports(before: AcceptanceReport, after: AcceptanceReport) -> tuple[FeatureChange, ...]:
    """The features whose outcome changed from ``before`` to ``after``, in check order."""
    changes = []
    for feature in Feature:
        old, new = before.outcome(feature), after.outcome(feature)
        if old != new:
            changes.append(FeatureChange(feature, old, new))
    return tuple(changes)


def previous_of_other_firmware(
    report: AcceptanceReport, older: list[AcceptanceReport]
) -> AcceptanceReport | None:
    """The newest of ``older`` (newest first) run on another firmware version than ``report``:
    the report to compare with after an upgrade."""
    for candidate in older:
        if candidate.firmware_version != report.firmware_version:
            return candidate
    return None
