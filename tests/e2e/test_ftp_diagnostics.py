"""Diagnostics uploaded by FTP end to end (OCPP 1.6 §5.9 GetDiagnostics: the location may be an
FTP URL, §8): a charger on the PyPI ``ocpp`` library uploads with the standard library's ftplib
to the ``ftp://job-<id>:<token>@host:port/`` location ChargeDeck sends when asked for protocol
ftp. Each job's user name and token open that job's folder only, for storing only."""

from __future__ import annotations

import asyncio
import ftplib
import re
import socket
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from ocpp.routing import on
from ocpp.v16 import call, call_result

from tests.support.ocpp_lib_charger import LibraryCharger, library_charger
from tests.support.server import ServerProcess, running_server

MAX_UPLOAD_BYTES = 4096
FTP_TIMEOUT_S = 10.0


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ftp")


@pytest.fixture(scope="module")
def ftp_server(data_dir: Path) -> Iterator[ServerProcess]:
    with running_server(
        f"sqlite:///{data_dir / 'chargedeck.db'}",
        [
            "--unknown-charge-points",
            "accept",
            "--max-upload-bytes",
            str(MAX_UPLOAD_BYTES),
            "--ftp-enabled",
            "true",
            "--ftp-host",
            "127.0.0.1",
            "--ftp-port",
            "0",
        ],
        data_dir,
    ) as s:
        s.wait_for_log(r"ftp listening on 127\.0\.0\.1:\d+")
        yield s
        assert s.error_lines() == [], s.log_text()


def ftp_port(server: ServerProcess) -> int:
    line = server.wait_for_log(r"ftp listening on \S+:\d+")
    match = re.search(r"ftp listening on \S+:(\d+)", line)
    assert match is not None
    return int(match.group(1))


def ftp_upload(
    location: str,
    data: bytes,
    *,
    file_name: str = "diag.log",
    user: str | None = None,
    password: str | None = None,
) -> str:
    """Log in to the ftp:// ``location`` (or as ``user``/``password``) and STOR ``data``, as a
    charger's FTP client does; the server's last reply. Raises ftplib's errors."""
    url = urlsplit(location)
    assert url.hostname is not None
    assert url.port is not None
    # S321: plain FTP is the point: chargers that only speak FTP.
    with ftplib.FTP(timeout=FTP_TIMEOUT_S) as client:  # noqa: S321
        client.connect(url.hostname, url.port)
        client.login(user or url.username or "", password or url.password or "")
        return client.storbinary(f"STOR {file_name}", BytesIO(data))


def ftp_session(location: str) -> ftplib.FTP:
    """A logged-in session with the location's credentials."""
    url = urlsplit(location)
    assert url.hostname is not None
    assert url.port is not None
    client = ftplib.FTP(timeout=FTP_TIMEOUT_S)  # noqa: S321
    client.connect(url.hostname, url.port)
    client.login(url.username or "", url.password or "")
    return client


class FtpCharger(LibraryCharger):
    """Answers GetDiagnostics with a file name and uploads ``diagnostics`` by FTP (ftplib, in a
    thread), reporting Uploading and then Uploaded or UploadFailed."""

    diagnostics = b"2026-03-01T10:00:00Z boot ok\n" * 10
    uploads = True

    def __init__(self, charge_point_id: str, connection: Any) -> None:
        super().__init__(charge_point_id, connection)
        self.location = ""
        self.work: asyncio.Task[None] | None = None
        self.reply: str | None = None
        self.error: ftplib.Error | None = None

    @on("GetDiagnostics")
    def on_get_diagnostics(self, location: str, **kwargs: Any) -> Any:
        self.location = location
        if self.uploads:
            self.work = asyncio.create_task(self.upload())
        return call_result.GetDiagnostics(file_name="diag.log")

    async def upload(self) -> None:
        await self.call(call.DiagnosticsStatusNotification(status="Uploading"))
        try:
            self.reply = await asyncio.to_thread(ftp_upload, self.location, self.diagnostics)
        except ftplib.Error as exc:
            self.error = exc
        status = "UploadFailed" if self.error else "Uploaded"
        await self.call(call.DiagnosticsStatusNotification(status=status))


class SilentCharger(FtpCharger):
    """Takes the location and uploads nothing: the tests use its credentials themselves."""

    uploads = False


class TooMuchCharger(FtpCharger):
    diagnostics = b"x" * (MAX_UPLOAD_BYTES + 1)


