"""Simulated charger models: what a charger says about itself and how it departs from the spec.

The facts come from /work/shared/reference/wallbox-field-notes.md (cited per field) and the
Wallbox OCPP setup guide; ``chargedeck.domain.charger_models`` is ChargeDeck's side of the same
facts (the CSMS recognises a model; the simulator plays one). Chargers differ in data, not in
branches (STYLE rule 10): the station reads these fields and has no model names in its code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from chargedeck.ocpp.v16.enums import Measurand

# Field notes §3: what a Pulsar Plus sends while charging (FW 6.4.14, evcc-io/evcc#15492,
# #15707, #15616): register, total power, offered current and power, current and voltage per
# phase. No SoC: "Not seen from AC Wallboxes: SoC".
WALLBOX_MEASURANDS: Final = (
    Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
    Measurand.POWER_ACTIVE_IMPORT,
    Measurand.CURRENT_OFFERED,
    Measurand.POWER_OFFERED,
    Measurand.CURRENT_IMPORT,
    Measurand.VOLTAGE,
)

# A generic AC charger that also learns the car's SoC (ISO 15118 or a DC-style report).
GENERIC_MEASURANDS: Final = (
    Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
    Measurand.POWER_ACTIVE_IMPORT,
    Measurand.CURRENT_OFFERED,
    Measurand.CURRENT_IMPORT,
    Measurand.SOC,
)

ALL_FEATURE_PROFILES: Final = (
    "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger"
)
"""OCPP 1.6 §3.3 / §9.1 SupportedFeatureProfiles, every 1.6 profile."""


@dataclass(frozen=True)
class SimulatedModel:
    name: str
    vendor: str
    model: str
    firmware_version: str
    uid_little_endian: bool
    """Wallbox: "RFID UID is read as little-endian, hexadecimal, with no separators" (setup
    guide): a card printed 04:A2:BC:19 goes on the wire as 19BCA204."""
    whole_amps: bool
    min_current_a: float
    max_current_a: float
    configuration: dict[str, tuple[str, bool]] = field(default_factory=dict)
    """Configuration keys as the charger reports them: key -> (value, readonly). The station
    fills ``NumberOfConnectors`` from its options and the Wallbox connection keys
    (``WebSocketUrl``, ``WebSocketUser``, ``WebSocketPassword``, ``SerialNumber``) from what it
    connects with, when the model has them."""
    meter_type: str | None = None
    """BootNotification ``meterType``. Wallbox: "Internal NON compliant" (field notes §1)."""
    blank_optional_fields: bool = False
    """Send empty strings rather than leave optional fields out: Wallbox's BootNotification has
    ``meterSerialNumber``, ``iccid``, ``imsi`` = "" and its StatusNotification ``info`` and
    ``vendorErrorCode`` = "" (field notes §1, evcc-io/evcc#15492)."""
    status_vendor_id: str | None = None
    """StatusNotification ``vendorId``. Wallbox: "com.wallbox" (field notes §1)."""
    measurands: tuple[Measurand, ...] = GENERIC_MEASURANDS
    """What every MeterValues sample holds, whatever MeterValuesSampledData says: a Wallbox
    accepts any measurand there and sends what it sends (field notes §3)."""
    phases: int = 3
    """Phases the charger is wired to; Current.Import is reported for each (field notes §3)."""
    voltage_v: float = 230.0
    """Phase-to-neutral voltage, for power (OCPP 1.6 §3.13.3: 230 V nominal)."""
    unlock_supported: bool = True
    """UnlockConnector: a tethered Wallbox answers NotSupported (field notes Q9,
    steve-community/steve#1256, lbbrhzn/ocpp#1638)."""
    reboot_after_firmware_update: bool = True
    """After Installed the charger reboots and boots with the version found in the firmware
    file's name (e.g. ``pulsar-6.8.12.bin`` -> 6.8.12); without a version in the name it keeps
    its own."""
    evidence: str = ""
    """Where the facts of this row come from."""


def _keys(**rows: tuple[str, bool]) -> dict[str, tuple[str, bool]]:
    return dict(rows)


RW, RO = False, True

# Field notes §2.1 (standard keys, "typical value" column) and §2.2 (Wallbox vendor keys), from
# the GetConfiguration dumps in evcc-io/evcc#15581, #15616 and #15490.
_WALLBOX_CONFIGURATION: Final[Mapping[str, tuple[str, bool]]] = _keys(
    AllowOfflineTxForUnknownId=("true", RW),
    AuthorizationCacheEnabled=("true", RW),
    AuthorizeRemoteTxRequests=("false", RW),
    BlinkRepeat=("10", RW),
    ClockAlignedDataInterval=("0", RW),
    ConnectionTimeOut=("120", RW),
    ConnectorPhaseRotation=("1.Unknown", RW),
    ConnectorPhaseRotationMaxLength=("1", RO),
    GetConfigurationMaxKeys=("50", RO),
    HeartbeatInterval=("60", RW),
    LightIntensity=("100", RW),
    LocalAuthorizeOffline=("true", RW),
    LocalPreAuthorize=("true", RW),
    MaxEnergyOnInvalidId=("5000", RW),
    MeterValuesAlignedData=("Energy.Active.Import.Register", RW),
    MeterValuesAlignedDataMaxLength=("10", RO),
    MeterValuesSampledData=("Energy.Active.Import.Register", RW),
    MeterValuesSampledDataMaxLength=("10", RO),
    MeterValueSampleInterval=("10", RW),
    MinimumStatusDuration=("1", RW),
    NumberOfConnectors=("1", RO),
    ResetRetries=("0", RW),
    StopTransactionOnEVSideDisconnect=("true", RW),
    StopTransactionOnInvalidId=("true", RW),
    StopTxnAlignedData=("", RW),
    StopTxnAlignedDataMaxLength=("0", RO),
    StopTxnSampledData=("", RW),
    StopTxnSampledDataMaxLength=("0", RO),
    SupportedFileTransferProtocols=("", RO),
    SupportedFeatureProfiles=(ALL_FEATURE_PROFILES, RO),
    SupportedFeatureProfilesMaxLength=("6", RO),
    TransactionMessageAttempts=("3", RW),
    TransactionMessageRetryInterval=("60", RW),
    UnlockConnectorOnEVSideDisconnect=("true", RW),
    WebSocketPingInterval=("50", RW),
    LocalAuthListEnabled=("true", RW),
    LocalAuthListMaxLength=("5000000", RO),
    SendLocalListMaxLength=("450", RO),
    ReserveConnectorZeroSupported=("false", RO),
    # 10 on FW 6.7.38 (Copper SB, lbbrhzn/ocpp#1935); 1 and 3 on older firmware.
    ChargeProfileMaxStackLevel=("10", RO),
    ChargingScheduleAllowedChargingRateUnit=("Current", RO),
    ChargingScheduleMaxPeriods=("100", RO),
    ConnectorSwitch3to1PhaseSupported=("false", RO),
    # "1 or 10" in the dumps; with 1 every new profile must replace the old one.
    MaxChargingProfilesInstalled=("10", RO),
    # §2.2 vendor keys.
    chargingALimitConn1=("32", RW),
    AuthEnabled=("true", RW),
    AuthEnabledOffline=("true", RW),
    AuthDisabledIdTag=("NoAuthorization", RW),
    minSoC=("9", RW),
    maxSoC=("97", RW),
    SSID=("ChargeDeck-Simulator", RO),
    WiFiSignalStrength=("57", RO),
    SerialNumber=("", RO),
    PUK=("31415926", RO),
    WebSocketUrl=("", RW),
    WebSocketUser=("", RW),
    WebSocketPassword=("", RW),
    MeterValuesSkipWhenOffline=("false", RW),
)

WALLBOX_PULSAR_PLUS = SimulatedModel(
    name="Wallbox Pulsar Plus",
    vendor="Wall Box Chargers",  # field notes §1: always this chargePointVendor
    model="PLP1-0-2-4",  # field notes §1: Pulsar Plus part number (lbbrhzn/ocpp#1414)
    firmware_version="6.7.38",  # field notes §1 (lbbrhzn/ocpp#1950: a Pulsar Plus on 6.7.38)
    uid_little_endian=True,  # setup guide, troubleshooting
    whole_amps=True,  # field notes Q8: 8.8 A made a Pulsar Pro charge at 16 A (evcc#22087)
    min_current_a=6.0,  # field notes Q8: "does not support a current lower than 6 A"
    max_current_a=32.0,
    configuration=dict(_WALLBOX_CONFIGURATION),
    meter_type="Internal NON compliant",
    blank_optional_fields=True,
    status_vendor_id="com.wallbox",
    measurands=WALLBOX_MEASURANDS,
    phases=3,
    unlock_supported=False,
    reboot_after_firmware_update=True,
    evidence="wallbox-field-notes §1-§3, Q8-Q10; Wallbox OCPP setup guide",
)

# OCPP 1.6 §9.1-§9.4 keys with the values a plain charger ships with.
_GENERIC_CONFIGURATION: Final[Mapping[str, tuple[str, bool]]] = _keys(
    AllowOfflineTxForUnknownId=("false", RW),
    AuthorizationCacheEnabled=("true", RW),
    AuthorizeRemoteTxRequests=("true", RW),
    ClockAlignedDataInterval=("0", RW),
    ConnectionTimeOut=("60", RW),
    ConnectorPhaseRotation=("0.RST", RW),
    ConnectorPhaseRotationMaxLength=("2", RO),
    GetConfigurationMaxKeys=("100", RO),
    HeartbeatInterval=("300", RW),
    LocalAuthorizeOffline=("true", RW),
    LocalPreAuthorize=("false", RW),
    MeterValuesAlignedData=("Energy.Active.Import.Register", RW),
    MeterValuesAlignedDataMaxLength=("8", RO),
    MeterValuesSampledData=("Energy.Active.Import.Register", RW),
    MeterValuesSampledDataMaxLength=("8", RO),
    MeterValueSampleInterval=("60", RW),
    NumberOfConnectors=("1", RO),
    ResetRetries=("1", RW),
    StopTransactionOnEVSideDisconnect=("true", RW),
    StopTransactionOnInvalidId=("true", RW),
    StopTxnAlignedData=("", RW),
    StopTxnAlignedDataMaxLength=("8", RO),
    StopTxnSampledData=("", RW),
    StopTxnSampledDataMaxLength=("8", RO),
    SupportedFeatureProfiles=(ALL_FEATURE_PROFILES, RO),
    SupportedFeatureProfilesMaxLength=("6", RO),
    SupportedFileTransferProtocols=("HTTP,HTTPS,FTP", RO),
    TransactionMessageAttempts=("3", RW),
    TransactionMessageRetryInterval=("60", RW),
    UnlockConnectorOnEVSideDisconnect=("true", RW),
    WebSocketPingInterval=("0", RW),
    LocalAuthListEnabled=("true", RW),
    LocalAuthListMaxLength=("1000", RO),
    SendLocalListMaxLength=("100", RO),
    ReserveConnectorZeroSupported=("false", RO),
    ChargeProfileMaxStackLevel=("8", RO),
    ChargingScheduleAllowedChargingRateUnit=("Current,Power", RO),
    ChargingScheduleMaxPeriods=("24", RO),
    ConnectorSwitch3to1PhaseSupported=("false", RO),
    MaxChargingProfilesInstalled=("16", RO),
)

GENERIC = SimulatedModel(
    name="Generic OCPP 1.6 charger",
    vendor="ChargeDeck",
    model="SimCharger",
    firmware_version="1.0.0",
    uid_little_endian=False,
    whole_amps=False,  # OCPP 1.6 §7.14: limits in steps of 0.1
    min_current_a=6.0,  # IEC 61851-1: the lowest current a control pilot offers
    max_current_a=32.0,
    configuration=dict(_GENERIC_CONFIGURATION),
    evidence="OCPP 1.6 edition 2 §9 configuration keys",
)

MODELS: Final[Mapping[str, SimulatedModel]] = {
    "wallbox": WALLBOX_PULSAR_PLUS,
    "generic": GENERIC,
}
"""The models by the short name the CLI and scenario files use."""
