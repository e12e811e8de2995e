"""``chargedeck users ...`` and ``chargedeck tokens ...``: operator accounts and API tokens,
on the store directly (DESIGN §8, §10), so an owner can make a token before the first ``serve``.

A password or token is printed once, when it is made; the store keeps only its hash.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from chargedeck.cli._support import (
    ConfigOption,
    JsonOption,
    console,
    fail,
    now,
    print_json,
    run_store,
    time_text,
)
from chargedeck.domain.operators import (
    SCOPE_NAMES,
    Scope,
    check_not_last_admin,
    check_password,
    check_token_name,
    check_token_scope,
    check_username,
    is_expired,
    new_password,
    new_token,
    parse_scope,
    token_expiry,
    token_hash,
    token_prefix,
)

users_app = typer.Typer(no_args_is_help=True, help="Operator accounts (API and web UI)")
tokens_app = typer.Typer(no_args_is_help=True, help="API tokens for scripts (Bearer)")

ScopeOption = Annotated[
    str,
    typer.Option("--scope", help=f"What it may do: {SCOPE_NAMES} (each includes the ones before)"),
]
PasswordStdinOption = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from the first line of stdin"),
]
PromptOption = Annotated[
    bool, typer.Option("--prompt", help="Type the password (hidden, asked twice)")
]


def _scope(text: str, what: str = "--scope") -> Scope:
    try:
        return parse_scope(text, what)
    except ValueError as exc:
        raise fail(str(exc)) from None


def _username(text: str) -> str:
    try:
        return check_username(text)
    except ValueError as exc:
        raise fail(str(exc)) from None


def _password(from_stdin: bool, prompt: bool) -> tuple[str, bool]:
    """(the password, True if it was generated and must be shown)."""
    if from_stdin and prompt:
        raise fail("use either --password-stdin or --prompt, not both")
    if from_stdin:
        text = sys.stdin.readline().rstrip("\r\n")
    elif prompt:
        text = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    else:
        return new_password(), True
    try:
        return check_password(text), False
    except ValueError as exc:
        raise fail(str(exc)) from None


async def _hash(password: str) -> str:
    import asyncio

    from chargedeck.domain.passwords import hash_secret

    return await asyncio.to_thread(hash_secret, password.encode())


# ---- users ------------------------------------------------------------------------------------


@users_app.command("add", help="Create an account; without a password option one is generated.")
def users_add(
    username: Annotated[str, typer.Argument(help="lower-case letters, digits, '.', '_', '-'")],
    scope: ScopeOption,
    password_stdin: PasswordStdinOption = False,
    prompt: PromptOption = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    from chargedeck.store import errors as store_errors

    checked = _username(username)
    checked_scope = _scope(scope)
    password, generated = _password(password_stdin, prompt)

    async def work(store: Any) -> Any:
        try:
            return await store.operators.create_user(
                checked, await _hash(password), checked_scope, now()
            )
        except store_errors.AlreadyExists:
            raise fail(f"user {checked!r} exists already") from None

    record = run_store(config, work)
    shown = password if generated else None
    if as_json:
        print_json({**_fields(record), "password": shown})
        return
    console.print(f"created user {record.username} (scope {record.scope.value})")
    if shown is not None:
        console.print(f"password, shown this once: {shown}")


@users_app.command("list", help="List accounts, disabled ones included.")
def users_list(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    records = run_store(config, lambda store: store.operators.list_users())
    if as_json:
        print_json(records)
        return
    table = Table("username", "scope", "created", "disabled")
    for r in records:
        table.add_row(r.username, r.scope.value, time_text(r.created_at), time_text(r.disabled_at))
    console.print(table)


@users_app.command(
    "set-password", help="Set an account's password; without an option one is generated."
)
def users_set_password(
    username: str,
    password_stdin: PasswordStdinOption = False,
    prompt: PromptOption = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    from chargedeck.store import errors as store_errors

    password, generated = _password(password_stdin, prompt)

    async def work(store: Any) -> Any:
        try:
            return await store.operators.set_password(username, await _hash(password))
        except store_errors.NotFound:
            raise fail(f"user {username!r} does not exist") from None

    record = run_store(config, work)
    shown = password if generated else None
    if as_json:
        print_json({"username": record.username, "password": shown})
        return
    console.print(f"password of {record.username} changed")
    if shown is not None:
        console.print(f"new password, shown this once: {shown}")


@users_app.command("disable", help="Disable an account; its tokens stop working too.")
def users_disable(username: str, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    from chargedeck.store import errors as store_errors

    async def work(store: Any) -> Any:
        try:
            check_not_last_admin(username, await store.operators.enabled_admins())
        except ValueError as exc:
            raise fail(str(exc)) from None
        try:
            return await store.operators.disable_user(username, now())
        except store_errors.NotFound:
            raise fail(f"user {username!r} does not exist") from None

    record = run_store(config, work)
    if as_json:
        print_json(record)
        return
    console.print(f"disabled user {record.username}")


# ---- tokens -----------------------------------------------------------------------------------


@tokens_app.command("create", help="Create an API token and print it (this once only).")
def tokens_create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. home-assistant")],
    scope: ScopeOption,
    user: Annotated[
        str | None, typer.Option("--user", help="The account it belongs to (default: none)")
    ] = None,
    expires_days: Annotated[
        int | None, typer.Option("--expires-days", help="Expire after N days (default: never)")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    checked_scope = _scope(scope)
    created_at = now()
    try:
        checked_name = check_token_name(name)
        expires_at = token_expiry(created_at, expires_days)
    except ValueError as exc:
        raise fail(str(exc)) from None
    token = new_token()

    async def work(store: Any) -> Any:
        user_id = None
        if user is not None:
            owner = await store.operators.get_user(user)
            if owner is None or owner.disabled_at is not None:
                raise fail(f"--user {user!r} does not exist or is disabled")
            try:
                check_token_scope(checked_scope, owner.scope, owner.username)
            except ValueError as exc:
                raise fail(str(exc)) from None
            user_id = owner.id
        return await store.operators.create_token(
            name=checked_name,
            scope=checked_scope,
            token_hash=token_hash(token),
            token_prefix=token_prefix(token),
            now=created_at,
            user_id=user_id,
            expires_at=expires_at,
        )

    record = run_store(config, work)
    if as_json:
        print_json({**_fields(record), "token": token})
        return
    console.print(
        f"created token {record.name!r} (id {record.id}, scope {record.scope.value}); "
        "it is shown this once:"
    )
    console.print(token)


@tokens_app.command("list", help="List tokens (their first characters, never the token).")
def tokens_list(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    records = run_store(config, lambda store: store.operators.list_tokens())
    if as_json:
        print_json(records)
        return
    at = now()
    table = Table("id", "name", "user", "scope", "starts with", "last used", "expires", "state")
    for r in records:
        state = (
            "revoked"
            if r.revoked_at is not None
            else "expired"
            if is_expired(r.expires_at, at)
            else "active"
        )
        table.add_row(
            str(r.id),
            r.name,
            r.username or "",
            r.scope.value,
            r.token_prefix,
            time_text(r.last_used_at),
            time_text(r.expires_at),
            state,
        )
    console.print(table)


@tokens_app.command("revoke", help="Revoke a token: it stops working at once.")
def tokens_revoke(
    token_id: Annotated[int, typer.Argument(help="The id tokens list shows", min=1, max=2**31 - 1)],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    from chargedeck.store import errors as store_errors

    async def work(store: Any) -> Any:
        try:
            return await store.operators.revoke_token(token_id, now())
        except store_errors.NotFound as exc:
            raise fail(str(exc)) from None

    record = run_store(config, work)
    if as_json:
        print_json(record)
        return
    console.print(f"revoked token {record.name!r} (id {record.id})")


def _fields(record: Any) -> dict[str, Any]:
    import msgspec

    fields: dict[str, Any] = msgspec.to_builtins(record)
    return fields
