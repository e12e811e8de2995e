"""Transactions: idempotent start, stop that never refuses, and their meter values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from chargedeck.domain.ids import ChargePointId, ConnectorId, TransactionId
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
from chargedeck.store.schema import meter_values, stop_reconciliation, transactions
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
_STOP = (
    sa.update(transactions)
    .where(
        _T.id == sa.bindparam("p_transaction_id"),
        _T.charge_point_id == sa.bindparam("p_charge_point_id"),
        _T.stopped_at.is_(None),
    )
    .values(
        meter_stop=sa.bindparam("p_meter_stop"),
        stopped_at=sa.bindparam("p_stopped_at", type_=UtcDateTime()),
        stop_reason=sa.bindparam("p_stop_reason"),
        stop_id_tag=sa.bindparam("p_stop_id_tag"),
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
        reported by the outcome. The transactionData rows are attached to the stopped transaction
        (its id and connector; the caller's connector when the transaction is unknown) with
        source StopTransaction. An exact repeat of the stop that closed the transaction (same
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
