"""THE charger-model table: what differs between charger models, as data (STYLE rule 10).

One row per model, recognised from its BootNotification (OCPP 1.6 §4.2: ``chargePointVendor``
and ``chargePointModel``). Each field documents where its facts come from; "field notes" is
/work/shared/reference/wallbox-field-notes.md, "setup guide" the Wallbox OCPP Activation and
Setup Guide. A row holds the model's defaults: what the charger itself reports (its
configuration keys, the measurands that arrive) wins over the row wherever both exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from chargedeck.domain.card_uids import ByteOrder, HexCase

# IEC 61851-1 (control pilot): 6 A is the lowest current a PWM duty cycle may offer; 80 A the
# highest (96 % duty cycle). The bounds of any AC charger, whatever the model.
IEC_61851_MIN_CURRENT_A = 6
IEC_61851_MAX_CURRENT_A = 80

# Field notes §1: every Wallbox BootNotification seen carries this chargePointVendor.
WALLBOX_VENDOR = "Wall Box Chargers"

# Field notes §2.2 and item 6: the idTag a Wallbox with AuthEnabled=false puts in
# StartTransaction, the factory value of its vendor key AuthDisabledIdTag.
WALLBOX_AUTH_DISABLED_ID_TAG = "NoAuthorization"

# Field notes §2.2: Wallbox keys whose values are secrets yet readable by GetConfiguration.
_WALLBOX_SECRET_KEYS = ("WebSocketPassword", "PUK")


ProfileKind = Literal["Absolute", "Relative"]
"""The ``chargingProfileKind`` ChargeDeck's limit profiles use (OCPP 1.6 §7.9)."""

GENERIC_PROFILE_INTERVAL_S = 30.0
"""Least time between two limit profiles sent to one charger: evcc writes TxDefaultProfile at
most once per 30 s control cycle (peer survey §E, ``core/loadpoint.go``); the Home Assistant OCPP
integration warns that frequent profile writes wear the charger's flash (peer survey §E,
``docs/Charge_automation.md``). No vendor publishes a figure."""


@dataclass(frozen=True)
class SmartChargingQuirks:
    """How a model (and firmware) takes charging profiles (field notes Q4-Q8, Q15, G1-G3)."""

    profile_kind: ProfileKind
    """Absolute (periods from ``startSchedule``, which ChargeDeck puts in the past so there is no
    gap, field notes §1.7) or Relative (no ``startSchedule``). Wallbox FW 6.x: Relative; Absolute
    "is not well supported" (field notes Q5, ``evcc-io/evcc#25042``)."""

    stack_level: int
    """Stack level of ChargeDeck's limit profiles. Wallbox FW 5.x rejects TxDefaultProfile above
    0 (Q4, ``evcc-io/evcc#15581``); ABB needed 0 despite reporting 3 (G2, ``evcc-io/evcc#15493``):
    0 everywhere unless a row says otherwise, never above ``ChargeProfileMaxStackLevel``."""

    needs_remote_start: bool
    """Wallbox FW 5.x only applies a profile to a session started by RemoteStartTransaction
    (Q4, evcc's FW 5 template ``remotestart: true``)."""

    trust_current_offered: bool
    """Whether Current.Offered reports the limit in force. Wallbox FW 5.x offers 11 A under a
    0 A profile (Q15, ``evcc-io/evcc#15581``): the over-limit check then uses Current.Import."""

    unsampled_measurands: tuple[str, ...]
    """Measurands not to put in MeterValuesSampledData: evcc's FW 5 template drops
    Current.Offered and Power.Offered (Q4, Q15)."""

    min_profile_interval_s: float = GENERIC_PROFILE_INTERVAL_S
    """Least time between two limit profiles to one charger (flash wear), in s."""


@dataclass(frozen=True)
class FirmwareRule:
    """Smart-charging behaviour of the firmware versions that start with one of ``prefixes``."""

    prefixes: tuple[str, ...]
    quirks: SmartChargingQuirks
    evidence: str


GENERIC_SMART_CHARGING = SmartChargingQuirks(
    profile_kind="Absolute",
    stack_level=0,
    needs_remote_start=False,
    trust_current_offered=True,
    unsampled_measurands=(),
)

_WALLBOX_FW5 = SmartChargingQuirks(
    profile_kind="Absolute",
    stack_level=0,
    needs_remote_start=True,
    trust_current_offered=False,
    unsampled_measurands=("Current.Offered", "Power.Offered"),
)

