"""Charging profiles (OCPP 1.6 §3.13, §5.5, §5.7, §5.16): SetChargingProfile with every rule
checked before sending, ClearChargingProfile, and GetCompositeSchedule compared with the
composite schedule ChargeDeck computes itself.

Every profile is recorded before it is sent and follows the charger's answer
(store/charging_profiles.py); the rules and the composite schedule are pure functions
(domain/charging_profiles.py). The charger's capabilities come from the configuration it last
reported (ChargeProfileMaxStackLevel, ChargingScheduleAllowedChargingRateUnit,
ChargingScheduleMaxPeriods, MaxChargingProfilesInstalled, NumberOfConnectors: §3.13.5, §9);
a key it never reported is not checked.

Profile ids: load control uses fixed ids, so that a new limit replaces the old one on the
charger by its id (field notes G3: Delta chargers refuse a second profile with the same slot
under a new id, and a cleared-and-not-reapplied limit means full power); operator profiles take
ids from a separate range, each new one never sent to that charger before.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final, Literal

import msgspec

from chargedeck.csms.commands import ChargePointNotConnected, UnknownChargePoint, send_command
from chargedeck.csms.context import CsmsServices
from chargedeck.domain.charging_profiles import (
    CAPABILITY_KEYS,
    ChargerCapabilities,
    InstalledProfile,
    Period,
    Profile,
    ProfileRefused,
    Purpose,
    RateUnit,
    Schedule,
    capabilities_from_configuration,
    check_profile,
    compare_schedules,
    composite_schedule,
)
from chargedeck.domain.ids import ChargePointId, ConnectorId
from chargedeck.ocpp.errors import CallErrorReceived
from chargedeck.ocpp.v16.enums import (
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingProfileStatus,
    ChargingRateUnit,
    GetCompositeScheduleStatus,
    RecurrencyKind,
)
from chargedeck.ocpp.v16.smart_charging import (
    ClearChargingProfileRequest,
    ClearChargingProfileResponse,
    GetCompositeScheduleRequest,
    GetCompositeScheduleResponse,
    SetChargingProfileRequest,
    SetChargingProfileResponse,
)
from chargedeck.ocpp.v16.types import ChargingProfile, ChargingSchedule, ChargingSchedulePeriod
from chargedeck.store.charging_profiles import ChargingProfileRecord, ChargingProfileRecordStatus

log = logging.getLogger(__name__)

Origin = Literal["operator", "load_control", "fail_safe"]
ORIGINS: Final[tuple[Origin, ...]] = ("operator", "load_control", "fail_safe")

FAIL_SAFE_PROFILE_ID: Final = 1
"""chargingProfileId of load control's fail-safe TxDefaultProfile on connector 0 (ids 1..99 are
fail-safe ids: :func:`fail_safe_profile_id`)."""

LOAD_CONTROL_PROFILE_ID: Final = 100
"""chargingProfileId of load control's limit profile (ids 100..999 are load control's). A
charger replaces a profile with the same id whatever its connector (§3.13.2): on a charger with
several connectors give each connector its own id, :func:`load_control_profile_id`."""

OPERATOR_PROFILE_IDS: Final = (1000, 2**31 - 1)
"""First and last chargingProfileId of operator profiles: apart from load control's fixed ids,
so an operator's profile never replaces one of them by its id; int32 on chargers."""

NUMBER_OF_CONNECTORS: Final = "NumberOfConnectors"  # §9.1, Core: every charger reports it

# The charger's answer to SetChargingProfile (§7.11) as the stored status.
_STATUS_OF_ANSWER: Final = {
    ChargingProfileStatus.ACCEPTED: ChargingProfileRecordStatus.ACCEPTED,
    ChargingProfileStatus.REJECTED: ChargingProfileRecordStatus.REJECTED,
    ChargingProfileStatus.NOT_SUPPORTED: ChargingProfileRecordStatus.NOT_SUPPORTED,
}
# CALLERROR codes that say the charger has no Smart Charging (OCPP-J 1.6 §4.2.3).
_UNSUPPORTED_CODES: Final = frozenset({"NotImplemented", "NotSupported"})

