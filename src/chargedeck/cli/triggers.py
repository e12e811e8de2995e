"""``chargedeck trigger`` and ``chargedeck trigger-bulk``: ask chargers to send a message now
(OCPP 1.6 §5.17 TriggerMessage) through the running server, which holds their connections."""

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
from chargedeck.ocpp.v16.enums import MessageTrigger

app = typer.Typer(no_args_is_help=True)

MESSAGES = ", ".join(message.value for message in MessageTrigger)
ConnectorOption = Annotated[
    int | None,
    typer.Option(
        "--connector", min=1, help="Only this connector (StatusNotification, MeterValues)"
    ),
]


def _requested(message: str) -> str:
    for known in MessageTrigger:
        if known.value.lower() == message.lower():
            return known.value
    raise fail(f"{message!r} cannot be triggered; one of: {MESSAGES}")


def _payload(message: str, connector: int | None, **more: Any) -> bytes:
    payload: dict[str, Any] = {"requested_message": _requested(message), **more}
    if connector is not None:
        payload["connector_id"] = connector
    return json.dumps(payload).encode()


def _sentence(result: dict[str, Any]) -> str:
    connector = result.get("connector_id")
    text = (
        f"{result['charge_point_id']}: TriggerMessage({result['requested_message']}"
        f"{'' if connector is None else f', connector {connector}'}): {result['status']}"
    )
    return text if not result.get("detail") else f"{text} ({result['detail']})"


@app.command("trigger", help=f"Ask one charger to send MESSAGE now: {MESSAGES}.")
def trigger(
    charge_point_id: str,
    message: str,
    connector: ConnectorOption = None,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    checked = urllib.parse.quote(checked_charge_point_id(charge_point_id), safe="")
    body = call_api(
        api,
        "POST",
        f"/charge-points/{checked}/trigger",
        _payload(message, connector),
        token,
        "operate",
    )
    if as_json:
        print_json(body)
    else:
        console.print(_sentence(body))


@app.command("trigger-bulk", help=f"Ask several chargers to send MESSAGE now: {MESSAGES}.")
def trigger_bulk(
    message: str,
    charge_points: Annotated[
        list[str], typer.Option("--charge-point", help="A charger to ask (repeat the option)")
    ],
    connector: ConnectorOption = None,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    ids = [checked_charge_point_id(text) for text in charge_points]
    body = call_api(
        api,
        "POST",
        "/bulk/trigger",
        _payload(message, connector, charge_point_ids=ids),
        token,
        "operate",
    )
    if as_json:
        print_json(body["results"])
        return
    table = Table("charge point", "status", "detail")
    for result in body["results"]:
        table.add_row(result["charge_point_id"], result["status"], result["detail"] or "")
    console.print(table)
