"""Every enumeration of OCPP 1.6 (§7) and of the Security extension, with the exact wire strings.

Member names are UPPER_SNAKE; values are what goes on the wire, typos included (``Celcius``
beside ``Celsius``), because the official JSON schemas list them that way. Class names are the
spec's type names without a trailing ``Type``; where the Security extension reuses a 1.6 name
for a different set of values, the class gets a prefix (``SignedFirmwareStatus``,
``ExtendedMessageTrigger``). Where the spec prose and the schema disagree, the schema wins.
"""

from __future__ import annotations

import enum

# ---------------------------------------------------------------------------------------------
# OCPP 1.6 §7 (edition 2)
# ---------------------------------------------------------------------------------------------


class AuthorizationStatus(enum.StrEnum):
    """OCPP 1.6 §7.2: whether an idTag may charge."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


class AvailabilityStatus(enum.StrEnum):
    """OCPP 1.6 §7.3: answer to ChangeAvailability."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    SCHEDULED = "Scheduled"


class AvailabilityType(enum.StrEnum):
    """OCPP 1.6 §7.4: the availability ChangeAvailability asks for."""

    INOPERATIVE = "Inoperative"
    OPERATIVE = "Operative"


class CancelReservationStatus(enum.StrEnum):
    """OCPP 1.6 §7.5."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


class ChargePointErrorCode(enum.StrEnum):
    """OCPP 1.6 §7.6: the errorCode of StatusNotification."""

    CONNECTOR_LOCK_FAILURE = "ConnectorLockFailure"
    EV_COMMUNICATION_ERROR = "EVCommunicationError"
    GROUND_FAILURE = "GroundFailure"
    HIGH_TEMPERATURE = "HighTemperature"
    INTERNAL_ERROR = "InternalError"
    LOCAL_LIST_CONFLICT = "LocalListConflict"
    NO_ERROR = "NoError"
    OTHER_ERROR = "OtherError"
    OVER_CURRENT_FAILURE = "OverCurrentFailure"
    POWER_METER_FAILURE = "PowerMeterFailure"
    POWER_SWITCH_FAILURE = "PowerSwitchFailure"
    READER_FAILURE = "ReaderFailure"
    RESET_FAILURE = "ResetFailure"
    UNDER_VOLTAGE = "UnderVoltage"
    OVER_VOLTAGE = "OverVoltage"
    WEAK_SIGNAL = "WeakSignal"


class ChargePointStatus(enum.StrEnum):
    """OCPP 1.6 §7.7: the connector (or charge point, connector 0) status."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EVSE = "SuspendedEVSE"
    SUSPENDED_EV = "SuspendedEV"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class ChargingProfileKind(enum.StrEnum):
    """OCPP 1.6 §7.9 ChargingProfileKindType."""

    ABSOLUTE = "Absolute"
    RECURRING = "Recurring"
    RELATIVE = "Relative"


class ChargingProfilePurpose(enum.StrEnum):
    """OCPP 1.6 §7.10 ChargingProfilePurposeType."""

    CHARGE_POINT_MAX_PROFILE = "ChargePointMaxProfile"
    TX_DEFAULT_PROFILE = "TxDefaultProfile"
    TX_PROFILE = "TxProfile"


class ChargingProfileStatus(enum.StrEnum):
    """OCPP 1.6 §7.11: answer to SetChargingProfile."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    NOT_SUPPORTED = "NotSupported"


class ChargingRateUnit(enum.StrEnum):
    """OCPP 1.6 §7.12 ChargingRateUnitType: amperes or watts."""

    A = "A"
    W = "W"


class ClearCacheStatus(enum.StrEnum):
    """OCPP 1.6 §7.20."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


class ClearChargingProfileStatus(enum.StrEnum):
    """OCPP 1.6 §7.21."""

    ACCEPTED = "Accepted"
    UNKNOWN = "Unknown"


class ConfigurationStatus(enum.StrEnum):
    """OCPP 1.6 §7.22: answer to ChangeConfiguration."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    REBOOT_REQUIRED = "RebootRequired"
    NOT_SUPPORTED = "NotSupported"


class DataTransferStatus(enum.StrEnum):
    """OCPP 1.6 §7.23. The prose says ``UnknownVendor``; the schema says ``UnknownVendorId``."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    UNKNOWN_MESSAGE_ID = "UnknownMessageId"
    UNKNOWN_VENDOR_ID = "UnknownVendorId"