_PROFILE_ENCODER: Final = msgspec.json.Encoder()
_PROFILE_DECODER: Final = msgspec.json.Decoder(ChargingProfile)


def fail_safe_profile_id(connector_id: int) -> int:
    """The fixed chargingProfileId of load control's fail-safe profile on ``connector_id``."""
    return FAIL_SAFE_PROFILE_ID + connector_id


def load_control_profile_id(connector_id: int) -> int:
    """The fixed chargingProfileId of load control's limit profile on ``connector_id``."""
    return LOAD_CONTROL_PROFILE_ID + connector_id


@dataclass(frozen=True)
class ProfileOutcome:
    """A profile the charger answered: the stored row, its status (accepted, rejected,
    not_supported) and the charger's own word (Accepted, Rejected, NotSupported)."""

    record: ChargingProfileRecord
    status: ChargingProfileRecordStatus
    charger_status: str


@dataclass(frozen=True)
class ClearOutcome:
    """The charger's answer to ClearChargingProfile (Accepted, Unknown: nothing matched, §7.21)
    and how many recorded profiles it ended."""

    charger_status: str
    cleared: int


@dataclass(frozen=True)
class CompositeCheck:
    """GetCompositeSchedule (§5.7) next to ChargeDeck's own composite schedule."""

    charge_point_id: str
    connector_id: int
    start: datetime
    """When ChargeDeck asked; its schedule starts then."""
    duration_s: int
    rate_unit: RateUnit
    charger_status: str
    """Accepted or Rejected (§7.26)."""
    theirs: Schedule | None
    """The charger's answer (no periods: it reports no limit); None when it rejected."""
    ours: Schedule
    mismatches: tuple[str, ...]


async def send_charging_profile(
    services: CsmsServices,
    charge_point_id: str,
    connector_id: int,
    profile: Profile,
    origin: str,
) -> ProfileOutcome:
    """Install ``profile`` on ``connector_id`` (0: the whole charger) of a connected charger.

    The profile is checked (``check_profile``) with the charger's reported capabilities and the
    transaction running on the connector; a TxProfile without a transactionId gets that
    transaction's (§5.16.3: the Central System SHALL include it). It is recorded, sent, and the
    answer recorded: accepted (replacing what the charger replaces), rejected or not_supported.
    ``origin``: operator, load_control or fail_safe; an operator profile's id must come from
    :data:`OPERATOR_PROFILE_IDS`.

    Raises ``ProfileRefused`` (nothing sent, nothing recorded), ``UnknownChargePoint``,
    ``ChargePointNotConnected``, ``ValueError`` for an unknown origin, and what ``send_command``
    raises: a CALLERROR is recorded as rejected (not_supported for NotImplemented /
    NotSupported) and raised; after a time-out or a disconnect the row stays unanswered.
    """
    if origin not in ORIGINS:
        raise ValueError(f"origin {origin!r} is not one of {', '.join(ORIGINS)}")
    cp_id = ChargePointId(charge_point_id)
    await _connected(services, cp_id)
    first, last = OPERATOR_PROFILE_IDS
    if origin == "operator" and not first <= profile.charging_profile_id <= last:
        raise ProfileRefused(
            "reserved-profile-id",
            f"chargingProfileId {profile.charging_profile_id} is reserved for load control: "
            f"give an id from {first} to {last}, or leave it out",
        )
    capabilities, number_of_connectors = await charger_capabilities(services, cp_id)
    transaction = (
        await services.store.transactions.active_transaction_for_connector(
            cp_id, ConnectorId(connector_id)
        )
        if connector_id > 0
        else None
    )
    if profile.purpose == "TxProfile" and profile.transaction_id is None and transaction:
        profile = replace(profile, transaction_id=int(transaction.id))
    installed = await installed_profiles(services, cp_id)
    try:
        check_profile(
            profile,
            connector_id,
            capabilities=capabilities,
            active_transaction_id=None if transaction is None else int(transaction.id),
            number_of_connectors=number_of_connectors,
            installed=installed,
        )
    except ProfileRefused as refused:
        log.info(
            "charge point %s connector %d: %s %d (%s) not sent: %s",
            cp_id,
            connector_id,
            profile.purpose,
            profile.charging_profile_id,
            origin,
            refused,
        )
        raise
    ocpp_profile = build_ocpp_profile(profile)
    record = await services.store.charging_profiles.record_sent(
        cp_id,
        connector_id=connector_id,
        charging_profile_id=profile.charging_profile_id,
        purpose=profile.purpose,
        stack_level=profile.stack_level,
        transaction_id=profile.transaction_id,
        profile=_PROFILE_ENCODER.encode(ocpp_profile).decode(),
        origin=origin,
        now=services.clock.now(),
    )
    request = SetChargingProfileRequest(
        connector_id=connector_id, cs_charging_profiles=ocpp_profile
    )
    try:
        answer = await send_command(services, cp_id, request)
    except CallErrorReceived as error:
        status = (
            ChargingProfileRecordStatus.NOT_SUPPORTED
            if error.code in _UNSUPPORTED_CODES
            else ChargingProfileRecordStatus.REJECTED
        )
        await services.store.charging_profiles.record_answer(
            record.id, status, services.clock.now()
        )
        raise
    assert isinstance(answer, SetChargingProfileResponse)
    status = _STATUS_OF_ANSWER[answer.status]
    record = await services.store.charging_profiles.record_answer(
        record.id, status, services.clock.now()
    )
    log.info(
        "charge point %s connector %d: %s %d (%s) answered %s",
        cp_id,
        connector_id,
        profile.purpose,
        profile.charging_profile_id,
        origin,
        answer.status.value,
    )
    return ProfileOutcome(record=record, status=status, charger_status=answer.status.value)


