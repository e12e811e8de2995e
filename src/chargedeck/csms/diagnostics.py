"""Diagnostics and log uploads as jobs (OCPP 1.6 §5.9 GetDiagnostics, §4.4
DiagnosticsStatusNotification; security whitepaper ed.3 N01 GetLog, LogStatusNotification).

Each request gets an upload URL on ChargeDeck's file endpoint,
``<files_base_url>/diagnostics/<token>``, taking HTTP PUT (``.../<token>/<file name>``) and
multipart POST, as chargers do; or, asked for with protocol ``ftp`` when the FTP endpoint runs
(server/ftp.py), ``ftp://job-<id>:<token>@<host>:<port>/`` for chargers that only do FTP
(§8 allows FTP or HTTP(S) locations). The file arriving makes the job ``uploaded``; the charger's
notifications move it to ``uploading`` or ``failed``. A GetLog's requestId is the job id.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from chargedeck.csms.commands import CommandError, send_command
from chargedeck.csms.context import CsmsServices
from chargedeck.csms.files import FileTooLarge, data_path, safe_file_name, save_stream
from chargedeck.csms.stations import ChargePointDisconnected
from chargedeck.domain.ids import ChargePointId
from chargedeck.ocpp.errors import CallErrorReceived, CallTimeout, InvalidResponse
from chargedeck.ocpp.v16.enums import DiagnosticsStatus as OcppDiagnosticsStatus
from chargedeck.ocpp.v16.enums import LogStatus, LogType, UploadLogStatus
from chargedeck.ocpp.v16.firmware import GetDiagnosticsRequest, GetDiagnosticsResponse
from chargedeck.ocpp.v16.security import GetLogRequest, GetLogResponse
from chargedeck.ocpp.v16.types import LogParameters
from chargedeck.store.diagnostics import DiagnosticsJobRecord, DiagnosticsKind, DiagnosticsStatus

log = logging.getLogger(__name__)

_KIND_OF_LOG = {
    LogType.DIAGNOSTICS_LOG: DiagnosticsKind.DIAGNOSTICS_LOG,
    LogType.SECURITY_LOG: DiagnosticsKind.SECURITY_LOG,
}

# Charger statuses that mean no file will come (1.6 §7.24; whitepaper UploadLogStatusEnumType).
_FAILED = frozenset(
    {"UploadFailed", "UploadFailure", "BadMessage", "NotSupportedOperation", "PermissionDenied"}
)


TransferProtocol = Literal["http", "ftp"]
"""How the charger is asked to upload: the HTTP file endpoint or the FTP endpoint."""

_FTP_USER_PREFIX = "job-"


class DiagnosticsRefused(Exception):
    """A request that cannot be made; the sentence says why."""


@dataclass(frozen=True)
class DiagnosticsOutcome:
    job: DiagnosticsJobRecord
    charger_file_name: str | None
    """The file name the charger announced (None: it has no diagnostics, or it refused)."""


def ftp_user(job_id: int) -> str:
    """The FTP user name of a job; its password is the job's upload token."""
    return f"{_FTP_USER_PREFIX}{job_id}"


def parse_ftp_user(login: str) -> int | None:
    """The job id an FTP user name names (:func:`ftp_user`), or None."""
    digits = login.removeprefix(_FTP_USER_PREFIX)
    if digits == login or not digits.isascii() or not digits.isdigit():
        return None
    return int(digits)


def upload_location(
    services: CsmsServices, job: DiagnosticsJobRecord, protocol: TransferProtocol = "http"
) -> str:
    if protocol == "ftp":
        # The token is URL-safe base64 (secrets.token_urlsafe): no escaping in the userinfo.
        host_port = services.ftp_base_url.removeprefix("ftp://")
        return f"ftp://{ftp_user(job.id)}:{job.upload_token}@{host_port}/"
    return f"{services.files_base_url}/diagnostics/{job.upload_token}"


