"""Transactions: idempotent start, stop that never refuses, and their meter values."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from chargedeck.domain.ids import ChargePointId, ConnectorId, IdTag, TransactionId
from chargedeck.domain.transactions import CLOSED_BY_CHARGEDECK, Reconciliation
from chargedeck.store._convert import to_record, to_records
from chargedeck.store.engine import Database, dialect_insert
from chargedeck.store.records import (
    MeterValueRecord,
    MeterValueRow,
    MeterValueSource,
    ReconciliationKind,
    StartTransactionRecord,
    StopOutcome,
    StopReconciliationRecord,
    StopTransactionRecord,
    TransactionRecord,
)
from chargedeck.store.schema import (
    charge_points,
    id_tags,
    meter_values,
    stop_reconciliation,
    transactions,
)
from chargedeck.store.types import UtcDateTime

_T = transactions.c
_START_KEY = (_T.charge_point_id, _T.connector_id, _T.id_tag, _T.meter_start, _T.started_at)
_SELECT_BY_START_KEY = sa.select(_T.id).where(
    _T.charge_point_id == sa.bindparam("charge_point_id"),
    _T.connector_id == sa.bindparam("connector_id"),
    _T.id_tag == sa.bindparam("id_tag"),
    _T.meter_start == sa.bindparam("meter_start"),
    _T.started_at == sa.bindparam("started_at"),
)
_SELECT_ONE = sa.select(transactions).where(_T.id == sa.bindparam("id"))
# Closes an open transaction, or one ChargeDeck closed by reconciliation: the charger's own
# StopTransaction (a hard reset may send it after the next Boot, OCPP 1.6 §5.14) replaces the
# last reading ChargeDeck closed it with, and the transaction is marked corrected_by_stop.
_STOP = (
    sa.update(transactions)
    .where(
        _T.id == sa.bindparam("p_transaction_id"),
        _T.charge_point_id == sa.bindparam("p_charge_point_id"),
        sa.or_(_T.stopped_at.is_(None), _T.reconciliation.in_(sorted(CLOSED_BY_CHARGEDECK))),
    )
    .values(
        meter_stop=sa.bindparam("p_meter_stop"),
        stopped_at=sa.bindparam("p_stopped_at", type_=UtcDateTime()),
        stop_reason=sa.bindparam("p_stop_reason"),
        stop_id_tag=sa.bindparam("p_stop_id_tag"),
        reconciliation=sa.case(
            (_T.stopped_at.is_(None), _T.reconciliation),
            else_=sa.literal(Reconciliation.CORRECTED_BY_STOP.value),
        ),
        updated_at=sa.bindparam("p_now", type_=UtcDateTime()),
    )
    .returning(_T.connector_id)
)
_SELECT_STOPPED = sa.select(_T.connector_id, _T.meter_stop, _T.stopped_at).where(
    _T.id == sa.bindparam("p_transaction_id"),
    _T.charge_point_id == sa.bindparam("p_charge_point_id"),
)


def meter_value_params(
    rows: Sequence[MeterValueRow], source: MeterValueSource
) -> list[dict[str, Any]]:
    """Bind parameters for one executemany INSERT into ``meter_values``."""
    return [
        {
            "charge_point_id": row.charge_point_id,
            "connector_id": row.connector_id,
            "transaction_id": row.transaction_id,
            "timestamp": row.timestamp,
            "sampled_values": row.sampled_values,
            "energy_wh": row.energy_wh,
            "source": source.value,
            "received_at": row.received_at,
        }
        for row in rows
    ]


class Transactions:
    """Reads and writes of ``transactions``, their ``meter_values`` and ``stop_reconciliation``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def start_transaction(
        self, start: StartTransactionRecord, now: datetime
    ) -> tuple[TransactionId, bool]:
        """Store a StartTransaction; committed before return (DESIGN §6: before the reply).

        Returns the transaction id and whether this call created it: a repeated request with the
        same charger, connector, id tag, meterStart and timestamp gets the id the first one got
        (DESIGN §6 idempotence), also when both race: the unique constraint decides.
        Raises ``ConstraintViolation`` if the charger is unknown or the ids left the int32 range.
        """
        key = {
            "charge_point_id": start.charge_point_id,
            "connector_id": start.connector_id,
            "id_tag": start.id_tag,
            "meter_start": start.meter_start,
            "started_at": start.started_at,
        }
        insert = (
            dialect_insert(self._db.dialect_name, transactions)
            .values(
                **key,
                reservation_id=start.reservation_id,
                start_id_tag_status=start.start_id_tag_status,
                owner=start.owner,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=list(_START_KEY))
            .returning(_T.id)
        )
        async with self._db.write() as connection:
            created = (await connection.execute(insert)).scalar()
            if created is not None:
                return TransactionId(created), True
            existing = (await connection.execute(_SELECT_BY_START_KEY, key)).scalar_one()
        return TransactionId(existing), False

    async def stop_transaction(
        self,
        stop: StopTransactionRecord,
        transaction_data: Sequence[MeterValueRow],
        now: datetime,
    ) -> StopOutcome:
        """Close a transaction and store its transactionData, in one transaction committed before
        return (DESIGN §6).

        A stop for a transaction this charger does not have, or one already closed, is not an
        error (the charger would retry it forever): it is recorded in ``stop_reconciliation`` and
        reported by the outcome. A transaction ChargeDeck closed by reconciliation is closed
        again with the charger's reading, time and reason (outcome STOPPED, reconciliation
        ``corrected_by_stop``): the charger knows better than ChargeDeck's last reading.
        The transactionData rows are attached to the stopped transaction (its id and
        connector; the caller's connector when the transaction is unknown) with source
        StopTransaction. An exact repeat of the stop that closed the transaction (same
        meterStop and timestamp: the charger did not get our reply) does not store its
        transactionData twice.
        """
        params = {
            "p_transaction_id": stop.transaction_id,
            "p_charge_point_id": stop.charge_point_id,
        }
        async with self._db.write() as connection:
            stopped = (
                await connection.execute(
                    _STOP,
                    {
                        **params,
                        "p_meter_stop": stop.meter_stop,
                        "p_stopped_at": stop.stopped_at,
                        "p_stop_reason": stop.reason,
                        "p_stop_id_tag": stop.id_tag,
                        "p_now": now,
                    },
                )
            ).first()
            connector_id: int | None = None
            store_data = True
            if stopped is not None:
                outcome = StopOutcome.STOPPED
                connector_id = stopped.connector_id
            else:
                existing = (await connection.execute(_SELECT_STOPPED, params)).first()
                if existing is None:
                    outcome = StopOutcome.UNKNOWN_TRANSACTION
                else:
                    outcome = StopOutcome.ALREADY_STOPPED
                    connector_id = existing.connector_id
                    store_data = (existing.meter_stop, existing.stopped_at) != (
                        stop.meter_stop,
                        stop.stopped_at,
                    )
                await connection.execute(
                    sa.insert(stop_reconciliation).values(
                        charge_point_id=stop.charge_point_id,
                        transaction_id=stop.transaction_id,
                        id_tag=stop.id_tag,
                        meter_stop=stop.meter_stop,
                        timestamp=stop.stopped_at,
                        reason=stop.reason,
                        kind=ReconciliationKind(outcome.value).value,
                        received_at=now,
                    )
                )
            if transaction_data and store_data:
                rows = meter_value_params(transaction_data, MeterValueSource.STOP_TRANSACTION)
                for row in rows:
                    row["charge_point_id"] = stop.charge_point_id
                    row["transaction_id"] = stop.transaction_id
                    if connector_id is not None:
                        row["connector_id"] = connector_id
                await connection.execute(sa.insert(meter_values), rows)
        return outcome

    async def get_transaction(self, transaction_id: TransactionId) -> TransactionRecord | None:
        """The transaction, or None if unknown."""
        async with self._db.read() as connection:
            row = (await connection.execute(_SELECT_ONE, {"id": transaction_id})).first()
        return None if row is None else to_record(TransactionRecord, row)

    async def list_transactions(
        self,
        charge_point_id: ChargePointId | None = None,
        active: bool | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[TransactionRecord]:
        """Transactions newest first; pass the last id of a page as ``before_id`` for the next
        (cursor pagination, stable while new transactions arrive)."""
        statement = sa.select(transactions).order_by(_T.id.desc()).limit(limit)
        if charge_point_id is not None:
            statement = statement.where(_T.charge_point_id == charge_point_id)
        if active is True:
            statement = statement.where(_T.stopped_at.is_(None))
        elif active is False:
            statement = statement.where(_T.stopped_at.is_not(None))
        if before_id is not None:
            statement = statement.where(_T.id < before_id)
        async with self._db.read() as connection:
            return to_records(TransactionRecord, await connection.execute(statement))

    async def active_transaction_for_connector(
        self, charge_point_id: ChargePointId, connector_id: ConnectorId
    ) -> TransactionRecord | None:
        """The newest transaction on the connector that no StopTransaction closed yet."""
        statement = (
            sa.select(transactions)
            .where(
                _T.charge_point_id == charge_point_id,
                _T.connector_id == connector_id,
                _T.stopped_at.is_(None),
            )
            .order_by(_T.id.desc())
            .limit(1)
        )
        async with self._db.read() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else to_record(TransactionRecord, row)

    async def meter_values_for_transaction(
        self, transaction_id: TransactionId
    ) -> list[MeterValueRecord]:
        """Every MeterValue element stored for the transaction, in the charger's time order."""
        statement = (
            sa.select(meter_values)
            .where(meter_values.c.transaction_id == transaction_id)
            .order_by(meter_values.c.timestamp, meter_values.c.id)
        )
        async with self._db.read() as connection:
            return to_records(MeterValueRecord, await connection.execute(statement))

    async def meter_values_page(
        self, transaction_id: TransactionId, *, after_id: int | None, limit: int
    ) -> list[MeterValueRecord]:
        """Up to ``limit`` of the transaction's MeterValue elements in the order they were
        stored; pass the last id of a page as ``after_id`` for the next (cursor pagination, stable
        while the session keeps sending)."""
        statement = (
            sa.select(meter_values)
            .where(meter_values.c.transaction_id == transaction_id)
            .order_by(meter_values.c.id)
            .limit(limit)
        )
        if after_id is not None:
            statement = statement.where(meter_values.c.id > after_id)
        async with self._db.read() as connection:
            return to_records(MeterValueRecord, await connection.execute(statement))

    async def list_stop_reconciliations(
        self, charge_point_id: ChargePointId | None = None, limit: int = 100
    ) -> list[StopReconciliationRecord]:
        """StopTransactions that closed nothing, newest first, for the operator to check."""
        statement = (
            sa.select(stop_reconciliation).order_by(stop_reconciliation.c.id.desc()).limit(limit)
        )
        if charge_point_id is not None:
            statement = statement.where(stop_reconciliation.c.charge_point_id == charge_point_id)
        async with self._db.read() as connection:
            return to_records(StopReconciliationRecord, await connection.execute(statement))

    # ---- reconciliation (csms/reconciliation.py) ------------------------------------------

    async def open_transactions(
        self, charge_point_id: ChargePointId, *, received_until: datetime | None = None
    ) -> list[TransactionRecord]:
        """The charger's transactions no StopTransaction closed yet, oldest first; with
        ``received_until``, only those whose StartTransaction arrived by then (a boot must not
        close a session that started after it)."""
        statement = (
            sa.select(transactions)
            .where(_T.charge_point_id == charge_point_id, _T.stopped_at.is_(None))
            .order_by(_T.id)
        )
        if received_until is not None:
            statement = statement.where(_T.created_at <= received_until)
        async with self._db.read() as connection:
            return to_records(TransactionRecord, await connection.execute(statement))

    async def open_transactions_of(
        self, charge_point_ids: Sequence[ChargePointId]
    ) -> dict[ChargePointId, list[TransactionRecord]]:
        """The open transactions of many chargers at once, oldest first per charger (a reconnect
        storm checks thousands of chargers: one read per few hundred instead of one each)."""
        found: dict[ChargePointId, list[TransactionRecord]] = {}
        ids = list(dict.fromkeys(charge_point_ids))
        async with self._db.read() as connection:
            for first in range(0, len(ids), _IN_LIST_MAX):
                statement = (
                    sa.select(transactions)
                    .where(
                        _T.charge_point_id.in_(ids[first : first + _IN_LIST_MAX]),
                        _T.stopped_at.is_(None),
                    )
                    .order_by(_T.id)
                )
                for record in to_records(TransactionRecord, await connection.execute(statement)):
                    found.setdefault(record.charge_point_id, []).append(record)
        return found

    async def last_register_reading(
        self, transaction: TransactionRecord
    ) -> tuple[datetime, int] | None:
        """The highest Energy.Active.Import.Register reading stored for the transaction by its
        charger, and when it was taken (the latest time it read that much); None if there is
        none at or above meterStart. Readings below meterStart are a register dropping to 0
        (field notes §3, ``lbbrhzn/ocpp#1756``), not the session's end."""
        mv = meter_values.c
        statement = (
            sa.select(mv.timestamp, mv.energy_wh)
            .where(
                mv.transaction_id == transaction.id,
                mv.charge_point_id == transaction.charge_point_id,
                mv.energy_wh >= transaction.meter_start,
            )
            .order_by(mv.energy_wh.desc(), mv.timestamp.desc())
            .limit(1)
        )
        async with self._db.read() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else (row.timestamp, int(row.energy_wh))

    async def close_by_reconciliation(
        self,
        transaction: TransactionRecord,
        *,
        kind: Reconciliation,
        meter_stop: int | None,
        stopped_at: datetime,
        stop_reason: str,
        now: datetime,
    ) -> bool:
        """Close a transaction that no StopTransaction closed, as ChargeDeck's ``kind`` of
        reconciliation; committed before return. ``meter_stop`` None: no reading after
        meterStart, the energy is unknown. False if it was closed meanwhile (nothing changed)."""
        return await self._update_open(
            transaction,
            meter_stop=meter_stop,
            stopped_at=stopped_at,
            stop_reason=stop_reason,
            reconciliation=kind.value,
            reconciled_at=now,
            updated_at=now,
        )

    async def mark_recovered(self, transaction: TransactionRecord, now: datetime) -> bool:
        """Note that the charger still reported the open transaction after reconnecting
        without a boot; committed before return. False if it was closed meanwhile."""
        return await self._update_open(
            transaction,
            reconciliation=Reconciliation.RECOVERED.value,
            reconciled_at=now,
            updated_at=now,
        )

    async def _update_open(self, transaction: TransactionRecord, **values: object) -> bool:
        """Set ``values`` on the transaction if it is still open; whether it was."""
        statement = (
            sa.update(transactions)
            .where(
                _T.id == transaction.id,
                _T.charge_point_id == transaction.charge_point_id,
                _T.stopped_at.is_(None),
            )
            .values(**values)
            .returning(_T.id)
        )
        async with self._db.write() as connection:
            return (await connection.execute(statement)).first() is not None

    async def meter_values_received_since(
        self, transaction: TransactionRecord, since: datetime
    ) -> bool:
        """Whether its charger sent MeterValues carrying the transaction's id since ``since``."""
        mv = meter_values.c
        statement = (
            sa.select(mv.id)
            .where(
                mv.transaction_id == transaction.id,
                mv.charge_point_id == transaction.charge_point_id,
                mv.received_at >= since,
            )
            .limit(1)
        )
        async with self._db.read() as connection:
            return (await connection.execute(statement)).first() is not None

    # ---- reports and exports (csms/reports.py) ---------------------------------------------

    async def import_sessions(self, sessions: Sequence[RecordedSession], now: datetime) -> None:
        """Store sessions recorded elsewhere (an import from another system, a benchmark) in
        one transaction, committed before return. A session whose start is already stored
        (same key as a repeated StartTransaction) is left as it is."""
        if not sessions:
            return
        rows = [
            {
                "charge_point_id": session.charge_point_id,
                "connector_id": session.connector_id,
                "id_tag": session.id_tag,
                "meter_start": session.meter_start,
                "started_at": session.started_at,
                "start_id_tag_status": session.start_id_tag_status,
                "owner": session.owner,
                "meter_stop": session.meter_stop,
                "stopped_at": session.stopped_at,
                "stop_reason": session.stop_reason,
                "created_at": now,
                "updated_at": now,
            }
            for session in sessions
        ]
        insert = dialect_insert(self._db.dialect_name, transactions).on_conflict_do_nothing(
            index_elements=list(_START_KEY)
        )
        async with self._db.write() as connection:
            await connection.execute(insert, rows)

    async def count_sessions(self, where: SessionFilter) -> int:
        """How many sessions ``where`` selects (for a progress bar)."""
        statement = (
            sa.select(sa.func.count()).select_from(_SESSIONS_FROM).where(*_conditions(where))
        )
        async with self._db.read() as connection:
            return int((await connection.execute(statement)).scalar_one())

    async def session_page(
        self, where: SessionFilter, *, after_id: int | None = None, limit: int = 500
    ) -> list[SessionRecord]:
        """Up to ``limit`` sessions ``where`` selects, by transaction id, after ``after_id``
        (keyset pagination: each page is one short read, stable while sessions are added),
        each with its energy register readings."""
        statement = (
            sa.select(*_SESSION_COLUMNS)
            .select_from(_SESSIONS_FROM)
            .where(*_conditions(where))
            .order_by(_T.id)
            .limit(limit)
        )
        if after_id is not None:
            statement = statement.where(_T.id > after_id)
        async with self._db.read() as connection:
            rows = (await connection.execute(statement)).all()
            if not rows:
                return []
            samples = await self._register_samples(connection, rows)
        return [
            SessionRecord(
                id=TransactionId(row.id),
                charge_point_id=ChargePointId(row.charge_point_id),
                connector_id=ConnectorId(row.connector_id),
                id_tag=IdTag(row.id_tag),
                owner=row.owner,
                group_id_tag=row.group_id_tag,
                meter_start=row.meter_start,
                meter_stop=row.meter_stop,
                started_at=row.started_at,
                stopped_at=row.stopped_at,
                stop_reason=row.stop_reason,
                reconciliation=row.reconciliation,
                reconciled_at=row.reconciled_at,
                tariff_id=row.tariff_id,
                register_samples=tuple(samples.get(row.id, ())),
            )
            for row in rows
        ]

    async def iter_sessions(
        self, where: SessionFilter, page_size: int = 500
    ) -> AsyncIterator[list[SessionRecord]]:
        """Every session ``where`` selects, a page at a time: memory holds one page, and no
        connection is held between pages (an export of 100,000 sessions never loads them all)."""
        after_id = None
        while True:
            page = await self.session_page(where, after_id=after_id, limit=page_size)
            if page:
                yield page
            if len(page) < page_size:
                return
            after_id = page[-1].id

    async def register_samples(
        self, records: Sequence[TransactionRecord]
    ) -> dict[int, list[tuple[datetime, int]]]:
        """The energy register readings of each transaction, by id, in time order."""
        if not records:
            return {}
        async with self._db.read() as connection:
            return await self._register_samples(connection, records)

    @staticmethod
    async def _register_samples(
        connection: AsyncConnection, sessions: Sequence[Any]
    ) -> dict[int, list[tuple[datetime, int]]]:
        """Readings of the sessions (rows or records with ``id`` and ``charge_point_id``) that
        their own charger sent: a transaction id from another charger is not theirs."""
        mv = meter_values.c
        owners = {session.id: session.charge_point_id for session in sessions}
        statement = (
            sa.select(mv.transaction_id, mv.charge_point_id, mv.timestamp, mv.energy_wh)
            .where(mv.transaction_id.in_(list(owners)), mv.energy_wh.is_not(None))
            .order_by(mv.transaction_id, mv.timestamp, mv.id)
        )
        samples: dict[int, list[tuple[datetime, int]]] = {}
        for row in await connection.execute(statement):
            if owners[row.transaction_id] == row.charge_point_id:
                samples.setdefault(row.transaction_id, []).append((row.timestamp, row.energy_wh))
        return samples


class RecordedSession(msgspec.Struct, frozen=True, kw_only=True):
    """A session to import: its start and, when it ended, its stop (times tz-aware, Wh)."""

    charge_point_id: ChargePointId
    connector_id: ConnectorId
    id_tag: IdTag
    meter_start: int
    started_at: datetime
    meter_stop: int | None = None
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    owner: str | None = None
    start_id_tag_status: str = "Accepted"


class SessionFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which sessions a report covers: started in [started_from, started_before), and equal to
    every filter given (id tag and group ignore case, OCPP 1.6 §7.15)."""

    started_from: datetime | None = None
    started_before: datetime | None = None
    id_tag: str | None = None
    owner: str | None = None
    group: str | None = None
    """The parentIdTag of the session's id tag, as the id tag is registered now."""
    charge_point_id: ChargePointId | None = None


class SessionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A session for a report: the transaction, its id tag's group (parentIdTag), its charger's
    own tariff (None: the default applies) and its energy register readings (time, Wh)."""

    id: TransactionId
    charge_point_id: ChargePointId
    connector_id: ConnectorId
    id_tag: IdTag
    owner: str | None
    group_id_tag: str | None
    meter_start: int
    meter_stop: int | None
    started_at: datetime
    stopped_at: datetime | None
    stop_reason: str | None
    reconciliation: str | None
    reconciled_at: datetime | None
    tariff_id: int | None
    register_samples: tuple[tuple[datetime, int], ...] = ()


# Values in one IN (...) list: far below SQLite's 32,766 bound parameters, small enough for a
# quick plan on PostgreSQL.
_IN_LIST_MAX = 500

_SESSION_COLUMNS = (
    _T.id,
    _T.charge_point_id,
    _T.connector_id,
    _T.id_tag,
    _T.owner,
    id_tags.c.parent_id_tag.label("group_id_tag"),
    _T.meter_start,
    _T.meter_stop,
    _T.started_at,
    _T.stopped_at,
    _T.stop_reason,
    _T.reconciliation,
    _T.reconciled_at,
    charge_points.c.tariff_id,
)
# id_tags.id_tag_key is the upper-cased tag (store/id_tags.py): the session's tag matched
# without regard to case (OCPP 1.6 §7.15).
_SESSIONS_FROM = transactions.outerjoin(
    id_tags, id_tags.c.id_tag_key == sa.func.upper(_T.id_tag)
).outerjoin(charge_points, charge_points.c.id == _T.charge_point_id)


def _conditions(where: SessionFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if where.started_from is not None:
        conditions.append(_T.started_at >= where.started_from)
    if where.started_before is not None:
        conditions.append(_T.started_at < where.started_before)
    if where.id_tag is not None:
        conditions.append(sa.func.upper(_T.id_tag) == where.id_tag.upper())
    if where.owner is not None:
        conditions.append(_T.owner == where.owner)
    if where.group is not None:
        conditions.append(sa.func.upper(id_tags.c.parent_id_tag) == where.group.upper())
    if where.charge_point_id is not None:
        conditions.append(_T.charge_point_id == where.charge_point_id)
    return conditions