async def next_operator_profile_id(services: CsmsServices, charge_point_id: str) -> int:
    """A chargingProfileId for an operator profile, never sent to this charger before."""
    first, last = OPERATOR_PROFILE_IDS
    return await services.store.charging_profiles.next_profile_id(
        ChargePointId(charge_point_id), first=first, last=last
    )


async def clear_charging_profile(
    services: CsmsServices,
    charge_point_id: str,
    *,
    charging_profile_id: int | None = None,
    connector_id: int | None = None,
    purpose: Purpose | None = None,
    stack_level: int | None = None,
) -> ClearOutcome:
    """ClearChargingProfile (§5.5): the profile with ``charging_profile_id``, or every one that
    matches all the given filters (none given: all). Either answer ends the matching recorded
    profiles: Accepted cleared them, Unknown says the charger holds none of them. Clearing a
    limit leaves the connector at full power unless another profile applies (field notes G3).

    Raises ``UnknownChargePoint``, ``ChargePointNotConnected`` and what ``send_command``
    raises."""
    cp_id = ChargePointId(charge_point_id)
    await _connected(services, cp_id)
    answer = await send_command(
        services,
        cp_id,
        ClearChargingProfileRequest(
            id=charging_profile_id,
            connector_id=connector_id,
            charging_profile_purpose=None if purpose is None else ChargingProfilePurpose(purpose),
            stack_level=stack_level,
        ),
    )
    assert isinstance(answer, ClearChargingProfileResponse)
    cleared = await services.store.charging_profiles.mark_cleared(
        cp_id,
        charging_profile_id=charging_profile_id,
        connector_id=connector_id,
        purpose=purpose,
        stack_level=stack_level,
        now=services.clock.now(),
    )
    log.info(
        "charge point %s: ClearChargingProfile answered %s; %d recorded profile(s) ended",
        cp_id,
        answer.status.value,
        cleared,
    )
    return ClearOutcome(charger_status=answer.status.value, cleared=cleared)


