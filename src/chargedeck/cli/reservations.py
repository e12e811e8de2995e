"""``chargedeck reservations``: reserve a connector for an id tag (OCPP 1.6 §5.13 ReserveNow),
list and cancel reservations, through the running server, which holds the charger's
connection."""

from __future__ import annotations

import json
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
    fail,
    print_json,
)

app = typer.Typer(
    no_args_is_help=True, help="Reservations of connectors (through the running server)"
)


def _sentence(body: dict[str, Any]) -> str:
    text = (
        f"reservation {body['id']}: {body['charge_point_id']} connector {body['connector_id']} "
        f"for {body['id_tag']} until {body['expiry_date']}: {body['status']}"
    )
    if body.get("transaction_id") is not None:
        text += f" by transaction {body['transaction_id']}"
    return text


@app.command("add", help="Reserve a connector (0 = any, where the charger supports it).")
def add(
    charge_point_id: str,
    connector_id: Annotated[int, typer.Argument(min=0)],
    id_tag: str,
    minutes: Annotated[
        float | None, typer.Option("--minutes", help="Hold it this long from now")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Hold it until, RFC 3339 with offset (2027-01-01T09:00:00Z)"),
    ] = None,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    checked = checked_charge_point_id(charge_point_id)
    if (minutes is None) == (until is None):
        raise fail("give --minutes or --until (one of them)")
    payload: dict[str, Any] = {
        "charge_point_id": checked,
        "connector_id": connector_id,
        "id_tag": id_tag,
    }
    if minutes is not None:
        payload["minutes"] = minutes
    else:
        payload["expiry_date"] = until  # the API checks it (RFC 3339 with an offset)
    body = call_api(api, "POST", "/reservations", json.dumps(payload).encode(), token, "operate")
    if as_json:
        print_json(body)
    else:
        console.print(_sentence(body))


@app.command("list", help="Reservations, newest first.")
def list_(
    charge_point: Annotated[
        str | None, typer.Option("--charge-point", help="Only this charge point")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only these statuses, e.g. active,used")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    query = {"limit": str(limit)}
    if charge_point is not None:
        query["charge_point_id"] = checked_charge_point_id(charge_point)
    if status is not None:
        query["status"] = status
    body = call_api(
        api, "GET", f"/reservations?{urllib.parse.urlencode(query)}", None, token, "read"
    )
    if as_json:
        print_json(body["items"])
        return
    table = Table("id", "charge point", "connector", "id tag", "until", "status", "transaction")
    for item in body["items"]:
        table.add_row(
            str(item["id"]),
            item["charge_point_id"],
            str(item["connector_id"]),
            item["id_tag"],
            item["expiry_date"],
            item["status"],
            "" if item["transaction_id"] is None else str(item["transaction_id"]),
        )
    console.print(table)


@app.command("cancel", help="Cancel a reservation on its charger (CancelReservation).")
def cancel(
    reservation_id: Annotated[int, typer.Argument(min=1)],
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    body = call_api(api, "DELETE", f"/reservations/{reservation_id}", None, token, "operate")
    if as_json:
        print_json(body)
    else:
        console.print(f"{_sentence(body)} (the charger answered {body['charger_status']})")
