"""``chargedeck charging-profiles``: install, list and clear charging profiles and compare a
charger's composite schedule with ChargeDeck's (OCPP 1.6 §5.16, §5.5, §5.7), through the running
server, which holds the charger's connection and checks every rule before sending."""

from __future__ import annotations

import json
import urllib.parse
from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.box import SIMPLE
from rich.table import Table

from chargedeck.cli._support import (
    ApiOption,
    JsonOption,
    TokenOption,
    call_api,
    checked_charge_point_id,
    console,
    fail,
    now,
    print_json,
)
from chargedeck.domain.charging_profiles import ABSOLUTE_START_MARGIN_S

app = typer.Typer(
    no_args_is_help=True,
    help="Charging profiles and composite schedules (through the running server)",
)

PURPOSES = ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile")
KINDS = ("Absolute", "Relative")

ConnectorOption = Annotated[
    int, typer.Option("--connector", min=0, help="Connector (0: the whole charger)")
]


def _choice(value: str, choices: tuple[str, ...], option: str) -> str:
    for known in choices:
        if known.lower() == value.lower():
            return known
    raise fail(f"{option} {value!r}: one of {', '.join(choices)}")


def _path(charge_point_id: str, tail: str) -> str:
    quoted = urllib.parse.quote(checked_charge_point_id(charge_point_id), safe="")
    return f"/charge-points/{quoted}/{tail}"


def _limit_text(limit: float | None, unit: str) -> str:
    if limit is None:
        return "no limit"
    return f"{limit:g} {unit}"


def _periods_text(schedule: dict[str, Any]) -> str:
    """ "16 A", or "16 A, 10 A from 600 s" for several periods."""
    unit = schedule["charging_rate_unit"]
    return ", ".join(
        _limit_text(period["limit"], unit)
        + ("" if period["start_period"] == 0 else f" from {period['start_period']} s")
        for period in schedule["charging_schedule_period"]
    )


@app.command("set", help="Install a one-period limit profile on a connector (SetChargingProfile).")
def set_(
    charge_point_id: str,
    connector: ConnectorOption,
    limit: Annotated[
        float, typer.Option("--limit", min=0, help="A per phase, or W in total with --unit W")
    ],
    unit: Annotated[str, typer.Option("--unit", help="A (per phase) or W (total)")] = "A",
    purpose: Annotated[str, typer.Option("--purpose", help=", ".join(PURPOSES))] = (
        "TxDefaultProfile"
    ),
    stack_level: Annotated[int, typer.Option("--stack-level", min=0)] = 0,
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            help="Absolute (from a minute ago) or Relative (from the transaction start)",
        ),
    ] = "Absolute",
    duration: Annotated[
        int | None, typer.Option("--duration", min=1, help="Seconds; left out: no end")
    ] = None,
    phases: Annotated[
        int | None, typer.Option("--phases", min=1, max=3, help="numberPhases (default 3)")
    ] = None,
    profile_id: Annotated[
        int | None, typer.Option("--id", min=1000, help="chargingProfileId (default: a new one)")
    ] = None,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    rate_unit = _choice(unit, ("A", "W"), "--unit")
    chosen_kind = _choice(kind, KINDS, "--kind")
    schedule: dict[str, Any] = {
        "charging_rate_unit": rate_unit,
        "charging_schedule_period": [
            {"start_period": 0, "limit": limit}
            | ({} if phases is None else {"number_phases": phases})
        ],
    }
    if duration is not None:
        schedule["duration"] = duration
    if chosen_kind == "Absolute":
        # OCPP 1.6 §3.13.2: a start in the past leaves no gap while the profile travels.
        start = now().replace(microsecond=0) - timedelta(seconds=ABSOLUTE_START_MARGIN_S)
        schedule["start_schedule"] = start.isoformat()
    payload: dict[str, Any] = {
        "connector_id": connector,
        "stack_level": stack_level,
        "charging_profile_purpose": _choice(purpose, PURPOSES, "--purpose"),
        "charging_profile_kind": chosen_kind,
        "charging_schedule": schedule,
    }
    if profile_id is not None:
        payload["charging_profile_id"] = profile_id
    body = call_api(
        api,
        "POST",
        _path(charge_point_id, "charging-profiles"),
        json.dumps(payload).encode(),
        token,
        "operate",
    )
    if as_json:
        print_json(body)
        return
    profile = body["profile"]
    fields = profile["profile"]
    console.print(
        f"{profile['charge_point_id']} connector {profile['connector_id']}: "
        f"{fields['charging_profile_purpose']} {fields['charging_profile_id']} "
        f"({_periods_text(fields['charging_schedule'])}, stack level {fields['stack_level']}, "
        f"{fields['charging_profile_kind']}): {body['charger_status']}"
    )


