"""The standard OCPP 1.6 configuration keys, checks of wanted values, snapshot diffs and drift.

Pure rules over plain values (STYLE rule 1). THE table of standard keys is
:data:`STANDARD_KEYS` (OCPP 1.6 ed.2 §9, /work/shared/reference/ocpp16-facts-and-peers.md §1.4):
access (R / RW / W), value format and unit. A key outside it (a vendor key such as Wallbox's
``AuthEnabled``) is allowed as text: the charger decides (NotSupported / Rejected).

Key names are CiString50 and compared ignoring case (§7.29). Secret values are masked
(``domain/masking.py``) in everything this module returns.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from chargedeck.domain.masking import is_secret_configuration_key, masked_configuration_value


class Access(enum.StrEnum):
    """§9: R read-only, RW read-write, W write-only."""

    READ = "R"
    READ_WRITE = "RW"
    WRITE = "W"


class ValueFormat(enum.StrEnum):
    BOOLEAN = "boolean"  # "true" / "false" (§9, any case)
    INTEGER = "integer"
    MEASURANDS = "measurand list"  # CSL of Measurand[.Phase] (§7.31, §9.1 MeterValuesSampledData)
    TEXT_LIST = "comma-separated list"
    TEXT = "text"


@dataclass(frozen=True)
class KeySpec:
    """One standard key: its access, format, and for integers the allowed range and unit."""

    name: str
    access: Access
    value_format: ValueFormat
    unit: str = ""
    minimum: int | None = 0
    maximum: int | None = None


def _spec(
    name: str, access: str, value_format: ValueFormat, unit: str = "", minimum: int | None = 0
) -> KeySpec:
    return KeySpec(name, Access(access), value_format, unit, minimum)


_B, _I, _M, _L = (
    ValueFormat.BOOLEAN,
    ValueFormat.INTEGER,
    ValueFormat.MEASURANDS,
    ValueFormat.TEXT_LIST,
)

# OCPP 1.6 ed.2 §9.1-§9.4. AuthorizeRemoteTxRequests is "R or RW (charger's choice)": RW here, the
# charger's own readonly flag (GetConfiguration) decides. AuthorizationKey (Security Whitepaper
# ed.3) is write-only.
STANDARD_KEYS: Mapping[str, KeySpec] = {
    spec.name.casefold(): spec
    for spec in (
        _spec("AllowOfflineTxForUnknownId", "RW", _B),
        _spec("AuthorizationCacheEnabled", "RW", _B),
        _spec("AuthorizeRemoteTxRequests", "RW", _B),
        _spec("BlinkRepeat", "RW", _I, "times"),
        _spec("ClockAlignedDataInterval", "RW", _I, "s"),
        _spec("ConnectionTimeOut", "RW", _I, "s"),
        _spec("ConnectorPhaseRotation", "RW", _L),
        _spec("ConnectorPhaseRotationMaxLength", "R", _I),
        _spec("GetConfigurationMaxKeys", "R", _I),
        _spec("HeartbeatInterval", "RW", _I, "s"),
        _spec("LightIntensity", "RW", _I, "%"),
        _spec("LocalAuthorizeOffline", "RW", _B),
        _spec("LocalPreAuthorize", "RW", _B),
        _spec("MaxEnergyOnInvalidId", "RW", _I, "Wh"),
        _spec("MeterValuesAlignedData", "RW", _M),
        _spec("MeterValuesAlignedDataMaxLength", "R", _I),
        _spec("MeterValuesSampledData", "RW", _M),
        _spec("MeterValuesSampledDataMaxLength", "R", _I),
        _spec("MeterValueSampleInterval", "RW", _I, "s"),
        _spec("MinimumStatusDuration", "RW", _I, "s"),
        _spec("NumberOfConnectors", "R", _I),
        _spec("ResetRetries", "RW", _I),
        _spec("StopTransactionOnEVSideDisconnect", "RW", _B),
        _spec("StopTransactionOnInvalidId", "RW", _B),
        _spec("StopTxnAlignedData", "RW", _M),
        _spec("StopTxnAlignedDataMaxLength", "R", _I),
        _spec("StopTxnSampledData", "RW", _M),
        _spec("StopTxnSampledDataMaxLength", "R", _I),
        _spec("SupportedFeatureProfiles", "R", _L),
        _spec("SupportedFeatureProfilesMaxLength", "R", _I),
        _spec("TransactionMessageAttempts", "RW", _I, "times"),
        _spec("TransactionMessageRetryInterval", "RW", _I, "s"),
        _spec("UnlockConnectorOnEVSideDisconnect", "RW", _B),
        _spec("WebSocketPingInterval", "RW", _I, "s"),
        _spec("LocalAuthListEnabled", "RW", _B),
        _spec("LocalAuthListMaxLength", "R", _I),
        _spec("SendLocalListMaxLength", "R", _I),
        _spec("ReserveConnectorZeroSupported", "R", _B),
        _spec("ChargeProfileMaxStackLevel", "R", _I),
        _spec("ChargingScheduleAllowedChargingRateUnit", "R", _L),
        _spec("ChargingScheduleMaxPeriods", "R", _I),
        _spec("ConnectorSwitch3to1PhaseSupported", "R", _B),
        _spec("MaxChargingProfilesInstalled", "R", _I),
        _spec("AuthorizationKey", "W", ValueFormat.TEXT),
    )
}

# OCPP 1.6 §7.31 Measurand and §7.34 Phase; a CSL item is "Measurand" or "Measurand.Phase"
# (facts §1.4: e.g. Voltage.L1).
MEASURANDS: frozenset[str] = frozenset(
    {
        "Energy.Active.Export.Register",
        "Energy.Active.Import.Register",
        "Energy.Reactive.Export.Register",
        "Energy.Reactive.Import.Register",
        "Energy.Active.Export.Interval",
        "Energy.Active.Import.Interval",
        "Energy.Reactive.Export.Interval",
        "Energy.Reactive.Import.Interval",
        "Power.Active.Export",
        "Power.Active.Import",
        "Power.Offered",
        "Power.Reactive.Export",
        "Power.Reactive.Import",
        "Power.Factor",
        "Current.Import",
        "Current.Export",
        "Current.Offered",
        "Voltage",
        "Frequency",
        "Temperature",
        "SoC",
        "RPM",
    }
)
PHASES: frozenset[str] = frozenset(
    {"L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1"}
)

MAX_KEY_LENGTH = 50  # ChangeConfiguration.req key: CiString50Type (§6.9)
MAX_VALUE_LENGTH = 500  # ChangeConfiguration.req value: CiString500Type (§6.9)
# Integer configuration values: the charger's int is 32-bit on every firmware seen.
MAX_INTEGER = 2**31 - 1


def spec_of(key: str) -> KeySpec | None:
    """The standard key ``key`` (ignoring case), or None for a vendor key."""
    return STANDARD_KEYS.get(key.casefold())


def _measurand_item(item: str) -> bool:
    if item in MEASURANDS:
        return True
    measurand, _, phase = item.rpartition(".")
    return measurand in MEASURANDS and phase in PHASES


def check_wanted_value(
    key: str, value: str, *, reported_readonly: bool | None = None
) -> str | None:
    """Why ``value`` must not be sent for ``key`` in a ChangeConfiguration (a sentence), or None.

    ``reported_readonly``: the readonly flag the charger last reported for the key (it wins
    over the table for keys whose access is the charger's choice, §9.1).
    """
    if not key or len(key) > MAX_KEY_LENGTH:
        return f"{key[:60]!r} is not a configuration key name (1 to {MAX_KEY_LENGTH} characters)"
    if len(value) > MAX_VALUE_LENGTH:
        return f"{key}: the value is longer than {MAX_VALUE_LENGTH} characters (§6.9)"
    spec = spec_of(key)
    if reported_readonly or (spec is not None and spec.access is Access.READ):
        return f"{key} is read-only on the charger; ChangeConfiguration cannot set it"
    if spec is None or spec.value_format is ValueFormat.TEXT:
        return None
    shown = masked_configuration_value(key, value)
    if spec.value_format is ValueFormat.BOOLEAN:
        if value.strip().lower() not in ("true", "false"):
            return f"{key} is a boolean: expected true or false, not {shown!r}"
        return None
    if spec.value_format is ValueFormat.INTEGER:
        text = value.strip()
        if re.fullmatch(r"-?[0-9]{1,10}", text) is None:
            unit = f" ({spec.unit})" if spec.unit else ""
            return f"{key} is a whole number{unit}: {shown!r} is not one"
        number = int(text)
        if spec.minimum is not None and number < spec.minimum:
            return f"{key} must be {spec.minimum} or more, not {number}"
        if number > MAX_INTEGER:
            return f"{key} must be at most {MAX_INTEGER}, not {number}"
        return None
    items = [item.strip() for item in value.split(",")] if value.strip() else []
    if any(not item for item in items):
        return f"{key} is a comma-separated list: {shown!r} has an empty item"
    if spec.value_format is ValueFormat.MEASURANDS:
        wrong = [item for item in items if not _measurand_item(item)]
        if wrong:
            return (
                f"{key} is a list of measurands (OCPP 1.6 §7.31, optionally .L1/.L2/.L3/.N...): "
                f"{', '.join(repr(item) for item in wrong)} is not one"
            )
    return None


# ---- snapshots, diffs, drift ------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotKey:
    """One KeyValue of a GetConfiguration answer (§7.29), value masked if the key is secret."""

    key: str
    value: str | None
    readonly: bool


def masked_keys(keys: Iterable[SnapshotKey]) -> list[SnapshotKey]:
    """``keys`` with secret values replaced by the mask, sorted by name (ignoring case)."""
    return sorted(
        (
            SnapshotKey(
                entry.key, masked_configuration_value(entry.key, entry.value), entry.readonly
            )
            for entry in keys
        ),
        key=lambda entry: entry.key.casefold(),
    )


@dataclass(frozen=True)
class ChangedKey:
    key: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class SnapshotDiff:
    """What changed from one snapshot to the next; values of secret keys shown masked (a change
    of a secret value cannot be seen: snapshots never hold it)."""

    added: list[SnapshotKey]
    removed: list[SnapshotKey]
    changed: list[ChangedKey]


def diff_snapshots(before: Sequence[SnapshotKey], after: Sequence[SnapshotKey]) -> SnapshotDiff:
    """Keys added, removed and changed (value or readonly flag) from ``before`` to ``after``."""
    old = {entry.key.casefold(): entry for entry in masked_keys(before)}
    new = {entry.key.casefold(): entry for entry in masked_keys(after)}
    return SnapshotDiff(
        added=[entry for name, entry in new.items() if name not in old],
        removed=[entry for name, entry in old.items() if name not in new],
        changed=[
            ChangedKey(entry.key, old[name].value, entry.value)
            for name, entry in new.items()
            if name in old
            and (old[name].value, old[name].readonly) != (entry.value, entry.readonly)
        ],
    )


class DriftState(enum.StrEnum):
    MATCHES = "matches"
    DIFFERS = "differs"
    MISSING = "missing"  # the charger did not report the key
    UNKNOWN = "unknown"  # a secret: its value is never kept, so it cannot be compared


@dataclass(frozen=True)
class DriftEntry:
    key: str
    wanted: str | None
    reported: str | None
    state: DriftState


def same_value(key: str, wanted: str, reported: str) -> bool:
    """Whether the charger's value is the wanted one: booleans ignoring case, integers as
    numbers, lists item by item without spaces; other text exactly."""
    spec = spec_of(key)
    if spec is None or spec.value_format is ValueFormat.TEXT:
        return wanted == reported
    if spec.value_format is ValueFormat.BOOLEAN:
        return wanted.strip().lower() == reported.strip().lower()
    if spec.value_format is ValueFormat.INTEGER:
        try:
            return int(wanted.strip()) == int(reported.strip())
        except ValueError:
            return wanted.strip() == reported.strip()
    return [item.strip() for item in wanted.split(",")] == [
        item.strip() for item in reported.split(",")
    ]


def drift(wanted: Mapping[str, str], reported: Mapping[str, str | None]) -> list[DriftEntry]:
    """Each wanted key against what the charger reported (keys of ``reported`` in any case),
    by name; wanted and reported values of secret keys are masked."""
    by_name = {key.casefold(): value for key, value in reported.items()}
    entries = []
    for key in sorted(wanted, key=str.casefold):
        want = wanted[key]
        name = key.casefold()
        if name not in by_name:
            state, have = DriftState.MISSING, None
        elif is_secret_configuration_key(key):
            state, have = DriftState.UNKNOWN, by_name[name]
        else:
            have = by_name[name]
            state = (
                DriftState.MATCHES
                if have is not None and same_value(key, want, have)
                else DriftState.DIFFERS
            )
        entries.append(
            DriftEntry(
                key,
                masked_configuration_value(key, want),
                masked_configuration_value(key, have),
                state,
            )
        )
    return entries