_WALLBOX_FW6 = SmartChargingQuirks(
    profile_kind="Relative",
    stack_level=0,
    needs_remote_start=False,
    trust_current_offered=True,
    unsampled_measurands=(),
)

_WALLBOX_FIRMWARE_RULES = (
    FirmwareRule(
        ("5.",),
        _WALLBOX_FW5,
        "field notes Q4/Q15: evcc-io/evcc#15581, #15535, #16768, #15864 (Pulsar Plus 5.17.87)",
    ),
    FirmwareRule(
        ("6.",),
        _WALLBOX_FW6,
        "field notes Q5: evcc-io/evcc#25042 (FW 6.x takes Relative profiles)",
    ),
)


@dataclass(frozen=True)
class ChargerModel:
    """How one charger model behaves where OCPP 1.6 leaves room or the firmware departs from it."""

    name: str
    """The model as operators know it, for the UI and the log line that says which row matched."""

    vendor: str | None
    """``chargePointVendor`` in BootNotification, compared ignoring case (a CiString20, OCPP 1.6
    §4.2); ``None`` only for the generic row, which matches any vendor."""

    model_prefixes: tuple[str, ...]
    """``chargePointModel`` prefixes (ignoring case) that select this row; empty = any model of
    ``vendor``. Wallbox model strings are part numbers such as ``PLP1-0-2-4`` (field notes §1)."""

    uid_byte_order: ByteOrder
    """How the charger writes a card UID into the idTag. Wallbox: "RFID UID is read as
    little-endian, hexadecimal, with no separators" (setup guide, troubleshooting), i.e.
    REVERSED; not yet confirmed by a public trace (field notes §8). Generic: AS_PRINTED, and
    unknown tags are also matched byte-reversed (field notes G8)."""

    id_tag_case: HexCase
    """Letter case of the hex idTag. No Wallbox trace shows it (field notes §8); upper is assumed.
    It only matters for display: IdToken is compared ignoring case (OCPP 1.6 §7.28)."""

    min_current_a: int
    """Lowest current the charger honours, in A; below it ChargeDeck pauses instead. Wallbox:
    "does not support a current lower than 6 A" (field notes Q8, ``lbbrhzn/ocpp#400``); generic:
    the IEC 61851-1 control-pilot minimum."""

    whole_amps: bool
    """True when the charger only honours whole amps: a Pulsar Pro given 8.8 A charged at 16 A
    (field notes item 5 and Q8, ``evcc-io/evcc#22087``). Generic chargers take 0.1 A steps
    (OCPP 1.6 ChargingSchedulePeriod ``limit``: multipleOf 0.1 in the JSON schema)."""

    max_current_a: int
    """The highest current any variant of the model offers, in A: an upper bound only. The
    installed ceiling comes from the charger (Wallbox ``chargingALimitConn1``, field notes Q7) and
    the circuit. Wallbox rows use 48 A, the highest rating the field notes report for the family
    (US units up to 40/48 A; a hard-coded 32 A was a bug, Q8, ``evcc-io/evcc#20268``): no
    per-model figure is in the evidence. Generic: the IEC 61851-1 control-pilot maximum."""

    phases: tuple[int, ...]
    """Phase counts the model exists in; the actual count of a charger comes from its meter
    values (per-phase Current.Import, field notes §3). Wallbox cannot switch phases over OCPP
    (``ConnectorSwitch3to1PhaseSupported=false``, field notes §2.1)."""

    placeholder_id_tag: str | None
    """The idTag the charger sends in StartTransaction when it starts on plug-in without a card
    (free vend). Wallbox with ``AuthEnabled=false`` sends the value of its ``AuthDisabledIdTag``
    key, ``NoAuthorization`` by default (field notes item 6, Q10); the value read from that key
    wins over this default. Generic: none known."""

    supports_connector_zero_reservation: bool
    """Whether ReserveNow may name connector 0 (OCPP 1.6 §5.13, key
    ``ReserveConnectorZeroSupported``). Wallbox dumps report ``false`` (field notes §2.1); the
    key is optional, and absent means unsupported, so generic is ``False``. The value the
    charger reports wins."""

    secret_configuration_keys: tuple[str, ...]
    """Configuration keys whose values are secrets the charger nevertheless reports back; masked
    by :mod:`chargedeck.domain.masking`. Wallbox: ``WebSocketPassword`` and ``PUK`` (field
    notes §2.2, evcc dumps)."""

    smart_charging: SmartChargingQuirks = GENERIC_SMART_CHARGING
    """How the model takes limit profiles when no firmware rule matches."""

    firmware_rules: tuple[FirmwareRule, ...] = field(default=())
    """Firmware-specific smart-charging behaviour, first matching prefix wins."""

    def smart_charging_for(self, firmware_version: str | None) -> SmartChargingQuirks:
        """The smart-charging behaviour of this model running ``firmware_version``."""
        version = (firmware_version or "").strip().lstrip("vV")
        for rule in self.firmware_rules:
            if any(version.startswith(prefix) for prefix in rule.prefixes):
                return rule.quirks
        return self.smart_charging


