"""Reservations made through ChargeDeck and what became of them (table reservations).

The row's id is the OCPP reservationId (§5.13): one sequence for every charger, so an id is
never handed out twice and a charger never replaces a reservation by accident. A row is written
before its ReserveNow is sent (status ``unanswered``) and follows the charger's answer.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime

import msgspec
import sqlalchemy as sa

from chargedeck.domain.ids import ChargePointId, IdTag, TransactionId
from chargedeck.domain.reservations import Reservation
from chargedeck.store._convert import to_record, to_records
from chargedeck.store.engine import Database
from chargedeck.store.errors import NotFound
from chargedeck.store.schema import reservations

_R = reservations.c
_COLUMNS = (
    _R.id,
    _R.charge_point_id,
    _R.connector_id,
    _R.id_tag,
    _R.parent_id_tag,
    _R.expiry_date,
    _R.status,
    _R.transaction_id,
    _R.created_at,
    _R.updated_at,
)


class ReservationRecordStatus(enum.StrEnum):
    """Where a reservation stands (the ``status`` column)."""

    UNANSWERED = "unanswered"
    """ReserveNow sent; the charger has not answered it (yet): time-out, CALLERROR or
    disconnect. Not counted as holding its connector; cancel it to be sure."""
    ACTIVE = "active"
    """The charger answered Accepted; it holds the connector until the expiry date."""
    FAULTED = "faulted"
    OCCUPIED = "occupied"
    REJECTED = "rejected"
    UNAVAILABLE = "unavailable"
    """The charger's other answers to ReserveNow (OCPP 1.6 §7.40): nothing is held."""
    USED = "used"
    """A StartTransaction carried its reservationId (§4.8)."""
    EXPIRED = "expired"
    """Its expiry date passed before it was used (the charger drops it then, §5.13)."""
    CANCELLED = "cancelled"
    """The charger answered CancelReservation (§5.1)."""

    @property
    def holds_connector(self) -> bool:
        return self is ReservationRecordStatus.ACTIVE


class ReservationRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A stored reservation; ``id`` is its OCPP reservationId."""

    id: int
    charge_point_id: ChargePointId
    connector_id: int
    id_tag: IdTag
    parent_id_tag: IdTag | None
    expiry_date: datetime
    status: ReservationRecordStatus
    transaction_id: TransactionId | None
    created_at: datetime
    updated_at: datetime

    def to_domain(self) -> Reservation:
        """The reservation as the domain rules (``domain/reservations.py``) see it."""
        return Reservation(
            reservation_id=self.id,
            connector_id=self.connector_id,
            id_tag=self.id_tag,
            parent_id_tag=self.parent_id_tag,
            expiry_date=self.expiry_date,
            cancelled=self.status is ReservationRecordStatus.CANCELLED,
            used=self.status is ReservationRecordStatus.USED,
        )


class Reservations:
    """Reads and writes of ``reservations``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def add_reservation(
        self,
        charge_point_id: ChargePointId,
        *,
        connector_id: int,
        id_tag: IdTag,
        parent_id_tag: IdTag | None,
        expiry_date: datetime,
        now: datetime,
    ) -> ReservationRecord:
        """A new reservation with a reservationId never used before, status ``unanswered``."""
        statement = (
            sa.insert(reservations)
            .values(
                charge_point_id=charge_point_id,
                connector_id=connector_id,
                id_tag=id_tag,
                parent_id_tag=parent_id_tag,
                expiry_date=expiry_date,
                status=ReservationRecordStatus.UNANSWERED.value,
                created_at=now,
                updated_at=now,
            )
            .returning(*_COLUMNS)
        )
        async with self._db.write() as connection:
            return to_record(ReservationRecord, (await connection.execute(statement)).one())

    async def set_status(
        self,
        reservation_id: int,
        status: ReservationRecordStatus,
        now: datetime,
        *,
        transaction_id: TransactionId | None = None,
    ) -> ReservationRecord:
        """Move a reservation to ``status`` (with the transaction that used it); raises
        ``NotFound``."""
        values: dict[str, object] = {"status": status.value, "updated_at": now}
        if transaction_id is not None:
            values["transaction_id"] = transaction_id
        statement = (
            sa.update(reservations)
            .where(_R.id == reservation_id)
            .values(**values)
            .returning(*_COLUMNS)
        )
        async with self._db.write() as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            raise NotFound(f"there is no reservation {reservation_id}")
        return to_record(ReservationRecord, row)

    async def expire_due(self, now: datetime) -> int:
        """Mark ``expired`` every reservation still held (or unanswered) whose expiry date has
        come; how many. The charger drops them by itself at that moment (§5.13)."""
        statement = (
            sa.update(reservations)
            .where(
                _R.status.in_(
                    [ReservationRecordStatus.ACTIVE.value, ReservationRecordStatus.UNANSWERED.value]
                ),
                _R.expiry_date <= now,
            )
            .values(status=ReservationRecordStatus.EXPIRED.value, updated_at=now)
        )
        async with self._db.write() as connection:
            return (await connection.execute(statement)).rowcount

    async def get_reservation(self, reservation_id: int) -> ReservationRecord | None:
        async with self._db.read() as connection:
            row = (
                await connection.execute(sa.select(*_COLUMNS).where(_R.id == reservation_id))
            ).first()
        return None if row is None else to_record(ReservationRecord, row)

    async def list_reservations(
        self,
        *,
        charge_point_id: ChargePointId | None = None,
        statuses: Iterable[ReservationRecordStatus] | None = None,
        limit: int | None = None,
        before_id: int | None = None,
    ) -> list[ReservationRecord]:
        """Reservations, newest first; filtered by charger, statuses, and ``id < before_id``
        (the cursor of the next page)."""
        statement = sa.select(*_COLUMNS).order_by(_R.id.desc())
        if charge_point_id is not None:
            statement = statement.where(_R.charge_point_id == charge_point_id)
        if statuses is not None:
            statement = statement.where(_R.status.in_([status.value for status in statuses]))
        if before_id is not None:
            statement = statement.where(_R.id < before_id)
        if limit is not None:
            statement = statement.limit(limit)
        async with self._db.read() as connection:
            return to_records(ReservationRecord, await connection.execute(statement))
