"""Firmware files, jobs and their chargers, and diagnostics jobs, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chargedeck.domain.ids import ChargePointId
from chargedeck.store import Store
from chargedeck.store.diagnostics import DiagnosticsKind, DiagnosticsStatus
from chargedeck.store.errors import NotFound
from chargedeck.store.firmware import FirmwareChargerStatus, FirmwareJobKind, FirmwareJobRecord

A, B = ChargePointId("CP-A"), ChargePointId("CP-B")


async def _job(store: Store, now: datetime, kind: FirmwareJobKind, token: str) -> FirmwareJobRecord:
    firmware_file = await store.firmware.add_file(
        name="fw.bin", sha256="ab" * 32, size=10, path="firmware/x/fw.bin", now=now
    )
    return await store.firmware.add_job(
        firmware_file_id=firmware_file.id,
        kind=kind,
        retrieve_date=now,
        retries=3,
        retry_interval_s=60,
        expected_version="2.0",
        url_token=token,
        url_expires_at=now + timedelta(days=7),
        chargers=[(A, "1.0"), (B, None)],
        now=now,
    )


async def test_a_job_starts_every_charger_pending_with_its_firmware_before(
    store: Store, now: datetime
) -> None:
    job = await _job(store, now, FirmwareJobKind.UPDATE, "t1")
    rows = await store.firmware.list_job_chargers([job.id])
    assert [(r.charge_point_id, r.status, r.firmware_before, r.request_id) for r in rows] == [
        (A, FirmwareChargerStatus.PENDING, "1.0", None),
        (B, FirmwareChargerStatus.PENDING, None, None),
    ]
    assert await store.firmware.get_job_by_token("t1") == job


async def test_a_signed_job_uses_its_id_as_request_id(store: Store, now: datetime) -> None:
    job = await _job(store, now, FirmwareJobKind.SIGNED_UPDATE, "t2")
    row = await store.firmware.active_job_charger(A, FirmwareJobKind.SIGNED_UPDATE, job.id)
    assert row is not None
    assert row.request_id == job.id
    assert await store.firmware.active_job_charger(A, FirmwareJobKind.UPDATE) is None


async def test_an_installed_charger_is_no_longer_active(store: Store, now: datetime) -> None:
    job = await _job(store, now, FirmwareJobKind.UPDATE, "t3")
    await store.firmware.set_charger_status(
        job.id, A, FirmwareChargerStatus.INSTALLED, now, firmware_after="2.0"
    )
    assert await store.firmware.active_job_charger(A, FirmwareJobKind.UPDATE) is None
    pairs = await store.firmware.active_job_chargers(B)
    assert [(row.charge_point_id, found.id) for row, found in pairs] == [(B, job.id)]


async def test_a_status_for_a_charger_outside_the_job_is_not_found(
    store: Store, now: datetime
) -> None:
    job = await _job(store, now, FirmwareJobKind.UPDATE, "t4")
    with pytest.raises(NotFound):
        await store.firmware.set_charger_status(
            job.id, ChargePointId("CP-OTHER"), FirmwareChargerStatus.FAILED, now
        )


async def test_a_get_log_job_gets_its_id_as_request_id(store: Store, now: datetime) -> None:
    diagnostics = await store.diagnostics.add_job(A, DiagnosticsKind.DIAGNOSTICS, "u1", now)
    security_log = await store.diagnostics.add_job(A, DiagnosticsKind.SECURITY_LOG, "u2", now)
    assert diagnostics.request_id is None
    assert security_log.request_id == security_log.id
    assert await store.diagnostics.active_job(A) == diagnostics
    assert await store.diagnostics.active_job(A, log_request_id=security_log.id) == security_log


async def test_an_uploaded_file_is_recorded_on_its_job(store: Store, now: datetime) -> None:
    job = await store.diagnostics.add_job(B, DiagnosticsKind.DIAGNOSTICS, "u3", now)
    stored = await store.diagnostics.set_file(
        job.id, file_name="diag.log", file_size=42, file_path="diagnostics/1/diag.log", now=now
    )
    assert (stored.status, stored.file_name, stored.file_size) == (
        DiagnosticsStatus.UPLOADED,
        "diag.log",
        42,
    )
    assert await store.diagnostics.active_job(B) is None
    assert [j.id for j in await store.diagnostics.list_jobs(charge_point_id=B)] == [job.id]
