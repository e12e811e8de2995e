"""What every ``chargedeck`` sub-command shares: output, errors, settings and the store.

Sub-command groups live in their own modules of this package (``certs.py``, ...); each defines a
``typer.Typer`` that ``cli/__init__.py`` mounts with one ``add_typer`` line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any, TypeVar

import msgspec
import typer
from rich.console import Console

from chargedeck.config import Settings, SettingsError, build_settings
from chargedeck.domain.ids import ChargePointId
from chargedeck.domain.security import AuthorizationKey
from chargedeck.ocpp.handshake import HandshakeRefused, check_charge_point_id

# Markup off: ids and tags typed by operators may contain "[...]", which rich would eat.
console = Console(markup=False, highlight=False)
T = TypeVar("T")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Settings file (default ./chargedeck.toml)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]


def fail(message: str) -> typer.Exit:
    """Print ``error: <sentence>`` on one line of stderr (never parsed as markup) and exit 2."""
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code=2)


def load_settings(config: Path | None) -> Settings:
    """The settings (file < environment), or ``fail`` with the sentence of what is wrong."""
    try:
        return build_settings(config_file=config)
    except SettingsError as exc:
        raise fail(str(exc)) from None


def database_url(config: Path | None) -> str:
    return load_settings(config).database_url


def run_store(config: Path | None, work: Callable[[Any], Awaitable[T]]) -> T:
    """Open the store (migrating it), run ``work(store)``, close it."""
    from chargedeck.store import errors as store_errors
    from chargedeck.store import open_store

    url = database_url(config)

    async def main() -> T:
        store = await open_store(url, migrate=True)
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except store_errors.StoreError as exc:
        raise fail(str(exc) or type(exc).__name__) from None


def print_json(value: Any) -> None:
    sys.stdout.write(msgspec.json.encode(value).decode() + "\n")


def report(record: Any, as_json: bool, sentence: str) -> None:
    """What a store command did: the record as JSON with --json, else one sentence."""
    if as_json:
        print_json(record)
    else:
        console.print(sentence)


def checked_charge_point_id(text: str) -> ChargePointId:
    try:
        return ChargePointId(check_charge_point_id(text))
    except HandshakeRefused as refused:
        raise fail(refused.reason) from None


def now() -> datetime:
    from chargedeck.clock import SystemClock

    return SystemClock().now()


def time_text(value: datetime | None) -> str:
    return "" if value is None else value.isoformat(timespec="seconds")


ApiOption = Annotated[str, typer.Option("--api", help="The running server's API base URL")]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="CHARGEDECK_API_TOKEN",
        show_envvar=True,
        help="API token (chargedeck tokens create NAME --scope SCOPE)",
    ),
]


def call_api(
    api: str, method: str, path: str, body: bytes | None, token: str | None, scope: str
) -> Any:
    """Call the running server's API (``/api/v1`` + ``path``) and return the JSON answer; on an
    error answer or no server, ``fail`` with a sentence saying what to do (``scope``: the one
    the route needs, named in the 401/403 hints)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 - the operator's own API URL
        f"{api.rstrip('/')}/api/v1{path}", data=body, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("detail", exc.reason)
        except ValueError:
            detail = exc.reason
        if exc.code == HTTPStatus.UNAUTHORIZED:
            detail += (
                "; pass --token or set CHARGEDECK_API_TOKEN "
                f"(chargedeck tokens create NAME --scope {scope})"
            )
        elif exc.code == HTTPStatus.FORBIDDEN:
            detail += f"; this needs a token with scope {scope} or higher"
        raise fail(f"{exc.code}: {detail}") from None
    except urllib.error.URLError as exc:
        raise fail(f"cannot reach the ChargeDeck API at {api}: {exc.reason}") from None


def chosen_key(password: str | None, generate: bool) -> tuple[AuthorizationKey, str | None] | None:
    """``--password``/``--generate-password`` as a charger key, or ``fail`` saying why not."""
    from chargedeck.domain.security import InvalidAuthorizationKey, chosen_authorization_key

    try:
        return chosen_authorization_key(password, generate)
    except InvalidAuthorizationKey as exc:
        raise fail(str(exc)) from None