@app.command("list", help="The profiles a charger holds, and the latest sent to it.")
def list_(
    charge_point_id: str,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="History rows")] = 20,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    body = call_api(
        api,
        "GET",
        _path(charge_point_id, f"charging-profiles?limit={limit}"),
        None,
        token,
        "read",
    )
    if as_json:
        print_json(body)
        return
    for title, items in (("installed", body["installed"]), ("history", body["history"])):
        table = Table(
            "id", "conn", "purpose", "level", "limits", "origin", "status", title=title, box=SIMPLE
        )
        for item in items:
            fields = item["profile"]
            status = item["status"]
            if item["ended_at"] is not None and status == "accepted":
                status = "ended"  # a TxProfile whose transaction ended
            table.add_row(
                str(fields["charging_profile_id"]),
                str(item["connector_id"]),
                fields["charging_profile_purpose"],
                str(fields["stack_level"]),
                _periods_text(fields["charging_schedule"]),
                item["origin"],
                status,
            )
        console.print(table)


@app.command("clear", help="Clear profiles (ClearChargingProfile); no filter: all of them.")
def clear(
    charge_point_id: str,
    profile_id: Annotated[int | None, typer.Option("--id", min=1, help="Only this one")] = None,
    connector: Annotated[int | None, typer.Option("--connector", min=0)] = None,
    purpose: Annotated[str | None, typer.Option("--purpose", help=", ".join(PURPOSES))] = None,
    stack_level: Annotated[int | None, typer.Option("--stack-level", min=0)] = None,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    query: dict[str, str] = {}
    if profile_id is not None:
        query["id"] = str(profile_id)
    if connector is not None:
        query["connector_id"] = str(connector)
    if purpose is not None:
        query["purpose"] = _choice(purpose, PURPOSES, "--purpose")
    if stack_level is not None:
        query["stack_level"] = str(stack_level)
    suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
    body = call_api(
        api,
        "DELETE",
        _path(charge_point_id, f"charging-profiles{suffix}"),
        None,
        token,
        "operate",
    )
    if as_json:
        print_json(body)
    else:
        console.print(
            f"{checked_charge_point_id(charge_point_id)}: ClearChargingProfile "
            f"{body['charger_status']}; {body['cleared']} recorded profile(s) cleared"
        )


@app.command(
    "composite",
    help="The charger's composite schedule (GetCompositeSchedule) next to ChargeDeck's.",
)
def composite(
    charge_point_id: str,
    connector: ConnectorOption,
    duration: Annotated[int, typer.Option("--duration", min=1, help="Seconds from now")],
    unit: Annotated[str, typer.Option("--unit", help="A or W")] = "A",
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    query = urllib.parse.urlencode(
        {
            "connector_id": connector,
            "duration": duration,
            "unit": _choice(unit, ("A", "W"), "--unit"),
        }
    )
    body = call_api(
        api, "GET", _path(charge_point_id, f"composite-schedule?{query}"), None, token, "read"
    )
    if as_json:
        print_json(body)
        return
    charger = body["charger"]
    console.print(
        f"{body['charge_point_id']} connector {body['connector_id']} from {body['start']} for "
        f"{body['duration']} s: the charger answered {body['charger_status']}"
    )
    console.print(f"  charger:    {'-' if charger is None else _periods_text(charger)}")
    console.print(f"  ChargeDeck: {_periods_text(body['chargedeck'])}")
    if not body["mismatches"]:
        if charger is not None:
            console.print("the charger's composite schedule matches ChargeDeck's")
        return
    for mismatch in body["mismatches"]:
        console.print(f"mismatch: {mismatch}")
