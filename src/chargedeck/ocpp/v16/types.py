"""The composite field types of OCPP 1.6 (§7) and the Security extension, shared by messages.

They follow the same wire rules as :class:`~chargedeck.ocpp.v16.base.Message` (camelCase,
unknown fields refused, optional = ``None`` and omitted) and are keyword-only, so a field can
never be filled by position. Every constraint of the official JSON schemas (2019-12 set) is in
the types; where the schema and the spec prose disagree, the schema wins and a comment says so.
The schemas put no bounds on integers (the prose's ``connectorId >= 0`` is not in them), so
ranges are the domain's business, not the codec's.
"""

from __future__ import annotations

import math
from typing import Annotated

import msgspec

from chargedeck.ocpp.v16.base import CiString50, CiString500, DateTime, IdToken
from chargedeck.ocpp.v16.enums import (
    AuthorizationStatus,
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingRateUnit,
    HashAlgorithm,
    Location,
    Measurand,
    Phase,
    ReadingContext,
    RecurrencyKind,
    UnitOfMeasure,
    ValueFormat,
)

# A float within this many tenths of a multiple of 0.1 counts as that multiple: msgspec's own
# ``multiple_of`` is exact on binary floats, so 3 * 0.1 = 0.30000000000000004 would fail.
TENTHS_TOLERANCE = 1e-6

# Above 2**53 every float is a whole number, hence a multiple of 0.1.
_ALL_WHOLE_ABOVE = 2.0**53


def round_to_tenth(field_name: str, value: float) -> float:
    """Return ``value`` snapped to its multiple of 0.1, or raise ``ValueError`` naming the field.

    OCPP 1.6 §7.13/§7.14 (schema ``multipleOf: 0.1``) limit the precision of charging rates.
    The sentence starts with the field's wire name in backticks; the codec relies on that to
    report the full path and to classify the error as PropertyConstraintViolation.
    """
    if not math.isfinite(value):
        raise ValueError(f"`{field_name}` must be a multiple of 0.1, got {value!r}")
    if abs(value) >= _ALL_WHOLE_ABOVE:
        return value
    tenths = value * 10
    nearest = round(tenths)
    if abs(tenths - nearest) > TENTHS_TOLERANCE:
        raise ValueError(f"`{field_name}` must be a multiple of 0.1, got {value!r}")
    return nearest / 10


class ComplexType(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    rename="camel",
    forbid_unknown_fields=True,
    omit_defaults=True,
):
    """A composite field type; same wire rules as a message payload."""


# --------------------------------------------------------------------------------------------
# Authorization
# --------------------------------------------------------------------------------------------


class IdTagInfo(ComplexType, frozen=True, kw_only=True):
    """OCPP 1.6 §7.27: the verdict on an idTag, with its expiry and group (parent) tag."""

    expiry_date: DateTime | None = None
    parent_id_tag: IdToken | None = None
    status: AuthorizationStatus


class AuthorizationData(ComplexType, frozen=True, kw_only=True):
    """OCPP 1.6 §7.1: one Local Authorization List entry; no idTagInfo in a Differential
    update means "delete this entry"."""

    id_tag: IdToken
    id_tag_info: IdTagInfo | None = None


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


class KeyValue(ComplexType, frozen=True, kw_only=True):
    """OCPP 1.6 §7.29: one configuration key as GetConfiguration reports it.

    The wire name is ``readonly`` (all lower case), not the camel form of ``read_only``.
    """

    key: CiString50
    read_only: bool = msgspec.field(name="readonly")
    value: CiString500 | None = None


# --------------------------------------------------------------------------------------------
# Meter values
# --------------------------------------------------------------------------------------------


class SampledValue(ComplexType, frozen=True, kw_only=True):
    """OCPP 1.6 §7.43: one measured value, a string even when numeric.

    The optional fields stay ``None`` when absent, stored as sent; the spec's defaults
    (Sample.Periodic, Raw, Energy.Active.Import.Register, Outlet, Wh) are applied by the
    domain, which must tell "absent" from "sent", e.g. to report what the charger really said.
    """

    value: str
    context: ReadingContext | None = None
    format: ValueFormat | None = None
    measurand: Measurand | None = None
    phase: Phase | None = None
    location: Location | None = None
    unit: UnitOfMeasure | None = None


