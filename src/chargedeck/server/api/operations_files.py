"""API handlers and bodies for firmware files, firmware update jobs and diagnostics uploads
(csms/firmware.py, csms/diagnostics.py). Routes: rows of ``ROUTES`` in app.py."""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from typing import Annotated

import msgspec
from python_multipart.exceptions import MultipartParseError
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from chargedeck.csms.diagnostics import (
    DiagnosticsRefused,
    TransferProtocol,
    request_diagnostics,
)
from chargedeck.csms.files import FileTooLarge, data_path
from chargedeck.csms.firmware import (
    FirmwareJobRefused,
    Selection,
    SignedFirmware,
    start_firmware_job,
    store_firmware_file,
)
from chargedeck.domain.ids import ChargePointId
from chargedeck.ocpp.v16.enums import LogType
from chargedeck.server.api.auth import Principal
from chargedeck.server.api.common import (
    ApiHandlers,
    ApiProblem,
    charger_errors,
    checked_charge_point_id,
    id_number,
    json_response,
    numeric_cursor,
    page_limit,
    path_charge_point_id,
    read_body,
)
from chargedeck.server.api.views import Page, View
from chargedeck.server.files import UploadRefused, first_file_part
from chargedeck.store.diagnostics import DiagnosticsJobRecord
from chargedeck.store.firmware import FirmwareJobChargerRecord, FirmwareJobRecord


class FirmwareFileView(View, frozen=True, kw_only=True):
    id: int
    name: str
    sha256: str
    size: int
    """Bytes."""
    uploaded_at: datetime


class FirmwareJobChargerView(View, frozen=True, kw_only=True):
    """One charger of a job: pending, downloading, downloaded, installing, installed, failed."""

    charge_point_id: str
    status: str
    detail: str | None
    request_id: int | None
    firmware_before: str | None
    firmware_after: str | None
    """As reported by the charger's BootNotification after the update."""
    updated_at: datetime


class FirmwareJobView(View, frozen=True, kw_only=True):
    id: int
    firmware_file_id: int
    kind: str
    """update (UpdateFirmware) or signed_update (SignedUpdateFirmware)."""
    retrieve_date: datetime
    retries: int | None
    retry_interval_s: int | None
    expected_version: str | None
    url_expires_at: datetime
    created_at: datetime
    chargers: list[FirmwareJobChargerView]


class SignedFirmwareBody(View, frozen=True, kw_only=True):
    signing_certificate: Annotated[str, msgspec.Meta(max_length=5500)]
    signature: Annotated[str, msgspec.Meta(max_length=800)]


class NewFirmwareJob(View, frozen=True, kw_only=True):
    """Body of POST /firmware-jobs: a file and the chargers (ids, or every registered charger
    of a model and/or firmware version; sites are not there yet)."""

    firmware_id: int
    charge_point_ids: list[str] | None = None
    model: str | None = None
    firmware_version: str | None = None
    retrieve_date: datetime | None = None
    """When the charger may start downloading (with offset); default now."""
    retries: Annotated[int, msgspec.Meta(ge=0)] | None = None
    retry_interval_s: Annotated[int, msgspec.Meta(ge=0)] | None = None
    expected_version: str | None = None
    """The firmwareVersion the charger must boot with for the update to count as installed."""
    signed: SignedFirmwareBody | None = None
    """Send SignedUpdateFirmware (security whitepaper L01) instead of UpdateFirmware."""


class NewDiagnosticsRequest(View, frozen=True, kw_only=True):
    """Body of POST /charge-points/{id}/diagnostics; ``log_type`` DiagnosticsLog or SecurityLog
    sends GetLog (security whitepaper N01) instead of GetDiagnostics."""

    start_time: datetime | None = None
    stop_time: datetime | None = None
    log_type: LogType | None = None
    protocol: TransferProtocol = "http"
    """http (the file endpoint: PUT or multipart POST) or ftp (the FTP endpoint, for chargers
    that only upload by FTP; 409 when ftp_enabled is false)."""


class DiagnosticsJobView(View, frozen=True, kw_only=True):
    """status: pending, uploading, uploaded, no_diagnostics, failed."""

    id: int
    charge_point_id: str
    kind: str
    request_id: int | None
    status: str
    detail: str | None
    file_name: str | None
    file_size: int | None
    requested_at: datetime
    updated_at: datetime


class DiagnosticsRequestedView(DiagnosticsJobView, frozen=True, kw_only=True):
    charger_file_name: str | None
    """The file name the charger announced in its answer."""


def _job_view(job: FirmwareJobRecord, chargers: list[FirmwareJobChargerRecord]) -> FirmwareJobView:
    return FirmwareJobView(
        id=job.id,
        firmware_file_id=job.firmware_file_id,
        kind=job.kind.value,
        retrieve_date=job.retrieve_date,
        retries=job.retries,
        retry_interval_s=job.retry_interval_s,
        expected_version=job.expected_version,
        url_expires_at=job.url_expires_at,
        created_at=job.created_at,
        chargers=[
            msgspec.convert(c, FirmwareJobChargerView, from_attributes=True)
            for c in chargers
            if c.job_id == job.id
        ],
    )


def _diagnostics_view(job: DiagnosticsJobRecord) -> DiagnosticsJobView:
    return msgspec.convert(job, DiagnosticsJobView, from_attributes=True)