async def check_composite_schedule(
    services: CsmsServices,
    charge_point_id: str,
    connector_id: int,
    duration_s: int,
    rate_unit: RateUnit,
) -> CompositeCheck:
    """Ask the charger for its composite schedule of ``connector_id`` (0: what the whole charger
    draws) for the next ``duration_s`` seconds in ``rate_unit`` (GetCompositeSchedule §5.7),
    compute ChargeDeck's from the profiles it holds (``composite_schedule``), and compare them.
    A mismatch is logged as a warning naming the charger. The charger may fold in limits of its
    own (§5.7: the answer is indicative), which then show as mismatches.

    Raises ``UnknownChargePoint``, ``ChargePointNotConnected`` and what ``send_command``
    raises."""
    cp_id = ChargePointId(charge_point_id)
    await _connected(services, cp_id)
    start = services.clock.now()
    answer = await send_command(
        services,
        cp_id,
        GetCompositeScheduleRequest(
            connector_id=connector_id,
            duration=duration_s,
            charging_rate_unit=ChargingRateUnit(rate_unit),
        ),
    )
    assert isinstance(answer, GetCompositeScheduleResponse)
    transaction = (
        await services.store.transactions.active_transaction_for_connector(
            cp_id, ConnectorId(connector_id)
        )
        if connector_id > 0
        else None
    )
    voltage_v = services.settings.nominal_voltage_v
    ours = composite_schedule(
        await installed_profiles(services, cp_id),
        connector_id,
        start,
        duration_s,
        rate_unit,
        transaction_id=None if transaction is None else int(transaction.id),
        transaction_started_at=None if transaction is None else transaction.started_at,
        voltage_v=voltage_v,
    )
    theirs: Schedule | None = None
    mismatches: tuple[str, ...] = ()
    if answer.status is GetCompositeScheduleStatus.ACCEPTED:
        origin = answer.schedule_start
        if answer.charging_schedule is None:
            # §6.22: the schedule is optional; without one the charger plans no limit.
            theirs = Schedule(rate_unit=rate_unit, periods=(), start_schedule=origin or start)
        else:
            theirs = parse_ocpp_schedule(answer.charging_schedule, start=origin)
        mismatches = tuple(compare_schedules(ours, theirs, start=start, voltage_v=voltage_v))
    if mismatches:
        log.warning(
            "charge point %s connector %d: its composite schedule differs from ChargeDeck's: %s",
            cp_id,
            connector_id,
            "; ".join(mismatches),
        )
    return CompositeCheck(
        charge_point_id=cp_id,
        connector_id=connector_id,
        start=start,
        duration_s=duration_s,
        rate_unit=rate_unit,
        charger_status=answer.status.value,
        theirs=theirs,
        ours=ours,
        mismatches=mismatches,
    )


async def charger_capabilities(
    services: CsmsServices, charge_point_id: ChargePointId
) -> tuple[ChargerCapabilities, int | None]:
    """The Smart Charging capabilities and NumberOfConnectors the charger last reported; a
    value it reported that cannot be read is logged and left unknown (not checked)."""
    values = await services.store.configuration.values(
        charge_point_id, (*CAPABILITY_KEYS, NUMBER_OF_CONNECTORS)
    )
    capabilities, problems = capabilities_from_configuration(values)
    connectors = values.get(NUMBER_OF_CONNECTORS)
    number_of_connectors: int | None = None
    if connectors is not None:
        if connectors.strip().isdigit() and connectors.strip().isascii():
            number_of_connectors = int(connectors.strip())
        else:
            problems += (f"{NUMBER_OF_CONNECTORS} is {connectors!r}, expected a whole number",)
    for problem in problems:
        log.warning(
            "charge point %s: %s; not checked before sending profiles", charge_point_id, problem
        )
    return capabilities, number_of_connectors


