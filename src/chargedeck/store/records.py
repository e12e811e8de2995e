"""Rows going into and coming out of the store: frozen, plain values, snake_case.

``*Row`` and ``*Record`` types the callers build are what they hand in; ``*Record`` types the
store returns carry the database id and times. Every ``datetime`` is tz-aware UTC; energy is in
Wh as an integer. Hot-path rows (status, meter values) skip the cyclic GC (``gc=False``): they
hold only scalars.
"""

from __future__ import annotations

import enum
from datetime import datetime

import msgspec

from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId, ConnectorId, IdTag, TransactionId
from chargedeck.domain.security import SecurityProfile

__all__ = [
    "BootNotificationRecord",
    "BootRecord",
    "BootRow",
    "ChargePointRecord",
    "ConnectorRecord",
    "DataTransferDirection",
    "DataTransferRecord",
    "DataTransferRow",
    "DiagnosticsStatusRecord",
    "DiagnosticsStatusRow",
    "FirmwareStatusRecord",
    "FirmwareStatusRow",
    "IdTagRecord",
    "MeterValueRecord",
    "MeterValueRow",
    "MeterValueSource",
    "ReconciliationKind",
    "StartTransactionRecord",
    "StatusRecord",
    "StatusRow",
    "StopOutcome",
    "StopReconciliationRecord",
    "StopTransactionRecord",
    "TransactionRecord",
]


class StopOutcome(enum.StrEnum):
    """What a StopTransaction did. Every outcome is answered Accepted (DESIGN §6 idempotence)."""

    STOPPED = "stopped"
    UNKNOWN_TRANSACTION = "unknown_transaction"
    ALREADY_STOPPED = "already_stopped"


class ReconciliationKind(enum.StrEnum):
    """Why a StopTransaction went to ``stop_reconciliation`` instead of closing a transaction."""

    UNKNOWN_TRANSACTION = "unknown_transaction"
    ALREADY_STOPPED = "already_stopped"


class MeterValueSource(enum.StrEnum):
    """The OCPP message a meter value row came in: MeterValues.req or StopTransaction.req's
    transactionData."""

    METER_VALUES = "MeterValues"
    STOP_TRANSACTION = "StopTransaction"


class DataTransferDirection(enum.StrEnum):
    """Who sent the DataTransfer.req (OCPP 1.6 §4.3 and §5.6: both sides may)."""

    FROM_CHARGE_POINT = "from_charge_point"
    TO_CHARGE_POINT = "to_charge_point"


class ChargePointRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A charge point as stored; descriptive fields come from its last BootNotification."""

    id: ChargePointId
    registration: Registration
    vendor: str | None
    model: str | None
    charge_point_serial_number: str | None
    charge_box_serial_number: str | None
    firmware_version: str | None
    iccid: str | None
    imsi: str | None
    meter_type: str | None
    meter_serial_number: str | None
    first_seen_at: datetime | None
    last_boot_at: datetime | None
    last_heartbeat_at: datetime | None
    adopted_at: datetime | None
    created_at: datetime
    security_profile: SecurityProfile
    """The profile it must connect with (Security Whitepaper ed.3)."""
    pending_security_profile: SecurityProfile | None
    """A raised profile it was asked to use and has not connected with yet."""
    authorization_key_set_at: datetime | None
    """When its password was last set (None: it has none). The hash never leaves the store."""
    default_owner: str | None = None
    """Who sessions started without a card are attributed to (a placeholder idTag such as
    Wallbox's ``NoAuthorization``, or a free-vend start)."""
    free_vend: bool = False
    """ChargeDeck starts a transaction itself (RemoteStartTransaction) when a connector goes
    Preparing: for chargers without an RFID reader."""
    free_vend_id_tag: str | None = None
    """The idTag of those remote starts; None: ChargeDeck's default (csms/free_vend.py)."""


class BootRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The fields of a BootNotification.req (OCPP 1.6 §6.2), in the spec's terms."""

    charge_point_vendor: str
    charge_point_model: str
    charge_point_serial_number: str | None = None
    charge_box_serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None


class BootRow(msgspec.Struct, frozen=True, kw_only=True):
    """A BootNotification to store through the group commit, with the status answered.

    ``register_as`` is the registration the charger is added with if the store does not know it
    yet (``unknown_charge_points`` accept: registered; inbox: pending); a known charger keeps
    its own. Adding it in the same batch keeps the boot row's foreign key satisfied, so one
    charger's boot can never fail the commit of a batch shared with others.
    """

    charge_point_id: ChargePointId
    boot: BootRecord
    status: str
    received_at: datetime
    register_as: Registration


class BootNotificationRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One stored BootNotification and the registration status it was answered with."""

    id: int
    charge_point_id: ChargePointId
    received_at: datetime
    charge_point_vendor: str
    charge_point_model: str
    charge_point_serial_number: str | None
    charge_box_serial_number: str | None
    firmware_version: str | None
    iccid: str | None
    imsi: str | None
    meter_type: str | None
    meter_serial_number: str | None
    status: str


class StatusRow(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A StatusNotification.req (OCPP 1.6 §6.48) to store; ``timestamp`` is the charger's."""

    charge_point_id: ChargePointId
    connector_id: ConnectorId
    status: str
    error_code: str
    received_at: datetime
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None
    timestamp: datetime | None = None


class StatusRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A stored row of ``connector_status_history``."""

    id: int
    charge_point_id: ChargePointId
    connector_id: ConnectorId
    status: str
    error_code: str
    info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    timestamp: datetime | None
    received_at: datetime


class ConnectorRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The latest status received for a connector (connector 0 is the charge point itself)."""

    charge_point_id: ChargePointId
    connector_id: ConnectorId
    status: str
    error_code: str
    info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    status_timestamp: datetime | None
    updated_at: datetime


class IdTagRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An id tag as the operator entered it; lookups ignore case (OCPP 1.6 §7.15 IdToken)."""

    id_tag: IdTag
    parent_id_tag: IdTag | None
    expiry_date: datetime | None
    blocked: bool
    owner: str | None
    created_at: datetime
    card_uid: str | None = None
    """The UID printed on the card, canonical (upper-case hex, printed byte order), when the
    tag was registered by it: the tag then also answers to the idTag each charger model sends
    for the card (domain/card_uids.py)."""
    label: str | None = None
    notes: str | None = None
    max_active_transactions: int | None = None
    """At most this many transactions at once (None: no cap); StartTransaction answers
    ConcurrentTx at the cap."""
    updated_at: datetime | None = None


class StartTransactionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A StartTransaction.req (OCPP 1.6 §6.46) and the IdTagInfo status answered to it.

    ``started_at`` is the charger's timestamp; with the charger, connector, id tag and
    ``meter_start`` (Wh) it identifies a repeated request.
    """

    charge_point_id: ChargePointId
    connector_id: ConnectorId
    id_tag: IdTag
    meter_start: int
    started_at: datetime
    start_id_tag_status: str
    reservation_id: int | None = None
    owner: str | None = None
    """Who the session is attributed to: the tag's owner, or the charger's default owner for a
    start without a card (placeholder idTag, free vend)."""


class StopTransactionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A StopTransaction.req (OCPP 1.6 §6.50); ``stopped_at`` is the charger's timestamp."""

    charge_point_id: ChargePointId
    transaction_id: TransactionId
    meter_stop: int
    stopped_at: datetime
    id_tag: IdTag | None = None
    reason: str | None = None


class TransactionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A stored transaction; it is active while ``stopped_at`` is None."""

    id: TransactionId
    charge_point_id: ChargePointId
    connector_id: ConnectorId
    id_tag: IdTag
    meter_start: int
    started_at: datetime
    reservation_id: int | None
    start_id_tag_status: str
    meter_stop: int | None
    stopped_at: datetime | None
    stop_reason: str | None
    stop_id_tag: IdTag | None
    created_at: datetime
    updated_at: datetime
    owner: str | None = None
    """Who the session was attributed to when it started."""
    reconciliation: str | None = None
    """How ChargeDeck settled it (domain/transactions.py Reconciliation), None: it did not."""
    reconciled_at: datetime | None = None

    @property
    def active(self) -> bool:
        """True until a StopTransaction closed it."""
        return self.stopped_at is None


class MeterValueRow(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One OCPP MeterValue element (a timestamp and its sampled values) to store.

    ``sampled_values`` is JSON text of the sampledValue array as the charger sent it;
    ``energy_wh`` is the Energy.Active.Import.Register reading in Wh when the caller found one.
    """

    charge_point_id: ChargePointId
    connector_id: ConnectorId
    transaction_id: TransactionId | None
    timestamp: datetime
    sampled_values: str
    received_at: datetime
    energy_wh: int | None = None


class MeterValueRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A stored row of ``meter_values``."""

    id: int
    charge_point_id: ChargePointId
    connector_id: ConnectorId
    transaction_id: TransactionId | None
    timestamp: datetime
    sampled_values: str
    energy_wh: int | None
    source: MeterValueSource
    received_at: datetime


class StopReconciliationRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A StopTransaction that closed nothing, kept for the operator to reconcile."""

    id: int
    charge_point_id: ChargePointId
    transaction_id: TransactionId
    id_tag: IdTag | None
    meter_stop: int
    timestamp: datetime
    reason: str | None
    kind: ReconciliationKind
    received_at: datetime


class FirmwareStatusRow(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A FirmwareStatusNotification.req (OCPP 1.6 §6.28)."""

    charge_point_id: ChargePointId
    status: str
    received_at: datetime


class FirmwareStatusRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A stored FirmwareStatusNotification."""

    id: int
    charge_point_id: ChargePointId
    status: str
    received_at: datetime


class DiagnosticsStatusRow(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A DiagnosticsStatusNotification.req (OCPP 1.6 §6.20)."""

    charge_point_id: ChargePointId
    status: str
    received_at: datetime


class DiagnosticsStatusRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A stored DiagnosticsStatusNotification."""

    id: int
    charge_point_id: ChargePointId
    status: str
    received_at: datetime


class DataTransferRow(msgspec.Struct, frozen=True, kw_only=True):
    """A DataTransfer.req in either direction and the status of its answer (None: no answer)."""

    charge_point_id: ChargePointId
    direction: DataTransferDirection
    vendor_id: str
    received_at: datetime
    message_id: str | None = None
    data: str | None = None
    status: str | None = None


class DataTransferRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A stored DataTransfer."""

    id: int
    charge_point_id: ChargePointId
    direction: DataTransferDirection
    vendor_id: str
    message_id: str | None
    data: str | None
    status: str | None
    received_at: datetime
