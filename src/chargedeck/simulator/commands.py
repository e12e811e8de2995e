"""THE command table of the simulated charger: every CSMS-to-charger action of OCPP 1.6 and the
handler that answers it (STYLE rule 2: one row per action).

A handler answers at once and never waits for the CSMS (it runs inside the receive loop, which
must keep reading for those answers to arrive); whatever the command sets going (a transaction
start, a reboot, a download, a triggered message) runs as ``then`` after the answer is written,
as §5.17 asks for TriggerMessage ("the .conf first, then the triggered message").

An action whose feature profile the charger does not list in SupportedFeatureProfiles (§9.1),
and every Security-extension action (no model here implements the whitepaper), is refused with
CALLERROR NotSupported: "recognised but not supported" (OCPP-J 1.6 Table 7, facts §1.1).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from chargedeck.ocpp.errors import ActionNotSupported
from chargedeck.ocpp.v16.actions import Action, FeatureProfile
from chargedeck.ocpp.v16.base import Message
from chargedeck.ocpp.v16.core import (
    ChangeAvailabilityRequest,
    ChangeAvailabilityResponse,
    ChangeConfigurationRequest,
    ChangeConfigurationResponse,
    ClearCacheRequest,
    ClearCacheResponse,
    DataTransferRequest,
    DataTransferResponse,
    GetConfigurationRequest,
    GetConfigurationResponse,
    RemoteStartTransactionRequest,
    RemoteStartTransactionResponse,
    RemoteStopTransactionRequest,
    RemoteStopTransactionResponse,
    ResetRequest,
    ResetResponse,
    UnlockConnectorRequest,
    UnlockConnectorResponse,
)
from chargedeck.ocpp.v16.enums import (
    AvailabilityStatus,
    AvailabilityType,
    CancelReservationStatus,
    ChargingProfilePurpose,
    ChargingProfileStatus,
    ChargingRateUnit,
    ClearCacheStatus,
    ConfigurationStatus,
    DataTransferStatus,
    GetCompositeScheduleStatus,
    Reason,
    RegistrationStatus,
    RemoteStartStopStatus,
    ReservationStatus,
    ResetStatus,
    ResetType,
    TriggerMessageStatus,
    UnlockStatus,
)
from chargedeck.ocpp.v16.firmware import (
    GetDiagnosticsRequest,
    GetDiagnosticsResponse,
    UpdateFirmwareRequest,
    UpdateFirmwareResponse,
)
from chargedeck.ocpp.v16.local_auth import (
    GetLocalListVersionRequest,
    GetLocalListVersionResponse,
    SendLocalListRequest,
    SendLocalListResponse,
)
from chargedeck.ocpp.v16.remote_trigger import TriggerMessageRequest, TriggerMessageResponse
from chargedeck.ocpp.v16.reservation import (
    CancelReservationRequest,
    CancelReservationResponse,
    ReserveNowRequest,
    ReserveNowResponse,
)
from chargedeck.ocpp.v16.smart_charging import (
    ClearChargingProfileRequest,
    ClearChargingProfileResponse,
    GetCompositeScheduleRequest,
    GetCompositeScheduleResponse,
    SetChargingProfileRequest,
    SetChargingProfileResponse,
)

if TYPE_CHECKING:
    from chargedeck.simulator.station import SimulatedCharger, _Connector

Then = Callable[[], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Reply:
    """The answer to send now, and what to do once it is written."""

    response: Message
    then: Then | None = None


Handler = Callable[["SimulatedCharger", Any], Reply]

AUTHORIZATION_KEY = "AuthorizationKey"
MIN_KEY_LENGTH = 16
MAX_KEY_LENGTH = 40
"""Security Whitepaper ed.3: the key is 16-40 characters (a 20-byte key travels as 40 hex)."""


def handle_command(charger: SimulatedCharger, action: Action, request: Message) -> Reply:
    """Answer one CSMS command. Raises ActionNotSupported for an action outside the charger's
    feature profiles."""
    handler = COMMANDS.get(action.name)
    profiles = charger._config.get_list("SupportedFeatureProfiles")
    if handler is None or (
        action.profile is not FeatureProfile.CORE and action.profile.value not in profiles
    ):
        raise ActionNotSupported(
            f"{action.name} ({action.profile.value}) is not supported by this charger "
            f"(SupportedFeatureProfiles: {','.join(profiles) or 'none'})"
        )
    return handler(charger, request)


def _accepted_boot(charger: SimulatedCharger) -> bool:
    return charger._registration is RegistrationStatus.ACCEPTED


# ---- Core ---------------------------------------------------------------------------------


def change_availability(charger: SimulatedCharger, request: ChangeAvailabilityRequest) -> Reply:
    """§5.2: 0 is the whole charger; Scheduled where a transaction runs (applied when it ends);
    asking for the state it is in is Accepted."""
    number = request.connector_id
    if not 0 <= number <= len(charger._connectors):
        return Reply(ChangeAvailabilityResponse(status=AvailabilityStatus.REJECTED))
    inoperative = request.type is AvailabilityType.INOPERATIVE
    if number == 0:
        charger._charger_inoperative = inoperative
        charger._update_charger_status()
    targets = charger._chosen(number)
    scheduled = False
    for connector in targets:
        if connector.transaction is not None and inoperative and not connector.inoperative:
            connector.scheduled_inoperative = True
            scheduled = True
            continue
        connector.inoperative = inoperative
        connector.scheduled_inoperative = None
        charger._refresh(connector)
    status = AvailabilityStatus.SCHEDULED if scheduled else AvailabilityStatus.ACCEPTED
    return Reply(ChangeAvailabilityResponse(status=status))


def change_configuration(charger: SimulatedCharger, request: ChangeConfigurationRequest) -> Reply:
    """§5.3; the keys that change behaviour take effect at once (HeartbeatInterval,
    MeterValueSampleInterval, chargingALimitConn1; AuthEnabled at the next plug-in).
    AuthorizationKey (Security Whitepaper ed.3, write-only, never reported): a new Basic auth
    password of 16-40 characters, used from the next connection on."""
    if request.key.casefold() == AUTHORIZATION_KEY.casefold():
        key = request.value
        if not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
            return Reply(ChangeConfigurationResponse(status=ConfigurationStatus.REJECTED))
        charger._password = key
        return Reply(ChangeConfigurationResponse(status=ConfigurationStatus.ACCEPTED))
    status = charger._config.change(request.key, request.value)
    if status is ConfigurationStatus.ACCEPTED:
        charger._configuration_changed(request.key)
    return Reply(ChangeConfigurationResponse(status=status))


def clear_cache(charger: SimulatedCharger, request: ClearCacheRequest) -> Reply:
    """§5.4: Rejected by a charger without an Authorization Cache (no AuthorizationCacheEnabled
    key: "key present = cache supported", facts §1.4)."""
    if "AuthorizationCacheEnabled" not in charger._config:
        return Reply(ClearCacheResponse(status=ClearCacheStatus.REJECTED))
    charger._auth.clear_cache()
    return Reply(ClearCacheResponse(status=ClearCacheStatus.ACCEPTED))


def data_transfer(charger: SimulatedCharger, request: DataTransferRequest) -> Reply:
    """§5.6: no vendor extension is known here (facts §1.5: UnknownVendorId, no data)."""
    return Reply(DataTransferResponse(status=DataTransferStatus.UNKNOWN_VENDOR_ID))


def get_configuration(charger: SimulatedCharger, request: GetConfigurationRequest) -> Reply:
    """§5.8: the keys asked for (all without a list) and the unknown ones."""
    known, unknown = charger._config.read(request.key)
    return Reply(GetConfigurationResponse(configuration_key=known, unknown_key=unknown or None))


def remote_start_transaction(
    charger: SimulatedCharger, request: RemoteStartTransactionRequest
) -> Reply:
    """§5.11: Rejected while the boot is not Accepted (§4.2.1), for a profile that is not a
    TxProfile without transactionId (facts §1.5), or when no connector can take it. Accepted:
    with AuthorizeRemoteTxRequests the idTag is authorized first, then the transaction starts
    (or waits for the car within ConnectionTimeOut)."""
    rejected = Reply(RemoteStartTransactionResponse(status=RemoteStartStopStatus.REJECTED))
    profile = request.charging_profile
    if not _accepted_boot(charger):
        return rejected
    if profile is not None and (
        profile.charging_profile_purpose is not ChargingProfilePurpose.TX_PROFILE
        or profile.transaction_id is not None
    ):
        return rejected
    connector = charger._connector_for_remote_start(request.connector_id, request.id_tag)
    if connector is None:
        return rejected

    async def start() -> None:
        await charger._remote_start(connector, request.id_tag, profile)

    return Reply(RemoteStartTransactionResponse(status=RemoteStartStopStatus.ACCEPTED), start)


def remote_stop_transaction(
    charger: SimulatedCharger, request: RemoteStopTransactionRequest
) -> Reply:
    """§5.12: stopped like a local stop, reason Remote; Rejected for an unknown transaction."""
    for connector in charger._connectors.values():
        running = connector.transaction
        if (
            _accepted_boot(charger)
            and running is not None
            and running.transaction_id == request.transaction_id
        ):

            async def stop(connector: _Connector = connector) -> None:
                charger._stop_transaction(connector, Reason.REMOTE)

            return Reply(RemoteStopTransactionResponse(status=RemoteStartStopStatus.ACCEPTED), stop)
    return Reply(RemoteStopTransactionResponse(status=RemoteStartStopStatus.REJECTED))


def reset(charger: SimulatedCharger, request: ResetRequest) -> Reply:
    """§5.14: Accepted, then transactions stop (SoftReset / HardReset) and it reboots."""
    soft = request.type is ResetType.SOFT
    reason = Reason.SOFT_RESET if soft else Reason.HARD_RESET

    async def reboot() -> None:
        await charger._reboot(reason, soft=soft)

    return Reply(ResetResponse(status=ResetStatus.ACCEPTED), reboot)


def unlock_connector(charger: SimulatedCharger, request: UnlockConnectorRequest) -> Reply:
    """§5.18: a running transaction stops first (reason UnlockCommand); NotSupported for an
    unknown connector or a tethered model without a lock (field notes Q9)."""
    connector = charger._connectors.get(request.connector_id)
    if connector is None or not charger.model.unlock_supported:
        return Reply(UnlockConnectorResponse(status=UnlockStatus.NOT_SUPPORTED))
    charger._stop_transaction(connector, Reason.UNLOCK_COMMAND)
    return Reply(UnlockConnectorResponse(status=UnlockStatus.UNLOCKED))


# ---- Firmware Management ------------------------------------------------------------------


def get_diagnostics(charger: SimulatedCharger, request: GetDiagnosticsRequest) -> Reply:
    """§5.9: the file name now, the upload after (DiagnosticsStatusNotification, §4.4)."""
    stamp = charger._now().strftime("%Y%m%dT%H%M%SZ")
    safe_id = "".join(c if c.isalnum() or c in "-_." else "_" for c in charger.serial_number)
    file_name = f"diagnostics-{safe_id}-{stamp}.log"

    async def upload() -> None:
        await charger._upload_diagnostics(request, file_name)

    return Reply(GetDiagnosticsResponse(file_name=file_name), upload)


def update_firmware(charger: SimulatedCharger, request: UpdateFirmwareRequest) -> Reply:
    """§5.19: an empty answer; progress comes as FirmwareStatusNotification (§4.5)."""

    async def update() -> None:
        await charger._update_firmware(request)

    return Reply(UpdateFirmwareResponse(), update)


# ---- Local Auth List Management -------------------------------------------------------------


def get_local_list_version(charger: SimulatedCharger, request: GetLocalListVersionRequest) -> Reply:
    """§5.10: 0 for an empty list."""
    return Reply(GetLocalListVersionResponse(list_version=charger._auth.reported_version()))


def send_local_list(charger: SimulatedCharger, request: SendLocalListRequest) -> Reply:
    """§5.15, within SendLocalListMaxLength and LocalAuthListMaxLength (§9.3)."""
    status = charger._auth.apply(
        request,
        max_per_message=charger._config.get_int("SendLocalListMaxLength", 0),
        max_length=charger._config.get_int("LocalAuthListMaxLength", 0),
    )
    return Reply(SendLocalListResponse(status=status))


# ---- Reservation ------------------------------------------------------------------------------


def reserve_now(charger: SimulatedCharger, request: ReserveNowRequest) -> Reply:
    """§5.13: connector 0 only with ReserveConnectorZeroSupported; Faulted, Unavailable or
    Occupied as the connector is; the same reservationId replaces its reservation."""
    number = request.connector_id
    if number == 0:
        if not charger._config.get_bool("ReserveConnectorZeroSupported", False):
            return Reply(ReserveNowResponse(status=ReservationStatus.REJECTED))
        free = [c for c in charger._connectors.values() if charger._is_free(c)]
        if not free:
            return Reply(ReserveNowResponse(status=ReservationStatus.OCCUPIED))
        number = free[0].connector_id
    connector = charger._connectors.get(number)
    if connector is None:
        return Reply(ReserveNowResponse(status=ReservationStatus.REJECTED))
    if connector.fault is not None:
        return Reply(ReserveNowResponse(status=ReservationStatus.FAULTED))
    if connector.inoperative:
        return Reply(ReserveNowResponse(status=ReservationStatus.UNAVAILABLE))
    held = connector.reservation
    if not charger._is_free(connector) and not (
        held is not None and held.reservation_id == request.reservation_id
    ):
        return Reply(ReserveNowResponse(status=ReservationStatus.OCCUPIED))
    charger._place_reservation(
        connector,
        request.reservation_id,
        request.id_tag,
        request.parent_id_tag,
        request.expiry_date,
    )
    return Reply(ReserveNowResponse(status=ReservationStatus.ACCEPTED))


def cancel_reservation(charger: SimulatedCharger, request: CancelReservationRequest) -> Reply:
    """§5.1: Accepted for a reservation it holds, Rejected otherwise."""
    for connector in charger._connectors.values():
        held = connector.reservation
        if held is not None and held.reservation_id == request.reservation_id:
            charger._end_reservation(connector)
            charger._refresh(connector)
            return Reply(CancelReservationResponse(status=CancelReservationStatus.ACCEPTED))
    return Reply(CancelReservationResponse(status=CancelReservationStatus.REJECTED))


# ---- Smart Charging ---------------------------------------------------------------------------


def set_charging_profile(charger: SimulatedCharger, request: SetChargingProfileRequest) -> Reply:
    """§5.16, checked as ChargeDeck checks before sending (domain check_profile) against the
    charger's own §9.4 keys; the limits are re-evaluated at once."""
    capabilities, _problems = charger._capabilities()
    running = charger._connectors.get(request.connector_id)
    active = None
    if running is not None and running.transaction is not None:
        active = running.transaction.transaction_id
    status, why = charger._profiles.install(
        request.cs_charging_profiles,
        request.connector_id,
        charger._now(),
        capabilities=capabilities,
        number_of_connectors=len(charger._connectors),
        active_transaction_id=active,
    )
    if status is not ChargingProfileStatus.ACCEPTED:
        charger._note(f"SetChargingProfile rejected: {why}")
    charger._refresh_all()
    return Reply(SetChargingProfileResponse(status=status))


