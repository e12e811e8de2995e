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
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any, BinaryIO, TypeVar

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


def _api_request(
    api: str, method: str, path: str, body: Any, token: str | None, content_type: str | None
) -> urllib.request.Request:
    headers = {} if content_type is None else {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return urllib.request.Request(  # noqa: S310 - the operator's own API URL
        f"{api.rstrip('/')}/api/v1{path}", data=body, method=method, headers=headers
    )


@contextmanager
def api_errors(api: str, scope: str) -> Iterator[None]:
    """Translate urllib's exceptions into ``fail`` with a sentence saying what to do (``scope``:
    the one the route needs, named in the 401/403 hints)."""
    try:
        yield
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
    except OSError as exc:  # the connection broke while a file was on its way
        raise fail(f"the connection to the ChargeDeck API at {api} broke: {exc}") from None


def call_api(
    api: str, method: str, path: str, body: bytes | None, token: str | None, scope: str
) -> Any:
    """Call the running server's API (``/api/v1`` + ``path``) and return the JSON answer; on an
    error answer or no server, ``fail`` (see :func:`api_errors`)."""
    request = _api_request(api, method, path, body, token, "application/json")
    with api_errors(api, scope), urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
        return json.loads(response.read())


STREAM_CHUNK_BYTES = 64 * 1024
"""Bytes per read and write of a streamed file: small enough for a smooth progress bar."""


def send_file_to_api(
    api: str,
    path: str,
    file: Path,
    token: str | None,
    scope: str,
    on_progress: Callable[[int], None],
) -> Any:
    """POST ``file`` as the raw body (``application/octet-stream``), read in chunks as it is
    sent, and return the JSON answer; ``on_progress(bytes)`` after each chunk. ``fail``s as
    :func:`call_api` does, and when the file cannot be read."""
    try:
        size = file.stat().st_size
        handle = file.open("rb")
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror}") from None

    def chunks() -> Iterator[bytes]:
        while chunk := handle.read(STREAM_CHUNK_BYTES):
            yield chunk
            on_progress(len(chunk))

    request = _api_request(api, "POST", path, chunks(), token, "application/octet-stream")
    request.add_header("Content-Length", str(size))
    with (
        handle,
        api_errors(api, scope),
        urllib.request.urlopen(request, timeout=120) as response,  # noqa: S310
    ):
        return json.loads(response.read())


def receive_file_from_api(
    api: str,
    path: str,
    out: Path,
    token: str | None,
    scope: str,
    on_start: Callable[[int | None], None],
    on_progress: Callable[[int], None],
) -> int:
    """GET ``path`` into ``out`` in chunks and return the bytes written; ``on_start(size)`` once
    the answer comes (None if the server does not say), ``on_progress(bytes)`` after each chunk.
    The bytes go to ``out.part`` first, renamed to ``out`` when complete: a broken download
    leaves no file that looks whole. ``fail``s as :func:`call_api` does, and when ``out``
    cannot be written."""
    request = _api_request(api, "GET", path, None, token, None)
    with (
        api_errors(api, scope),
        urllib.request.urlopen(request, timeout=120) as response,  # noqa: S310
    ):
        length = response.headers.get("Content-Length")
        on_start(int(length) if length and length.isdigit() else None)
        return write_streamed(response, out, on_progress)


def write_streamed(
    response: BinaryIO, out: Path, on_progress: Callable[[int], None] | None = None
) -> int:
    """Stream an API answer into ``out`` and return the bytes written; ``on_progress(bytes)``
    after each chunk. The bytes go to ``out.part`` first, renamed to ``out`` when complete: a
    broken download leaves no file that looks whole. ``fail``s when ``out`` cannot be written;
    errors reading ``response`` propagate to the caller's translation."""
    partial = out.with_name(out.name + ".part")
    written = 0
    try:
        try:
            sink = partial.open("wb")
        except OSError as exc:
            raise fail(f"cannot write {out}: {exc.strerror}") from None
        with sink:
            while chunk := response.read(STREAM_CHUNK_BYTES):
                try:
                    sink.write(chunk)
                except OSError as exc:
                    raise fail(f"cannot write {out}: {exc.strerror}") from None
                written += len(chunk)
                if on_progress is not None:
                    on_progress(len(chunk))
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return written


def chosen_key(password: str | None, generate: bool) -> tuple[AuthorizationKey, str | None] | None:
    """``--password``/``--generate-password`` as a charger key, or ``fail`` saying why not."""
    from chargedeck.domain.security import InvalidAuthorizationKey, chosen_authorization_key

    try:
        return chosen_authorization_key(password, generate)
    except InvalidAuthorizationKey as exc:
        raise fail(str(exc)) from None
