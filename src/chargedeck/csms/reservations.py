"""Reservations (OCPP 1.6 §3.8, §5.13, §5.3): what ChargeDeck does around ReserveNow and
CancelReservation, and when a StartTransaction uses a reservation."""

from __future__ import annotations

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.ocpp.v16.core import StartTransactionRequest


async def on_start_transaction(
    services: CsmsServices,
    state: ConnectionState,
    request: StartTransactionRequest,
    transaction_id: int,
) -> None:
    """A transaction started: mark the reservation it used (its reservationId, or the one held
    for this tag on this connector) as used."""
    return None