class DiagnosticsStatus(enum.StrEnum):
    """OCPP 1.6 §7.24."""

    IDLE = "Idle"
    UPLOADED = "Uploaded"
    UPLOAD_FAILED = "UploadFailed"
    UPLOADING = "Uploading"


class FirmwareStatus(enum.StrEnum):
    """OCPP 1.6 §7.25: FirmwareStatusNotification of a plain (unsigned) UpdateFirmware."""

    DOWNLOADED = "Downloaded"
    DOWNLOAD_FAILED = "DownloadFailed"
    DOWNLOADING = "Downloading"
    IDLE = "Idle"
    INSTALLATION_FAILED = "InstallationFailed"
    INSTALLING = "Installing"
    INSTALLED = "Installed"


class GetCompositeScheduleStatus(enum.StrEnum):
    """OCPP 1.6 §7.26."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


class Location(enum.StrEnum):
    """OCPP 1.6 §7.30: where a sampled value was measured (spec default ``Outlet``)."""

    CABLE = "Cable"
    EV = "EV"
    INLET = "Inlet"
    OUTLET = "Outlet"
    BODY = "Body"


class Measurand(enum.StrEnum):
    """OCPP 1.6 §7.31: what a sampled value measures (default Energy.Active.Import.Register)."""

    ENERGY_ACTIVE_EXPORT_REGISTER = "Energy.Active.Export.Register"
    ENERGY_ACTIVE_IMPORT_REGISTER = "Energy.Active.Import.Register"
    ENERGY_REACTIVE_EXPORT_REGISTER = "Energy.Reactive.Export.Register"
    ENERGY_REACTIVE_IMPORT_REGISTER = "Energy.Reactive.Import.Register"
    ENERGY_ACTIVE_EXPORT_INTERVAL = "Energy.Active.Export.Interval"
    ENERGY_ACTIVE_IMPORT_INTERVAL = "Energy.Active.Import.Interval"
    ENERGY_REACTIVE_EXPORT_INTERVAL = "Energy.Reactive.Export.Interval"
    ENERGY_REACTIVE_IMPORT_INTERVAL = "Energy.Reactive.Import.Interval"
    POWER_ACTIVE_EXPORT = "Power.Active.Export"
    POWER_ACTIVE_IMPORT = "Power.Active.Import"
    POWER_OFFERED = "Power.Offered"
    POWER_REACTIVE_EXPORT = "Power.Reactive.Export"
    POWER_REACTIVE_IMPORT = "Power.Reactive.Import"
    POWER_FACTOR = "Power.Factor"
    CURRENT_IMPORT = "Current.Import"
    CURRENT_EXPORT = "Current.Export"
    CURRENT_OFFERED = "Current.Offered"
    VOLTAGE = "Voltage"
    FREQUENCY = "Frequency"
    TEMPERATURE = "Temperature"
    SOC = "SoC"
    RPM = "RPM"


class MessageTrigger(enum.StrEnum):
    """OCPP 1.6 §7.32: what TriggerMessage may ask for."""

    BOOT_NOTIFICATION = "BootNotification"
    DIAGNOSTICS_STATUS_NOTIFICATION = "DiagnosticsStatusNotification"
    FIRMWARE_STATUS_NOTIFICATION = "FirmwareStatusNotification"
    HEARTBEAT = "Heartbeat"
    METER_VALUES = "MeterValues"
    STATUS_NOTIFICATION = "StatusNotification"


class Phase(enum.StrEnum):
    """OCPP 1.6 §7.34: the phase (or phase pair) a sampled value is about."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    N = "N"
    L1_N = "L1-N"
    L2_N = "L2-N"
    L3_N = "L3-N"
    L1_L2 = "L1-L2"
    L2_L3 = "L2-L3"
    L3_L1 = "L3-L1"


class ReadingContext(enum.StrEnum):
    """OCPP 1.6 §7.35: why a sampled value was taken (spec default ``Sample.Periodic``)."""

    INTERRUPTION_BEGIN = "Interruption.Begin"
    INTERRUPTION_END = "Interruption.End"
    SAMPLE_CLOCK = "Sample.Clock"
    SAMPLE_PERIODIC = "Sample.Periodic"
    TRANSACTION_BEGIN = "Transaction.Begin"
    TRANSACTION_END = "Transaction.End"
    TRIGGER = "Trigger"
    OTHER = "Other"


