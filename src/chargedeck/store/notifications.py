"""DataTransfers and firmware/diagnostics status notifications (the statuses are written by the
batch writer; this module reads them)."""

from __future__ import annotations

from typing import TypeVar

import msgspec
import sqlalchemy as sa

from chargedeck.domain.ids import ChargePointId
from chargedeck.store._convert import to_records
from chargedeck.store.engine import Database
from chargedeck.store.records import (
    DataTransferRecord,
    DataTransferRow,
    DiagnosticsStatusRecord,
    FirmwareStatusRecord,
)
from chargedeck.store.schema import (
    data_transfers,
    diagnostics_status_notifications,
    firmware_status_notifications,
)

RecordT = TypeVar("RecordT", bound=msgspec.Struct)


class Notifications:
    """Reads and writes of ``data_transfers`` and the firmware/diagnostics status tables."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def record_data_transfer(self, row: DataTransferRow) -> int:
        """Store a DataTransfer, committed before return; returns its id."""
        statement = (
            sa.insert(data_transfers)
            .values(
                charge_point_id=row.charge_point_id,
                direction=row.direction.value,
                vendor_id=row.vendor_id,
                message_id=row.message_id,
                data=row.data,
                status=row.status,
                received_at=row.received_at,
            )
            .returning(data_transfers.c.id)
        )
        async with self._db.write() as connection:
            return int((await connection.execute(statement)).scalar_one())

    async def list_data_transfers(
        self, charge_point_id: ChargePointId, limit: int = 100
    ) -> list[DataTransferRecord]:
        """The charger's DataTransfers, newest first."""
        return await self._newest_first(data_transfers, DataTransferRecord, charge_point_id, limit)

    async def list_firmware_statuses(
        self, charge_point_id: ChargePointId, limit: int = 100
    ) -> list[FirmwareStatusRecord]:
        """The charger's FirmwareStatusNotifications, newest first."""
        return await self._newest_first(
            firmware_status_notifications, FirmwareStatusRecord, charge_point_id, limit
        )

    async def list_diagnostics_statuses(
        self, charge_point_id: ChargePointId, limit: int = 100
    ) -> list[DiagnosticsStatusRecord]:
        """The charger's DiagnosticsStatusNotifications, newest first."""
        return await self._newest_first(
            diagnostics_status_notifications, DiagnosticsStatusRecord, charge_point_id, limit
        )

    async def _newest_first(
        self, table: sa.Table, record: type[RecordT], charge_point_id: ChargePointId, limit: int
    ) -> list[RecordT]:
        statement = (
            sa.select(table)
            .where(table.c.charge_point_id == charge_point_id)
            .order_by(table.c.id.desc())
            .limit(limit)
        )
        async with self._db.read() as connection:
            return to_records(record, await connection.execute(statement))
