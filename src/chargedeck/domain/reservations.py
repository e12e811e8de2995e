"""Reservations: the rules for a ReserveNow, and what became of a reservation.

OCPP 1.6 §5.13 ReserveNow, §5.1 CancelReservation, §4.8 StartTransaction. A reservation holds a
connector (or, with connector 0, any connector of the charger) for an idTag or its parentIdTag
until its expiryDate; it ends when a transaction starts with its reservationId, when it expires,
or when it is cancelled. A ReserveNow with a reservationId the charger already holds replaces
that reservation (§5.13), so ChargeDeck never reuses an id by accident: a charger would silently
replace someone else's reservation.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from chargedeck.domain.charger_models import ChargerModel
from chargedeck.domain.id_tags import check_id_tag

# OCPP 1.6 connector numbering: in operations the CSMS starts, 0 means the whole charger.
CHARGER_WIDE_CONNECTOR_ID = 0

# Reservation ids are OCPP integers; many chargers store them as int32 (as transaction ids,
# ocpp16-facts-and-peers §1.2).
MAX_RESERVATION_ID = 2**31 - 1


class ReservationRefused(ValueError):
    """A ReserveNow ChargeDeck will not send; the message says why."""


class ReservationState(enum.StrEnum):
    """What became of a reservation."""

    ACTIVE = "active"
    EXPIRED = "expired"
    USED = "used"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Reservation:
    """A reservation as ReserveNow carries it (§5.13), and what ended it, as far as recorded.

    ``used``: a StartTransaction carried its reservationId; ``cancelled``: the charger accepted
    a CancelReservation for it.
    """

    reservation_id: int
    connector_id: int
    id_tag: str
    parent_id_tag: str | None
    expiry_date: datetime
    cancelled: bool = False
    used: bool = False


def reserve_connector_zero_supported(model: ChargerModel, reported: str | None) -> bool:
    """Whether this charger takes a ReserveNow for connector 0.

    ``reported`` is the charger's ReserveConnectorZeroSupported configuration value, ``None``
    when it has not been read; it wins over the model's default (STYLE rule 10). The key is a
    boolean (§9 configuration keys); any other value raises ValueError naming it.
    """
    if reported is None:
        return model.supports_connector_zero_reservation
    value = reported.strip().lower()
    if value not in {"true", "false"}:
        raise ValueError(
            f"ReserveConnectorZeroSupported is {reported!r}, expected 'true' or 'false'"
        )
    return value == "true"


def next_reservation_id(reservations: Iterable[Reservation]) -> int:
    """A reservation id the charger has never been given: one above the highest so far.

    Raises ValueError when the ids are used up (the highest is already the int32 maximum).
    """
    highest = max((reservation.reservation_id for reservation in reservations), default=0)
    if highest >= MAX_RESERVATION_ID:
        raise ValueError(f"reservation ids are used up on this charger (highest is {highest})")
    return highest + 1


def check_reserve_now(
    wanted: Reservation,
    *,
    reservations: Iterable[Reservation],
    now: datetime,
    connector_zero_supported: bool,
    number_of_connectors: int | None = None,
    replaces: bool = False,
) -> Reservation:
    """``wanted`` if ChargeDeck may send it as a ReserveNow; ReservationRefused says why not.

    ``reservations`` are all those ever made on this charger. The rules: the expiryDate is
    after ``now``; connector 0 only where the charger supports it (§5.13: otherwise it answers
    Rejected), and no connector above ``number_of_connectors`` when that is known; the
    reservation id is new on this charger, or, with ``replaces``, the id of an active
    reservation that this one replaces (§5.13); no other active reservation holds the
    connector; id tags are valid IdTokens.
    """
    check_id_tag(wanted.id_tag)
    if wanted.parent_id_tag is not None:
        check_id_tag(wanted.parent_id_tag, "parent id tag")
    if wanted.expiry_date <= now:
        raise ReservationRefused(
            f"the reservation expires at {wanted.expiry_date.isoformat()}, which is not after "
            f"now ({now.isoformat()})"
        )
    if not 1 <= wanted.reservation_id <= MAX_RESERVATION_ID:
        raise ReservationRefused(
            f"a reservation id is 1 to {MAX_RESERVATION_ID}, got {wanted.reservation_id}"
        )
    if wanted.connector_id < 0:
        raise ReservationRefused(f"connector {wanted.connector_id} does not exist")
    if wanted.connector_id == CHARGER_WIDE_CONNECTOR_ID and not connector_zero_supported:
        raise ReservationRefused(
            "this charger does not take reservations for connector 0 "
            "(ReserveConnectorZeroSupported is not true); reserve a connector by its number"
        )
    if number_of_connectors is not None and wanted.connector_id > number_of_connectors:
        raise ReservationRefused(
            f"connector {wanted.connector_id} does not exist: the charger has "
            f"{number_of_connectors} (NumberOfConnectors)"
        )
    for held in reservations:
        state = reservation_state(held, now)
        if held.reservation_id == wanted.reservation_id:
            if not replaces:
                raise ReservationRefused(
                    f"reservation id {held.reservation_id} is already used on this charger "
                    f"({state}); a ReserveNow with it would replace that reservation"
                )
            if state is not ReservationState.ACTIVE:
                raise ReservationRefused(
                    f"reservation {held.reservation_id} is {state}, there is nothing to replace"
                )
        elif state is ReservationState.ACTIVE and held.connector_id == wanted.connector_id:
            raise ReservationRefused(
                f"connector {wanted.connector_id} is already reserved by reservation "
                f"{held.reservation_id} until {held.expiry_date.isoformat()}"
            )
    if replaces and not any(held.reservation_id == wanted.reservation_id for held in reservations):
        raise ReservationRefused(
            f"there is no reservation {wanted.reservation_id} on this charger to replace"
        )
    return wanted


def reservation_state(
    reservation: Reservation, now: datetime, start_transaction_reservation_id: int | None = None
) -> ReservationState:
    """Used once a StartTransaction carried its id (§4.8: that start ends it; recorded, or the
    ``start_transaction_reservation_id`` just received), else cancelled, else expired from its
    expiryDate on, else active.
    """
    if reservation.used or start_transaction_reservation_id == reservation.reservation_id:
        return ReservationState.USED
    if reservation.cancelled:
        return ReservationState.CANCELLED
    if reservation.expiry_date <= now:
        return ReservationState.EXPIRED
    return ReservationState.ACTIVE


@dataclass(frozen=True)
class ReservationMatch:
    """The reservation a StartTransaction's reservationId names, and what does not fit.

    A StartTransaction is never refused for these (§4.8: the CSMS answers it regardless); the
    problems are sentences to record beside the transaction.
    """

    reservation: Reservation | None
    problems: tuple[str, ...]


def match_start_transaction(
    reservations: Iterable[Reservation],
    *,
    reservation_id: int,
    connector_id: int,
    id_tag: str,
    parent_id_tag: str | None,
    started_at: datetime,
) -> ReservationMatch:
    """Find the reservation a StartTransaction ends, and check the start against it.

    §5.13: a reservation ends when a transaction starts for its idTag or parentIdTag on its
    connector (any connector for connector 0). ``parent_id_tag`` is the starting tag's parent as
    ChargeDeck knows it. Id tags compare ignoring case (§7.28 IdToken). A repeated
    StartTransaction (same transaction, DESIGN §6 idempotence) is the caller's to recognise
    before matching, or its reservation reads as already used.
    """
    reservation = next(
        (held for held in reservations if held.reservation_id == reservation_id), None
    )
    if reservation is None:
        return ReservationMatch(
            None, (f"reservation {reservation_id} is not known on this charger",)
        )
    problems: list[str] = []
    if reservation.connector_id not in (CHARGER_WIDE_CONNECTOR_ID, connector_id):
        problems.append(
            f"reservation {reservation_id} is for connector {reservation.connector_id}, "
            f"the transaction started on connector {connector_id}"
        )
    if not _same_tag(id_tag, reservation.id_tag) and not _same_tag(
        parent_id_tag, reservation.parent_id_tag
    ):
        problems.append(
            f"reservation {reservation_id} is for id tag {reservation.id_tag!r}"
            + (f" or its group {reservation.parent_id_tag!r}" if reservation.parent_id_tag else "")
            + f", the transaction started with {id_tag!r}"
        )
    if reservation.cancelled:
        problems.append(f"reservation {reservation_id} had been cancelled")
    if reservation.used:
        problems.append(f"reservation {reservation_id} was already used by another transaction")
    if reservation.expiry_date <= started_at:
        problems.append(
            f"reservation {reservation_id} expired at {reservation.expiry_date.isoformat()}, "
            f"before the transaction started at {started_at.isoformat()}"
        )
    return ReservationMatch(reservation, tuple(problems))


def _same_tag(first: str | None, second: str | None) -> bool:
    return first is not None and second is not None and first.casefold() == second.casefold()