class Reason(enum.StrEnum):
    """OCPP 1.6 §7.36: why a transaction stopped (``Local`` when absent)."""

    EMERGENCY_STOP = "EmergencyStop"
    EV_DISCONNECTED = "EVDisconnected"
    HARD_RESET = "HardReset"
    LOCAL = "Local"
    OTHER = "Other"
    POWER_LOSS = "PowerLoss"
    REBOOT = "Reboot"
    REMOTE = "Remote"
    SOFT_RESET = "SoftReset"
    UNLOCK_COMMAND = "UnlockCommand"
    DE_AUTHORIZED = "DeAuthorized"


class RecurrencyKind(enum.StrEnum):
    """OCPP 1.6 §7.37 RecurrencyKindType."""

    DAILY = "Daily"
    WEEKLY = "Weekly"


class RegistrationStatus(enum.StrEnum):
    """OCPP 1.6 §7.38: answer to BootNotification."""

    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class RemoteStartStopStatus(enum.StrEnum):
    """OCPP 1.6 §7.39."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


class ReservationStatus(enum.StrEnum):
    """OCPP 1.6 §7.40: answer to ReserveNow."""

    ACCEPTED = "Accepted"
    FAULTED = "Faulted"
    OCCUPIED = "Occupied"
    REJECTED = "Rejected"
    UNAVAILABLE = "Unavailable"


class ResetStatus(enum.StrEnum):
    """OCPP 1.6 §7.41."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


class ResetType(enum.StrEnum):
    """OCPP 1.6 §7.42."""

    HARD = "Hard"
    SOFT = "Soft"


class TriggerMessageStatus(enum.StrEnum):
    """OCPP 1.6 §7.44; ExtendedTriggerMessage answers with the same three values."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    NOT_IMPLEMENTED = "NotImplemented"


class UnitOfMeasure(enum.StrEnum):
    """OCPP 1.6 §7.45: the unit of a sampled value (spec default ``Wh``).

    ``Celcius`` is the spec's typo, kept because chargers send it; ``Celsius`` is in the schema
    too. ``Hertz`` is in the MeterValues schema shipped with the ``ocpp`` package (2019-12 set)
    but not in its StopTransaction schema; we accept it in both (the unit is informative only).
    """

    WH = "Wh"
    KWH = "kWh"
    VARH = "varh"
    KVARH = "kvarh"
    W = "W"
    KW = "kW"
    VA = "VA"
    KVA = "kVA"
    VAR = "var"
    KVAR = "kvar"
    A = "A"
    V = "V"
    K = "K"
    CELCIUS = "Celcius"
    CELSIUS = "Celsius"
    FAHRENHEIT = "Fahrenheit"
    PERCENT = "Percent"
    HERTZ = "Hertz"


class UnlockStatus(enum.StrEnum):
    """OCPP 1.6 §7.46."""

    UNLOCKED = "Unlocked"
    UNLOCK_FAILED = "UnlockFailed"
    NOT_SUPPORTED = "NotSupported"


class UpdateStatus(enum.StrEnum):
    """OCPP 1.6 §7.47: answer to SendLocalList."""

    ACCEPTED = "Accepted"
    FAILED = "Failed"
    NOT_SUPPORTED = "NotSupported"
    VERSION_MISMATCH = "VersionMismatch"


class UpdateType(enum.StrEnum):
    """OCPP 1.6 §7.48: whether SendLocalList replaces or patches the list."""

    DIFFERENTIAL = "Differential"
    FULL = "Full"


class ValueFormat(enum.StrEnum):
    """OCPP 1.6 §7.49: how a sampled value is encoded (spec default ``Raw``)."""

    RAW = "Raw"
    SIGNED_DATA = "SignedData"


# ---------------------------------------------------------------------------------------------
# Security extension (OCA whitepaper "Improved security for OCPP 1.6-J", edition 3)
# ---------------------------------------------------------------------------------------------


class CertificateSignedStatus(enum.StrEnum):
    """Whitepaper CertificateSignedStatusEnumType."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