class MeterValue(ComplexType, frozen=True, kw_only=True):
    """OCPP 1.6 §7.33: samples taken at one time, as MeterValues sends them (at least one)."""

    timestamp: DateTime
    sampled_value: Annotated[list[SampledValue], msgspec.Meta(min_length=1)]


class TransactionMeterValue(ComplexType, frozen=True, kw_only=True):
    """A MeterValue inside StopTransaction's ``transactionData``.

    The spec prose gives sampledValue 1..* here as in MeterValues, but the StopTransaction schema
    has no ``minItems``; the schema wins, so an empty list is accepted.
    """

    timestamp: DateTime
    sampled_value: list[SampledValue]


# --------------------------------------------------------------------------------------------
# Smart charging
# --------------------------------------------------------------------------------------------


class ChargingSchedulePeriod(ComplexType, frozen=True, kw_only=True):
    """OCPP 1.6 §7.14: from ``start_period`` seconds after the schedule start, at most ``limit``.

    ``limit`` is in the schedule's unit (A per phase or W in total) with 0.1 precision; a value
    within float noise of a tenth is snapped to it so we never send 16.100000000000001.
    """

    start_period: int
    limit: float
    number_phases: int | None = None

    def __post_init__(self) -> None:
        snapped = round_to_tenth("limit", self.limit)
        if snapped != self.limit:
            msgspec.structs.force_setattr(self, "limit", snapped)


class ChargingSchedule(ComplexType, frozen=True, kw_only=True):
    """OCPP 1.6 §7.13: a list of periods in one unit.

    The prose gives chargingSchedulePeriod 1..*; the schema has no ``minItems``, and the schema
    wins, so an empty list decodes (the domain refuses to build one).
    """

    duration: int | None = None
    start_schedule: DateTime | None = None
    charging_rate_unit: ChargingRateUnit
    charging_schedule_period: list[ChargingSchedulePeriod]
    min_charging_rate: float | None = None

    def __post_init__(self) -> None:
        if self.min_charging_rate is not None:
            snapped = round_to_tenth("minChargingRate", self.min_charging_rate)
            if snapped != self.min_charging_rate:
                msgspec.structs.force_setattr(self, "min_charging_rate", snapped)


class ChargingProfile(ComplexType, frozen=True, kw_only=True):
    """OCPP 1.6 §7.8: a schedule with its purpose, stack level and validity window."""

    charging_profile_id: int
    transaction_id: int | None = None
    stack_level: int
    charging_profile_purpose: ChargingProfilePurpose
    charging_profile_kind: ChargingProfileKind
    recurrency_kind: RecurrencyKind | None = None
    valid_from: DateTime | None = None
    valid_to: DateTime | None = None
    charging_schedule: ChargingSchedule


# --------------------------------------------------------------------------------------------
# Security extension (OCA whitepaper "Improved security for OCPP 1.6-J", edition 3)
# --------------------------------------------------------------------------------------------


class CertificateHashData(ComplexType, frozen=True, kw_only=True):
    """Whitepaper CertificateHashDataType: identifies an installed certificate by hashes."""

    hash_algorithm: HashAlgorithm
    issuer_name_hash: Annotated[str, msgspec.Meta(max_length=128)]
    issuer_key_hash: Annotated[str, msgspec.Meta(max_length=128)]
    serial_number: Annotated[str, msgspec.Meta(max_length=40)]


class LogParameters(ComplexType, frozen=True, kw_only=True):
    """Whitepaper LogParametersType: where GetLog uploads to and which time window."""

    remote_location: Annotated[str, msgspec.Meta(max_length=512)]
    oldest_timestamp: DateTime | None = None
    latest_timestamp: DateTime | None = None


class FirmwareType(ComplexType, frozen=True, kw_only=True):
    """Whitepaper FirmwareType: a signed firmware image for SignedUpdateFirmware."""

    location: Annotated[str, msgspec.Meta(max_length=512)]
    retrieve_date_time: DateTime
    install_date_time: DateTime | None = None
    signing_certificate: Annotated[str, msgspec.Meta(max_length=5500)]
    signature: Annotated[str, msgspec.Meta(max_length=800)]
