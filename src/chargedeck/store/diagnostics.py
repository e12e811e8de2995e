"""Diagnostics and log uploads asked of chargers (table diagnostics_jobs).

One row per GetDiagnostics (OCPP 1.6 §5.9) or GetLog (security whitepaper ed.3 N01): its upload
token (the secret part of the upload URL), the charger's progress, and the file once uploaded
(``file_path`` relative to ``data_dir``).
"""

from __future__ import annotations

import enum
from datetime import datetime

import msgspec
import sqlalchemy as sa

from chargedeck.domain.ids import ChargePointId
from chargedeck.store._convert import to_record, to_records
from chargedeck.store.engine import Database
from chargedeck.store.errors import NotFound
from chargedeck.store.schema import diagnostics_jobs

_D = diagnostics_jobs.c


class DiagnosticsKind(enum.StrEnum):
    DIAGNOSTICS = "diagnostics"
    """OCPP 1.6 GetDiagnostics."""
    DIAGNOSTICS_LOG = "diagnostics_log"
    SECURITY_LOG = "security_log"
    """GetLog with logType DiagnosticsLog / SecurityLog."""


class DiagnosticsStatus(enum.StrEnum):
    PENDING = "pending"
    """Asked; nothing uploaded yet."""
    UPLOADING = "uploading"
    UPLOADED = "uploaded"
    """The file is stored."""
    NO_DIAGNOSTICS = "no_diagnostics"
    """GetDiagnostics answered without a fileName: nothing to upload (§6.26)."""
    FAILED = "failed"


ACTIVE_STATUSES = (DiagnosticsStatus.PENDING.value, DiagnosticsStatus.UPLOADING.value)


class DiagnosticsJobRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    charge_point_id: ChargePointId
    kind: DiagnosticsKind
    request_id: int | None
    status: DiagnosticsStatus
    detail: str | None
    upload_token: str
    file_name: str | None
    file_size: int | None
    file_path: str | None
    requested_at: datetime
    updated_at: datetime


_COLUMNS = (
    _D.id,
    _D.charge_point_id,
    _D.kind,
    _D.request_id,
    _D.status,
    _D.detail,
    _D.upload_token,
    _D.file_name,
    _D.file_size,
    _D.file_path,
    _D.requested_at,
    _D.updated_at,
)


class Diagnostics:
    """Reads and writes of ``diagnostics_jobs``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def add_job(
        self,
        charge_point_id: ChargePointId,
        kind: DiagnosticsKind,
        upload_token: str,
        now: datetime,
    ) -> DiagnosticsJobRecord:
        """A ``pending`` job; a GetLog's requestId is the job id (set here, unique)."""
        statement = (
            sa.insert(diagnostics_jobs)
            .values(
                charge_point_id=charge_point_id,
                kind=kind.value,
                status=DiagnosticsStatus.PENDING.value,
                upload_token=upload_token,
                requested_at=now,
                updated_at=now,
            )
            .returning(*_COLUMNS)
        )
        async with self._db.write() as connection:
            job = to_record(DiagnosticsJobRecord, (await connection.execute(statement)).one())
            if kind is not DiagnosticsKind.DIAGNOSTICS:
                row = (
                    await connection.execute(
                        sa.update(diagnostics_jobs)
                        .where(_D.id == job.id)
                        .values(request_id=job.id)
                        .returning(*_COLUMNS)
                    )
                ).one()
                job = to_record(DiagnosticsJobRecord, row)
        return job

    async def get_job(self, job_id: int) -> DiagnosticsJobRecord | None:
        async with self._db.read() as connection:
            row = (await connection.execute(sa.select(*_COLUMNS).where(_D.id == job_id))).first()
        return None if row is None else to_record(DiagnosticsJobRecord, row)

    async def get_job_by_token(self, upload_token: str) -> DiagnosticsJobRecord | None:
        async with self._db.read() as connection:
            row = (
                await connection.execute(
                    sa.select(*_COLUMNS).where(_D.upload_token == upload_token)
                )
            ).first()
        return None if row is None else to_record(DiagnosticsJobRecord, row)

    async def active_job(
        self, charge_point_id: ChargePointId, *, log_request_id: int | None = None
    ) -> DiagnosticsJobRecord | None:
        """The newest pending/uploading GetDiagnostics job of this charger, or with
        ``log_request_id`` the GetLog job with that requestId (whatever its status)."""
        statement = sa.select(*_COLUMNS).where(_D.charge_point_id == charge_point_id)
        if log_request_id is None:
            statement = statement.where(
                _D.kind == DiagnosticsKind.DIAGNOSTICS.value, _D.status.in_(ACTIVE_STATUSES)
            )
        else:
            statement = statement.where(
                _D.kind != DiagnosticsKind.DIAGNOSTICS.value, _D.request_id == log_request_id
            )
        statement = statement.order_by(_D.id.desc()).limit(1)
        async with self._db.read() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else to_record(DiagnosticsJobRecord, row)

    async def list_jobs(
        self,
        *,
        charge_point_id: ChargePointId | None = None,
        limit: int | None = None,
        before_id: int | None = None,
    ) -> list[DiagnosticsJobRecord]:
        """Jobs, newest first; ``id < before_id`` for the next page."""
        statement = sa.select(*_COLUMNS).order_by(_D.id.desc())
        if charge_point_id is not None:
            statement = statement.where(_D.charge_point_id == charge_point_id)
        if before_id is not None:
            statement = statement.where(_D.id < before_id)
        if limit is not None:
            statement = statement.limit(limit)
        async with self._db.read() as connection:
            return to_records(DiagnosticsJobRecord, await connection.execute(statement))

    async def set_status(
        self, job_id: int, status: DiagnosticsStatus, now: datetime, detail: str | None = None
    ) -> DiagnosticsJobRecord:
        """Raises ``NotFound``."""
        return await self._update(job_id, now, status=status.value, detail=detail)

    async def set_file(
        self, job_id: int, *, file_name: str, file_size: int, file_path: str, now: datetime
    ) -> DiagnosticsJobRecord:
        """The uploaded file is stored: status ``uploaded``. Raises ``NotFound``."""
        return await self._update(
            job_id,
            now,
            status=DiagnosticsStatus.UPLOADED.value,
            detail=None,
            file_name=file_name,
            file_size=file_size,
            file_path=file_path,
        )

    async def _update(self, job_id: int, now: datetime, **values: object) -> DiagnosticsJobRecord:
        statement = (
            sa.update(diagnostics_jobs)
            .where(_D.id == job_id)
            .values(updated_at=now, **values)
            .returning(*_COLUMNS)
        )
        async with self._db.write() as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            raise NotFound(f"there is no diagnostics job {job_id}")
        return to_record(DiagnosticsJobRecord, row)