async def installed_profiles(
    services: CsmsServices, charge_point_id: ChargePointId
) -> list[InstalledProfile]:
    """The profiles the charger holds, as ChargeDeck recorded them."""
    return [
        installed_profile(record)
        for record in await services.store.charging_profiles.list_installed(charge_point_id)
    ]


def installed_profile(record: ChargingProfileRecord) -> InstalledProfile:
    """A stored profile as the domain rules see it (the profile it holds since it was sent)."""
    return InstalledProfile(
        profile=parse_ocpp_profile(_PROFILE_DECODER.decode(record.profile)),
        connector_id=record.connector_id,
        installed_at=record.sent_at,
    )


async def _connected(services: CsmsServices, charge_point_id: ChargePointId) -> None:
    """Raise before anything is recorded when the charger cannot be asked now."""
    if services.stations.get(charge_point_id) is not None:
        return
    if await services.store.charge_points.get_charge_point(charge_point_id) is None:
        raise UnknownChargePoint(charge_point_id)
    raise ChargePointNotConnected(charge_point_id)


# ---- domain <-> OCPP ----------------------------------------------------------------------------


def build_ocpp_profile(profile: Profile) -> ChargingProfile:
    """The OCPP csChargingProfiles (§7.8) of a domain profile. ValueError (from the codec's
    types) for a limit that is not a multiple of 0.1: ``check_profile`` refuses those first."""
    return ChargingProfile(
        charging_profile_id=profile.charging_profile_id,
        transaction_id=profile.transaction_id,
        stack_level=profile.stack_level,
        charging_profile_purpose=ChargingProfilePurpose(profile.purpose),
        charging_profile_kind=ChargingProfileKind(profile.kind),
        recurrency_kind=(
            None if profile.recurrency_kind is None else RecurrencyKind(profile.recurrency_kind)
        ),
        valid_from=profile.valid_from,
        valid_to=profile.valid_to,
        charging_schedule=build_ocpp_schedule(profile.schedule),
    )


def parse_ocpp_profile(profile: ChargingProfile) -> Profile:
    """The domain profile of an OCPP csChargingProfiles (§7.8)."""
    return Profile(
        charging_profile_id=profile.charging_profile_id,
        stack_level=profile.stack_level,
        purpose=profile.charging_profile_purpose.value,
        kind=profile.charging_profile_kind.value,
        schedule=parse_ocpp_schedule(profile.charging_schedule),
        transaction_id=profile.transaction_id,
        recurrency_kind=(
            None if profile.recurrency_kind is None else profile.recurrency_kind.value
        ),
        valid_from=profile.valid_from,
        valid_to=profile.valid_to,
    )


def build_ocpp_schedule(schedule: Schedule) -> ChargingSchedule:
    """The OCPP ChargingSchedule (§7.13) of a domain schedule."""
    return ChargingSchedule(
        duration=schedule.duration_s,
        start_schedule=schedule.start_schedule,
        charging_rate_unit=ChargingRateUnit(schedule.rate_unit),
        charging_schedule_period=[
            ChargingSchedulePeriod(
                start_period=period.start_period_s,
                limit=period.limit,
                number_phases=period.number_phases,
            )
            for period in schedule.periods
        ],
        min_charging_rate=schedule.min_charging_rate,
    )


def parse_ocpp_schedule(schedule: ChargingSchedule, *, start: datetime | None = None) -> Schedule:
    """The domain schedule of an OCPP ChargingSchedule (§7.13); ``start`` (a composite
    schedule's scheduleStart, §6.22) takes the place of its startSchedule when given."""
    return Schedule(
        rate_unit="A" if schedule.charging_rate_unit is ChargingRateUnit.A else "W",
        periods=tuple(
            Period(
                start_period_s=period.start_period,
                limit=period.limit,
                number_phases=period.number_phases,
            )
            for period in schedule.charging_schedule_period
        ),
        duration_s=schedule.duration,
        start_schedule=start if start is not None else schedule.start_schedule,
        min_charging_rate=schedule.min_charging_rate,
    )
