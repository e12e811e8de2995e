"""The ``chargedeck`` command line (DESIGN §8, §10).

``serve`` runs the server. Store commands (``migrate``, ``charge-points``, ``id-tags``,
``transactions``) work on the store directly with the same settings, so an owner can script a
set-up before the first ``serve``. ``command`` talks to a running server's API, because only the
server holds the charger's connection. Every command prints what it did, takes ``--json``, and
exits non-zero with a sentence on bad input.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from typing import Annotated, Any

import typer
from rich.table import Table

from chargedeck.cli import (
    acceptance,
    api,
    certs,
    charging_profiles,
    configuration_memory,
    id_tags,
    local_lists,
    message_log,
    openapi,
    operations_files,
    reservations,
    simulate,
    sites,
    triggers,
    webhooks,
)
from chargedeck.cli._support import (
    ApiOption,
    ConfigOption,
    JsonOption,
    TokenOption,
    call_api,
    checked_charge_point_id,
    chosen_key,
    console,
    database_url,
    fail,
    load_settings,
    now,
    print_json,
    report,
    run_store,
    time_text,
)
from chargedeck.cli.operators import tokens_app, users_app
from chargedeck.cli.records import export_app, tariffs_app
from chargedeck.config import SettingsError, build_settings, parse_flag_args, settings_help
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId

app = typer.Typer(no_args_is_help=True, add_completion=False, help="ChargeDeck OCPP 1.6J CSMS")
charge_points_app = typer.Typer(no_args_is_help=True, help="Charge points in the store")
transactions_app = typer.Typer(no_args_is_help=True, help="Charging sessions in the store")
app.add_typer(charge_points_app, name="charge-points")
app.add_typer(id_tags.app, name="id-tags")
app.add_typer(transactions_app, name="transactions")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(certs.app, name="certs")
app.add_typer(local_lists.app, name="local-list")
app.add_typer(reservations.app, name="reservations")
app.add_typer(sites.app, name="sites")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(tariffs_app, name="tariffs")
app.add_typer(export_app, name="export")
app.add_typer(configuration_memory.config_app, name="config")
app.add_typer(configuration_memory.templates_app, name="templates")
app.add_typer(configuration_memory.bulk_app, name="bulk")
app.add_typer(triggers.app)  # chargedeck trigger, chargedeck trigger-bulk
app.add_typer(charging_profiles.app, name="charging-profiles")
app.add_typer(acceptance.app)  # chargedeck check
app.add_typer(message_log.app)  # chargedeck messages, chargedeck explain
app.add_typer(simulate.app)  # chargedeck simulate
app.add_typer(openapi.app)  # chargedeck openapi
app.add_typer(operations_files.firmware_app, name="firmware")
app.add_typer(operations_files.diagnostics_app, name="diagnostics")
app.add_typer(api.app, name="api")  # every REST operation, generated from the route table


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    help="Run the CSMS: OCPP on ws://0.0.0.0:9000/ocpp/<ID>, API on http://127.0.0.1:8000.\n\n"
    "Settings (also CHARGEDECK_<KEY> or chargedeck.toml):\n\n"
    + settings_help().replace("\n", "\n\n"),
)
def serve(ctx: typer.Context, config: ConfigOption = None) -> None:
    from chargedeck.logs import configure_logging
    from chargedeck.server.app import run

    try:
        settings = build_settings(config_file=config, flags=parse_flag_args(ctx.args))
    except SettingsError as exc:
        raise fail(str(exc)) from None
    configure_logging(settings.log_level)
    from chargedeck.server.app import StartupError
    from chargedeck.store.errors import StoreError

    try:
        run(settings)
    except (StartupError, StoreError) as exc:
        raise fail(str(exc)) from None


@app.command(help="Create or upgrade the database schema (serve does this too).")
def migrate(config: ConfigOption = None) -> None:
    from chargedeck.store import migrate as migrate_store

    asyncio.run(migrate_store(database_url(config)))
    console.print("database schema is up to date")


# ---- charge points ---------------------------------------------------------------------------


@charge_points_app.command("list", help="List charge points (registered and pending).")
def charge_points_list(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    records = run_store(config, lambda store: store.charge_points.list_charge_points(None))
    if as_json:
        print_json(records)
        return
    table = Table("id", "registration", "vendor", "model", "firmware", "last boot")
    for r in records:
        table.add_row(
            r.id,
            r.registration.value,
            r.vendor or "",
            r.model or "",
            r.firmware_version or "",
            time_text(r.last_boot_at),
        )
    console.print(table)


@charge_points_app.command("add", help="Register a charge point so it is accepted on boot.")
def charge_points_add(
    charge_point_id: Annotated[
        str, typer.Argument(help="The Charge Point ID typed on the charger")
    ],
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            help="Its password (16-40 characters, or 32-40 hex digits); see --generate-password",
        ),
    ] = None,
    generate_password: Annotated[
        bool, typer.Option("--generate-password", help="Make a random password and print it once")
    ] = False,
    security_profile: Annotated[
        int | None,
        typer.Option(
            "--security-profile",
            min=0,
            max=3,
            help="0 none, 1 password, 2 TLS + password, 3 TLS client certificate "
            "(default: 1 with a password, else 0)",
        ),
    ] = None,
    site: Annotated[
        str | None,
        typer.Option("--site", help="Place it on this site's grid connection (L1L2L3)"),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    from chargedeck.domain.passwords import hash_secret
    from chargedeck.domain.security import SecurityProfile
    from chargedeck.store import errors as store_errors

    checked = checked_charge_point_id(charge_point_id)
    chosen = chosen_key(password, generate_password)
    key_hash = None if chosen is None else hash_secret(chosen[0].key)
    password = password if chosen is None or chosen[1] is None else chosen[1]
    profile = SecurityProfile(
        security_profile
        if security_profile is not None
        else (SecurityProfile.BASIC_AUTH if key_hash else SecurityProfile.NONE)
    )
    if profile.uses_password and key_hash is None:
        raise fail(f"security profile {int(profile)} needs --password or --generate-password")

    async def work(store: Any) -> Any:
        grid = None if site is None else await sites.grid_connection(store, site)
        try:
            record = await store.charge_points.add_charge_point(
                checked,
                Registration.REGISTERED,
                now(),
                security_profile=profile,
                authorization_key_hash=key_hash,
            )
        except store_errors.AlreadyExists:
            raise fail(f"charge point {checked!r} is already registered") from None
        if grid is not None:
            await sites.place(store, checked, grid)
        return record

    record = run_store(config, work)
    sentence = f"registered charge point {record.id} (security profile {int(profile)})"
    if site is not None:
        sentence += f"\nplaced on site {site}, circuit grid (L1L2L3)"
    if generate_password and password is not None:
        sentence += f"\npassword (shown once; type it into the charger): {password}"
    elif profile is SecurityProfile.NONE:
        sentence += (
            "\nwarning: no password: anyone who knows the id can connect as this charger; "
            "give it one with --password"
        )
    if as_json and generate_password:
        print_json({"charge_point": record, "password": password})
    else:
        report(record, as_json, sentence)


@charge_points_app.command(
    "set-password",
    help="Set or rotate a charger's password. Through the running server: a connected charger "
    "is told first (ChangeConfiguration AuthorizationKey) and the password changes only if it "
    "accepts. --offline writes the store directly (server stopped; enter it in the charger).",
)
def charge_points_set_password(
    charge_point_id: str,
    password: Annotated[str | None, typer.Option("--password", help="16-40 characters")] = None,
    generate_password: Annotated[
        bool, typer.Option("--generate-password", help="Make one and print it once")
    ] = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="Write the store directly; no server running")
    ] = False,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    checked = checked_charge_point_id(charge_point_id)
    chosen = chosen_key(password, generate_password)
    if chosen is None:
        raise fail("give --password or --generate-password")
    key, generated = chosen
    password = generated or password
    if offline:

        async def work(store: Any) -> Any:
            from chargedeck.domain.passwords import hash_secret
            from chargedeck.store import errors as store_errors

            try:
                return await store.charge_points.set_authorization_key(
                    checked, hash_secret(key.key), now()
                )
            except store_errors.NotFound:
                raise fail(f"charge point {checked!r} is not in the store") from None

        record = run_store(config, work)
        answer: Any = {"outcome": "stored", "charger_status": None, "charge_point": record}
    else:
        path = f"/charge-points/{urllib.parse.quote(checked, safe='')}/password"
        answer = call_api(
            api, "PUT", path, json.dumps({"password": password}).encode(), token, "admin"
        )
    outcome = answer["outcome"]
    if as_json:
        print_json({**answer, "password": password if generate_password else None})
        return
    sentences = {
        "stored": "password stored; enter the same password in the charger",
        "accepted_by_charger": "the charger accepted its new password; it reconnects with it",
        "refused_by_charger": f"the charger answered {answer['charger_status']}: "
        "the old password stays valid",
    }
    console.print(f"{checked}: {sentences[outcome]}")
    if generate_password and outcome != "refused_by_charger":
        console.print(f"password (shown once): {password}")
    if outcome == "refused_by_charger":
        raise typer.Exit(code=1)


@charge_points_app.command(
    "set-security-profile",
    help="Raise (or lower) a charger's security profile (0-3). A raised profile stays pending, "
    "with the old one still accepted, until the charger connects with it.",
)
def charge_points_set_security_profile(
    charge_point_id: str,
    profile: Annotated[int, typer.Argument(min=0, max=3)],
    offline: Annotated[
        bool, typer.Option("--offline", help="Write the store directly; no server running")
    ] = False,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    checked = checked_charge_point_id(charge_point_id)
    if offline:
        settings = load_settings(config)

        async def work(store: Any) -> Any:
            from chargedeck.clock import SystemClock
            from chargedeck.csms.charger_security import (
                SecurityChangeRefused,
                set_security_profile,
            )
            from chargedeck.csms.commands import UnknownChargePoint
            from chargedeck.csms.context import CsmsServices
            from chargedeck.csms.stations import Stations
            from chargedeck.domain.security import SecurityProfile

            services = CsmsServices(store, settings, SystemClock(), Stations())
            try:
                change = await set_security_profile(services, checked, SecurityProfile(profile))
            except (SecurityChangeRefused, UnknownChargePoint) as exc:
                raise fail(str(exc)) from None
            return {
                "outcome": change.outcome.value,
                "charger_status": None,
                "charge_point": change.charge_point,
            }

        answer: Any = run_store(config, work)
    else:
        path = f"/charge-points/{urllib.parse.quote(checked, safe='')}/security-profile"
        answer = call_api(
            api, "PUT", path, json.dumps({"security_profile": profile}).encode(), token, "admin"
        )
    if as_json:
        print_json(answer)
        return
    record = answer["charge_point"]
    pending = (
        record["pending_security_profile"]
        if isinstance(record, dict)
        else record.pending_security_profile
    )
    if answer["outcome"] == "refused_by_charger":
        console.print(
            f"{checked}: the charger answered {answer['charger_status']}; nothing changed"
        )
        raise typer.Exit(code=1)
    if pending is not None:
        console.print(
            f"{checked}: security profile {profile} pending; the old profile stays valid until "
            "the charger connects with the new one"
        )
    else:
        console.print(f"{checked}: security profile {profile}")


@charge_points_app.command(
    "rejections", help="Why charger connections were refused, most recent first."
)
def charge_points_rejections(
    charge_point_id: Annotated[
        str | None, typer.Argument(help="Only this charger ('' for unknown ids / TLS failures)")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 50,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    from chargedeck.domain.security import REASONS

    async def work(store: Any) -> Any:
        return await store.rejections.list_rejections(charge_point_id, limit)

    records = run_store(config, work)
    if as_json:
        print_json(records)
        return
    table = Table("last", "charge point", "from", "reason", "count", "detail", "charger shows")
    for record in records:
        table.add_row(
            time_text(record.last_at),
            record.charge_point_id or "(unknown)",
            record.remote_host,
            record.reason.value,
            str(record.count),
            record.detail,
            REASONS[record.reason].charger_shows,
        )
    console.print(table)


@charge_points_app.command("adopt", help="Adopt a charge point waiting in the inbox.")
def charge_points_adopt(
    charge_point_id: str, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    from chargedeck.store import errors as store_errors

    checked = checked_charge_point_id(charge_point_id)

    async def work(store: Any) -> Any:
        try:
            return await store.charge_points.adopt_charge_point(checked, now())
        except store_errors.NotFound:
            raise fail(f"charge point {checked!r} is not in the inbox") from None

    record = run_store(config, work)
    report(record, as_json, f"adopted charge point {record.id}; it is accepted on its next boot")


id_tags.add_charge_point_commands(charge_points_app)
sites.add_charge_point_commands(charge_points_app)


# ---- transactions ----------------------------------------------------------------------------


@transactions_app.command("list", help="List transactions, newest first.")
def transactions_list(
    charge_point: Annotated[str | None, typer.Option(help="Only this charge point")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    records = run_store(
        config,
        lambda store: store.transactions.list_transactions(
            charge_point_id=None if charge_point is None else ChargePointId(charge_point),
            active=None,
            limit=limit,
            before_id=None,
        ),
    )
    if as_json:
        print_json(records)
        return
    table = Table("id", "charge point", "connector", "id tag", "started", "stopped", "Wh")
    for r in records:
        energy = "" if r.meter_stop is None else str(r.meter_stop - r.meter_start)
        table.add_row(
            str(r.id),
            r.charge_point_id,
            str(r.connector_id),
            r.id_tag,
            time_text(r.started_at),
            time_text(r.stopped_at),
            energy,
        )
    console.print(table)


# ---- commands to chargers (through the running server) ---------------------------------------


@app.command(
    help="Send an OCPP command to a connected charger through the running server's API.\n\n"
    "PAYLOAD is the OCPP JSON payload (camelCase), e.g. "
    'chargedeck command CP1 Reset \'{"type": "Soft"}\''
)
def command(
    charge_point_id: str,
    action: Annotated[str, typer.Argument(help="e.g. Reset, UnlockConnector, GetConfiguration")],
    payload: Annotated[str, typer.Argument(help="OCPP payload as JSON")] = "{}",
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    try:
        json.loads(payload)
    except ValueError as exc:
        raise fail(f"PAYLOAD is not JSON: {exc}") from None
    checked = checked_charge_point_id(charge_point_id)
    path = (
        f"/charge-points/{urllib.parse.quote(checked, safe='')}"
        f"/commands/{urllib.parse.quote(action)}"
    )
    body = call_api(api, "POST", path, payload.encode(), token, "operate")
    if as_json:
        print_json(body)
    else:
        console.print(f"{checked} answered {action}: {json.dumps(body['response'])}")


def main() -> None:
    app()
