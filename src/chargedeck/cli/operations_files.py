"""``chargedeck firmware``, ``chargedeck diagnostics``: firmware files and update jobs (OCPP 1.6
§5.19 UpdateFirmware), diagnostics requests and their files (§5.9 GetDiagnostics, or GetLog of
the security whitepaper), through the running server, which keeps the files and holds the
chargers' connections. Files stream in chunks, with a progress bar on stderr when it is a
terminal."""

from __future__ import annotations

import json
import sys
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)
from rich.table import Column, Table

from chargedeck.cli._support import (
    ApiOption,
    JsonOption,
    TokenOption,
    call_api,
    checked_charge_point_id,
    console,
    fail,
    print_json,
    receive_file_from_api,
    send_file_to_api,
)

firmware_app = typer.Typer(
    no_args_is_help=True, help="Firmware files and update jobs (through the running server)"
)
diagnostics_app = typer.Typer(
    no_args_is_help=True, help="Diagnostics from chargers and their files (through the server)"
)


@dataclass
class _Transfer:
    """One file's progress bar (drawn only when stderr is a terminal)."""

    progress: Progress
    task: TaskID

    def start(self, total: int | None) -> None:
        self.progress.update(self.task, total=total)

    def advance(self, sent: int) -> None:
        self.progress.advance(self.task, sent)


@contextmanager
def _transfer(label: str, total: int | None) -> Iterator[_Transfer]:
    progress = Progress(
        TextColumn(label),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        disable=not sys.stderr.isatty(),
    )
    with progress:
        yield _Transfer(progress, progress.add_task(label, total=total))


# ---- firmware --------------------------------------------------------------------------------