def clear_charging_profile(
    charger: SimulatedCharger, request: ClearChargingProfileRequest
) -> Reply:
    """§5.5."""
    status = charger._profiles.clear(request)
    charger._refresh_all()
    return Reply(ClearChargingProfileResponse(status=status))


def get_composite_schedule(
    charger: SimulatedCharger, request: GetCompositeScheduleRequest
) -> Reply:
    """§5.7: Rejected for an unknown connector or a duration not above 0; in the unit asked
    for, else the first the charger allows (ChargingScheduleAllowedChargingRateUnit)."""
    number = request.connector_id
    if not 0 <= number <= len(charger._connectors) or request.duration <= 0:
        return Reply(GetCompositeScheduleResponse(status=GetCompositeScheduleStatus.REJECTED))
    unit = request.charging_rate_unit
    if unit is None:
        allowed = [u.casefold() for u in charger._config.get_list(_ALLOWED_UNIT_KEY)]
        unit = ChargingRateUnit.W if allowed and "current" not in allowed else ChargingRateUnit.A
    connector = charger._connectors.get(number)
    context = None if connector is None else charger._transaction_context(connector)
    now = charger._now().replace(microsecond=0)
    schedule = charger._profiles.composite(
        number, now, request.duration, unit, context, charger.model
    )
    return Reply(
        GetCompositeScheduleResponse(
            status=GetCompositeScheduleStatus.ACCEPTED,
            connector_id=number,
            schedule_start=now,
            charging_schedule=schedule,
        )
    )


