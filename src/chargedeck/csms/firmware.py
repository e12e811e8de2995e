"""Firmware updates as jobs (OCPP 1.6 §5.19 UpdateFirmware, §4.5 FirmwareStatusNotification;
security whitepaper ed.3 L01 SignedUpdateFirmware / SignedFirmwareStatusNotification).

A firmware file is stored under ``data_dir/firmware/`` with its sha256. A job sends it to a
selection of chargers with a download URL on ChargeDeck's own file endpoint
(``<files_base_url>/firmware/<token>/<name>``) that stops working after ``firmware_url_ttl_s``.
Each charger of the job goes pending -> downloading -> downloaded -> installing -> installed, or
failed; a plain FirmwareStatusNotification carries no request id, so it belongs to the charger's
newest unfinished plain job; a signed one names its job by requestId (= the job id).

With an ``expected_version``, "Installed" alone is not success: chargers report Installed before
or after the reboot (1.6 leaves the order open), so the job is installed once a BootNotification
reports that version, and failed when the charger said Installed and boots with another one.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import urllib.parse
import uuid
import weakref
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from chargedeck.csms.commands import CommandError, send_command
from chargedeck.csms.context import CsmsServices
from chargedeck.csms.files import data_path, safe_file_name, save_stream
from chargedeck.csms.stations import ChargePointDisconnected
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId
from chargedeck.ocpp.errors import CallErrorReceived, CallTimeout, InvalidResponse
from chargedeck.ocpp.v16.enums import FirmwareStatus, SignedFirmwareStatus, UpdateFirmwareStatus
from chargedeck.ocpp.v16.firmware import UpdateFirmwareRequest
from chargedeck.ocpp.v16.security import SignedUpdateFirmwareRequest, SignedUpdateFirmwareResponse
from chargedeck.ocpp.v16.types import FirmwareType
from chargedeck.store.firmware import (
    FirmwareChargerStatus,
    FirmwareFileRecord,
    FirmwareJobChargerRecord,
    FirmwareJobKind,
    FirmwareJobRecord,
)

log = logging.getLogger(__name__)

MAX_FIRMWARE_BYTES: Final = 1024 * 1024 * 1024
"""Largest firmware image accepted (1 GiB): wallbox images are tens of MB, Linux-based
chargers' full images a few hundred MB."""

WAITING_FOR_BOOT: Final = "charger reported Installed; waiting for a BootNotification with {}"

_STATUS_OF: Final[dict[str, FirmwareChargerStatus]] = {
    # OCPP 1.6 §7.25 FirmwareStatus and whitepaper FirmwareStatusEnumType; Installed is handled
    # apart (it may need the boot), Idle says nothing about a job (§5.17: trigger answers only).
    "Downloading": FirmwareChargerStatus.DOWNLOADING,
    "DownloadScheduled": FirmwareChargerStatus.PENDING,
    "DownloadPaused": FirmwareChargerStatus.DOWNLOADING,
    "Downloaded": FirmwareChargerStatus.DOWNLOADED,
    "SignatureVerified": FirmwareChargerStatus.DOWNLOADED,
    "InstallScheduled": FirmwareChargerStatus.INSTALLING,
    "Installing": FirmwareChargerStatus.INSTALLING,
    "InstallRebooting": FirmwareChargerStatus.INSTALLING,
    "DownloadFailed": FirmwareChargerStatus.FAILED,
    "InstallationFailed": FirmwareChargerStatus.FAILED,
    "InstallVerificationFailed": FirmwareChargerStatus.FAILED,
    "InvalidSignature": FirmwareChargerStatus.FAILED,
}


class FirmwareJobRefused(Exception):
    """A job that cannot be made as asked; the sentence says what to change."""


@dataclass(frozen=True)
class Selection:
    """Which chargers a job goes to: these ids, or every registered charger of this model
    and/or running this firmware version. (Sites do not exist yet.)"""

    charge_point_ids: Sequence[ChargePointId] = ()
    model: str | None = None
    firmware_version: str | None = None


@dataclass(frozen=True)
class SignedFirmware:
    """What SignedUpdateFirmware needs beyond the URL (whitepaper FirmwareType)."""

    signing_certificate: str
    signature: str


