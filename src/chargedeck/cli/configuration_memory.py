"""``chargedeck config``, ``chargedeck templates``, ``chargedeck bulk``: configuration memory,
wanted-configuration templates and bulk commands (issue 7), through the running server, which
holds the chargers' connections. Secret values arrive masked (``***``) from the API."""

from __future__ import annotations

import json
import sys
import urllib.parse
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from chargedeck.cli._support import (
    ApiOption,
    JsonOption,
    TokenOption,
    call_api,
    checked_charge_point_id,
    console,
    fail,
    print_json,
)

config_app = typer.Typer(
    no_args_is_help=True, help="A charger's configuration history and drift (through the server)"
)
templates_app = typer.Typer(
    no_args_is_help=True, help="Wanted configurations per charger model (through the server)"
)
bulk_app = typer.Typer(
    no_args_is_help=True, help="Reset, availability and unlock on many chargers at once"
)

BULK_CHUNK = 10
"""Chargers per API request of a bulk command: the progress bar moves every 10 chargers."""


def _path(charge_point_id: str, tail: str) -> str:
    checked = checked_charge_point_id(charge_point_id)
    return f"/charge-points/{urllib.parse.quote(checked, safe='')}/configuration{tail}"


def _value(value: str | None) -> str:
    return "(not set)" if value is None else value


