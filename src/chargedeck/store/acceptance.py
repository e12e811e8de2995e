"""Acceptance check reports per charger and firmware version (table acceptance_reports).

The report is stored whole as JSON (``domain/acceptance.py`` AcceptanceReport); the charger,
its firmware version, the charger-model row and the time are columns, so reports of one
charger can be listed newest first and a firmware upgrade compared with the report before it.
"""

from __future__ import annotations

import msgspec
import sqlalchemy as sa

from chargedeck.domain.acceptance import AcceptanceReport
from chargedeck.domain.ids import ChargePointId
from chargedeck.store.engine import Database
from chargedeck.store.schema import acceptance_reports

_A = acceptance_reports.c
_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(AcceptanceReport)


class AcceptanceReports:
    """Reads and writes of ``acceptance_reports``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def add_report(self, report: AcceptanceReport) -> int:
        """Store ``report``; return its row id."""
        statement = (
            sa.insert(acceptance_reports)
            .values(
                charge_point_id=report.charge_point_id,
                firmware_version=report.firmware_version,
                charger_model=report.charger_model,
                ran_at=report.ran_at,
                report=_ENCODER.encode(report).decode(),
            )
            .returning(_A.id)
        )
        async with self._db.write() as connection:
            return int((await connection.execute(statement)).scalar_one())

    async def list_reports(
        self, charge_point_id: ChargePointId, limit: int = 50
    ) -> list[AcceptanceReport]:
        """The charger's reports, newest first."""
        statement = (
            sa.select(_A.report)
            .where(_A.charge_point_id == charge_point_id)
            .order_by(_A.id.desc())
            .limit(limit)
        )
        async with self._db.read() as connection:
            rows = (await connection.execute(statement)).scalars().all()
        return [_DECODER.decode(text) for text in rows]
