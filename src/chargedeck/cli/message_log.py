"""``chargedeck messages ID`` and ``chargedeck explain ID``: the OCPP message log, on the store
directly (reading is safe beside a running server: SQLite WAL readers never block it).

``--since``/``--until`` take a span back from now (``30m``, ``2h``, ``7d``), a date or an ISO
8601 date-time on the operator's ``time_zone``; the API has the same filters
(``/api/v1/charge-points/{id}/messages`` and ``/explain``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
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
    run_store,
)
from chargedeck.csms.message_log import (
    DEFAULT_EXPLAIN_PERIOD,
    EXPLAIN_NOTE,
    Explained,
    explain_charge_point,
    parse_log_time,
)
from chargedeck.domain.explain import render
from chargedeck.store import Store
from chargedeck.store.message_log import MessageFilter, MessageRecord

app = typer.Typer(no_args_is_help=True)

SinceOption = Annotated[
    str | None,
    typer.Option("--since", help="From: 30m, 2h, 7d back from now, a date or an ISO date-time"),
]
UntilOption = Annotated[
    str | None, typer.Option("--until", help="Before: same forms as --since (default: now)")
]
# The CLI prints one screenful by default; --limit up to the API's page cap.
DEFAULT_ROWS = 50
MAX_ROWS = 500
# A frame in the table is cut to this many characters; --json prints it whole.
FRAME_CHARS = 120


def _bound(text: str | None, name: str, moment: datetime, zone: ZoneInfo) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_log_time(text, moment, zone, name)
    except ValueError as exc:
        raise fail(str(exc)) from None


def _period(
    since_text: str | None, until_text: str | None, zone: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    moment = now()
    since = _bound(since_text, "since", moment, zone)
    until = _bound(until_text, "until", moment, zone)
    if since is not None and until is not None and until <= since:
        raise fail(f"--until {until_text} is not after --since {since_text}")
    return since, until


@app.command("messages", help="A charger's OCPP frames in and out, newest first.")
def messages(
    charge_point_id: str,
    action: Annotated[
        str | None, typer.Option("--action", help="Only this action (CALLs and their answers)")
    ] = None,
    direction: Annotated[
        str | None, typer.Option("--direction", help="in (from the charger) or out")
    ] = None,
    text: Annotated[
        str | None, typer.Option("--grep", help="Only frames containing this text")
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[int, typer.Option("--limit", help=f"At most this many (1-{MAX_ROWS})")] = (
        DEFAULT_ROWS
    ),
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    charge_point = checked_charge_point_id(charge_point_id)
    if direction is not None and direction not in ("in", "out"):
        raise fail(f"--direction {direction!r}: expected in or out")
    if not 1 <= limit <= MAX_ROWS:
        raise fail(f"--limit {limit}: expected 1 to {MAX_ROWS}")
    zone = ZoneInfo(load_settings(config).time_zone)
    start, end = _period(since, until, zone)
    search = MessageFilter(
        charge_point_id=charge_point,
        action=action,
        direction=direction,
        since=start,
        until=end,
        text=text or None,
    )

    async def work(store: Store) -> list[MessageRecord]:
        return await store.message_log.list_messages(search, limit=limit)

    records = run_store(config, work)
    if as_json:
        print_json(records)
        return
    if not records:
        console.print(f"no frames of {charge_point} match")
        return
    table = Table("at", "dir", "action", "message id", "frame")
    for record in records:
        frame = record.frame
        table.add_row(
            f"{record.at.astimezone(zone):%Y-%m-%d %H:%M:%S}",
            record.direction,
            record.action or "",
            record.message_id,
            frame if len(frame) <= FRAME_CHARS else frame[: FRAME_CHARS - 1] + "…",
        )
    console.print(table)


@app.command("explain", help="What happened on a charger, told from its OCPP frames.")
def explain(
    charge_point_id: str,
    since: SinceOption = None,
    until: UntilOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    charge_point = checked_charge_point_id(charge_point_id)
    zone = ZoneInfo(load_settings(config).time_zone)
    start, end = _period(since, until, zone)
    end = end or now()
    start = start or end - DEFAULT_EXPLAIN_PERIOD
    if start >= end:
        raise fail(f"--since {since} is not before now: nothing to tell")

    async def work(store: Store) -> Explained:
        return await explain_charge_point(store.message_log, charge_point, start, end)

    explained = run_store(config, work)
    if as_json:
        print_json(explained)
        return
    period = f"{start.astimezone(zone):%Y-%m-%d %H:%M} to {end.astimezone(zone):%Y-%m-%d %H:%M}"
    if not explained.sentences:
        console.print(f"no frames of {charge_point} from {period} ({zone.key})")
        return
    console.print(f"{charge_point}, {period} ({zone.key}), {explained.frames} frames:")
    if explained.truncated:
        console.print("(more frames than explain reads: the newest are told)")
    for sentence in explained.sentences:
        console.print(render(sentence, zone))
    console.print(f"({EXPLAIN_NOTE})")