async def store_firmware_file(
    services: CsmsServices, name: str, chunks: AsyncIterable[bytes]
) -> FirmwareFileRecord:
    """Keep an uploaded firmware image under data_dir/firmware/ and record it with its sha256.

    Raises ``FileTooLarge`` over :data:`MAX_FIRMWARE_BYTES`."""
    safe = safe_file_name(name, "firmware.bin")
    relative = f"firmware/{uuid.uuid4().hex}/{safe}"
    size, sha256 = await save_stream(
        chunks,
        data_path(services.settings.data_dir, relative),
        MAX_FIRMWARE_BYTES,
        "MAX_FIRMWARE_BYTES",
    )
    record = await services.store.firmware.add_file(
        name=safe, sha256=sha256, size=size, path=relative, now=services.clock.now()
    )
    log.info("firmware file %d stored: %s, %d bytes, sha256 %s", record.id, safe, size, sha256)
    return record


def firmware_location(services: CsmsServices, job: FirmwareJobRecord, name: str) -> str:
    """The download URL of ``job`` (OCPP 1.6 UpdateFirmware.req location)."""
    return f"{services.files_base_url}/firmware/{job.url_token}/{urllib.parse.quote(name)}"


async def _selected(
    services: CsmsServices, selection: Selection
) -> list[tuple[ChargePointId, str | None]]:
    records = await services.store.charge_points.list_charge_points()
    if selection.charge_point_ids:
        by_id = {record.id: record for record in records}
        unknown = [i for i in selection.charge_point_ids if i not in by_id]
        if unknown:
            raise FirmwareJobRefused(f"unknown charge point(s): {', '.join(unknown)}")
        return [(i, by_id[i].firmware_version) for i in dict.fromkeys(selection.charge_point_ids)]
    if selection.model is None and selection.firmware_version is None:
        raise FirmwareJobRefused("choose charge_point_ids, or a model and/or a firmware_version")
    chosen = [
        (record.id, record.firmware_version)
        for record in records
        if record.registration is Registration.REGISTERED
        and (selection.model is None or record.model == selection.model)
        and (
            selection.firmware_version is None
            or record.firmware_version == selection.firmware_version
        )
    ]
    if not chosen:
        raise FirmwareJobRefused("no registered charge point matches the model/firmware_version")
    return chosen


async def start_firmware_job(
    services: CsmsServices,
    firmware_file_id: int,
    selection: Selection,
    *,
    retrieve_date: datetime | None = None,
    retries: int | None = None,
    retry_interval_s: int | None = None,
    expected_version: str | None = None,
    signed: SignedFirmware | None = None,
) -> FirmwareJobRecord:
    """Make a job and send its UpdateFirmware (or SignedUpdateFirmware) to every selected
    charger at once; a charger that cannot be reached or refuses is ``failed`` with why.

    Raises :class:`FirmwareJobRefused` (unknown file or charger, empty selection, no file
    endpoint)."""
    if not services.files_base_url:
        raise FirmwareJobRefused("the file endpoint is not running: chargers have no URL to use")
    firmware_file = await services.store.firmware.get_file(firmware_file_id)
    if firmware_file is None:
        raise FirmwareJobRefused(f"there is no firmware file {firmware_file_id}")
    chargers = await _selected(services, selection)
    now = services.clock.now()
    job = await services.store.firmware.add_job(
        firmware_file_id=firmware_file.id,
        kind=FirmwareJobKind.UPDATE if signed is None else FirmwareJobKind.SIGNED_UPDATE,
        retrieve_date=retrieve_date or now,
        retries=retries,
        retry_interval_s=retry_interval_s,
        expected_version=expected_version,
        url_token=secrets.token_urlsafe(24),
        url_expires_at=now + timedelta(seconds=services.settings.firmware_url_ttl_s),
        chargers=chargers,
        now=now,
    )
    (await _with_active_jobs(services)).update(charge_point_id for charge_point_id, _ in chargers)
    location = firmware_location(services, job, firmware_file.name)
    await asyncio.gather(
        *(
            _send(services, job, charge_point_id, location, signed)
            for charge_point_id, _ in chargers
        )
    )
    return job


