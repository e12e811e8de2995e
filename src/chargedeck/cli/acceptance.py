"""``chargedeck check ID``: run the acceptance check against a connected charger (through the
running server, which holds the charger's connection) and print the outcome per feature."""

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
    print_json,
)

app = typer.Typer()

_STYLE = {
    "works": "green",
    "refused": "red",
    "not_supported": "yellow",
    "ignored": "red",
    "skipped": "dim",
}


def print_report(body: dict[str, Any]) -> None:
    """The report as a table per feature, then the model row, what it reported and quirks."""
    firmware = body.get("firmware_version") or "unknown firmware"
    table = Table(title=f"Acceptance check of {body['charge_point_id']} ({firmware})")
    table.add_column("Feature")
    table.add_column("Outcome")
    table.add_column("Detail")
    for result in body["results"]:
        outcome = result["outcome"]
        table.add_row(
            result["feature"].replace("_", " "),
            outcome.replace("_", " "),
            result["detail"],
            style=_STYLE.get(outcome),
        )
    console.print(table)
    console.print(f"charger model row: {body['charger_model']}")
    if body.get("supported_feature_profiles") is not None:
        console.print("feature profiles: " + ", ".join(body["supported_feature_profiles"]))
    if body.get("charging_rate_units") is not None:
        console.print("charging rate units: " + ", ".join(body["charging_rate_units"]))
    console.print("profile kinds accepted: " + (", ".join(body["profile_kinds"]) or "none"))
    for quirk in body["quirks"]:
        console.print(f"quirk: {quirk}")


@app.command("check")
def check(
    charge_point_id: str,
    with_car: Annotated[
        bool,
        typer.Option("--with-car", help="Also remote start and stop (a car must be plugged in)"),
    ] = False,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the acceptance check against a connected charger; nothing is left changed."""
    checked = checked_charge_point_id(charge_point_id)
    path = f"/charge-points/{urllib.parse.quote(checked, safe='')}/acceptance-check"
    body = call_api(
        api, "POST", path, json.dumps({"with_car": with_car}).encode(), token, "operate"
    )
    if as_json:
        print_json(body)
    else:
        print_report(body)
