"""Reservation profile messages (OCPP 1.6 §3.3, §5.1, §5.13)."""

from __future__ import annotations

from chargedeck.ocpp.v16.base import DateTime, IdToken, Message
from chargedeck.ocpp.v16.enums import CancelReservationStatus, ReservationStatus


class CancelReservationRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.5."""

    reservation_id: int


class CancelReservationResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.6."""

    status: CancelReservationStatus


class ReserveNowRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.37: hold a connector (0 = any) for an idTag until ``expiry_date``."""

    connector_id: int
    expiry_date: DateTime
    id_tag: IdToken
    parent_id_tag: IdToken | None = None
    reservation_id: int


class ReserveNowResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.38."""

    status: ReservationStatus