def _wallbox(name: str, *prefixes: str, phases: tuple[int, ...] = (1, 3)) -> ChargerModel:
    """A Wallbox row: the family shares UID order, current rules, free-vend tag and secrets."""
    return ChargerModel(
        name=name,
        vendor=WALLBOX_VENDOR,
        model_prefixes=prefixes,
        uid_byte_order=ByteOrder.REVERSED,
        id_tag_case="upper",
        min_current_a=IEC_61851_MIN_CURRENT_A,
        whole_amps=True,
        max_current_a=48,
        phases=phases,
        placeholder_id_tag=WALLBOX_AUTH_DISABLED_ID_TAG,
        supports_connector_zero_reservation=False,
        secret_configuration_keys=_WALLBOX_SECRET_KEYS,
        # Unknown firmware: the FW 6.x behaviour, the current Wallbox line (field notes Q5).
        smart_charging=_WALLBOX_FW6,
        firmware_rules=_WALLBOX_FIRMWARE_RULES,
    )


GENERIC_OCPP16 = ChargerModel(
    name="Generic OCPP 1.6 charger",
    vendor=None,
    model_prefixes=(),
    uid_byte_order=ByteOrder.AS_PRINTED,
    id_tag_case="upper",
    min_current_a=IEC_61851_MIN_CURRENT_A,
    whole_amps=False,
    max_current_a=IEC_61851_MAX_CURRENT_A,
    phases=(1, 3),
    placeholder_id_tag=None,
    supports_connector_zero_reservation=False,
    secret_configuration_keys=(),
)

# First match wins: specific Wallbox part numbers, then any other Wallbox (the setup guide's
# UID rule covers every Wallbox under OCPP), then the generic row.
CHARGER_MODELS: tuple[ChargerModel, ...] = (
    # Field notes §1: PLP1-0-2-4, PLP1-0-2-3, PLP1-M-2-4 (Pulsar Plus), PLP2-M-2-4 (Pulsar Max),
    # PUP1-U-1-6 (reported as "Wallbox Pulsar"); lbbrhzn/ocpp#1414, #1503, #1510, #1638.
    _wallbox("Wallbox Pulsar (Plus/Max)", "PLP1", "PLP2", "PUP1"),
    # Field notes §1: PPR1-0-2-4 (Pulsar Pro); evcc-io/evcc#28539.
    _wallbox("Wallbox Pulsar Pro", "PPR1"),
    # Field notes §1: CMX2-0-2-4 (Commander 2); lbbrhzn/ocpp#1503.
    _wallbox("Wallbox Commander 2", "CMX2"),
    # Field notes §1: CPB1-S-2-4 (Copper SB); lbbrhzn/ocpp#1503.
    _wallbox("Wallbox Copper SB", "CPB1"),
    # Field notes Q20: part-number prefixes QSA/QSX in the Wallbox cloud API
    # (home-assistant/core#101735); no OCPP BootNotification trace of a Quasar has been seen.
    # Single-phase per Wallbox's data sheets (7.4 kW Quasar, 11.5 kW Quasar 2 at 48 A), not
    # the field notes; current rules assumed as for the family. A plain charger to ChargeDeck,
    # which never discharges (Q20).
    _wallbox("Wallbox Quasar (1/2)", "QSA", "QSX", phases=(1,)),
    _wallbox("Wallbox (other model)"),
    GENERIC_OCPP16,
)


def model_for(charge_point_vendor: str, charge_point_model: str) -> ChargerModel:
    """The row for a BootNotification's vendor and model; the generic row when none matches."""
    vendor = charge_point_vendor.strip().casefold()
    model = charge_point_model.strip().casefold()
    for row in CHARGER_MODELS:
        if row.vendor is not None and row.vendor.casefold() != vendor:
            continue
        if not row.model_prefixes or any(
            model.startswith(prefix.casefold()) for prefix in row.model_prefixes
        ):
            return row
    return GENERIC_OCPP16
