"""Core profile messages (OCPP 1.6 §3.3, §4, §5, messages in §6).

One request and one response Struct per action, fields in the schema's order, keyword-only.
Every constraint of the official JSON schemas is in the field types (see ``types.py`` for the
conventions); where the schema and the prose disagree, the schema wins and a comment says so.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from chargedeck.ocpp.v16.base import (
    CiString20,
    CiString25,
    CiString50,
    CiString255,
    CiString500,
    DateTime,
    IdToken,
    Message,
)
from chargedeck.ocpp.v16.enums import (
    AvailabilityStatus,
    AvailabilityType,
    ChargePointErrorCode,
    ChargePointStatus,
    ClearCacheStatus,
    ConfigurationStatus,
    DataTransferStatus,
    Reason,
    RegistrationStatus,
    RemoteStartStopStatus,
    ResetStatus,
    ResetType,
    UnlockStatus,
)
from chargedeck.ocpp.v16.types import (
    ChargingProfile,
    IdTagInfo,
    KeyValue,
    MeterValue,
    TransactionMeterValue,
)

# --------------------------------------------------------------------------------------------
# Charge point -> CSMS
# --------------------------------------------------------------------------------------------


class AuthorizeRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.1: may this idTag charge?"""

    id_tag: IdToken


class AuthorizeResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.2."""

    id_tag_info: IdTagInfo


class BootNotificationRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.3: who the charger is, sent after (re)boot."""

    charge_point_vendor: CiString20
    charge_point_model: CiString20
    charge_point_serial_number: CiString25 | None = None
    charge_box_serial_number: CiString25 | None = None
    firmware_version: CiString50 | None = None
    iccid: CiString20 | None = None
    imsi: CiString20 | None = None
    meter_type: CiString25 | None = None
    meter_serial_number: CiString25 | None = None


class BootNotificationResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.4. The field is ``interval`` (seconds); the OCPP-J example's old name
    ``heartbeatInterval`` is not in the schema."""

    status: RegistrationStatus
    current_time: DateTime
    interval: int


class DataTransferRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.15: vendor-specific data, in either direction.

    The schema types ``data`` as a string; chargers that send a JSON object there are refused
    unless a lenient charger-model row says otherwise (DESIGN §3).
    """

    vendor_id: CiString255
    message_id: CiString50 | None = None
    data: str | None = None


class DataTransferResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.16."""

    status: DataTransferStatus
    data: str | None = None


class HeartbeatRequest(Message, frozen=True):
    """OCPP 1.6 §6.29: I am alive; what time is it?"""


class HeartbeatResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.30: the CSMS clock, which the charger may adopt."""

    current_time: DateTime


class MeterValuesRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.31: samples for one connector (0 = main meter), maybe within a transaction."""

    connector_id: int
    transaction_id: int | None = None
    meter_value: Annotated[list[MeterValue], msgspec.Meta(min_length=1)]


class MeterValuesResponse(Message, frozen=True):
    """OCPP 1.6 §6.32."""


class StartTransactionRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.45: a transaction began; ``meter_start`` in Wh."""

    connector_id: int
    id_tag: IdToken
    meter_start: int
    reservation_id: int | None = None
    timestamp: DateTime


class StartTransactionResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.46: the transaction id the charger must use from now on."""

    id_tag_info: IdTagInfo
    transaction_id: int


class StatusNotificationRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.47: a connector's (or the charger's, connector 0) new status."""

    connector_id: int
    error_code: ChargePointErrorCode
    info: CiString50 | None = None
    status: ChargePointStatus
    timestamp: DateTime | None = None
    vendor_id: CiString255 | None = None
    vendor_error_code: CiString50 | None = None


class StatusNotificationResponse(Message, frozen=True):
    """OCPP 1.6 §6.48."""


class StopTransactionRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.49: a transaction ended; ``meter_stop`` in Wh, ``reason`` absent = Local."""

    id_tag: IdToken | None = None
    meter_stop: int
    timestamp: DateTime
    transaction_id: int
    reason: Reason | None = None
    transaction_data: list[TransactionMeterValue] | None = None


class StopTransactionResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.50. ``id_tag_info`` only when an idTag was sent."""

    id_tag_info: IdTagInfo | None = None


# --------------------------------------------------------------------------------------------
# CSMS -> charge point
# --------------------------------------------------------------------------------------------


class ChangeAvailabilityRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.7: make a connector (0 = whole charger) operative or inoperative."""

    connector_id: int
    type: AvailabilityType


class ChangeAvailabilityResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.8. ``Scheduled``: it happens when the running transaction ends."""

    status: AvailabilityStatus


class ChangeConfigurationRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.9: set one configuration key."""

    key: CiString50
    value: CiString500


class ChangeConfigurationResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.10."""

    status: ConfigurationStatus


class ClearCacheRequest(Message, frozen=True):
    """OCPP 1.6 §6.11: forget the Authorization Cache."""


class ClearCacheResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.12."""

    status: ClearCacheStatus


class GetConfigurationRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.23: read the given keys, or every key when ``key`` is absent."""

    key: list[CiString50] | None = None


class GetConfigurationResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.24: known keys with their values, and the keys the charger does not know."""

    configuration_key: list[KeyValue] | None = None
    unknown_key: list[CiString50] | None = None


class RemoteStartTransactionRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.33: start a transaction for an idTag, optionally with a TxProfile."""

    connector_id: int | None = None
    id_tag: IdToken
    charging_profile: ChargingProfile | None = None


class RemoteStartTransactionResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.34."""

    status: RemoteStartStopStatus


class RemoteStopTransactionRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.35: stop a running transaction."""

    transaction_id: int


class RemoteStopTransactionResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.36."""

    status: RemoteStartStopStatus


class ResetRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.39: reboot the charger, Soft (stop transactions cleanly) or Hard."""

    type: ResetType


class ResetResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.40."""

    status: ResetStatus


class UnlockConnectorRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.53: release the cable of a connector."""

    connector_id: int


class UnlockConnectorResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.54."""

    status: UnlockStatus
