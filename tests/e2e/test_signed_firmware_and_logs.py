"""Signed firmware updates and log uploads end to end (security whitepaper ed.3 L01
SignedUpdateFirmware / SignedFirmwareStatusNotification, N01 GetLog / LogStatusNotification):
a charger on the PyPI ``ocpp`` library downloads the firmware from the URL it is given and uploads
its log to ChargeDeck's file endpoint; the jobs of csms/firmware.py and csms/diagnostics.py follow
it by requestId."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ocpp.routing import on
from ocpp.v16 import call, call_result

from tests.support.ocpp_lib_charger import LibraryCharger, library_charger
from tests.support.server import ServerProcess, running_server

FIRMWARE = os.urandom(50_000)
LOG = b"2026-03-01T10:00:00Z security event: settings changed\n" * 20


def _signing_certificate_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ChargeDeck firmware signer")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


SIGNED = {"signing_certificate": _signing_certificate_pem(), "signature": "MEUCIQDxsig"}


@pytest.fixture(scope="module")
def files_server(
    tmp_path_factory: pytest.TempPathFactory, ocpp_transport: str
) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("signed-files")
    with running_server(
        f"sqlite:///{folder / 'chargedeck.db'}", ["--unknown-charge-points", "accept"], folder
    ) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


class SecurityCharger(LibraryCharger):
    """Answers SignedUpdateFirmware (downloads the image, checks its sha256, reports each step
    with the request's requestId) and GetLog (PUTs its log, reports with the requestId)."""

    def __init__(self, charge_point_id: str, connection: Any) -> None:
        super().__init__(charge_point_id, connection)
        self.work: asyncio.Task[None] | None = None
        self.download_status: int | None = None
        self.upload_status: int | None = None

    @on("SignedUpdateFirmware")
    def on_signed_update_firmware(
        self, request_id: int, firmware: dict[str, Any], **kwargs: Any
    ) -> Any:
        self.received.append(
            ("SignedUpdateFirmware", {"request_id": request_id, "firmware": firmware, **kwargs})
        )
        self.work = asyncio.create_task(self.update(request_id, firmware["location"]))
        return call_result.SignedUpdateFirmware(status="Accepted")

    async def update(self, request_id: int, location: str) -> None:
        await self.call(
            call.SignedFirmwareStatusNotification(status="Downloading", request_id=request_id)
        )
        async with httpx.AsyncClient() as client:
            response = await client.get(location)
        self.download_status = response.status_code
        assert hashlib.sha256(response.content).digest() == hashlib.sha256(FIRMWARE).digest()
        for status in ("Downloaded", "SignatureVerified", "Installing", "Installed"):
            await self.call(
                call.SignedFirmwareStatusNotification(status=status, request_id=request_id)
            )

    @on("GetLog")
    def on_get_log(self, log: dict[str, Any], log_type: str, request_id: int, **kwargs: Any) -> Any:
        self.received.append(
            ("GetLog", {"log": log, "log_type": log_type, "request_id": request_id, **kwargs})
        )
        self.work = asyncio.create_task(self.upload(request_id, log["remote_location"]))
        return call_result.GetLog(status="Accepted", filename="security.log")

    async def upload(self, request_id: int, location: str) -> None:
        await self.call(call.LogStatusNotification(status="Uploading", request_id=request_id))
        async with httpx.AsyncClient() as client:
            response = await client.put(f"{location}/security.log", content=LOG)
        self.upload_status = response.status_code
        await self.call(call.LogStatusNotification(status="Uploaded", request_id=request_id))


async def boot(charger: Any, firmware_version: str) -> None:
    await charger.call(
        call.BootNotification(
            charge_point_vendor="Wall Box Chargers",
            charge_point_model="PLP1-0-2-4",
            firmware_version=firmware_version,
        )
    )


async def wait_until_done(charger: SecurityCharger, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while charger.work is None or not charger.work.done():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)
    charger.work.result()  # the charger's own asserts (sha256) surface here


async def start_signed_job(
    client: httpx.AsyncClient, charge_point_id: str, expected_version: str | None
) -> int:
    uploaded = await client.post("/firmware", params={"name": "fw-2.0.bin"}, content=FIRMWARE)
    assert uploaded.status_code == 201, uploaded.text
    body: dict[str, Any] = {
        "firmware_id": uploaded.json()["id"],
        "charge_point_ids": [charge_point_id],
        "signed": SIGNED,
    }
    if expected_version is not None:
        body["expected_version"] = expected_version
    response = await client.post("/firmware-jobs", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == "signed_update"
    job_id: int = response.json()["id"]
    return job_id


async def charger_row(client: httpx.AsyncClient, job_id: int, charge_point_id: str) -> Any:
    job = (await client.get(f"/firmware-jobs/{job_id}")).json()
    [row] = [c for c in job["chargers"] if c["charge_point_id"] == charge_point_id]
    return row


async def test_signed_firmware_is_downloaded_and_its_job_installed_by_request_id(
    files_server: ServerProcess,
) -> None:
    async with (
        files_server.async_api_client() as client,
        library_charger(files_server.ocpp_url, "SFW-OK", SecurityCharger) as charger,
    ):
        await boot(charger, "1.0")
        job_id = await start_signed_job(client, "SFW-OK", None)
        await wait_until_done(charger)
        row = await charger_row(client, job_id, "SFW-OK")
    [(action, sent)] = charger.received
    assert action == "SignedUpdateFirmware"
    assert sent["request_id"] == job_id
    assert sent["firmware"]["signing_certificate"] == SIGNED["signing_certificate"]
    assert sent["firmware"]["signature"] == SIGNED["signature"]
    assert charger.download_status == 200
    assert (row["status"], row["detail"]) == ("installed", None)


async def test_signed_firmware_with_an_expected_version_is_installed_only_after_that_boot(
    files_server: ServerProcess,
) -> None:
    async with files_server.async_api_client() as client:
        async with library_charger(files_server.ocpp_url, "SFW-VER", SecurityCharger) as charger:
            await boot(charger, "1.0")
            job_id = await start_signed_job(client, "SFW-VER", "2.0")
            await wait_until_done(charger)
            before_boot = await charger_row(client, job_id, "SFW-VER")
        async with library_charger(files_server.ocpp_url, "SFW-VER", SecurityCharger) as charger:
            await boot(charger, "2.0")
            after_boot = await charger_row(client, job_id, "SFW-VER")
    assert before_boot["status"] == "installing"
    assert (
        before_boot["detail"]
        == "charger reported Installed; waiting for a BootNotification with 2.0"
    )
    assert after_boot["status"] == "installed"
    assert (after_boot["firmware_before"], after_boot["firmware_after"]) == ("1.0", "2.0")


async def test_a_log_uploaded_after_get_log_is_on_its_job_and_downloadable_byte_identical(
    files_server: ServerProcess,
) -> None:
    async with files_server.async_api_client() as client:
        async with library_charger(files_server.ocpp_url, "LOG-PUT", SecurityCharger) as charger:
            await boot(charger, "1.0")
            response = await client.post(
                "/charge-points/LOG-PUT/diagnostics", json={"log_type": "SecurityLog"}
            )
            assert response.status_code == 201, response.text
            requested = response.json()
            await wait_until_done(charger)
        jobs = (await client.get("/diagnostics", params={"charge_point_id": "LOG-PUT"})).json()
        [job] = jobs["items"]
        download = await client.get(f"/diagnostics/{job['id']}/file")
    [(action, sent)] = charger.received
    assert action == "GetLog"
    assert (sent["log_type"], sent["request_id"]) == ("SecurityLog", requested["request_id"])
    assert requested["charger_file_name"] == "security.log"
    assert charger.upload_status == 201
    assert (job["id"], job["kind"], job["status"]) == (requested["id"], "security_log", "uploaded")
    assert (job["file_name"], job["file_size"]) == ("security.log", len(LOG))
    assert download.status_code == 200
    assert download.content == LOG