class FileOperationHandlers(ApiHandlers):
    """Firmware files and jobs, diagnostics."""

    async def upload_firmware(self, request: Request, caller: Principal) -> Response:
        try:
            if request.headers.get("content-type", "").startswith("multipart/"):
                name, chunks = await first_file_part(request)
            else:
                name = request.query_params.get("name", "")
                if not name:
                    raise ApiProblem(
                        HTTPStatus.BAD_REQUEST,
                        "invalid-query",
                        "name the file: POST /firmware?name=FILE with the file as the body, or "
                        "send multipart/form-data",
                    )
                chunks = request.stream()
            record = await store_firmware_file(self.services, name, chunks)
        except UploadRefused as exc:
            raise ApiProblem(exc.status, "invalid-upload", str(exc)) from None
        except MultipartParseError as exc:
            raise ApiProblem(HTTPStatus.BAD_REQUEST, "invalid-upload", str(exc)) from None
        except FileTooLarge as exc:
            raise ApiProblem(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "file-too-large", str(exc)
            ) from None
        return json_response(msgspec.convert(record, FirmwareFileView, from_attributes=True), 201)

    async def list_firmware(self, request: Request, caller: Principal) -> Response:
        records = await self.services.store.firmware.list_files()
        return json_response(
            Page(
                items=[msgspec.convert(r, FirmwareFileView, from_attributes=True) for r in records]
            )
        )

    async def add_firmware_job(self, request: Request, caller: Principal) -> Response:
        body = await read_body(request, NewFirmwareJob)
        if body.retrieve_date is not None and body.retrieve_date.tzinfo is None:
            raise ApiProblem(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "invalid-body",
                "retrieve_date needs an offset, e.g. Z or +01:00",
            )
        ids = [
            checked_charge_point_id(i, HTTPStatus.UNPROCESSABLE_ENTITY)
            for i in body.charge_point_ids or []
        ]
        signed = (
            None
            if body.signed is None
            else SignedFirmware(body.signed.signing_certificate, body.signed.signature)
        )
        try:
            job = await start_firmware_job(
                self.services,
                body.firmware_id,
                Selection(ids, body.model, body.firmware_version),
                retrieve_date=body.retrieve_date,
                retries=body.retries,
                retry_interval_s=body.retry_interval_s,
                expected_version=body.expected_version,
                signed=signed,
            )
        except FirmwareJobRefused as exc:
            raise ApiProblem(
                HTTPStatus.UNPROCESSABLE_ENTITY, "firmware-job-refused", str(exc)
            ) from None
        chargers = await self.services.store.firmware.list_job_chargers([job.id])
        return json_response(_job_view(job, chargers), 201)

    async def list_firmware_jobs(self, request: Request, caller: Principal) -> Response:
        limit = page_limit(request)
        jobs = await self.services.store.firmware.list_jobs(
            limit=limit, before_id=numeric_cursor(request)
        )
        chargers = await self.services.store.firmware.list_job_chargers([j.id for j in jobs])
        next_cursor = str(jobs[-1].id) if len(jobs) == limit else None
        return json_response(
            Page(items=[_job_view(j, chargers) for j in jobs], next_cursor=next_cursor)
        )

    async def get_firmware_job(self, request: Request, caller: Principal) -> Response:
        job_id = id_number(request.path_params["job_id"], "firmware-job-id", "")
        job = await self.services.store.firmware.get_job(job_id)
        if job is None:
            raise ApiProblem(
                HTTPStatus.NOT_FOUND, "unknown-firmware-job", f"there is no firmware job {job_id}"
            )
        chargers = await self.services.store.firmware.list_job_chargers([job.id])
        return json_response(_job_view(job, chargers))

    async def request_diagnostics(self, request: Request, caller: Principal) -> Response:
        charge_point_id = path_charge_point_id(request)
        body = await read_body(request, NewDiagnosticsRequest)
        try:
            with charger_errors():
                outcome = await request_diagnostics(
                    self.services,
                    ChargePointId(charge_point_id),
                    start_time=body.start_time,
                    stop_time=body.stop_time,
                    log_type=body.log_type,
                    protocol=body.protocol,
                )
        except DiagnosticsRefused as exc:
            raise ApiProblem(HTTPStatus.CONFLICT, "diagnostics-refused", str(exc)) from None
        view = DiagnosticsRequestedView(
            **msgspec.structs.asdict(_diagnostics_view(outcome.job)),
            charger_file_name=outcome.charger_file_name,
        )
        return json_response(view, 201)

    async def list_diagnostics(self, request: Request, caller: Principal) -> Response:
        limit = page_limit(request)
        charge_point_id = request.query_params.get("charge_point_id")
        jobs = await self.services.store.diagnostics.list_jobs(
            charge_point_id=None if charge_point_id is None else ChargePointId(charge_point_id),
            limit=limit,
            before_id=numeric_cursor(request),
        )
        next_cursor = str(jobs[-1].id) if len(jobs) == limit else None
        return json_response(
            Page(items=[_diagnostics_view(j) for j in jobs], next_cursor=next_cursor)
        )

    async def download_diagnostics(self, request: Request, caller: Principal) -> Response:
        job_id = id_number(request.path_params["job_id"], "diagnostics-job-id", "")
        job = await self.services.store.diagnostics.get_job(job_id)
        if job is None or job.file_path is None or job.file_name is None:
            raise ApiProblem(
                HTTPStatus.NOT_FOUND,
                "no-diagnostics-file",
                f"diagnostics job {job_id} does not exist or has no uploaded file (yet)",
            )
        return FileResponse(
            data_path(self.services.settings.data_dir, job.file_path),
            media_type="application/octet-stream",
            filename=job.file_name,
        )