_ALLOWED_UNIT_KEY: Final = "ChargingScheduleAllowedChargingRateUnit"


# ---- Remote Trigger ---------------------------------------------------------------------------


def trigger_message(charger: SimulatedCharger, request: TriggerMessageRequest) -> Reply:
    """§5.17: Accepted, then the message; Rejected for a connector it does not have."""
    number = request.connector_id
    if number is not None and not 0 <= number <= len(charger._connectors):
        return Reply(TriggerMessageResponse(status=TriggerMessageStatus.REJECTED))

    async def send() -> None:
        await charger._send_triggered(request.requested_message, number)

    return Reply(TriggerMessageResponse(status=TriggerMessageStatus.ACCEPTED), send)


COMMANDS: Final[Mapping[str, Handler]] = {
    # Core
    "ChangeAvailability": change_availability,
    "ChangeConfiguration": change_configuration,
    "ClearCache": clear_cache,
    "DataTransfer": data_transfer,
    "GetConfiguration": get_configuration,
    "RemoteStartTransaction": remote_start_transaction,
    "RemoteStopTransaction": remote_stop_transaction,
    "Reset": reset,
    "UnlockConnector": unlock_connector,
    # Firmware Management
    "GetDiagnostics": get_diagnostics,
    "UpdateFirmware": update_firmware,
    # Local Auth List Management
    "GetLocalListVersion": get_local_list_version,
    "SendLocalList": send_local_list,
    # Reservation
    "CancelReservation": cancel_reservation,
    "ReserveNow": reserve_now,
    # Smart Charging
    "ClearChargingProfile": clear_charging_profile,
    "GetCompositeSchedule": get_composite_schedule,
    "SetChargingProfile": set_charging_profile,
    # Remote Trigger
    "TriggerMessage": trigger_message,
}
"""Every CSMS-to-charger action of OCPP 1.6 §3.3 but the Security extension's."""
