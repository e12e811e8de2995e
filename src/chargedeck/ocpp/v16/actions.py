"""THE action table: every OCPP 1.6 action, its request/response types, direction and profile.

One row per action (STYLE rule 2). The codec, the session and the CSMS dispatch all read this
table; nothing else lists actions. Feature profiles per OCPP 1.6 §3.3; the Security extension
rows per the OCA whitepaper "Improved security for OCPP 1.6-J", edition 3.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

import msgspec

from chargedeck.ocpp.v16 import (
    core,
    firmware,
    local_auth,
    remote_trigger,
    reservation,
    security,
    smart_charging,
)
from chargedeck.ocpp.v16.base import Message


class Direction(enum.Enum):
    """Who sends the CALL of an action."""

    CHARGE_POINT_TO_CSMS = "ChargePointToCsms"
    CSMS_TO_CHARGE_POINT = "CsmsToChargePoint"
    BOTH = "Both"  # DataTransfer only


class FeatureProfile(enum.StrEnum):
    """The names a charger reports in ``SupportedFeatureProfiles``, plus the Security extension."""

    CORE = "Core"
    FIRMWARE_MANAGEMENT = "FirmwareManagement"
    LOCAL_AUTH_LIST_MANAGEMENT = "LocalAuthListManagement"
    RESERVATION = "Reservation"
    SMART_CHARGING = "SmartCharging"
    REMOTE_TRIGGER = "RemoteTrigger"
    SECURITY = "Security"


@dataclass(frozen=True)
class Action:
    """One row of the action table, with decoders built once (msgspec decoders are reusable)."""

    name: str
    request: type[Message]
    response: type[Message]
    direction: Direction
    profile: FeatureProfile
    request_decoder: msgspec.json.Decoder[Message] = field(init=False, repr=False, compare=False)
    response_decoder: msgspec.json.Decoder[Message] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "request_decoder", msgspec.json.Decoder(self.request))
        object.__setattr__(self, "response_decoder", msgspec.json.Decoder(self.response))

    def sent_by_charge_point(self) -> bool:
        return self.direction in (Direction.CHARGE_POINT_TO_CSMS, Direction.BOTH)

    def sent_by_csms(self) -> bool:
        return self.direction in (Direction.CSMS_TO_CHARGE_POINT, Direction.BOTH)


_CP_TO_CSMS = Direction.CHARGE_POINT_TO_CSMS
_CSMS_TO_CP = Direction.CSMS_TO_CHARGE_POINT
_BOTH = Direction.BOTH
_CORE = FeatureProfile.CORE
_FIRMWARE_MANAGEMENT = FeatureProfile.FIRMWARE_MANAGEMENT
_LOCAL_AUTH_LIST_MANAGEMENT = FeatureProfile.LOCAL_AUTH_LIST_MANAGEMENT
_RESERVATION = FeatureProfile.RESERVATION
_SMART_CHARGING = FeatureProfile.SMART_CHARGING
_REMOTE_TRIGGER = FeatureProfile.REMOTE_TRIGGER
_SECURITY = FeatureProfile.SECURITY

# Action name on the wire (OCPP-J 1.6 §4.2.1, case-sensitive) -> its row.
ACTIONS: Mapping[str, Action] = {
    # Core
    "Authorize": Action(
        "Authorize", core.AuthorizeRequest, core.AuthorizeResponse, _CP_TO_CSMS, _CORE
    ),
    "BootNotification": Action(
        "BootNotification",
        core.BootNotificationRequest,
        core.BootNotificationResponse,
        _CP_TO_CSMS,
        _CORE,
    ),
    "ChangeAvailability": Action(
        "ChangeAvailability",
        core.ChangeAvailabilityRequest,
        core.ChangeAvailabilityResponse,
        _CSMS_TO_CP,
        _CORE,
    ),
    "ChangeConfiguration": Action(
        "ChangeConfiguration",
        core.ChangeConfigurationRequest,
        core.ChangeConfigurationResponse,
        _CSMS_TO_CP,
        _CORE,
    ),
    "ClearCache": Action(
        "ClearCache", core.ClearCacheRequest, core.ClearCacheResponse, _CSMS_TO_CP, _CORE
    ),
    "DataTransfer": Action(
        "DataTransfer", core.DataTransferRequest, core.DataTransferResponse, _BOTH, _CORE
    ),
    "GetConfiguration": Action(
        "GetConfiguration",
        core.GetConfigurationRequest,
        core.GetConfigurationResponse,
        _CSMS_TO_CP,
        _CORE,
    ),
    "Heartbeat": Action(
        "Heartbeat", core.HeartbeatRequest, core.HeartbeatResponse, _CP_TO_CSMS, _CORE
    ),
    "MeterValues": Action(
        "MeterValues", core.MeterValuesRequest, core.MeterValuesResponse, _CP_TO_CSMS, _CORE
    ),
    "RemoteStartTransaction": Action(
        "RemoteStartTransaction",
        core.RemoteStartTransactionRequest,
        core.RemoteStartTransactionResponse,
        _CSMS_TO_CP,
        _CORE,
    ),
    "RemoteStopTransaction": Action(
        "RemoteStopTransaction",
        core.RemoteStopTransactionRequest,
        core.RemoteStopTransactionResponse,
        _CSMS_TO_CP,
        _CORE,
    ),
    "Reset": Action("Reset", core.ResetRequest, core.ResetResponse, _CSMS_TO_CP, _CORE),
    "StartTransaction": Action(
        "StartTransaction",
        core.StartTransactionRequest,
        core.StartTransactionResponse,
        _CP_TO_CSMS,
        _CORE,
    ),
    "StatusNotification": Action(
        "StatusNotification",
        core.StatusNotificationRequest,
        core.StatusNotificationResponse,
        _CP_TO_CSMS,
        _CORE,
    ),
    "StopTransaction": Action(
        "StopTransaction",
        core.StopTransactionRequest,
        core.StopTransactionResponse,
        _CP_TO_CSMS,
        _CORE,
    ),
    "UnlockConnector": Action(
        "UnlockConnector",
        core.UnlockConnectorRequest,
        core.UnlockConnectorResponse,
        _CSMS_TO_CP,
        _CORE,
    ),
    # Firmware Management
    "DiagnosticsStatusNotification": Action(
        "DiagnosticsStatusNotification",
        firmware.DiagnosticsStatusNotificationRequest,
        firmware.DiagnosticsStatusNotificationResponse,
        _CP_TO_CSMS,
        _FIRMWARE_MANAGEMENT,
    ),
    "FirmwareStatusNotification": Action(
        "FirmwareStatusNotification",
        firmware.FirmwareStatusNotificationRequest,
        firmware.FirmwareStatusNotificationResponse,
        _CP_TO_CSMS,
        _FIRMWARE_MANAGEMENT,
    ),
    "GetDiagnostics": Action(
        "GetDiagnostics",
        firmware.GetDiagnosticsRequest,
        firmware.GetDiagnosticsResponse,
        _CSMS_TO_CP,
        _FIRMWARE_MANAGEMENT,
    ),
    "UpdateFirmware": Action(
        "UpdateFirmware",
        firmware.UpdateFirmwareRequest,
        firmware.UpdateFirmwareResponse,
        _CSMS_TO_CP,
        _FIRMWARE_MANAGEMENT,
    ),
    # Local Auth List Management
    "GetLocalListVersion": Action(
        "GetLocalListVersion",
        local_auth.GetLocalListVersionRequest,
        local_auth.GetLocalListVersionResponse,
        _CSMS_TO_CP,
        _LOCAL_AUTH_LIST_MANAGEMENT,
    ),
    "SendLocalList": Action(
        "SendLocalList",
        local_auth.SendLocalListRequest,
        local_auth.SendLocalListResponse,
        _CSMS_TO_CP,
        _LOCAL_AUTH_LIST_MANAGEMENT,
    ),
    # Reservation
    "CancelReservation": Action(
        "CancelReservation",
        reservation.CancelReservationRequest,
        reservation.CancelReservationResponse,
        _CSMS_TO_CP,
        _RESERVATION,
    ),
    "ReserveNow": Action(
        "ReserveNow",
        reservation.ReserveNowRequest,
        reservation.ReserveNowResponse,
        _CSMS_TO_CP,
        _RESERVATION,
    ),
    # Smart Charging
    "ClearChargingProfile": Action(
        "ClearChargingProfile",
        smart_charging.ClearChargingProfileRequest,
        smart_charging.ClearChargingProfileResponse,
        _CSMS_TO_CP,
        _SMART_CHARGING,
    ),
    "GetCompositeSchedule": Action(
        "GetCompositeSchedule",
        smart_charging.GetCompositeScheduleRequest,
        smart_charging.GetCompositeScheduleResponse,
        _CSMS_TO_CP,
        _SMART_CHARGING,
    ),
    "SetChargingProfile": Action(
        "SetChargingProfile",
        smart_charging.SetChargingProfileRequest,
        smart_charging.SetChargingProfileResponse,
        _CSMS_TO_CP,
        _SMART_CHARGING,
    ),
    # Remote Trigger
    "TriggerMessage": Action(
        "TriggerMessage",
        remote_trigger.TriggerMessageRequest,
        remote_trigger.TriggerMessageResponse,
        _CSMS_TO_CP,
        _REMOTE_TRIGGER,
    ),
    # Security
    "CertificateSigned": Action(
        "CertificateSigned",
        security.CertificateSignedRequest,
        security.CertificateSignedResponse,
        _CSMS_TO_CP,
        _SECURITY,
    ),
    "DeleteCertificate": Action(
        "DeleteCertificate",
        security.DeleteCertificateRequest,
        security.DeleteCertificateResponse,
        _CSMS_TO_CP,
        _SECURITY,
    ),
    "ExtendedTriggerMessage": Action(
        "ExtendedTriggerMessage",
        security.ExtendedTriggerMessageRequest,
        security.ExtendedTriggerMessageResponse,
        _CSMS_TO_CP,
        _SECURITY,
    ),
    "GetInstalledCertificateIds": Action(
        "GetInstalledCertificateIds",
        security.GetInstalledCertificateIdsRequest,
        security.GetInstalledCertificateIdsResponse,
        _CSMS_TO_CP,
        _SECURITY,
    ),
    "GetLog": Action(
        "GetLog", security.GetLogRequest, security.GetLogResponse, _CSMS_TO_CP, _SECURITY
    ),
    "InstallCertificate": Action(
        "InstallCertificate",
        security.InstallCertificateRequest,
        security.InstallCertificateResponse,
        _CSMS_TO_CP,
        _SECURITY,
    ),
    "LogStatusNotification": Action(
        "LogStatusNotification",
        security.LogStatusNotificationRequest,
        security.LogStatusNotificationResponse,
        _CP_TO_CSMS,
        _SECURITY,
    ),
    "SecurityEventNotification": Action(
        "SecurityEventNotification",
        security.SecurityEventNotificationRequest,
        security.SecurityEventNotificationResponse,
        _CP_TO_CSMS,
        _SECURITY,
    ),
    "SignCertificate": Action(
        "SignCertificate",
        security.SignCertificateRequest,
        security.SignCertificateResponse,
        _CP_TO_CSMS,
        _SECURITY,
    ),
    "SignedFirmwareStatusNotification": Action(
        "SignedFirmwareStatusNotification",
        security.SignedFirmwareStatusNotificationRequest,
        security.SignedFirmwareStatusNotificationResponse,
        _CP_TO_CSMS,
        _SECURITY,
    ),
    "SignedUpdateFirmware": Action(
        "SignedUpdateFirmware",
        security.SignedUpdateFirmwareRequest,
        security.SignedUpdateFirmwareResponse,
        _CSMS_TO_CP,
        _SECURITY,
    ),
}

# For sending: the request Struct a caller built -> the action it belongs to.
ACTION_BY_REQUEST_TYPE: Mapping[type[Message], Action] = {
    action.request: action for action in ACTIONS.values()
}
