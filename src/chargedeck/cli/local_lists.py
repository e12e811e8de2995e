"""``chargedeck local-list``: a charger's Local Authorization List (OCPP 1.6 §5.15), through the
running server, which holds the charger's connection."""

from __future__ import annotations

import urllib.parse
from typing import Annotated, Any

import typer
from rich.table import Table

from chargedeck.cli._support import (
    ApiOption,
    JsonOption,
    TokenOption,
    call_api,
    checked_charge_point_id,
    console,
    print_json,
)

app = typer.Typer(
    no_args_is_help=True,
    help="Local Authorization Lists on chargers (through the running server)",
)


def _path(charge_point_id: str, tail: str) -> str:
    checked = checked_charge_point_id(charge_point_id)
    return f"/charge-points/{urllib.parse.quote(checked, safe='')}/{tail}"


def _sends_table(sends: list[dict[str, Any]]) -> Table:
    table = Table("sent", "version", "update", "entries", "answer")
    for send in sends:
        table.add_row(
            send["sent_at"],
            str(send["list_version"]),
            send["update_type"],
            str(send["entry_count"]),
            send["status"] or "(no answer)",
        )
    return table


@app.command(
    "sync",
    help="Bring a charger's local list up to date with the id tags: in parts of its "
    "SendLocalListMaxLength, the whole list again after Failed or VersionMismatch.",
)
def sync(
    charge_point_id: str,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    body = call_api(api, "POST", _path(charge_point_id, "local-list/sync"), b"", token, "operate")
    if as_json:
        print_json(body)
        return
    sends = body["sends"]
    summary = (
        f"{body['charge_point_id']}: local list version {body['version']}, "
        f"{body['entry_count']} id tags"
    )
    if not sends:
        console.print(f"{summary}; already up to date, nothing sent")
        return
    resend = " (sent again in full after the charger refused a part)" if body["full_resend"] else ""
    console.print(f"{summary}; {len(sends)} SendLocalList{resend}")
    console.print(_sends_table(sends))


@app.command(
    "show",
    help="A charger's local list as ChargeDeck knows it, its list and offline-authorization keys "
    "as last reported, and what was sent to it.",
)
def show(
    charge_point_id: str,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="Sends shown")] = 20,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    body = call_api(
        api, "GET", _path(charge_point_id, f"local-list?limit={limit}"), None, token, "read"
    )
    if as_json:
        print_json(body)
        return
    version = (
        "unknown (the next sync sends it in full)" if body["version"] is None else body["version"]
    )
    console.print(
        f"{body['charge_point_id']}: version {version}, {body['entry_count']} id tags; "
        + (
            "resynced when an id tag changes"
            if body["resync_on_id_tag_change"]
            else "not resynced automatically (sync it once to opt in)"
        )
    )
    keys = Table("key", "value", "reported")
    for key in (*body["list_keys"], *body["offline_authorization"]):
        keys.add_row(key["key"], "" if key["value"] is None else key["value"], key["reported_at"])
    console.print(keys)
    console.print(_sends_table(body["sends"]))
