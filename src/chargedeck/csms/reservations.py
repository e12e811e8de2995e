"""Reservations (OCPP 1.6 §3.8, §5.13, §5.1): what ChargeDeck does around ReserveNow and
CancelReservation, and when a StartTransaction uses a reservation.

A reservation is stored before its ReserveNow is sent (its row id is the reservationId, never
reused) and follows the charger's answer. It ends when a StartTransaction uses it, when the
operator cancels it, or at its expiry date; the charger drops an expired reservation by itself
(§5.13), and ChargeDeck marks it expired when it next reads reservations (every list, get,
reservation and cancellation does), so what the API shows is never stale.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from chargedeck.csms.commands import ChargePointNotConnected, UnknownChargePoint, send_command
from chargedeck.csms.configuration import charger_model, parse_count, read_configuration
from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.id_tag_info import decision_for
from chargedeck.csms.id_tag_registry import id_tag_sent_by
from chargedeck.domain.charger_models import ChargerModel
from chargedeck.domain.id_tags import AuthorizationStatus
from chargedeck.domain.ids import ChargePointId, IdTag, TransactionId
from chargedeck.domain.reservations import (
    CHARGER_WIDE_CONNECTOR_ID,
    MAX_RESERVATION_ID,
    Reservation,
    ReservationRefused,
    check_reserve_now,
    match_start_transaction,
    next_reservation_id,
    reserve_connector_zero_supported,
)
from chargedeck.ocpp.v16 import enums
from chargedeck.ocpp.v16.core import StartTransactionRequest
from chargedeck.ocpp.v16.reservation import (
    CancelReservationRequest,
    CancelReservationResponse,
    ReserveNowRequest,
    ReserveNowResponse,
)
from chargedeck.store.records import ChargePointRecord
from chargedeck.store.reservations import ReservationRecord, ReservationRecordStatus

log = logging.getLogger(__name__)

# OCPP 1.6 §9.5 (Reservation profile, optional; absent = not supported) and §9.1 (Core).
RESERVE_CONNECTOR_ZERO_SUPPORTED: Final = "ReserveConnectorZeroSupported"
NUMBER_OF_CONNECTORS: Final = "NumberOfConnectors"

# The charger's answer to ReserveNow (§7.40) as the stored status.
_STATUS_OF_ANSWER: Final = {
    enums.ReservationStatus.ACCEPTED: ReservationRecordStatus.ACTIVE,
    enums.ReservationStatus.FAULTED: ReservationRecordStatus.FAULTED,
    enums.ReservationStatus.OCCUPIED: ReservationRecordStatus.OCCUPIED,
    enums.ReservationStatus.REJECTED: ReservationRecordStatus.REJECTED,
    enums.ReservationStatus.UNAVAILABLE: ReservationRecordStatus.UNAVAILABLE,
}
# Reservations that may still be held by the charger, so may be cancelled.
_CANCELLABLE: Final = (ReservationRecordStatus.ACTIVE, ReservationRecordStatus.UNANSWERED)


class UnknownReservation(LookupError):
    """No reservation has this id."""

    def __init__(self, reservation_id: int) -> None:
        super().__init__(f"there is no reservation {reservation_id}")


class NothingToCancel(Exception):
    """The reservation has ended already; the message says how."""


@dataclass(frozen=True)
class ReservationOutcome:
    """The stored reservation and the charger's answer (ReserveNow §7.40, CancelReservation
    §7.5)."""

    reservation: ReservationRecord
    charger_status: str


async def reserve(
    services: CsmsServices,
    charge_point_id: ChargePointId,
    connector_id: int,
    id_tag: str,
    expiry_date: datetime,
) -> ReservationOutcome:
    """Reserve a connector (0: any, where the charger supports it) of a connected charger for a
    registered id tag until ``expiry_date``.

    The reservation is stored, then ReserveNow is sent, then the answer is stored: ``active``
    for Accepted, else the charger's refusal. Raises ``ReservationRefused`` (nothing sent: the
    tag may not charge, connector 0 unsupported, connector held, expiry not in the future),
    ``UnknownChargePoint``, ``ChargePointNotConnected``, and what ``send_command`` raises when
    the charger does not answer (the reservation then stays ``unanswered``).
    """
    charge_point = await services.store.charge_points.get_charge_point(charge_point_id)
    if charge_point is None:
        raise UnknownChargePoint(charge_point_id)
    if services.stations.get(charge_point_id) is None:
        raise ChargePointNotConnected(charge_point_id)
    now = services.clock.now()
    registered = await services.store.id_tags.get_id_tag(id_tag)
    if registered is None:
        raise ReservationRefused(f"id tag {id_tag!r} is not registered")
    parent = (
        None
        if registered.parent_id_tag is None
        else await services.store.id_tags.get_id_tag(registered.parent_id_tag)
    )
    decision = decision_for(registered, parent, now)
    if decision.status is not AuthorizationStatus.ACCEPTED:
        raise ReservationRefused(
            f"id tag {registered.id_tag!r} is {decision.status.value} now: it could not use "
            "the reservation"
        )
    model = charger_model(charge_point)
    # The charger compares the card it reads with the reservation's idTag (§5.13).
    reserved_id_tag = IdTag(id_tag_sent_by(registered, model))
    await services.store.reservations.expire_due(now)
    held = [
        record.to_domain()
        for record in await services.store.reservations.list_reservations(
            charge_point_id=charge_point_id, statuses=[ReservationRecordStatus.ACTIVE]
        )
    ]
    connector_zero, number_of_connectors = await _capabilities(
        services, charge_point, model, connector_id == CHARGER_WIDE_CONNECTOR_ID
    )
    wanted = Reservation(
        # A stand-in for the check: the stored row gets a reservationId never used before.
        reservation_id=next_reservation_id(held),
        connector_id=connector_id,
        id_tag=reserved_id_tag,
        parent_id_tag=registered.parent_id_tag,
        expiry_date=expiry_date,
    )
    try:
        check_reserve_now(
            wanted,
            reservations=held,
            now=now,
            connector_zero_supported=connector_zero,
            number_of_connectors=number_of_connectors,
        )
    except ReservationRefused:
        raise
    except ValueError as exc:  # an id tag that is not an IdToken
        raise ReservationRefused(str(exc)) from None
    record = await services.store.reservations.add_reservation(
        charge_point_id,
        connector_id=connector_id,
        id_tag=reserved_id_tag,
        parent_id_tag=registered.parent_id_tag,
        expiry_date=expiry_date,
        now=now,
    )
    if record.id > MAX_RESERVATION_ID:
        raise ReservationRefused(
            f"reservation ids are used up (the next is {record.id}, above {MAX_RESERVATION_ID})"
        )
    answer = await send_command(
        services,
        charge_point_id,
        ReserveNowRequest(
            connector_id=connector_id,
            expiry_date=expiry_date,
            id_tag=reserved_id_tag,
            parent_id_tag=registered.parent_id_tag,
            reservation_id=record.id,
        ),
    )
    assert isinstance(answer, ReserveNowResponse)
    record = await services.store.reservations.set_status(
        record.id, _STATUS_OF_ANSWER[answer.status], services.clock.now()
    )
    if answer.status is enums.ReservationStatus.ACCEPTED:
        log.info(
            "charge point %s: reservation %d of connector %d for id tag %s until %s",
            charge_point_id,
            record.id,
            connector_id,
            record.id_tag,
            expiry_date.isoformat(),
        )
    else:
        log.warning(
            "charge point %s answered %s to reservation %d (connector %d)",
            charge_point_id,
            answer.status.value,
            record.id,
            connector_id,
        )
    return ReservationOutcome(record, answer.status.value)


async def _capabilities(
    services: CsmsServices,
    charge_point: ChargePointRecord,
    model: ChargerModel,
    connector_zero: bool,
) -> tuple[bool, int | None]:
    """Whether the charger takes connector 0 reservations, and its number of connectors, from
    what it reported (read now with GetConfiguration if never read), else the model's default
    (STYLE rule 10)."""
    charge_point_id = charge_point.id
    keys = [NUMBER_OF_CONNECTORS, *([RESERVE_CONNECTOR_ZERO_SUPPORTED] if connector_zero else [])]
    reported = await services.store.configuration.values(charge_point_id, keys)
    if any(key not in reported for key in keys):
        await read_configuration(services, charge_point_id, keys)
        reported = await services.store.configuration.values(charge_point_id, keys)
    try:
        supported = reserve_connector_zero_supported(
            model, reported.get(RESERVE_CONNECTOR_ZERO_SUPPORTED)
        )
    except ValueError as exc:
        raise ReservationRefused(f"charge point {charge_point_id}: {exc}") from None
    number_text = reported.get(NUMBER_OF_CONNECTORS)
    number_of_connectors = None
    if number_text is not None:
        try:
            number_of_connectors = parse_count(NUMBER_OF_CONNECTORS, number_text)
        except ValueError as exc:
            log.warning(
                "charge point %s: %s; connector numbers are not checked", charge_point_id, exc
            )
    return supported, number_of_connectors


async def cancel_reservation(services: CsmsServices, reservation_id: int) -> ReservationOutcome:
    """Cancel a reservation on its charger (CancelReservation, §5.1).

    Accepted and Rejected both end it: Rejected means the charger holds no reservation with this
    id (§5.1), for example because it was used or expired meanwhile. Raises
    ``UnknownReservation``, ``NothingToCancel`` (it ended already), ``ChargePointNotConnected``
    and what ``send_command`` raises when the charger does not answer (nothing changes).
    """
    record = await get_reservation(services, reservation_id)
    if record.status not in _CANCELLABLE:
        raise NothingToCancel(
            f"reservation {reservation_id} is {record.status.value}: there is nothing to cancel"
        )
    answer = await send_command(
        services, record.charge_point_id, CancelReservationRequest(reservation_id=reservation_id)
    )
    assert isinstance(answer, CancelReservationResponse)
    if answer.status is enums.CancelReservationStatus.REJECTED:
        log.warning(
            "charge point %s answered Rejected to cancelling reservation %d: it holds no such "
            "reservation; recorded as cancelled",
            record.charge_point_id,
            reservation_id,
        )
    record = await services.store.reservations.set_status(
        reservation_id, ReservationRecordStatus.CANCELLED, services.clock.now()
    )
    return ReservationOutcome(record, answer.status.value)


async def get_reservation(services: CsmsServices, reservation_id: int) -> ReservationRecord:
    """One reservation, expired if its expiry date has come; raises ``UnknownReservation``."""
    await services.store.reservations.expire_due(services.clock.now())
    record = await services.store.reservations.get_reservation(reservation_id)
    if record is None:
        raise UnknownReservation(reservation_id)
    return record


async def list_reservations(
    services: CsmsServices,
    *,
    charge_point_id: ChargePointId | None = None,
    statuses: list[ReservationRecordStatus] | None = None,
    limit: int | None = None,
    before_id: int | None = None,
) -> list[ReservationRecord]:
    """Reservations newest first, those whose expiry date has come marked expired."""
    await services.store.reservations.expire_due(services.clock.now())
    return await services.store.reservations.list_reservations(
        charge_point_id=charge_point_id, statuses=statuses, limit=limit, before_id=before_id
    )


async def on_start_transaction(
    services: CsmsServices,
    state: ConnectionState,
    request: StartTransactionRequest,
    transaction_id: int,
) -> None:
    """A transaction started: mark the reservation it used (its reservationId, or the one held
    for this tag on this connector) as used.

    Never refuses (§4.8: the StartTransaction is answered regardless): what does not fit the
    reservation (another connector or tag, cancelled, expired) is logged as a warning. A
    repeated StartTransaction (same transaction) changes nothing.
    """
    charge_point_id = state.charge_point_id
    # The tag the presented idTag stands for (a card's UID as this charger sends it included).
    match = await services.store.id_tags.match_id_tag(request.id_tag)
    parent_id_tag = None if match is None else match.record.parent_id_tag
    if request.reservation_id is None:
        record = await _held_for(services, state, request, parent_id_tag)
        if record is None:
            return
        log.info(
            "charge point %s: StartTransaction (transaction %d) on connector %d without a "
            "reservationId; reservation %d held for id tag %s ends with it (§5.13)",
            charge_point_id,
            transaction_id,
            request.connector_id,
            record.id,
            record.id_tag,
        )
    else:
        found = await services.store.reservations.get_reservation(request.reservation_id)
        if found is not None and found.charge_point_id != charge_point_id:
            found = None  # another charger's reservation: unknown on this one
        if (
            found is not None
            and found.status is ReservationRecordStatus.USED
            and found.transaction_id == transaction_id
        ):
            return  # a repeated StartTransaction (DESIGN §6 idempotence)
        matched = match_start_transaction(
            [] if found is None else [found.to_domain()],
            reservation_id=request.reservation_id,
            connector_id=request.connector_id,
            id_tag=request.id_tag,
            parent_id_tag=parent_id_tag,
            started_at=request.timestamp,
        )
        if matched.problems:
            log.warning(
                "charge point %s: StartTransaction (transaction %d) names reservation %d: %s",
                charge_point_id,
                transaction_id,
                request.reservation_id,
                "; ".join(matched.problems),
            )
        if found is None:
            return
        record = found
    await services.store.reservations.set_status(
        record.id,
        ReservationRecordStatus.USED,
        services.clock.now(),
        transaction_id=TransactionId(transaction_id),
    )


async def _held_for(
    services: CsmsServices,
    state: ConnectionState,
    request: StartTransactionRequest,
    parent_id_tag: IdTag | None,
) -> ReservationRecord | None:
    """The active reservation of this charger that a start on this connector with this tag (or
    its group) ends: one for this connector first, else one for connector 0."""
    candidates = [
        record
        for record in await services.store.reservations.list_reservations(
            charge_point_id=state.charge_point_id, statuses=[ReservationRecordStatus.ACTIVE]
        )
        if record.connector_id in (request.connector_id, CHARGER_WIDE_CONNECTOR_ID)
        and record.expiry_date > request.timestamp
        and (
            record.id_tag.casefold() == request.id_tag.casefold()
            or (
                parent_id_tag is not None
                and record.parent_id_tag is not None
                and record.parent_id_tag.casefold() == parent_id_tag.casefold()
            )
        )
    ]
    candidates.sort(key=lambda record: record.connector_id != request.connector_id)
    return candidates[0] if candidates else None
