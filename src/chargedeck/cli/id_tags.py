"""``chargedeck id-tags ...``: who may charge, on the store directly (like every store command).

Cards are added by the idTag a charger sends or by the UID printed on them (``--uid``); the
unknown-tag inbox lists what chargers presented that no tag answers to, for ``adopt`` or
``block-unknown``. ``charge-points set-default-owner`` and ``charge-points free-vend`` set who
charges without a card (mounted on ``charge-points`` by :func:`add_charge_point_commands`).

These commands write the store only: connected chargers' Local Authorization Lists are brought
up to date when id tags change through the API (``/api/v1/id-tags``), not from here.
"""

from __future__ import annotations

import enum
from datetime import datetime
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

app = typer.Typer(
    no_args_is_help=True,
    help="Id tags (RFID cards) in the store. Changes made here reach chargers' local lists "
    "only when made through the API.",
)

IdTagArgument = Annotated[str, typer.Argument(help="The id tag (any case)")]


def _expiry(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        expiry_date = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise fail(f"--expiry {text!r} is not an ISO 8601 date-time") from None
    if expiry_date.tzinfo is None:
        raise fail(f"--expiry {text!r} needs a time zone offset, e.g. Z or +01:00")
    return expiry_date


def _run(config: Any, work: Any) -> Any:
    """``run_store`` with the store's refusals (unknown tag, ambiguous card) as ``fail``."""
    from chargedeck.store import errors as store_errors

    async def guarded(store: Any) -> Any:
        try:
            return await work(store)
        except (store_errors.AlreadyExists, store_errors.NotFound, ValueError) as exc:
            raise fail(str(exc)) from None

    return run_store(config, guarded)


def _added(record: Any, sentence: str) -> str:
    """``sentence``, and for a card its UID and the idTag each charger model sends for it."""
    from chargedeck.csms.id_tag_registry import charger_id_tags
    from chargedeck.domain.card_uids import CardUid

    if record.card_uid is None:
        return sentence
    sentence += f"\ncard UID {CardUid(bytes.fromhex(record.card_uid)).printed}"
    for sent in charger_id_tags(record.card_uid):
        sentence += f"\n  {sent.id_tag} from {', '.join(sent.charger_models)}"
    return sentence


@app.command("add", help="Add an id tag: as the charger sends it, or by the card's printed UID.")
def add(
    id_tag: Annotated[
        str | None,
        typer.Argument(help="The idTag as a charger sends it (at most 20 characters)"),
    ] = None,
    uid: Annotated[
        str | None,
        typer.Option(
            "--uid",
            help='The UID printed on the card, e.g. "04:A2:2B:1A:5C:3D:80" (4, 7 or 10 bytes; '
            "colons, spaces or dashes, any case); it also matches chargers that send it "
            "byte-reversed (Wallbox)",
        ),
    ] = None,
    owner: Annotated[str | None, typer.Option(help="Who the card belongs to")] = None,
    label: Annotated[str | None, typer.Option(help="A name for the card, e.g. 'blue fob'")] = None,
    blocked: Annotated[bool, typer.Option(help="Refuse this card")] = False,
    expiry: Annotated[
        str | None,
        typer.Option(
            "--expiry", "--expires", help="Expiry, ISO 8601 with offset, e.g. 2027-01-01T00:00:00Z"
        ),
    ] = None,
    parent: Annotated[str | None, typer.Option(help="Parent (group) id tag")] = None,
    max_active: Annotated[
        int | None,
        typer.Option("--max-active", min=1, help="At most this many transactions at once"),
    ] = None,
    notes: Annotated[str | None, typer.Option(help="Free text")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    from chargedeck.csms.id_tag_registry import checked_new_id_tag, checked_owner
    from chargedeck.domain.id_tags import check_id_tag
    from chargedeck.domain.ids import IdTag

    try:
        tag, card_uid = checked_new_id_tag(id_tag, uid)
        if parent is not None:
            check_id_tag(parent, "--parent")
        checked = None if owner is None else checked_owner(owner)
    except ValueError as exc:
        raise fail(str(exc)) from None
    expiry_date = _expiry(expiry)

    async def work(store: Any) -> Any:
        return await store.id_tags.add_id_tag(
            tag,
            now=now(),
            card_uid=card_uid,
            parent_id_tag=None if parent is None else IdTag(parent),
            expiry_date=expiry_date,
            blocked=blocked,
            owner=checked,
            label=label,
            notes=notes,
            max_active_transactions=max_active,
        )

    record = _run(config, work)
    report(record, as_json, _added(record, f"added id tag {record.id_tag}"))


@app.command("list", help="List id tags.")
def list_id_tags(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    records = run_store(config, lambda store: store.id_tags.list_id_tags())
    if as_json:
        print_json(records)
        return
    table = Table("id tag", "card UID", "owner", "label", "blocked", "expiry", "parent", "max tx")
    for r in records:
        table.add_row(
            r.id_tag,
            r.card_uid or "",
            r.owner or "",
            r.label or "",
            "yes" if r.blocked else "",
            time_text(r.expiry_date),
            r.parent_id_tag or "",
            "" if r.max_active_transactions is None else str(r.max_active_transactions),
        )
    console.print(table)


def _change(config: Any, id_tag: str, as_json: bool, sentence: str, **values: Any) -> None:
    from chargedeck.store.id_tags import IdTagChanges

    record = _run(
        config, lambda store: store.id_tags.update_id_tag(id_tag, IdTagChanges(**values), now())
    )
    report(record, as_json, f"id tag {record.id_tag} {sentence}")


@app.command("block", help="Refuse an id tag from now on (Authorize answers Blocked).")
def block(id_tag: IdTagArgument, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    _change(config, id_tag, as_json, "is blocked", blocked=True)


@app.command("unblock", help="Accept a blocked id tag again.")
def unblock(
    id_tag: IdTagArgument, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    _change(config, id_tag, as_json, "is no longer blocked", blocked=False)


@app.command("remove", help="Remove an id tag (its sessions keep their idTag and owner).")
def remove(id_tag: IdTagArgument, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    record = _run(config, lambda store: store.id_tags.remove_id_tag(id_tag))
    report(record, as_json, f"removed id tag {record.id_tag}")


@app.command("unknown", help="The inbox: idTags chargers presented that no id tag answers to.")
def unknown(
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    records = run_store(config, lambda store: store.unknown_id_tags.list_unknown_id_tags(limit))
    if as_json:
        print_json(records)
        return
    table = Table("id tag", "count", "last seen", "charge point", "connector", "action")
    for r in records:
        table.add_row(
            r.id_tag,
            str(r.count),
            time_text(r.last_seen_at),
            r.last_charge_point_id,
            "" if r.last_connector_id is None else str(r.last_connector_id),
            r.last_action,
        )
    console.print(table)


@app.command("adopt", help="Register an idTag of the inbox for its owner.")
def adopt(
    id_tag: IdTagArgument,
    owner: Annotated[str, typer.Option(help="Who the card belongs to")],
    label: Annotated[str | None, typer.Option(help="A name for the card")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    from chargedeck.csms.id_tag_registry import adopt_unknown_id_tag

    record = _run(
        config,
        lambda store: adopt_unknown_id_tag(store, id_tag, owner=owner, label=label, now=now()),
    )
    report(record, as_json, _added(record, f"adopted id tag {record.id_tag} for {record.owner}"))


@app.command("block-unknown", help="Register an idTag of the inbox as blocked.")
def block_unknown(
    id_tag: IdTagArgument, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    from chargedeck.csms.id_tag_registry import block_unknown_id_tag

    record = _run(config, lambda store: block_unknown_id_tag(store, id_tag, now=now()))
    report(record, as_json, _added(record, f"id tag {record.id_tag} is registered as blocked"))


# ---- charge points: who charges without a card ---------------------------------------------


class Switch(enum.StrEnum):
    ON = "on"
    OFF = "off"


def set_default_owner(
    charge_point_id: str,
    owner: Annotated[str, typer.Argument(help="The owner's name; '' for none")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    checked = checked_charge_point_id(charge_point_id)
    name = owner.strip() or None
    record = _run(
        config,
        lambda store: store.charge_points.set_authorization_policy(checked, default_owner=name),
    )
    sentence = (
        f"{checked}: sessions without a card are attributed to {name}"
        if name
        else f"{checked}: sessions without a card are attributed to nobody"
    )
    report(record, as_json, sentence)


def free_vend(
    charge_point_id: str,
    switch: Annotated[Switch, typer.Argument(help="on: start a transaction on plug-in")],
    id_tag: Annotated[
        str | None,
        typer.Option("--id-tag", help="The idTag of those starts ('' for the default, FreeVend)"),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    from chargedeck.csms.free_vend import remote_start_id_tag
    from chargedeck.domain.id_tags import check_id_tag

    checked = checked_charge_point_id(charge_point_id)
    tag: str | msgspec.UnsetType | None = msgspec.UNSET
    if id_tag is not None:
        try:
            tag = check_id_tag(id_tag, "--id-tag") if id_tag else None
        except ValueError as exc:
            raise fail(str(exc)) from None
    record = _run(
        config,
        lambda store: store.charge_points.set_authorization_policy(
            checked, free_vend=switch is Switch.ON, free_vend_id_tag=tag
        ),
    )
    if record.free_vend:
        sentence = (
            f"{checked}: free vend on: a connector going Preparing is started with idTag "
            f"{remote_start_id_tag(record)!r}, for {record.default_owner or 'no default owner'}"
        )
    else:
        sentence = f"{checked}: free vend off"
    report(record, as_json, sentence)


def add_charge_point_commands(charge_points_app: typer.Typer) -> None:
    """Mount the authorization commands on ``chargedeck charge-points``."""
    charge_points_app.command(
        "set-default-owner",
        help="Whom sessions started without a card (placeholder idTag such as Wallbox's "
        "NoAuthorization, free vend) are attributed to.",
    )(set_default_owner)
    charge_points_app.command(
        "free-vend",
        help="Start a transaction (RemoteStartTransaction) whenever a connector goes Preparing: "
        "for chargers without an RFID reader.",
    )(free_vend)
