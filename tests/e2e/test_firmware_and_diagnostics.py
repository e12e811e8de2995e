"""Firmware updates and diagnostics uploads end to end: a charger on the PyPI ``ocpp`` library
really downloads the firmware from the URL it is given and uploads its diagnostics to
ChargeDeck's file endpoint (OCPP 1.6 §5.19 UpdateFirmware, §5.9 GetDiagnostics; OCTT TC_044,
TC_045)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from ocpp.routing import on
from ocpp.v16 import call, call_result

from tests.support.ocpp_lib_charger import LibraryCharger, library_charger
from tests.support.server import ServerProcess, running_server

MAX_UPLOAD_BYTES = 4096
FIRMWARE = os.urandom(100_000)


@pytest.fixture(scope="module")
def files_server(
    tmp_path_factory: pytest.TempPathFactory, ocpp_transport: str
) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("files")
    with running_server(
        f"sqlite:///{folder / 'chargedeck.db'}",
        ["--unknown-charge-points", "accept", "--max-upload-bytes", str(MAX_UPLOAD_BYTES)],
        folder,
    ) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


class FirmwareCharger(LibraryCharger):
    """Downloads firmware with httpx and checks its sha256; uploads diagnostics with PUT (or
    multipart POST when ``multipart``) and reports each step."""

    expected_sha256 = hashlib.sha256(FIRMWARE).hexdigest()
    diagnostics = b"2026-03-01T10:00:00Z boot ok\n" * 10
    multipart = False
    mangle_url = False

    def __init__(self, charge_point_id: str, connection: Any) -> None:
        super().__init__(charge_point_id, connection)
        self.work: asyncio.Task[None] | None = None
        self.download_status: int | None = None
        self.upload_status: int | None = None

    async def status(self, message: Any) -> None:
        await self.call(message)

    @on("UpdateFirmware")
    def on_update_firmware(self, location: str, retrieve_date: str, **kwargs: Any) -> Any:
        self.received.append(("UpdateFirmware", {"location": location, **kwargs}))
        self.work = asyncio.create_task(self.update(location))
        return call_result.UpdateFirmware()

    async def update(self, location: str) -> None:
        await self.status(call.FirmwareStatusNotification(status="Downloading"))
        if self.mangle_url:
            location = location.replace("/firmware/", "/firmware/x")
        async with httpx.AsyncClient() as client:
            response = await client.get(location)
        self.download_status = response.status_code
        if response.status_code != 200:
            await self.status(call.FirmwareStatusNotification(status="DownloadFailed"))
            return
        assert hashlib.sha256(response.content).hexdigest() == self.expected_sha256
        for status in ("Downloaded", "Installing", "Installed"):
            await self.status(call.FirmwareStatusNotification(status=status))

    @on("GetDiagnostics")
    def on_get_diagnostics(self, location: str, **kwargs: Any) -> Any:
        self.received.append(("GetDiagnostics", {"location": location, **kwargs}))
        self.work = asyncio.create_task(self.upload(location))
        return call_result.GetDiagnostics(file_name="diag.log")

    async def upload(self, location: str) -> None:
        await self.status(call.DiagnosticsStatusNotification(status="Uploading"))
        async with httpx.AsyncClient() as client:
            if self.multipart:
                response = await client.post(
                    location, files={"file": ("diag.log", self.diagnostics, "text/plain")}
                )
            else:
                response = await client.put(f"{location}/diag.log", content=self.diagnostics)
        self.upload_status = response.status_code
        ok = response.status_code in (200, 201, 204)
        await self.status(
            call.DiagnosticsStatusNotification(status="Uploaded" if ok else "UploadFailed")
        )


class BrokenDownloadCharger(FirmwareCharger):
    mangle_url = True


class MultipartCharger(FirmwareCharger):
    multipart = True


class TooMuchCharger(FirmwareCharger):
    diagnostics = b"x" * (MAX_UPLOAD_BYTES + 1)


async def boot(charger: Any, firmware_version: str) -> None:
    await charger.call(
        call.BootNotification(
            charge_point_vendor="Wall Box Chargers",
            charge_point_model="PLP1-0-2-4",
            firmware_version=firmware_version,
        )
    )


async def upload_firmware(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/firmware", params={"name": "fw-2.0.bin"}, content=FIRMWARE)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["sha256"] == hashlib.sha256(FIRMWARE).hexdigest()
    return body


async def charger_of_job(client: httpx.AsyncClient, job_id: int, charge_point_id: str) -> Any:
    job = (await client.get(f"/firmware-jobs/{job_id}")).json()
    return next(c for c in job["chargers"] if c["charge_point_id"] == charge_point_id)


async def wait_for(predicate: Any, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_firmware_downloaded_installed_and_confirmed_by_boot(
    files_server: ServerProcess,
) -> None:
    async with files_server.async_api_client() as client:
        firmware = await upload_firmware(client)
        async with library_charger(files_server.ocpp_url, "FW-OK", FirmwareCharger) as charger:
            await boot(charger, "1.0")
            response = await client.post(
                "/firmware-jobs",
                json={
                    "firmware_id": firmware["id"],
                    "charge_point_ids": ["FW-OK"],
                    "expected_version": "2.0",
                    "retries": 2,
                    "retry_interval_s": 30,
                },
            )
            assert response.status_code == 201, response.text
            job_id = response.json()["id"]
            await wait_for(lambda: _done(charger))
            assert charger.download_status == 200
            before_boot = await charger_of_job(client, job_id, "FW-OK")
        assert before_boot["status"] == "installing"  # Installed, but not yet booted with 2.0
        async with library_charger(files_server.ocpp_url, "FW-OK", FirmwareCharger) as charger:
            await boot(charger, "2.0")
            row = await charger_of_job(client, job_id, "FW-OK")
    assert row["status"] == "installed"
    assert row["firmware_before"] == "1.0"
    assert row["firmware_after"] == "2.0"


async def _done(charger: FirmwareCharger) -> bool:
    return charger.work is not None and charger.work.done()


async def test_a_failed_download_shows_as_a_failed_job(files_server: ServerProcess) -> None:
    async with files_server.async_api_client() as client:
        firmware = await upload_firmware(client)
        async with library_charger(
            files_server.ocpp_url, "FW-BAD", BrokenDownloadCharger
        ) as charger:
            await boot(charger, "1.0")
            response = await client.post(
                "/firmware-jobs", json={"firmware_id": firmware["id"], "model": "PLP1-0-2-4"}
            )
            assert response.status_code == 201, response.text
            job_id = response.json()["id"]
            await wait_for(lambda: _done(charger))
            row = await charger_of_job(client, job_id, "FW-BAD")
    assert charger.download_status == 404
    assert row["status"] == "failed"
    assert row["detail"] == "charger reported DownloadFailed"


async def test_an_unknown_firmware_token_is_404_and_an_expired_url_is_410(
    files_server: ServerProcess,
) -> None:
    async with files_server.async_api_client() as client:
        firmware = await upload_firmware(client)
        async with library_charger(files_server.ocpp_url, "FW-LATE", FirmwareCharger) as charger:
            await boot(charger, "1.0")
            response = await client.post(
                "/firmware-jobs",
                json={"firmware_id": firmware["id"], "charge_point_ids": ["FW-LATE"]},
            )
            job_id = response.json()["id"]
            await wait_for(lambda: _done(charger))
    location = charger.received[0][1]["location"]
    await _expire_url(files_server.database_url, job_id)
    async with httpx.AsyncClient() as client:
        expired = await client.get(location)
        unknown = await client.get(location.replace("/firmware/", "/firmware/x"))
    assert expired.status_code == 410
    assert "expired" in expired.text
    assert unknown.status_code == 404


async def _expire_url(database_url: str, job_id: int) -> None:
    """End the job's URL in the server's store, as firmware_url_ttl_s passing would."""
    from chargedeck.clock import SystemClock
    from chargedeck.store import open_store

    store = await open_store(database_url)
    try:
        await store.firmware.set_url_expires_at(job_id, SystemClock().now())
    finally:
        await store.close()


async def _request_diagnostics(
    server: ServerProcess, charge_point_id: str, charger_class: type[FirmwareCharger]
) -> tuple[FirmwareCharger, dict[str, Any]]:
    async with server.async_api_client() as client:
        async with library_charger(server.ocpp_url, charge_point_id, charger_class) as charger:
            await boot(charger, "1.0")
            response = await client.post(f"/charge-points/{charge_point_id}/diagnostics", json={})
            assert response.status_code == 201, response.text
            assert response.json()["charger_file_name"] == "diag.log"
            await wait_for(lambda: _done(charger))
        jobs = await client.get("/diagnostics", params={"charge_point_id": charge_point_id})
    return charger, jobs.json()["items"][0]


async def test_diagnostics_uploaded_with_put_are_listed_and_downloadable(
    files_server: ServerProcess,
) -> None:
    charger, job = await _request_diagnostics(files_server, "DIAG-PUT", FirmwareCharger)
    assert charger.upload_status == 201
    assert (job["status"], job["file_name"], job["file_size"]) == (
        "uploaded",
        "diag.log",
        len(FirmwareCharger.diagnostics),
    )
    async with files_server.async_api_client() as client:
        download = await client.get(f"/diagnostics/{job['id']}/file")
    assert download.content == FirmwareCharger.diagnostics


async def test_diagnostics_uploaded_as_multipart_post_are_byte_identical(
    files_server: ServerProcess,
) -> None:
    charger, job = await _request_diagnostics(files_server, "DIAG-POST", MultipartCharger)
    assert charger.upload_status == 201
    async with files_server.async_api_client() as client:
        download = await client.get(f"/diagnostics/{job['id']}/file")
    assert download.content == MultipartCharger.diagnostics


async def test_an_upload_over_the_limit_is_413_and_the_job_failed(
    files_server: ServerProcess,
) -> None:
    charger, job = await _request_diagnostics(files_server, "DIAG-BIG", TooMuchCharger)
    assert charger.upload_status == 413
    assert job["status"] == "failed"
    assert (
        job["detail"] == f"upload refused: larger than max_upload_bytes ({MAX_UPLOAD_BYTES} bytes)"
    )
    assert job["file_name"] is None
