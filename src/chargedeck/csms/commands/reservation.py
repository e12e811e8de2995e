"""The Reservation profile's commands (OCPP 1.6 §5.13 ReserveNow, §5.1 CancelReservation), with
the checks that need no store.

``csms/reservations.py`` is the operation that hands out reservation ids and records what became
of each reservation: a ReserveNow sent by hand bypasses that record, and with an id ChargeDeck
also gave out, the charger would replace that reservation (§5.13).
"""

from __future__ import annotations

from chargedeck.csms.commands.command import Command
from chargedeck.csms.context import CsmsServices
from chargedeck.domain.reservations import MAX_RESERVATION_ID
from chargedeck.ocpp.v16 import reservation


def _refuse_reservation_id(reservation_id: int) -> str | None:
    if not 1 <= reservation_id <= MAX_RESERVATION_ID:
        return f"a reservationId is 1 to {MAX_RESERVATION_ID}, got {reservation_id}"
    return None


def check_reserve_now(
    services: CsmsServices, charge_point_id: str, request: reservation.ReserveNowRequest
) -> str | None:
    """§6.37: connector 0 (any) or a connector number; an expiryDate still to come."""
    if request.connector_id < 0:
        return f"connector {request.connector_id} does not exist (0 = any connector)"
    now = services.clock.now()
    if request.expiry_date <= now:
        return f"expiryDate {request.expiry_date.isoformat()} is not after now ({now.isoformat()})"
    return _refuse_reservation_id(request.reservation_id)


def check_cancel_reservation(
    services: CsmsServices, charge_point_id: str, request: reservation.CancelReservationRequest
) -> str | None:
    return _refuse_reservation_id(request.reservation_id)


RESERVATION_COMMANDS: tuple[Command, ...] = (
    Command(
        "CancelReservation", reservation.CancelReservationRequest, check=check_cancel_reservation
    ),
    Command("ReserveNow", reservation.ReserveNowRequest, check=check_reserve_now),
)