@config_app.command("snapshot", help="Read every configuration key now and keep a snapshot.")
def snapshot(
    charge_point_id: str,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    body = call_api(api, "POST", _path(charge_point_id, "/snapshot"), b"", token, "operate")
    if as_json:
        print_json(body)
        return
    console.print(f"snapshot {body['id']} of {body['charge_point_id']}: {len(body['keys'])} keys")


@config_app.command("history", help="The charger's snapshots, newest first.")
def history(
    charge_point_id: str,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    body = call_api(api, "GET", _path(charge_point_id, "/snapshots"), None, token, "read")
    if as_json:
        print_json(body)
        return
    table = Table("id", "taken", "firmware", "keys")
    for item in body["items"]:
        table.add_row(
            str(item["id"]),
            item["taken_at"],
            item["firmware_version"] or "",
            str(len(item["keys"])),
        )
    console.print(table)


@config_app.command("diff", help="A snapshot against the one before it (default: the newest).")
def diff(
    charge_point_id: str,
    snapshot_id: Annotated[int | None, typer.Argument(help="Snapshot id (see history)")] = None,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    if snapshot_id is None:
        items = call_api(
            api, "GET", _path(charge_point_id, "/snapshots?limit=1"), None, token, "read"
        )
        if not items["items"]:
            raise fail(f"charge point {charge_point_id!r} has no configuration snapshot yet")
        snapshot_id = items["items"][0]["id"]
    body = call_api(
        api, "GET", _path(charge_point_id, f"/snapshots/{snapshot_id}/diff"), None, token, "read"
    )
    if as_json:
        print_json(body)
        return
    table = Table("key", "before", "after")
    for key in body["added"]:
        table.add_row(key["key"], "(absent)", _value(key["value"]))
    for key in body["removed"]:
        table.add_row(key["key"], _value(key["value"]), "(absent)")
    for change in body["changed"]:
        table.add_row(change["key"], _value(change["before"]), _value(change["after"]))
    console.print(f"snapshot {body['id']} against {body['previous_id'] or '(none: the first)'}")
    console.print(table)


@config_app.command("drift", help="Last-reported keys against the templates of its model.")
def drift(
    charge_point_id: str,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    body = call_api(api, "GET", _path(charge_point_id, "/drift"), None, token, "read")
    if as_json:
        print_json(body)
        return
    table = Table("template", "key", "wanted", "reported", "state")
    for key in body["keys"]:
        table.add_row(
            key["template"],
            key["key"],
            _value(key["wanted"]),
            _value(key["reported"]),
            key["state"],
        )
    state = "drifted" if body["drifted"] else "as wanted"
    console.print(f"{body['charge_point_id']} ({body['charger_model']}): {state}")
    console.print(table)


def _wanted(pairs: list[str]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise fail(f"{pair!r}: expected KEY=VALUE, e.g. HeartbeatInterval=300")
        keys[key] = value
    return keys


@templates_app.command("add", help="Add or replace a template: KEY=VALUE pairs.")
def add_template(
    name: str,
    pairs: Annotated[list[str], typer.Argument(help="KEY=VALUE, e.g. HeartbeatInterval=300")],
    model: Annotated[
        str | None, typer.Option("--model", help="Charger-model row name; default: every model")
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace an existing one")] = False,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    keys = _wanted(pairs)
    if replace:
        path = f"/configuration-templates/{urllib.parse.quote(name, safe='')}"
        payload = {"charger_model": model, "keys": keys}
        body = call_api(api, "PUT", path, json.dumps(payload).encode(), token, "operate")
    else:
        payload = {"name": name, "charger_model": model, "keys": keys}
        body = call_api(
            api, "POST", "/configuration-templates", json.dumps(payload).encode(), token, "operate"
        )
    if as_json:
        print_json(body)
        return
    console.print(f"template {body['name']!r}: {len(body['keys'])} keys")


@templates_app.command("list", help="The templates.")
def list_templates(
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    body = call_api(api, "GET", "/configuration-templates", None, token, "read")
    if as_json:
        print_json(body)
        return
    table = Table("name", "model", "keys")
    for item in body["items"]:
        keys = ", ".join(f"{key}={value}" for key, value in item["keys"].items())
        table.add_row(item["name"], item["charger_model"] or "(every model)", keys)
    console.print(table)


@templates_app.command("apply", help="Apply a template to chargers (default: its model's).")
def apply_template(
    name: str,
    charge_point_ids: Annotated[list[str] | None, typer.Argument(help="Charger ids")] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Every charger of this model")
    ] = None,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    payload: dict[str, Any] = {"model": model}
    if charge_point_ids:
        payload["charge_point_ids"] = [checked_charge_point_id(i) for i in charge_point_ids]
    path = f"/configuration-templates/{urllib.parse.quote(name, safe='')}/apply"
    body = call_api(api, "POST", path, json.dumps(payload).encode(), token, "operate")
    if as_json:
        print_json(body)
        return
    table = Table("charger", "key", "outcome", "detail")
    for charger in body["chargers"]:
        table.add_row(charger["charge_point_id"], "", charger["outcome"], "")
        for key in charger["keys"]:
            table.add_row("", key["key"], key["outcome"], key["detail"] or "")
    console.print(table)
    if body["reboot_required"]:
        console.print("reboot required: " + ", ".join(body["reboot_required"]))


def _bulk(
    action: str, ids: list[str], payload: dict[str, Any], api: str, token: str | None, as_json: bool
) -> None:
    checked = [checked_charge_point_id(i) for i in ids]
    results: list[dict[str, Any]] = []
    progress = Progress(
        TextColumn(action), BarColumn(), MofNCompleteColumn(), disable=not sys.stderr.isatty()
    )
    with progress:
        bar = progress.add_task(action, total=len(checked))
        for start in range(0, len(checked), BULK_CHUNK):
            chunk = checked[start : start + BULK_CHUNK]
            body = json.dumps({"charge_point_ids": chunk, "payload": payload}).encode()
            answer = call_api(api, "POST", f"/bulk/{action}", body, token, "operate")
            results.extend(answer["results"])
            progress.advance(bar, len(chunk))
    if as_json:
        print_json({"action": action, "results": results})
        return
    table = Table("charger", "outcome", "status", "detail")
    for result in results:
        table.add_row(
            result["charge_point_id"],
            result["outcome"],
            result["status"] or "",
            result["detail"] or "",
        )
    console.print(table)


IdsArgument = Annotated[list[str], typer.Argument(help="Charger ids")]


@bulk_app.command("reset", help="Reset (soft by default, --hard) each charger.")
def bulk_reset(
    charge_point_ids: IdsArgument,
    hard: Annotated[bool, typer.Option("--hard", help="Hard reset")] = False,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    _bulk("Reset", charge_point_ids, {"type": "Hard" if hard else "Soft"}, api, token, as_json)


@bulk_app.command("availability", help="ChangeAvailability of a connector (0: whole charger).")
def bulk_availability(
    charge_point_ids: IdsArgument,
    inoperative: Annotated[bool, typer.Option("--inoperative", help="Else operative")] = False,
    connector_id: Annotated[int, typer.Option("--connector", min=0)] = 0,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    payload = {
        "connectorId": connector_id,
        "type": "Inoperative" if inoperative else "Operative",
    }
    _bulk("ChangeAvailability", charge_point_ids, payload, api, token, as_json)


@bulk_app.command("unlock", help="UnlockConnector on each charger (tethered: not supported).")
def bulk_unlock(
    charge_point_ids: IdsArgument,
    connector_id: Annotated[int, typer.Option("--connector", min=1)] = 1,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    _bulk("UnlockConnector", charge_point_ids, {"connectorId": connector_id}, api, token, as_json)