async def request_diagnostics(
    services: CsmsServices,
    charge_point_id: ChargePointId,
    *,
    start_time: datetime | None = None,
    stop_time: datetime | None = None,
    log_type: LogType | None = None,
    protocol: TransferProtocol = "http",
) -> DiagnosticsOutcome:
    """Send GetDiagnostics (or GetLog with ``log_type``) with a new upload URL, on the HTTP
    file endpoint or (``protocol="ftp"``) the FTP endpoint.

    Raises :class:`DiagnosticsRefused` when the endpoint asked for is not running. A charger
    that cannot be reached or refuses leaves the job ``failed`` and raises the error
    (``CommandError`` and the protocol errors, as ``send_command``)."""
    if not services.files_base_url:
        raise DiagnosticsRefused("the file endpoint is not running: chargers have no URL to use")
    if protocol == "ftp" and not services.ftp_base_url:
        raise DiagnosticsRefused(
            "FTP is not enabled (ftp_enabled is false): ask with protocol http, or start the "
            "server with ftp_enabled = true"
        )
    kind = DiagnosticsKind.DIAGNOSTICS if log_type is None else _KIND_OF_LOG[log_type]
    job = await services.store.diagnostics.add_job(
        charge_point_id, kind, secrets.token_urlsafe(24), services.clock.now()
    )
    location = upload_location(services, job, protocol)
    try:
        if log_type is None:
            answer = await send_command(
                services,
                charge_point_id,
                GetDiagnosticsRequest(
                    location=location, start_time=start_time, stop_time=stop_time
                ),
            )
            assert isinstance(answer, GetDiagnosticsResponse)
            file_name = answer.file_name
            if file_name is None:  # §6.26: no diagnostics available
                job = await services.store.diagnostics.set_status(
                    job.id,
                    DiagnosticsStatus.NO_DIAGNOSTICS,
                    services.clock.now(),
                    "the charger has no diagnostics to upload (GetDiagnostics without fileName)",
                )
        else:
            assert job.request_id is not None
            answer = await send_command(
                services,
                charge_point_id,
                GetLogRequest(
                    log_type=log_type,
                    request_id=job.request_id,
                    log=LogParameters(
                        remote_location=location,
                        oldest_timestamp=start_time,
                        latest_timestamp=stop_time,
                    ),
                ),
            )
            assert isinstance(answer, GetLogResponse)
            file_name = answer.filename
            if answer.status is LogStatus.REJECTED:
                job = await services.store.diagnostics.set_status(
                    job.id,
                    DiagnosticsStatus.FAILED,
                    services.clock.now(),
                    "the charger answered Rejected to GetLog",
                )
    except (
        CommandError,
        ChargePointDisconnected,
        CallErrorReceived,
        CallTimeout,
        InvalidResponse,
    ) as exc:
        await services.store.diagnostics.set_status(
            job.id, DiagnosticsStatus.FAILED, services.clock.now(), str(exc)
        )
        raise
    return DiagnosticsOutcome(job=job, charger_file_name=file_name)


async def receive_diagnostics_status(
    services: CsmsServices,
    charge_point_id: ChargePointId,
    status: OcppDiagnosticsStatus | UploadLogStatus,
    log_request_id: int | None = None,
) -> DiagnosticsJobRecord | None:
    """Move the job a DiagnosticsStatusNotification (the charger's newest open GetDiagnostics)
    or LogStatusNotification (by requestId) is about; None when there is none to move."""
    job = await services.store.diagnostics.active_job(
        charge_point_id, log_request_id=log_request_id
    )
    if job is None or job.status is DiagnosticsStatus.UPLOADED:
        return None  # the file is here: the charger's word no longer changes that
    now = services.clock.now()
    if status.value == "Uploading":
        return await services.store.diagnostics.set_status(job.id, DiagnosticsStatus.UPLOADING, now)
    if status.value in _FAILED:
        detail = job.detail or f"charger reported {status.value}"
        log.warning("diagnostics job %d: charge point %s: %s", job.id, charge_point_id, detail)
        return await services.store.diagnostics.set_status(
            job.id, DiagnosticsStatus.FAILED, now, detail
        )
    if status.value == "Uploaded":
        return await services.store.diagnostics.set_status(
            job.id,
            job.status,
            now,
            f"charger reported Uploaded, but no file reached {upload_location(services, job)}",
        )
    return None  # Idle: only an answer to a trigger


async def receive_upload(
    services: CsmsServices,
    job: DiagnosticsJobRecord,
    file_name: str,
    chunks: AsyncIterable[bytes],
) -> DiagnosticsJobRecord:
    """Store a charger's upload under data_dir/diagnostics/ and record it on ``job``.

    Raises ``FileTooLarge`` over ``max_upload_bytes``, after marking the job failed."""
    limit = services.settings.max_upload_bytes
    safe = safe_file_name(file_name, f"diagnostics-{job.id}")
    relative = f"diagnostics/{job.id}/{safe}"
    try:
        size, _ = await save_stream(
            chunks, data_path(services.settings.data_dir, relative), limit, "max_upload_bytes"
        )
    except FileTooLarge as exc:
        log.warning(
            "diagnostics job %d: upload from %s refused: %s", job.id, job.charge_point_id, exc
        )
        await services.store.diagnostics.set_status(
            job.id,
            DiagnosticsStatus.FAILED,
            services.clock.now(),
            f"upload refused: larger than max_upload_bytes ({limit} bytes)",
        )
        raise
    log.info(
        "diagnostics job %d: %s uploaded %s (%d bytes)", job.id, job.charge_point_id, safe, size
    )
    return await services.store.diagnostics.set_file(
        job.id, file_name=safe, file_size=size, file_path=relative, now=services.clock.now()
    )
