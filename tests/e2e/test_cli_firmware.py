"""``chargedeck firmware`` and ``chargedeck diagnostics`` as an operator runs them: a process
against a real server, with a PyPI ``ocpp`` charger that really downloads the firmware and
uploads its diagnostics (the chargers of test_firmware_and_diagnostics.py), on the e2e
conftest's ``server``."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from tests.e2e.test_firmware_and_diagnostics import FIRMWARE, FirmwareCharger, boot, wait_for
from tests.support.ocpp_lib_charger import library_charger
from tests.support.server import ServerProcess

CLI_TIMEOUT_S = 60.0  # a CLI start imports SQLAlchemy and alembic: ~1 s, more on a loaded box
TERMINAL_VARIABLES = ("COLUMNS", "LINES", "FORCE_COLOR")


async def chargedeck(
    server: ServerProcess, *args: str, token: str | None = None
) -> tuple[int, str, str]:
    """Run ``python -m chargedeck ARGS --api <server>`` without blocking the event loop (the
    charger answers in it meanwhile); ``token`` goes in CHARGEDECK_API_TOKEN. Returns the exit
    code, stdout and stderr."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CHARGEDECK_") and k not in TERMINAL_VARIABLES
    }
    if token is not None:
        env["CHARGEDECK_API_TOKEN"] = token
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chargedeck",
        *args,
        "--api",
        f"http://127.0.0.1:{server.http_port}",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT_S)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def upload(server: ServerProcess, tmp_path: Path) -> dict[str, Any]:
    image = tmp_path / "image.bin"
    image.write_bytes(FIRMWARE)
    code, out, err = await chargedeck(
        server, "firmware", "upload", str(image), "--name", "fw-2.0.bin", "--json",
        token=server.token,
    )  # fmt: skip
    assert code == 0, err
    body: dict[str, Any] = json.loads(out)
    return body


async def test_an_uploaded_firmware_file_is_listed_with_its_sha256(
    server: ServerProcess, tmp_path: Path
) -> None:
    uploaded = await upload(server, tmp_path)
    code, out, err = await chargedeck(server, "firmware", "list", "--json", token=server.token)
    assert code == 0, err
    listed = next(item for item in json.loads(out) if item["id"] == uploaded["id"])
    assert (listed["name"], listed["size"]) == ("fw-2.0.bin", len(FIRMWARE))
    assert listed["sha256"] == hashlib.sha256(FIRMWARE).hexdigest()


async def test_upload_prints_the_firmware_id_and_sha256(
    server: ServerProcess, tmp_path: Path
) -> None:
    image = tmp_path / "fw-3.0.bin"
    image.write_bytes(FIRMWARE)
    code, out, err = await chargedeck(server, "firmware", "upload", str(image), token=server.token)
    assert code == 0, err
    assert out.startswith("firmware ")
    assert f"fw-3.0.bin, {len(FIRMWARE)} bytes, sha256 {hashlib.sha256(FIRMWARE).hexdigest()}" in (
        " ".join(out.split())
    )
    assert err == ""  # no progress bar when stderr is not a terminal


async def test_a_firmware_job_reaches_the_charger_and_shows_its_progress(
    server: ServerProcess, tmp_path: Path
) -> None:
    firmware = await upload(server, tmp_path)
    async with library_charger(server.ocpp_url, "CLI-FW", FirmwareCharger) as charger:
        await boot(charger, "1.0")
        code, out, err = await chargedeck(
            server, "firmware", "update", "--firmware-id", str(firmware["id"]),
            "--charge-point", "CLI-FW", "--retries", "2", "--retry-interval", "30",
            "--retrieve-date", "2026-01-01T00:00:00Z", "--json",
            token=server.token,
        )  # fmt: skip
        assert code == 0, err
        created = json.loads(out)
        await wait_for(_finished(charger))
    assert charger.download_status == 200
    assert charger.received[0][0] == "UpdateFirmware"
    assert (created["retries"], created["retry_interval_s"]) == (2, 30)
    assert [c["charge_point_id"] for c in created["chargers"]] == ["CLI-FW"]
    code, out, err = await chargedeck(
        server, "firmware", "jobs", str(created["id"]), "--json",
        token=server.token,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["chargers"][0]["status"] == "installed"
    code, out, err = await chargedeck(server, "firmware", "jobs", token=server.token)
    assert code == 0, err
    assert f"firmware job {created['id']}:" in out
    assert "installed" in out


async def test_diagnostics_requested_from_the_cli_download_byte_for_byte(
    server: ServerProcess, tmp_path: Path
) -> None:
    async with library_charger(server.ocpp_url, "CLI-DIAG", FirmwareCharger) as charger:
        await boot(charger, "1.0")
        code, out, err = await chargedeck(
            server, "diagnostics", "request", "CLI-DIAG",
            "--start", "2026-03-01T00:00:00Z", "--json",
            token=server.token,
        )  # fmt: skip
        assert code == 0, err
        requested = json.loads(out)
        await wait_for(_finished(charger))
    assert requested["charger_file_name"] == "diag.log"
    code, out, err = await chargedeck(
        server, "diagnostics", "list", "--charge-point", "CLI-DIAG", "--json",
        token=server.token,
    )  # fmt: skip
    assert code == 0, err
    [job] = json.loads(out)
    assert (job["id"], job["status"], job["file_name"]) == (requested["id"], "uploaded", "diag.log")
    saved = tmp_path / "diag.log"
    code, out, err = await chargedeck(
        server, "diagnostics", "download", str(job["id"]), "--out", str(saved),
        token=server.token,
    )  # fmt: skip
    assert code == 0, err
    assert saved.read_bytes() == FirmwareCharger.diagnostics
    assert f"{len(FirmwareCharger.diagnostics)} bytes written" in out


async def test_without_a_token_exits_2_saying_how_to_get_one(
    server: ServerProcess, tmp_path: Path
) -> None:
    image = tmp_path / "image.bin"
    image.write_bytes(b"firmware")
    code, out, err = await chargedeck(server, "firmware", "upload", str(image))
    assert code == 2
    assert out == ""
    assert err.startswith("error: 401: no credentials")
    assert "pass --token or set CHARGEDECK_API_TOKEN" in err
    assert "--scope operate" in err


async def test_an_unknown_firmware_job_exits_2(server: ServerProcess) -> None:
    code, _, err = await chargedeck(server, "firmware", "jobs", "9999", token=server.token)
    assert code == 2
    assert err == "error: 404: there is no firmware job 9999\n"


async def test_downloading_an_unknown_diagnostics_job_exits_2_and_writes_nothing(
    server: ServerProcess, tmp_path: Path
) -> None:
    saved = tmp_path / "diag.log"
    code, _, err = await chargedeck(
        server, "diagnostics", "download", "9999", "--out", str(saved),
        token=server.token,
    )  # fmt: skip
    assert code == 2
    assert err.startswith("error: 404: diagnostics job 9999 does not exist")
    assert os.listdir(tmp_path) == []


async def test_chargers_by_id_and_by_model_at_once_exit_2(
    server: ServerProcess,
) -> None:
    code, _, err = await chargedeck(
        server, "firmware", "update", "--firmware-id", "1",
        "--charge-point", "CP-1", "--model", "PLP1-0-2-4",
        token=server.token,
    )  # fmt: skip
    assert code == 2
    assert err == (
        "error: give --charge-point ids, or --model and/or --firmware-version, not both\n"
    )


def _finished(charger: FirmwareCharger) -> Any:
    async def done() -> bool:
        return charger.work is not None and charger.work.done()

    return done
