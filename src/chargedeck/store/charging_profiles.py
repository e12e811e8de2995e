"""Every SetChargingProfile ChargeDeck sent and what became of it (table charging_profiles).

A row is written before its SetChargingProfile goes out (status ``unanswered``) and follows the
charger's answer. The profiles a charger holds are the accepted rows that nothing ended: an
accepted profile replaces the ones with its chargingProfileId, or with its connector, purpose
and stack level (and transaction, for a TxProfile) on that charger (OCPP 1.6 §3.13.2, §5.16.2);
ClearChargingProfile clears them (§5.5); a TxProfile ends with its transaction (§3.13.1).
ChargeDeck's own composite schedule is computed from the held rows
(domain/charging_profiles.py).
"""

from __future__ import annotations

import enum
from datetime import datetime

import msgspec
import sqlalchemy as sa

from chargedeck.domain.ids import ChargePointId, TransactionId
from chargedeck.store._convert import to_record, to_records
from chargedeck.store.engine import Database
from chargedeck.store.errors import NotFound
from chargedeck.store.schema import charging_profiles

_P = charging_profiles.c
_COLUMNS = (
    _P.id,
    _P.charge_point_id,
    _P.connector_id,
    _P.charging_profile_id,
    _P.purpose,
    _P.stack_level,
    _P.transaction_id,
    _P.profile,
    _P.origin,
    _P.status,
    _P.sent_at,
    _P.answered_at,
    _P.ended_at,
)


class ChargingProfileRecordStatus(enum.StrEnum):
    """Where a sent profile stands (the ``status`` column)."""

    UNANSWERED = "unanswered"
    """Sent; no answer came (time-out, disconnect): the charger may or may not hold it."""
    ACCEPTED = "accepted"
    """The charger answered Accepted (§7.11); it holds the profile until ``ended_at``."""
    REJECTED = "rejected"
    """Answered Rejected, or a CALLERROR other than NotImplemented/NotSupported."""
    NOT_SUPPORTED = "not_supported"
    """Answered NotSupported, or CALLERROR NotImplemented/NotSupported: no Smart Charging."""
    REPLACED = "replaced"
    """A later accepted profile took its id or its slot (§3.13.2)."""
    CLEARED = "cleared"
    """A ClearChargingProfile matched it (§5.5)."""


# Rows the charger may hold: what a replacement or a clear ends.
_MAY_BE_HELD = (
    ChargingProfileRecordStatus.ACCEPTED.value,
    ChargingProfileRecordStatus.UNANSWERED.value,
)


class ChargingProfileRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One SetChargingProfile as sent and what became of it.

    ``profile`` is the csChargingProfiles object as sent (OCPP JSON text, camelCase); ``origin``
    is operator, load_control or fail_safe. A TxProfile that ended with its transaction keeps
    its status (accepted) and gets ``ended_at``."""

    id: int
    charge_point_id: ChargePointId
    connector_id: int
    charging_profile_id: int
    purpose: str
    stack_level: int
    transaction_id: TransactionId | None
    profile: str
    origin: str
    status: ChargingProfileRecordStatus
    sent_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None

    @property
    def installed(self) -> bool:
        """The charger holds it: accepted and not ended since."""
        return self.status is ChargingProfileRecordStatus.ACCEPTED and self.ended_at is None


class ChargingProfiles:
    """Reads and writes of ``charging_profiles``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def record_sent(
        self,
        charge_point_id: ChargePointId,
        *,
        connector_id: int,
        charging_profile_id: int,
        purpose: str,
        stack_level: int,
        transaction_id: int | None,
        profile: str,
        origin: str,
        now: datetime,
    ) -> ChargingProfileRecord:
        """A profile about to be sent, status ``unanswered``."""
        statement = (
            sa.insert(charging_profiles)
            .values(
                charge_point_id=charge_point_id,
                connector_id=connector_id,
                charging_profile_id=charging_profile_id,
                purpose=purpose,
                stack_level=stack_level,
                transaction_id=transaction_id,
                profile=profile,
                origin=origin,
                status=ChargingProfileRecordStatus.UNANSWERED.value,
                sent_at=now,
            )
            .returning(*_COLUMNS)
        )
        async with self._db.write() as connection:
            return to_record(ChargingProfileRecord, (await connection.execute(statement)).one())

    async def record_answer(
        self, record_id: int, status: ChargingProfileRecordStatus, now: datetime
    ) -> ChargingProfileRecord:
        """Keep the charger's answer to a sent profile; raises ``NotFound``.

        Accepted also marks ``replaced``, in the same transaction, every other profile of that
        charger it may hold (accepted or unanswered, not ended) with the same chargingProfileId,
        or with the same connector, purpose and stack level (for a TxProfile: and the same
        transaction), as the charger replaces them (§3.13.2, §5.16.2)."""
        statement = (
            sa.update(charging_profiles)
            .where(_P.id == record_id)
            .values(status=status.value, answered_at=now)
            .returning(*_COLUMNS)
        )
        async with self._db.write() as connection:
            row = (await connection.execute(statement)).first()
            if row is None:
                raise NotFound(f"there is no sent charging profile {record_id}")
            record = to_record(ChargingProfileRecord, row)
            if status is ChargingProfileRecordStatus.ACCEPTED:
                await connection.execute(
                    sa.update(charging_profiles)
                    .where(
                        _P.charge_point_id == record.charge_point_id,
                        _P.id != record.id,
                        _P.status.in_(_MAY_BE_HELD),
                        _P.ended_at.is_(None),
                        _replaced_by(record),
                    )
                    .values(status=ChargingProfileRecordStatus.REPLACED.value, ended_at=now)
                )
        return record

    async def mark_cleared(
        self,
        charge_point_id: ChargePointId,
        *,
        charging_profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
        now: datetime,
    ) -> int:
        """Mark ``cleared`` the profiles of a charger that a ClearChargingProfile with these
        fields removes (§5.5, §6.13): the one with ``charging_profile_id`` when given, else every
        one that matches all the given filters (none: all). How many."""
        conditions = [
            _P.charge_point_id == charge_point_id,
            _P.status.in_(_MAY_BE_HELD),
            _P.ended_at.is_(None),
        ]
        if charging_profile_id is not None:
            conditions.append(_P.charging_profile_id == charging_profile_id)
        else:
            if connector_id is not None:
                conditions.append(_P.connector_id == connector_id)
            if purpose is not None:
                conditions.append(_P.purpose == purpose)
            if stack_level is not None:
                conditions.append(_P.stack_level == stack_level)
        statement = (
            sa.update(charging_profiles)
            .where(*conditions)
            .values(status=ChargingProfileRecordStatus.CLEARED.value, ended_at=now)
        )
        async with self._db.write() as connection:
            return (await connection.execute(statement)).rowcount

    async def end_transaction_profiles(
        self, charge_point_id: ChargePointId, transaction_id: int, now: datetime
    ) -> int:
        """A transaction ended: its TxProfiles are no longer held (§3.13.1: the charger deletes
        them). They keep their status and get ``ended_at``; how many. Every StopTransaction asks
        this before it is answered, and most transactions had no TxProfile: a one-statement read
        decides whether the write (a SQLite write lock) is needed at all."""
        held = (
            _P.charge_point_id == charge_point_id,
            _P.purpose == "TxProfile",
            _P.transaction_id == transaction_id,
            _P.status.in_(_MAY_BE_HELD),
            _P.ended_at.is_(None),
        )
        if not await self._db.query(sa.select(_P.id).where(*held).limit(1)):
            return 0
        statement = sa.update(charging_profiles).where(*held).values(ended_at=now)
        async with self._db.write() as connection:
            return (await connection.execute(statement)).rowcount

    async def get(self, record_id: int) -> ChargingProfileRecord | None:
        async with self._db.read() as connection:
            row = (await connection.execute(sa.select(*_COLUMNS).where(_P.id == record_id))).first()
        return None if row is None else to_record(ChargingProfileRecord, row)

    async def list_installed(
        self, charge_point_id: ChargePointId, connector_id: int | None = None
    ) -> list[ChargingProfileRecord]:
        """The profiles the charger holds (accepted, not ended), by connector, purpose and stack
        level; only those on ``connector_id`` when given."""
        statement = sa.select(*_COLUMNS).where(
            _P.charge_point_id == charge_point_id,
            _P.status == ChargingProfileRecordStatus.ACCEPTED.value,
            _P.ended_at.is_(None),
        )
        if connector_id is not None:
            statement = statement.where(_P.connector_id == connector_id)
        statement = statement.order_by(_P.connector_id, _P.purpose, _P.stack_level, _P.id)
        async with self._db.read() as connection:
            return to_records(ChargingProfileRecord, await connection.execute(statement))

    async def list_history(
        self, charge_point_id: ChargePointId, *, limit: int = 50, before_id: int | None = None
    ) -> list[ChargingProfileRecord]:
        """Everything sent to the charger, newest first, ``id < before_id`` when given (the cursor
        of the next page)."""
        statement = sa.select(*_COLUMNS).where(_P.charge_point_id == charge_point_id)
        if before_id is not None:
            statement = statement.where(_P.id < before_id)
        statement = statement.order_by(_P.id.desc()).limit(limit)
        async with self._db.read() as connection:
            return to_records(ChargingProfileRecord, await connection.execute(statement))

    async def next_profile_id(
        self, charge_point_id: ChargePointId, *, first: int, last: int
    ) -> int:
        """The chargingProfileId after the highest one ChargeDeck sent to the charger within
        ``first`` .. ``last`` (``first`` if none): a new id never sent before, so it replaces
        nothing by its id (§3.13.2). ValueError when the range is used up."""
        statement = sa.select(sa.func.max(_P.charging_profile_id)).where(
            _P.charge_point_id == charge_point_id,
            _P.charging_profile_id >= first,
            _P.charging_profile_id <= last,
        )
        async with self._db.read() as connection:
            highest = (await connection.execute(statement)).scalar_one_or_none()
        following = first if highest is None else int(highest) + 1
        if following > last:
            raise ValueError(
                f"every chargingProfileId from {first} to {last} was sent to charge point "
                f"{charge_point_id!r}; clear its profiles and give an id"
            )
        return following


def _replaced_by(record: ChargingProfileRecord) -> sa.ColumnElement[bool]:
    """The rows a charger drops when it accepts ``record`` (§3.13.2, §5.16.2)."""
    same_slot = sa.and_(
        _P.connector_id == record.connector_id,
        _P.purpose == record.purpose,
        _P.stack_level == record.stack_level,
    )
    if record.purpose == "TxProfile":
        same_slot = sa.and_(
            same_slot, _P.transaction_id.is_not_distinct_from(record.transaction_id)
        )
    return sa.or_(_P.charging_profile_id == record.charging_profile_id, same_slot)