class CertificateUse(enum.StrEnum):
    """Whitepaper CertificateUseEnumType: which root certificate store is meant."""

    CENTRAL_SYSTEM_ROOT_CERTIFICATE = "CentralSystemRootCertificate"
    MANUFACTURER_ROOT_CERTIFICATE = "ManufacturerRootCertificate"


class DeleteCertificateStatus(enum.StrEnum):
    """Whitepaper DeleteCertificateStatusEnumType."""

    ACCEPTED = "Accepted"
    FAILED = "Failed"
    NOT_FOUND = "NotFound"


class ExtendedMessageTrigger(enum.StrEnum):
    """Whitepaper MessageTriggerEnumType (ExtendedTriggerMessage); differs from 1.6's list."""

    BOOT_NOTIFICATION = "BootNotification"
    LOG_STATUS_NOTIFICATION = "LogStatusNotification"
    FIRMWARE_STATUS_NOTIFICATION = "FirmwareStatusNotification"
    HEARTBEAT = "Heartbeat"
    METER_VALUES = "MeterValues"
    SIGN_CHARGE_POINT_CERTIFICATE = "SignChargePointCertificate"
    STATUS_NOTIFICATION = "StatusNotification"


class GenericStatus(enum.StrEnum):
    """Whitepaper GenericStatusEnumType (SignCertificate answer)."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


class GetInstalledCertificateStatus(enum.StrEnum):
    """Whitepaper GetInstalledCertificateStatusEnumType."""

    ACCEPTED = "Accepted"
    NOT_FOUND = "NotFound"


class HashAlgorithm(enum.StrEnum):
    """Whitepaper HashAlgorithmEnumType, used in CertificateHashData."""

    SHA256 = "SHA256"
    SHA384 = "SHA384"
    SHA512 = "SHA512"


class InstallCertificateStatus(enum.StrEnum):
    """Schema InstallCertificateStatusEnumType (the whitepaper prose calls it CertificateStatus)."""

    ACCEPTED = "Accepted"
    FAILED = "Failed"
    REJECTED = "Rejected"


class LogStatus(enum.StrEnum):
    """Whitepaper LogStatusEnumType (GetLog answer)."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    ACCEPTED_CANCELED = "AcceptedCanceled"


class LogType(enum.StrEnum):
    """Whitepaper LogEnumType: which log GetLog asks for."""

    DIAGNOSTICS_LOG = "DiagnosticsLog"
    SECURITY_LOG = "SecurityLog"


class SignedFirmwareStatus(enum.StrEnum):
    """Whitepaper FirmwareStatusEnumType (SignedFirmwareStatusNotification); extends 1.6's list."""

    DOWNLOADED = "Downloaded"
    DOWNLOAD_FAILED = "DownloadFailed"
    DOWNLOADING = "Downloading"
    DOWNLOAD_SCHEDULED = "DownloadScheduled"
    DOWNLOAD_PAUSED = "DownloadPaused"
    IDLE = "Idle"
    INSTALLATION_FAILED = "InstallationFailed"
    INSTALLING = "Installing"
    INSTALLED = "Installed"
    INSTALL_REBOOTING = "InstallRebooting"
    INSTALL_SCHEDULED = "InstallScheduled"
    INSTALL_VERIFICATION_FAILED = "InstallVerificationFailed"
    INVALID_SIGNATURE = "InvalidSignature"
    SIGNATURE_VERIFIED = "SignatureVerified"


class UpdateFirmwareStatus(enum.StrEnum):
    """Whitepaper UpdateFirmwareStatusEnumType (SignedUpdateFirmware answer)."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    ACCEPTED_CANCELED = "AcceptedCanceled"
    INVALID_CERTIFICATE = "InvalidCertificate"
    REVOKED_CERTIFICATE = "RevokedCertificate"


class UploadLogStatus(enum.StrEnum):
    """Whitepaper UploadLogStatusEnumType (LogStatusNotification)."""

    BAD_MESSAGE = "BadMessage"
    IDLE = "Idle"
    NOT_SUPPORTED_OPERATION = "NotSupportedOperation"
    PERMISSION_DENIED = "PermissionDenied"
    UPLOADED = "Uploaded"
    UPLOAD_FAILURE = "UploadFailure"
    UPLOADING = "Uploading"