async def wait_for(predicate: Any, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def request_ftp_diagnostics(
    server: ServerProcess, charge_point_id: str, charger_class: type[FtpCharger]
) -> tuple[FtpCharger, dict[str, Any]]:
    """Ask ``charge_point_id`` for diagnostics by FTP; the charger after its upload (if any)
    and the job as the API lists it."""
    async with server.async_api_client() as client:
        async with library_charger(server.ocpp_url, charge_point_id, charger_class) as charger:
            await charger.call(
                call.BootNotification(charge_point_vendor="Acme", charge_point_model="FTP-only")
            )
            response = await client.post(
                f"/charge-points/{charge_point_id}/diagnostics", json={"protocol": "ftp"}
            )
            assert response.status_code == 201, response.text
            if charger.uploads:
                await wait_for(lambda: charger.work is not None and charger.work.done())
        jobs = await client.get("/diagnostics", params={"charge_point_id": charge_point_id})
    return charger, jobs.json()["items"][0]


async def test_the_ftp_location_names_the_job_user_its_token_and_the_ftp_port(
    ftp_server: ServerProcess,
) -> None:
    charger, job = await request_ftp_diagnostics(ftp_server, "FTP-URL", SilentCharger)
    url = urlsplit(charger.location)
    assert (url.scheme, url.hostname, url.port, url.path) == (
        "ftp",
        "127.0.0.1",
        ftp_port(ftp_server),
        "/",
    )
    assert url.username == f"job-{job['id']}"
    assert url.password


async def test_diagnostics_uploaded_by_ftp_complete_the_job_and_are_byte_identical(
    ftp_server: ServerProcess,
) -> None:
    charger, job = await request_ftp_diagnostics(ftp_server, "FTP-OK", FtpCharger)
    assert charger.error is None
    assert charger.reply is not None
    assert charger.reply.startswith("226")
    assert (job["status"], job["file_name"], job["file_size"]) == (
        "uploaded",
        "diag.log",
        len(FtpCharger.diagnostics),
    )
    async with ftp_server.async_api_client() as client:
        download = await client.get(f"/diagnostics/{job['id']}/file")
    assert download.content == FtpCharger.diagnostics


async def test_a_wrong_password_is_refused(ftp_server: ServerProcess) -> None:
    charger, _ = await request_ftp_diagnostics(ftp_server, "FTP-PW", SilentCharger)
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        await asyncio.to_thread(ftp_upload, charger.location, b"x", password="not-the-token")


async def test_a_job_user_with_another_jobs_token_is_refused(ftp_server: ServerProcess) -> None:
    first, _ = await request_ftp_diagnostics(ftp_server, "FTP-A", SilentCharger)
    second, _ = await request_ftp_diagnostics(ftp_server, "FTP-B", SilentCharger)
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        await asyncio.to_thread(
            ftp_upload, first.location, b"x", password=urlsplit(second.location).password
        )


async def test_another_jobs_folder_is_out_of_reach(ftp_server: ServerProcess) -> None:
    first, _ = await request_ftp_diagnostics(ftp_server, "FTP-C", SilentCharger)
    second, _ = await request_ftp_diagnostics(ftp_server, "FTP-D", SilentCharger)
    other_user = urlsplit(second.location).username

    def attempts() -> list[str]:
        refusals = []
        with ftp_session(first.location) as client:
            for action in (
                lambda: client.cwd(f"/{other_user}"),
                lambda: client.storbinary(f"STOR ../{other_user}/diag.log", BytesIO(b"x")),
                lambda: client.storbinary(f"STOR /{other_user}/diag.log", BytesIO(b"x")),
            ):
                with pytest.raises(ftplib.error_perm) as refused:
                    action()
                refusals.append(str(refused.value)[:3])
        return refusals

    assert await asyncio.to_thread(attempts) == ["550", "550", "550"]


async def test_listing_and_downloading_are_not_offered(ftp_server: ServerProcess) -> None:
    charger, job = await request_ftp_diagnostics(ftp_server, "FTP-RO", FtpCharger)
    assert job["status"] == "uploaded"

    def attempts() -> list[str]:
        refusals = []
        with ftp_session(charger.location) as client:
            for action in (
                client.nlst,
                lambda: client.retrlines("LIST"),
                lambda: client.retrbinary("RETR diag.log", lambda _: None),
                lambda: client.delete("diag.log"),
            ):
                with pytest.raises(ftplib.error_perm) as refused:
                    action()
                refusals.append(str(refused.value)[:3])
        return refusals

    assert await asyncio.to_thread(attempts) == ["502", "502", "502", "502"]


async def test_an_ftp_upload_over_the_limit_is_552_and_fails_the_job(
    ftp_server: ServerProcess, data_dir: Path
) -> None:
    charger, job = await request_ftp_diagnostics(ftp_server, "FTP-BIG", TooMuchCharger)
    assert isinstance(charger.error, ftplib.error_perm)
    assert str(charger.error).startswith("552")
    assert job["status"] == "failed"
    assert (
        job["detail"] == f"upload refused: larger than max_upload_bytes ({MAX_UPLOAD_BYTES} bytes)"
    )
    assert job["file_name"] is None
    assert list((data_dir / "diagnostics" / str(job["id"])).glob("*")) == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_without_ftp_enabled_nothing_listens_and_ftp_is_409(
    tmp_path: Path,
) -> None:
    port = free_port()
    with running_server(
        f"sqlite:///{tmp_path / 'chargedeck.db'}",
        ["--ftp-host", "127.0.0.1", "--ftp-port", str(port)],
        tmp_path,
    ) as server:
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
            pass
        with server.api_client() as client:
            response: httpx.Response = client.post(
                "/charge-points/FTP-OFF/diagnostics", json={"protocol": "ftp"}
            )
        assert "ftp listening" not in server.log_text()
    assert response.status_code == 409, response.text
    assert "ftp_enabled" in response.json()["detail"]
