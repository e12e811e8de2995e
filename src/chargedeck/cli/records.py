"""``chargedeck export sessions`` and ``chargedeck tariffs``: records, straight from the store.

Both work on the store directly with the same settings as ``serve`` (running or not). An export
writes nothing but its data to stdout (or ``--out``), a page of the store at a time, so 100,000
sessions never sit in memory; the progress bar and the closing line go to stderr, the bar only
when stderr is a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from chargedeck.cli._support import (
    ConfigOption,
    JsonOption,
    checked_charge_point_id,
    console,
    fail,
    load_settings,
    now,
    print_json,
    report,
    run_store,
    time_text,
)
from chargedeck.csms.reports import (
    SESSION_COLUMNS,
    csv_text,
    iter_priced_sessions,
    parse_report_time,
    report_zone,
    session_csv_row,
    session_report,
)
from chargedeck.domain.tariffs import Tariff, TimeWindow
from chargedeck.store.transactions import SessionFilter

export_app = typer.Typer(no_args_is_help=True, help="Export records from the store")
tariffs_app = typer.Typer(
    no_args_is_help=True, help="Tariffs: a price per kWh, optional time-of-day windows"
)

FORMATS = ("csv", "json")


def _zone(text: str) -> ZoneInfo:
    try:
        return report_zone(text)
    except ValueError as exc:
        raise fail(f"--tz: {exc}") from None


def _period_bound(text: str | None, zone: ZoneInfo, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_report_time(text, zone, option)
    except ValueError as exc:
        raise fail(str(exc)) from None


@export_app.command(
    "sessions",
    help="Sessions that started in [--from, --to) with energy, duration and cost, as CSV "
    "(RFC 4180, a header row) or a JSON array. Times are on --tz (default: the time_zone "
    "setting) with their offset; a date means its midnight there.",
)
def export_sessions(
    started_from: Annotated[
        str | None, typer.Option("--from", help="First day or date-time (included)")
    ] = None,
    started_before: Annotated[
        str | None, typer.Option("--to", help="Day or date-time the period ends (excluded)")
    ] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Only this id tag")] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Only this owner")] = None,
    group: Annotated[
        str | None, typer.Option("--group", help="Only id tags with this parent (group) tag")
    ] = None,
    charge_point: Annotated[
        str | None, typer.Option("--charge-point", help="Only this charge point")
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
    tz: Annotated[
        str | None, typer.Option("--tz", help="IANA time zone of the times, e.g. Europe/Madrid")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of stdout")
    ] = None,
    config: ConfigOption = None,
) -> None:
    if output_format not in FORMATS:
        raise fail(f"--format {output_format!r}: expected csv or json")
    settings = load_settings(config)
    zone = _zone(tz or settings.time_zone)
    where = SessionFilter(
        started_from=_period_bound(started_from, zone, "--from"),
        started_before=_period_bound(started_before, zone, "--to"),
        id_tag=tag,
        owner=owner,
        group=group,
        charge_point_id=None if charge_point is None else checked_charge_point_id(charge_point),
    )
    if (
        where.started_from is not None
        and where.started_before is not None
        and where.started_before <= where.started_from
    ):
        raise fail(f"--to {started_before} is not after --from {started_from}")
    status = Console(stderr=True, markup=False, highlight=False)
    try:
        target: IO[str] = sys.stdout if out is None else out.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise fail(f"--out {out}: {exc.strerror or exc}") from None
    try:
        exported = run_store(
            config,
            lambda store: _export(store, where, zone, output_format, target, status),
        )
    finally:
        if out is not None:
            target.close()
    status.print(
        f"exported {exported} session(s) as {output_format}" + ("" if out is None else f" to {out}")
    )


async def _export(
    store: Any,
    where: SessionFilter,
    zone: ZoneInfo,
    output_format: str,
    target: IO[str],
    status: Console,
) -> int:
    total = await store.transactions.count_sessions(where)
    progress = Progress(
        TextColumn("exporting sessions"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=status,
        disable=not status.is_terminal,
        transient=True,
    )
    encode: Callable[[Any], bytes] = msgspec.json.Encoder().encode
    exported = 0
    with progress:
        bar = progress.add_task("sessions", total=total)
        target.write(csv_text([SESSION_COLUMNS]) if output_format == "csv" else "[")
        async for page in iter_priced_sessions(store, where):
            reports = [session_report(priced, zone) for priced in page]
            if output_format == "csv":
                target.write(csv_text(session_csv_row(r) for r in reports))
            else:
                target.write(
                    ("\n" if exported == 0 else ",\n")
                    + ",\n".join(encode(r).decode() for r in reports)
                )
            exported += len(reports)
            progress.update(bar, advance=len(reports))
        if output_format == "json":
            target.write("\n]\n" if exported else "]\n")
        target.flush()
    return exported


# ---- tariffs ---------------------------------------------------------------------------------


def _window(text: str) -> TimeWindow:
    """HH:MM-HH:MM=PRICE, e.g. 22:00-06:00=0.12."""
    hours, equals, price = text.partition("=")
    start, dash, end = hours.partition("-")
    try:
        if not (equals and dash):
            raise ValueError("expected START-END=PRICE")
        return TimeWindow(time.fromisoformat(start), time.fromisoformat(end), Decimal(price))
    except (ValueError, InvalidOperation) as exc:
        detail = "" if isinstance(exc, InvalidOperation) else f" ({exc})"
        raise fail(
            f"--window {text!r}: expected HH:MM-HH:MM=PRICE, e.g. 22:00-06:00=0.12{detail}"
        ) from None


@tariffs_app.command("add", help="Add a tariff: a price per kWh in a currency.")
def tariffs_add(
    name: Annotated[str, typer.Argument(help="A name for the tariff, e.g. home")],
    price: Annotated[str, typer.Option("--price", help="Price per kWh, e.g. 0.30")],
    currency: Annotated[str, typer.Option("--currency", help="ISO 4217 code, e.g. EUR")],
    window: Annotated[
        list[str] | None,
        typer.Option(
            "--window",
            help="A time of day with its own price, HH:MM-HH:MM=PRICE (repeatable); "
            "22:00-06:00 runs past midnight",
        ),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option("--tz", help="Time zone of the windows (default: the time_zone setting)"),
    ] = None,
    default: Annotated[
        bool, typer.Option("--default", help="Price chargers that have no tariff of their own")
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    if not 1 <= len(name) <= 64:
        raise fail("the tariff name must be 1 to 64 characters")
    try:
        price_per_kwh = Decimal(price)
    except InvalidOperation:
        raise fail(f"--price {price!r} is not a number; e.g. 0.30") from None
    settings = load_settings(config)
    windows = tuple(_window(text) for text in window or ())
    try:
        tariff = Tariff(currency.upper(), price_per_kwh, tz or settings.time_zone, windows)
    except ValueError as exc:
        raise fail(str(exc)) from None

    async def add(store: Any) -> Any:
        from chargedeck.store.errors import ConstraintViolation

        try:
            return await store.tariffs.add_tariff(name, tariff, is_default=default, now=now())
        except ConstraintViolation:
            raise fail(f"a tariff named {name!r} exists") from None

    record = run_store(config, add)
    report(
        record,
        as_json,
        f"tariff {record.id} {name!r}: {tariff.price_per_kwh} {tariff.currency}/kWh"
        + (f" with {len(windows)} time window(s) on {tariff.time_zone}" if windows else "")
        + (", the default" if default else ""),
    )


@tariffs_app.command("list", help="List tariffs.")
def tariffs_list(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    records = run_store(config, lambda store: store.tariffs.list_tariffs())
    if as_json:
        print_json(records)
        return
    table = Table("id", "name", "price/kWh", "currency", "windows", "time zone", "default", "added")
    for r in records:
        windows = ", ".join(
            f"{w.start.isoformat(timespec='minutes')}-{w.end.isoformat(timespec='minutes')} "
            f"{w.price_per_kwh}"
            for w in r.tariff.windows
        )
        table.add_row(
            str(r.id),
            r.name,
            str(r.tariff.price_per_kwh),
            r.tariff.currency,
            windows,
            r.tariff.time_zone,
            "yes" if r.is_default else "",
            time_text(r.created_at),
        )
    console.print(table)


@tariffs_app.command(
    "assign", help="Price a charge point's sessions with a tariff (--clear: the default)."
)
def tariffs_assign(
    charge_point_id: Annotated[str, typer.Argument(help="The charge point")],
    tariff_name: Annotated[str | None, typer.Argument(help="The tariff's name")] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Use the default tariff for this charge point")
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    if (tariff_name is None) != clear:
        raise fail("give a tariff name, or --clear (not both)")
    checked = checked_charge_point_id(charge_point_id)

    async def assign(store: Any) -> int | None:
        from chargedeck.store.tariffs import UnknownChargePointForTariff

        tariff_id = None
        if tariff_name is not None:
            record = await store.tariffs.get_tariff_by_name(tariff_name)
            if record is None:
                raise fail(f"there is no tariff named {tariff_name!r} (chargedeck tariffs list)")
            tariff_id = record.id
        try:
            await store.tariffs.assign_tariff(checked, tariff_id)
        except UnknownChargePointForTariff as exc:
            raise fail(str(exc)) from None
        return tariff_id

    tariff_id = run_store(config, assign)
    report(
        {"charge_point_id": checked, "tariff_id": tariff_id},
        as_json,
        f"charge point {checked} now uses "
        + ("the default tariff" if tariff_id is None else f"tariff {tariff_name!r}"),
    )
