"""What chargers report through the Security extension (OCA whitepaper "Improved security for
OCPP 1.6-J", ed.3): security events (use case A04, SecurityEventNotification), log upload
statuses (N01, LogStatusNotification after a GetLog) and signed firmware statuses (L01,
SignedFirmwareStatusNotification after a SignedUpdateFirmware).

These are rare messages, so each write is its own transaction, committed before it returns
(the handler answers after it), not a row of the batch writer.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

import msgspec
import sqlalchemy as sa

from chargedeck.domain.ids import ChargePointId
from chargedeck.store._convert import to_records
from chargedeck.store.engine import Database
from chargedeck.store.schema import (
    log_status_notifications,
    security_events,
    signed_firmware_status_notifications,
)

RecordT = TypeVar("RecordT", bound=msgspec.Struct)


class SecurityEventRow(msgspec.Struct, frozen=True, kw_only=True):
    """A SecurityEventNotification.req. ``type`` is a string in the whitepaper's schema, not an
    enum, so names outside its event list are stored as sent; ``timestamp`` is the charger's."""

    charge_point_id: ChargePointId
    type: str
    timestamp: datetime
    received_at: datetime
    tech_info: str | None = None


class SecurityEventRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A stored security event."""

    id: int
    charge_point_id: ChargePointId
    type: str
    timestamp: datetime
    tech_info: str | None
    received_at: datetime


class RequestStatusRow(msgspec.Struct, frozen=True, kw_only=True):
    """A LogStatusNotification.req or SignedFirmwareStatusNotification.req: a status and the
    requestId of the GetLog / SignedUpdateFirmware it reports on (optional in the schemas)."""

    charge_point_id: ChargePointId
    status: str
    received_at: datetime
    request_id: int | None = None


class RequestStatusRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A stored LogStatusNotification or SignedFirmwareStatusNotification."""

    id: int
    charge_point_id: ChargePointId
    status: str
    request_id: int | None
    received_at: datetime


class SecurityRecords:
    """Reads and writes of ``security_events``, ``log_status_notifications`` and
    ``signed_firmware_status_notifications``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def add_security_event(self, row: SecurityEventRow) -> int:
        """Store a security event, committed before return; returns its id."""
        statement = (
            sa.insert(security_events)
            .values(
                charge_point_id=row.charge_point_id,
                type=row.type,
                timestamp=row.timestamp,
                tech_info=row.tech_info,
                received_at=row.received_at,
            )
            .returning(security_events.c.id)
        )
        async with self._db.write() as connection:
            return int((await connection.execute(statement)).scalar_one())

    async def list_security_events(
        self,
        charge_point_id: ChargePointId | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[SecurityEventRecord]:
        """Security events of one charger (or of all with None), newest first."""
        return await self._newest_first(
            security_events, SecurityEventRecord, charge_point_id, limit, before_id
        )

    async def add_log_status(self, row: RequestStatusRow) -> int:
        """Store a LogStatusNotification, committed before return; returns its id."""
        return await self._add_request_status(log_status_notifications, row)

    async def list_log_statuses(
        self, charge_point_id: ChargePointId | None = None, limit: int = 100
    ) -> list[RequestStatusRecord]:
        """LogStatusNotifications of one charger (or of all with None), newest first."""
        return await self._newest_first(
            log_status_notifications, RequestStatusRecord, charge_point_id, limit
        )

    async def add_signed_firmware_status(self, row: RequestStatusRow) -> int:
        """Store a SignedFirmwareStatusNotification, committed before return; returns its id."""
        return await self._add_request_status(signed_firmware_status_notifications, row)

    async def list_signed_firmware_statuses(
        self, charge_point_id: ChargePointId | None = None, limit: int = 100
    ) -> list[RequestStatusRecord]:
        """SignedFirmwareStatusNotifications of one charger (or of all with None), newest first."""
        return await self._newest_first(
            signed_firmware_status_notifications, RequestStatusRecord, charge_point_id, limit
        )

    async def _add_request_status(self, table: sa.Table, row: RequestStatusRow) -> int:
        statement = (
            sa.insert(table)
            .values(
                charge_point_id=row.charge_point_id,
                status=row.status,
                request_id=row.request_id,
                received_at=row.received_at,
            )
            .returning(table.c.id)
        )
        async with self._db.write() as connection:
            return int((await connection.execute(statement)).scalar_one())

    async def _newest_first(
        self,
        table: sa.Table,
        record: type[RecordT],
        charge_point_id: ChargePointId | None,
        limit: int,
        before_id: int | None = None,
    ) -> list[RecordT]:
        statement = sa.select(table).order_by(table.c.id.desc()).limit(limit)
        if charge_point_id is not None:
            statement = statement.where(table.c.charge_point_id == charge_point_id)
        if before_id is not None:  # the next page (cursor pagination)
            statement = statement.where(table.c.id < before_id)
        async with self._db.read() as connection:
            return to_records(record, await connection.execute(statement))