@firmware_app.command("upload", help="Upload a firmware file; prints its id and sha256.")
def upload(
    file: Annotated[Path, typer.Argument(help="The firmware image")],
    name: Annotated[
        str | None, typer.Option("--name", help="Its name for chargers (default: the file's)")
    ] = None,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    if not file.is_file():
        raise fail(f"{file} is not a file")
    path = f"/firmware?{urllib.parse.urlencode({'name': name or file.name})}"
    with _transfer(f"upload {file.name}", file.stat().st_size) as bar:
        body = send_file_to_api(api, path, file, token, "operate", bar.advance)
    if as_json:
        print_json(body)
    else:
        console.print(
            f"firmware {body['id']}: {body['name']}, {body['size']} bytes, sha256 {body['sha256']}",
            soft_wrap=True,  # the sha256 on one line, to copy
        )


@firmware_app.command("list", help="The firmware files.")
def list_firmware(
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    body = call_api(api, "GET", "/firmware", None, token, "read")
    if as_json:
        print_json(body["items"])
        return
    table = Table("id", "name", "bytes", Column("sha256", overflow="fold"), "uploaded")
    for item in body["items"]:
        table.add_row(
            str(item["id"]), item["name"], str(item["size"]), item["sha256"], item["uploaded_at"]
        )
    console.print(table)


def _print_job(job: dict[str, Any]) -> None:
    expected = job["expected_version"] or "(any)"
    console.print(
        f"firmware job {job['id']}: file {job['firmware_file_id']} ({job['kind']}), "
        f"retrieve from {job['retrieve_date']}, expected version {expected}"
    )
    table = Table("charger", "status", "detail", "before", "after", "updated")
    for charger in job["chargers"]:
        table.add_row(
            charger["charge_point_id"],
            charger["status"],
            charger["detail"] or "",
            charger["firmware_before"] or "",
            charger["firmware_after"] or "",
            charger["updated_at"],
        )
    console.print(table)


@firmware_app.command(
    "update",
    help="Send a firmware file to chargers (UpdateFirmware): --charge-point ids, or every "
    "registered charger of a --model and/or --firmware-version.",
)
def update(
    firmware_id: Annotated[
        int, typer.Option("--firmware-id", min=1, help="See chargedeck firmware list")
    ],
    charge_points: Annotated[
        list[str] | None, typer.Option("--charge-point", help="A charger id (repeat for more)")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Every charger of this model")
    ] = None,
    firmware_version: Annotated[
        str | None, typer.Option("--firmware-version", help="Every charger on this version")
    ] = None,
    retrieve_date: Annotated[
        str | None,
        typer.Option("--retrieve-date", help="Download from, RFC 3339 with offset (default: now)"),
    ] = None,
    retries: Annotated[int | None, typer.Option("--retries", min=0)] = None,
    retry_interval: Annotated[
        int | None, typer.Option("--retry-interval", min=0, help="Seconds between retries")
    ] = None,
    expected_version: Annotated[
        str | None,
        typer.Option("--expected-version", help="Installed only when it boots with this"),
    ] = None,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    if charge_points and (model is not None or firmware_version is not None):
        raise fail("give --charge-point ids, or --model and/or --firmware-version, not both")
    if not charge_points and model is None and firmware_version is None:
        raise fail("give --charge-point ids, or --model and/or --firmware-version")
    payload: dict[str, Any] = {
        "firmware_id": firmware_id,
        "model": model,
        "firmware_version": firmware_version,
        "retrieve_date": retrieve_date,  # the API checks it (RFC 3339 with an offset)
        "retries": retries,
        "retry_interval_s": retry_interval,
        "expected_version": expected_version,
    }
    if charge_points:
        payload["charge_point_ids"] = [checked_charge_point_id(i) for i in charge_points]
    body = call_api(api, "POST", "/firmware-jobs", json.dumps(payload).encode(), token, "operate")
    if as_json:
        print_json(body)
    else:
        _print_job(body)


@firmware_app.command("jobs", help="Firmware jobs with each charger's progress, or one job.")
def jobs(
    job_id: Annotated[int | None, typer.Argument(min=1, help="Only this job")] = None,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    if job_id is not None:
        job = call_api(api, "GET", f"/firmware-jobs/{job_id}", None, token, "read")
        if as_json:
            print_json(job)
        else:
            _print_job(job)
        return
    body = call_api(api, "GET", "/firmware-jobs", None, token, "read")
    if as_json:
        print_json(body["items"])
        return
    for job in body["items"]:
        _print_job(job)


# ---- diagnostics -----------------------------------------------------------------------------


@diagnostics_app.command(
    "request",
    help="Ask a connected charger to upload its diagnostics (GetDiagnostics; GetLog with "
    "--log-type).",
)
def request_diagnostics(
    charge_point_id: str,
    start: Annotated[
        str | None, typer.Option("--start", help="Oldest entry, RFC 3339 with offset")
    ] = None,
    stop: Annotated[
        str | None, typer.Option("--stop", help="Newest entry, RFC 3339 with offset")
    ] = None,
    log_type: Annotated[
        str | None,
        typer.Option("--log-type", help="DiagnosticsLog or SecurityLog: send GetLog"),
    ] = None,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    checked = checked_charge_point_id(charge_point_id)
    payload = {"start_time": start, "stop_time": stop, "log_type": log_type}
    path = f"/charge-points/{urllib.parse.quote(checked, safe='')}/diagnostics"
    body = call_api(api, "POST", path, json.dumps(payload).encode(), token, "operate")
    if as_json:
        print_json(body)
        return
    announced = body["charger_file_name"] or "(no file named)"
    console.print(
        f"diagnostics job {body['id']}: {checked} answered with {announced}; "
        f"status {body['status']}"
    )


@diagnostics_app.command("list", help="Diagnostics jobs, newest first.")
def list_diagnostics(
    charge_point: Annotated[
        str | None, typer.Option("--charge-point", help="Only this charge point")
    ] = None,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    query = (
        ""
        if charge_point is None
        else "?"
        + urllib.parse.urlencode({"charge_point_id": checked_charge_point_id(charge_point)})
    )
    body = call_api(api, "GET", f"/diagnostics{query}", None, token, "read")
    if as_json:
        print_json(body["items"])
        return
    table = Table("id", "charge point", "kind", "status", "file", "bytes", "detail", "updated")
    for item in body["items"]:
        table.add_row(
            str(item["id"]),
            item["charge_point_id"],
            item["kind"],
            item["status"],
            item["file_name"] or "",
            "" if item["file_size"] is None else str(item["file_size"]),
            item["detail"] or "",
            item["updated_at"],
        )
    console.print(table)


@diagnostics_app.command("download", help="Save the file a charger uploaded for a job.")
def download(
    job_id: Annotated[int, typer.Argument(min=1)],
    out: Annotated[Path, typer.Option("--out", help="Write the file here")],
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    with _transfer(f"download {out.name}", None) as bar:
        size = receive_file_from_api(
            api, f"/diagnostics/{job_id}/file", out, token, "read", bar.start, bar.advance
        )
    if as_json:
        print_json({"job_id": job_id, "path": str(out), "size": size})
    else:
        console.print(f"diagnostics job {job_id}: {size} bytes written to {out}")
