"""Firmware files, update jobs and each charger's progress in a job (tables firmware_files,
firmware_jobs, firmware_job_chargers).

A file's bytes live on disk under ``data_dir`` (``path`` is relative to it); the database keeps
its name, size and sha256. A job is one UpdateFirmware (or SignedUpdateFirmware) of one file to
a selection of chargers, with the download URL's secret token and expiry; each charger of the job
has a row that follows its FirmwareStatusNotifications.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime

import msgspec
import sqlalchemy as sa

from chargedeck.domain.ids import ChargePointId
from chargedeck.store._convert import to_record, to_records
from chargedeck.store.engine import Database
from chargedeck.store.errors import NotFound
from chargedeck.store.schema import firmware_files, firmware_job_chargers, firmware_jobs

_F = firmware_files.c
_J = firmware_jobs.c
_C = firmware_job_chargers.c


class FirmwareJobKind(enum.StrEnum):
    UPDATE = "update"
    """OCPP 1.6 §5.19 UpdateFirmware."""
    SIGNED_UPDATE = "signed_update"
    """Security whitepaper ed.3 L01 SignedUpdateFirmware."""


class FirmwareChargerStatus(enum.StrEnum):
    """Where one charger of a job stands (the ``status`` column)."""

    PENDING = "pending"
    """Sent (or about to be); the charger has not reported a download yet."""
    DOWNLOADING = "downloading"
    DOWNLOADED = "downloaded"
    INSTALLING = "installing"
    """Also after the charger reported Installed while the BootNotification that confirms the
    expected firmware version has not come yet (``detail`` says so)."""
    INSTALLED = "installed"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self in (FirmwareChargerStatus.INSTALLED, FirmwareChargerStatus.FAILED)


ACTIVE_STATUSES = tuple(status.value for status in FirmwareChargerStatus if not status.final)


class FirmwareFileRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    name: str
    sha256: str
    size: int
    path: str
    """Relative to data_dir."""
    uploaded_at: datetime


class FirmwareJobRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    firmware_file_id: int
    kind: FirmwareJobKind
    retrieve_date: datetime
    retries: int | None
    retry_interval_s: int | None
    expected_version: str | None
    url_token: str
    url_expires_at: datetime
    created_at: datetime


class FirmwareJobChargerRecord(msgspec.Struct, frozen=True, kw_only=True):
    job_id: int
    charge_point_id: ChargePointId
    status: FirmwareChargerStatus
    detail: str | None
    request_id: int | None
    firmware_before: str | None
    firmware_after: str | None
    updated_at: datetime


_FILE_COLUMNS = (_F.id, _F.name, _F.sha256, _F.size, _F.path, _F.uploaded_at)
_JOB_COLUMNS = (
    _J.id,
    _J.firmware_file_id,
    _J.kind,
    _J.retrieve_date,
    _J.retries,
    _J.retry_interval_s,
    _J.expected_version,
    _J.url_token,
    _J.url_expires_at,
    _J.created_at,
)
_CHARGER_COLUMNS = (
    _C.job_id,
    _C.charge_point_id,
    _C.status,
    _C.detail,
    _C.request_id,
    _C.firmware_before,
    _C.firmware_after,
    _C.updated_at,
)


class Firmware:
    """Reads and writes of the firmware tables."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # ---- files ------------------------------------------------------------------------------

    async def add_file(
        self, *, name: str, sha256: str, size: int, path: str, now: datetime
    ) -> FirmwareFileRecord:
        statement = (
            sa.insert(firmware_files)
            .values(name=name, sha256=sha256, size=size, path=path, uploaded_at=now)
            .returning(*_FILE_COLUMNS)
        )
        async with self._db.write() as connection:
            return to_record(FirmwareFileRecord, (await connection.execute(statement)).one())

    async def get_file(self, file_id: int) -> FirmwareFileRecord | None:
        async with self._db.read() as connection:
            row = (
                await connection.execute(sa.select(*_FILE_COLUMNS).where(_F.id == file_id))
            ).first()
        return None if row is None else to_record(FirmwareFileRecord, row)

    async def list_files(self) -> list[FirmwareFileRecord]:
        """Every firmware file, newest first."""
        async with self._db.read() as connection:
            return to_records(
                FirmwareFileRecord,
                await connection.execute(sa.select(*_FILE_COLUMNS).order_by(_F.id.desc())),
            )

    # ---- jobs -------------------------------------------------------------------------------

    async def add_job(
        self,
        *,
        firmware_file_id: int,
        kind: FirmwareJobKind,
        retrieve_date: datetime,
        retries: int | None,
        retry_interval_s: int | None,
        expected_version: str | None,
        url_token: str,
        url_expires_at: datetime,
        chargers: Sequence[tuple[ChargePointId, str | None]],
        now: datetime,
    ) -> FirmwareJobRecord:
        """A job and one ``pending`` row per (charger, firmware it runs now), in one commit; a
        signed job's rows carry its id as their requestId."""
        statement = (
            sa.insert(firmware_jobs)
            .values(
                firmware_file_id=firmware_file_id,
                kind=kind.value,
                retrieve_date=retrieve_date,
                retries=retries,
                retry_interval_s=retry_interval_s,
                expected_version=expected_version,
                url_token=url_token,
                url_expires_at=url_expires_at,
                created_at=now,
            )
            .returning(*_JOB_COLUMNS)
        )
        async with self._db.write() as connection:
            job = to_record(FirmwareJobRecord, (await connection.execute(statement)).one())
            if chargers:
                await connection.execute(
                    sa.insert(firmware_job_chargers),
                    [
                        {
                            "job_id": job.id,
                            "charge_point_id": charge_point_id,
                            "status": FirmwareChargerStatus.PENDING.value,
                            # SignedUpdateFirmware's requestId is the job id (whitepaper L01).
                            "request_id": job.id if kind is FirmwareJobKind.SIGNED_UPDATE else None,
                            "firmware_before": firmware_before,
                            "updated_at": now,
                        }
                        for charge_point_id, firmware_before in chargers
                    ],
                )
        return job

    async def get_job(self, job_id: int) -> FirmwareJobRecord | None:
        async with self._db.read() as connection:
            row = (
                await connection.execute(sa.select(*_JOB_COLUMNS).where(_J.id == job_id))
            ).first()
        return None if row is None else to_record(FirmwareJobRecord, row)

    async def get_job_by_token(self, url_token: str) -> FirmwareJobRecord | None:
        async with self._db.read() as connection:
            row = (
                await connection.execute(sa.select(*_JOB_COLUMNS).where(_J.url_token == url_token))
            ).first()
        return None if row is None else to_record(FirmwareJobRecord, row)

    async def set_url_expires_at(self, job_id: int, url_expires_at: datetime) -> None:
        """End (or extend) the life of a job's download URL; raises ``NotFound``."""
        async with self._db.write() as connection:
            result = await connection.execute(
                sa.update(firmware_jobs)
                .where(_J.id == job_id)
                .values(url_expires_at=url_expires_at)
            )
        if result.rowcount == 0:
            raise NotFound(f"there is no firmware job {job_id}")

    async def list_jobs(
        self, *, limit: int | None = None, before_id: int | None = None
    ) -> list[FirmwareJobRecord]:
        """Jobs, newest first; ``id < before_id`` for the next page."""
        statement = sa.select(*_JOB_COLUMNS).order_by(_J.id.desc())
        if before_id is not None:
            statement = statement.where(_J.id < before_id)
        if limit is not None:
            statement = statement.limit(limit)
        async with self._db.read() as connection:
            return to_records(FirmwareJobRecord, await connection.execute(statement))

    # ---- chargers of a job --------------------------------------------------------------------

    async def list_job_chargers(self, job_ids: Sequence[int]) -> list[FirmwareJobChargerRecord]:
        """The charger rows of ``job_ids``, by job then charge point id."""
        if not job_ids:
            return []
        statement = (
            sa.select(*_CHARGER_COLUMNS)
            .where(_C.job_id.in_(list(job_ids)))
            .order_by(_C.job_id, _C.charge_point_id)
        )
        async with self._db.read() as connection:
            return to_records(FirmwareJobChargerRecord, await connection.execute(statement))

    async def active_job_charger(
        self,
        charge_point_id: ChargePointId,
        kind: FirmwareJobKind,
        request_id: int | None = None,
    ) -> FirmwareJobChargerRecord | None:
        """The newest row of this charger not yet installed or failed, in a job of ``kind``
        (and with ``request_id`` when given): the update a status notification is about."""
        statement = (
            sa.select(*_CHARGER_COLUMNS)
            .join(firmware_jobs, _J.id == _C.job_id)
            .where(
                _C.charge_point_id == charge_point_id,
                _C.status.in_(ACTIVE_STATUSES),
                _J.kind == kind.value,
            )
            .order_by(_C.job_id.desc())
            .limit(1)
        )
        if request_id is not None:
            statement = statement.where(_C.request_id == request_id)
        async with self._db.read() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else to_record(FirmwareJobChargerRecord, row)

    async def charge_points_with_active_jobs(self) -> set[ChargePointId]:
        """Every charger with a job row not yet installed or failed (one read)."""
        statement = sa.select(_C.charge_point_id).where(_C.status.in_(ACTIVE_STATUSES)).distinct()
        return {ChargePointId(row[0]) for row in await self._db.query(statement)}

    async def active_job_chargers(
        self, charge_point_id: ChargePointId
    ) -> list[tuple[FirmwareJobChargerRecord, FirmwareJobRecord]]:
        """This charger's rows not yet installed or failed, with their jobs (newest first)."""
        statement = (
            sa.select(*_CHARGER_COLUMNS, *(c.label(f"fj_{c.name}") for c in _JOB_COLUMNS))
            .join(firmware_jobs, _J.id == _C.job_id)
            .where(_C.charge_point_id == charge_point_id, _C.status.in_(ACTIVE_STATUSES))
            .order_by(_C.job_id.desc())
        )
        # Every BootNotification asks this before it is answered: the one-statement read path.
        rows = await self._db.query(statement)
        pairs = []
        split = len(_CHARGER_COLUMNS)
        for row in rows:
            values = tuple(row)
            charger = msgspec.convert(
                {str(c.name): v for c, v in zip(_CHARGER_COLUMNS, values[:split], strict=True)},
                FirmwareJobChargerRecord,
            )
            job = msgspec.convert(
                {str(c.name): v for c, v in zip(_JOB_COLUMNS, values[split:], strict=True)},
                FirmwareJobRecord,
            )
            pairs.append((charger, job))
        return pairs

    async def set_charger_status(
        self,
        job_id: int,
        charge_point_id: ChargePointId,
        status: FirmwareChargerStatus,
        now: datetime,
        *,
        detail: str | None = None,
        request_id: int | None = None,
        firmware_after: str | None = None,
    ) -> FirmwareJobChargerRecord:
        """Move one charger of a job to ``status`` with ``detail`` (None clears it); raises
        ``NotFound``."""
        values: dict[str, object] = {"status": status.value, "detail": detail, "updated_at": now}
        if request_id is not None:
            values["request_id"] = request_id
        if firmware_after is not None:
            values["firmware_after"] = firmware_after
        statement = (
            sa.update(firmware_job_chargers)
            .where(_C.job_id == job_id, _C.charge_point_id == charge_point_id)
            .values(**values)
            .returning(*_CHARGER_COLUMNS)
        )
        async with self._db.write() as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            raise NotFound(f"charge point {charge_point_id!r} is not in firmware job {job_id}")
        return to_record(FirmwareJobChargerRecord, row)
