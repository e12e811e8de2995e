"""Connector statuses: the current one per connector and the history (written by the batch
writer)."""

from __future__ import annotations

import sqlalchemy as sa

from chargedeck.domain.ids import ChargePointId, ConnectorId
from chargedeck.store._convert import to_records
from chargedeck.store.engine import Database
from chargedeck.store.records import ConnectorRecord, StatusRecord
from chargedeck.store.schema import connector_status_history, connectors


class Connectors:
    """Reads of ``connectors`` and ``connector_status_history``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def list_connectors(self, charge_point_id: ChargePointId) -> list[ConnectorRecord]:
        """The latest status of each connector that reported one, by connector id."""
        statement = (
            sa.select(connectors)
            .where(connectors.c.charge_point_id == charge_point_id)
            .order_by(connectors.c.connector_id)
        )
        async with self._db.read() as connection:
            return to_records(ConnectorRecord, await connection.execute(statement))

    async def status_history(
        self,
        charge_point_id: ChargePointId,
        connector_id: ConnectorId | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[StatusRecord]:
        """StatusNotifications of the charger (or of one connector), newest received first."""
        history = connector_status_history.c
        statement = (
            sa.select(connector_status_history)
            .where(history.charge_point_id == charge_point_id)
            .order_by(history.id.desc())
            .limit(limit)
        )
        if connector_id is not None:
            statement = statement.where(history.connector_id == connector_id)
        if before_id is not None:  # the next page: rows older than the last one shown
            statement = statement.where(history.id < before_id)
        async with self._db.read() as connection:
            return to_records(StatusRecord, await connection.execute(statement))