async def _send(
    services: CsmsServices,
    job: FirmwareJobRecord,
    charge_point_id: ChargePointId,
    location: str,
    signed: SignedFirmware | None,
) -> None:
    refusal: str | None = None
    try:
        if signed is None:
            await send_command(
                services,
                charge_point_id,
                UpdateFirmwareRequest(
                    location=location,
                    retrieve_date=job.retrieve_date,
                    retries=job.retries,
                    retry_interval=job.retry_interval_s,
                ),
            )
        else:
            answer = await send_command(
                services,
                charge_point_id,
                SignedUpdateFirmwareRequest(
                    request_id=job.id,
                    retries=job.retries,
                    retry_interval=job.retry_interval_s,
                    firmware=FirmwareType(
                        location=location,
                        retrieve_date_time=job.retrieve_date,
                        signing_certificate=signed.signing_certificate,
                        signature=signed.signature,
                    ),
                ),
            )
            assert isinstance(answer, SignedUpdateFirmwareResponse)
            if answer.status is not UpdateFirmwareStatus.ACCEPTED:
                refusal = f"charger answered {answer.status.value} to SignedUpdateFirmware"
    except (
        CommandError,
        ChargePointDisconnected,
        CallErrorReceived,
        CallTimeout,
        InvalidResponse,
    ) as exc:
        refusal = str(exc)
    if refusal is None:
        return
    log.warning("firmware job %d: charge point %s: %s", job.id, charge_point_id, refusal)
    await services.store.firmware.set_charger_status(
        job.id, charge_point_id, FirmwareChargerStatus.FAILED, services.clock.now(), detail=refusal
    )


async def receive_firmware_status(
    services: CsmsServices,
    charge_point_id: ChargePointId,
    status: FirmwareStatus | SignedFirmwareStatus,
    request_id: int | None = None,
) -> FirmwareJobChargerRecord | None:
    """Move the job this notification is about (None: no job, or Idle)."""
    kind = FirmwareJobKind.UPDATE if request_id is None else FirmwareJobKind.SIGNED_UPDATE
    row = await services.store.firmware.active_job_charger(charge_point_id, kind, request_id)
    if row is None or status.value == "Idle":
        return None
    now = services.clock.now()
    if status.value == "Installed":
        job = await services.store.firmware.get_job(row.job_id)
        assert job is not None
        expected = job.expected_version
        if expected is None or row.firmware_after == expected:
            new, detail = FirmwareChargerStatus.INSTALLED, None
        else:
            new, detail = FirmwareChargerStatus.INSTALLING, WAITING_FOR_BOOT.format(expected)
    else:
        new = _STATUS_OF[status.value]
        detail = f"charger reported {status.value}" if new is FirmwareChargerStatus.FAILED else None
    if new is FirmwareChargerStatus.FAILED:
        log.warning("firmware job %d: charge point %s: %s", row.job_id, charge_point_id, detail)
    return await services.store.firmware.set_charger_status(
        row.job_id, charge_point_id, new, now, detail=detail
    )


_ACTIVE_JOBS: weakref.WeakKeyDictionary[object, asyncio.Task[set[ChargePointId]]] = (
    weakref.WeakKeyDictionary()
)
"""Per store: the chargers with an open firmware job, read once and kept up to date as jobs are
created here. Every BootNotification asked the store before it was answered: 28 % of the server's
time in a 10,000-charger reconnect storm (bench/fleet.py). A row that ended since only costs the
per-charger read it saves the others."""


async def _with_active_jobs(services: CsmsServices) -> set[ChargePointId]:
    task = _ACTIVE_JOBS.get(services.store)
    if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
        task = asyncio.get_running_loop().create_task(
            services.store.firmware.charge_points_with_active_jobs()
        )
        _ACTIVE_JOBS[services.store] = task
    return await asyncio.shield(task)


async def receive_boot_firmware(
    services: CsmsServices, charge_point_id: ChargePointId, firmware_version: str | None
) -> None:
    """A BootNotification's firmwareVersion confirms (or refutes) the charger's open jobs that
    expect a version and have reached the download."""
    if firmware_version is None or charge_point_id not in await _with_active_jobs(services):
        return
    now = services.clock.now()
    for row, job in await services.store.firmware.active_job_chargers(charge_point_id):
        expected = job.expected_version
        if expected is None or row.status is FirmwareChargerStatus.PENDING:
            continue
        if firmware_version == expected:
            await services.store.firmware.set_charger_status(
                job.id,
                charge_point_id,
                FirmwareChargerStatus.INSTALLED,
                now,
                firmware_after=firmware_version,
            )
            log.info("firmware job %d: charge point %s runs %s", job.id, charge_point_id, expected)
        elif row.detail == WAITING_FOR_BOOT.format(expected):
            detail = f"booted with firmware {firmware_version}, expected {expected}"
            log.warning("firmware job %d: charge point %s %s", job.id, charge_point_id, detail)
            await services.store.firmware.set_charger_status(
                job.id,
                charge_point_id,
                FirmwareChargerStatus.FAILED,
                now,
                detail=detail,
                firmware_after=firmware_version,
            )
        else:
            await services.store.firmware.set_charger_status(
                job.id,
                charge_point_id,
                row.status,
                now,
                detail=row.detail,
                firmware_after=firmware_version,
            )
