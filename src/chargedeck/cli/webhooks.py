"""``chargedeck webhooks add|list|remove|deliveries``: webhook subscriptions and their delivery
log, on the store directly (like ``chargedeck sites``), so an owner can script them before the
first ``serve``. A running server sends to a new webhook from its next event on; the API
(``/api/v1/webhooks``) does the same and can also send a test ping.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import typer
from rich.table import Table

from chargedeck.cli._support import (
    ConfigOption,
    JsonOption,
    checked_charge_point_id,
    console,
    fail,
    now,
    print_json,
    report,
    run_store,
    time_text,
)
from chargedeck.csms.webhooks import (
    check_event_types,
    check_webhook_name,
    check_webhook_url,
    new_secret,
)
from chargedeck.store import errors as store_errors
from chargedeck.store.webhooks import DeliveryRecord, WebhookRecord

app = typer.Typer(
    no_args_is_help=True,
    help="Webhooks: live events POSTed, signed and retried, to your URLs (in the store)",
)

MAX_LIST = 500


def _public(record: WebhookRecord) -> dict[str, Any]:
    """A webhook without its secret (shown once, by ``add``)."""
    fields = msgspec.structs.asdict(record)
    del fields["secret"]
    fields["event_types"] = record.event_types.split(",")
    return fields


def _checked(check: Any, value: str) -> str:
    try:
        checked: str = check(value)
    except ValueError as exc:
        raise fail(str(exc)) from None
    return checked


async def _find(store: Any, name: str) -> WebhookRecord:
    record: WebhookRecord | None = await store.webhooks.find_webhook(name)
    if record is None:
        raise fail(f"there is no webhook named {name!r} (chargedeck webhooks list shows them)")
    return record


@app.command("add", help="Add a webhook; prints its signing secret once.")
def add(
    name: str,
    url: Annotated[str, typer.Argument(help="Absolute http:// or https:// URL to POST to")],
    events: Annotated[
        str,
        typer.Option(
            "--events", help="Comma list of event types (docs/events.md), or * for every type"
        ),
    ] = "*",
    charge_point: Annotated[
        str | None, typer.Option("--charge-point", help="Only this charger's events")
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it switched off")] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    checked_name = _checked(check_webhook_name, name)
    checked_url = _checked(check_webhook_url, url)
    try:
        event_types = check_event_types(events.split(","))
    except ValueError as exc:
        raise fail(str(exc)) from None
    charge_point_id = None if charge_point is None else checked_charge_point_id(charge_point)
    secret = new_secret()

    async def work(store: Any) -> WebhookRecord:
        try:
            record: WebhookRecord = await store.webhooks.add_webhook(
                name=checked_name,
                url=checked_url,
                secret=secret,
                event_types=event_types,
                charge_point_id=charge_point_id,
                enabled=not disabled,
                now=now(),
            )
        except store_errors.Conflict as exc:
            raise fail(str(exc)) from None
        return record

    record = run_store(config, work)
    report(
        {**_public(record), "secret": record.secret},
        as_json,
        f"added webhook {record.name} (id {record.id}): {record.event_types} events"
        + (f" of {record.charge_point_id}" if record.charge_point_id else "")
        + f" to {record.url}\nsigning secret (shown this once): {record.secret}",
    )


@app.command("list", help="List webhooks (never their secrets).")
def list_webhooks(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    async def work(store: Any) -> list[WebhookRecord]:
        records: list[WebhookRecord] = await store.webhooks.list_webhooks()
        return records

    records = run_store(config, work)
    if as_json:
        print_json([_public(r) for r in records])
        return
    table = Table("name", "id", "url", "events", "charge point", "enabled")
    for record in records:
        table.add_row(
            record.name,
            str(record.id),
            record.url,
            record.event_types,
            record.charge_point_id or "all",
            "yes" if record.enabled else "no",
        )
    console.print(table)


@app.command("remove", help="Remove a webhook (by name or id) and its delivery log.")
def remove(name: str, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    async def work(store: Any) -> WebhookRecord:
        record = await _find(store, name)
        deleted: WebhookRecord = await store.webhooks.delete_webhook(record.id)
        return deleted

    record = run_store(config, work)
    report(_public(record), as_json, f"removed webhook {record.name} (id {record.id})")


@app.command("deliveries", help="A webhook's delivery log, newest first.")
def deliveries(
    name: str,
    limit: Annotated[int, typer.Option("--limit", help=f"At most this many (1-{MAX_LIST})")] = 50,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    if not 1 <= limit <= MAX_LIST:
        raise fail(f"--limit {limit}: expected a number from 1 to {MAX_LIST}")

    async def work(store: Any) -> list[DeliveryRecord]:
        record = await _find(store, name)
        found: list[DeliveryRecord] = await store.webhooks.list_deliveries(record.id, limit=limit)
        return found

    records = run_store(config, work)
    if as_json:
        print_json(
            [{k: v for k, v in msgspec.structs.asdict(r).items() if k != "body"} for r in records]
        )
        return
    table = Table("id", "event", "event id", "status", "attempts", "last answer", "created")
    for record in records:
        answer = record.last_error or (
            "" if record.last_status_code is None else f"HTTP {record.last_status_code}"
        )
        table.add_row(
            str(record.id),
            record.event_type,
            record.event_id,
            record.status
            + (
                f" (next {time_text(record.next_attempt_at)})" if record.status == "pending" else ""
            ),
            str(record.attempts),
            answer,
            time_text(record.created_at),
        )
    console.print(table)
