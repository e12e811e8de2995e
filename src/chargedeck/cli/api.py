"""``chargedeck api``: every REST operation as a command, generated from the route table.

One command per row of ``ROUTES`` (``server/api/app.py``), named after its handler with dashes
(``list_charge_points`` -> ``list-charge-points``); nothing here lists routes by hand, so a new
row is a new command (STYLE rule 2). Path parameters are positional arguments in path order,
query parameters ``--param k=v``, the body ``--body JSON|@FILE`` and/or ``--field k=v`` (typed by
the row's request type: ``api_body.py``), a raw upload ``--upload FILE``. The answer is shown as
tables (``api_output.py``), as JSON with ``--json``, or written to ``--out FILE`` (downloads).

The commands are built on first use, not at import: the route table imports the whole server,
and ``chargedeck --help`` must stay fast.

Exit codes: 0 done; 1 the server answered with a problem (4xx/5xx: "error: <title>: <detail>"),
as other commands exit 1 when the other side refuses; 2 no answer (server unreachable, time-out,
broken connection) or our own input was wrong, as ``fail`` and click's usage errors do.
"""

from __future__ import annotations

import http.client
import inspect
import io
import json
import os
import re
import sys
import typing
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass
from functools import cache
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperGroup

from chargedeck.cli._support import console, fail, print_json, write_streamed

if TYPE_CHECKING:
    from chargedeck.cli.api_body import BodyShape
    from chargedeck.server.api.app import ApiRoute

DEFAULT_SERVER = "http://127.0.0.1:8000"
"""The default ``http_host``/``http_port`` of ``chargedeck serve`` (DESIGN §10)."""
API_PREFIX = "/api/v1"
REQUEST_TIMEOUT_S = 120.0
"""As the other API commands (``_support.call_api``): a command waits for the charger (30 s per
call by default) and bulk operations for several."""
EXIT_PROBLEM = 1
EXIT_NO_ANSWER = 2
_PATH_PARAMETER = re.compile(r"{(\w+)}")


def operation_name(route: ApiRoute) -> str:
    """The command name of a route: its handler name with dashes."""
    return route.handler.replace("_", "-")


def path_parameters(path: str) -> list[str]:
    """The ``{names}`` of a route path, in order."""
    return _PATH_PARAMETER.findall(path)


def _routes() -> tuple[ApiRoute, ...]:
    from chargedeck.server.api.app import ROUTES

    return ROUTES


# ---- the lazily built group -------------------------------------------------------------------


class ApiGroup(TyperGroup):
    """``chargedeck api``: its own commands (``list``) plus one per route, built on first use.

    Context and command objects are typer's (vendored click) types; they are ``Any`` here.
    """

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *_operation_commands()]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return super().get_command(ctx, cmd_name) or _operation_commands().get(cmd_name)


@cache
def _operation_commands() -> dict[str, Any]:
    """The command of every route by name, built once per process (typer builds a new group
    for each run of the app, in tests many times)."""
    operations = typer.Typer()

    @operations.callback()
    def _group() -> None:
        """Holds the generated commands (never run as a command of its own)."""

    for route in _routes():
        operations.command(
            operation_name(route),
            help=_operation_help(route),
            short_help=route.summary,
            no_args_is_help=bool(path_parameters(route.path)),
        )(_operation_callback(route))
    group: Any = typer.main.get_command(operations)
    return dict(group.commands)


app = typer.Typer(
    cls=ApiGroup,
    no_args_is_help=True,
    help="Call any REST API operation of a running server: `chargedeck api list` shows them, "
    "`chargedeck api OPERATION --help` one (server: --server or CHARGEDECK_API_URL, token: "
    "--token or CHARGEDECK_API_TOKEN).",
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the answer as JSON")]


@app.command("list", help="Every API operation: command name, method, path, scope, summary.")
def list_operations(
    word: Annotated[
        str | None, typer.Argument(help="Only operations whose name, path or summary has it")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    rows = [
        {
            "operation": operation_name(r),
            "method": r.method,
            "path": r.path,
            "scope": r.scope.value,
            "summary": r.summary,
        }
        for r in _routes()
        if word is None
        or any(word.lower() in text.lower() for text in (r.handler, r.path, r.summary))
    ]
    if as_json:
        print_json(rows)
        return
    table = Table()
    table.add_column("operation", no_wrap=True)
    table.add_column("method", no_wrap=True)
    table.add_column("path", overflow="fold")
    table.add_column("scope", no_wrap=True)
    table.add_column("summary")
    for row in rows:
        table.add_row(*row.values())
    console.print(table)


# ---- one command per route --------------------------------------------------------------------


def _body_shape(route: ApiRoute, path_values: dict[str, str]) -> BodyShape:
    """The body's shape; a free payload (``dict``) for an ``{action}`` of the path is an OCPP
    payload, typed by that action's request in the action table."""
    from chargedeck.cli.api_body import body_shape
    from chargedeck.ocpp.v16.actions import ACTIONS

    action = ACTIONS.get(path_values.get("action", ""))
    free_payload = typing.get_origin(route.request) is dict
    ocpp_request = action.request if action is not None and free_payload else None
    return body_shape(route.request, ocpp_request)


def _operation_help(route: ApiRoute) -> str:
    from chargedeck.cli.api_body import body_shape, fields_help

    paragraphs = [
        route.summary + ".",
        f"{route.method} {API_PREFIX}{route.path} (scope {route.scope.value}).",
    ]
    shape = body_shape(route.request)
    if shape.fields:
        paragraphs.append(
            "Body fields (--field NAME=VALUE, NAME:=JSON): " + fields_help(shape) + "."
        )
    elif route.request is not None:
        paragraphs.append(
            "Body: a JSON object (--body or --field NAME=VALUE); for an OCPP action, its "
            "payload fields in camelCase, typed by the action."
        )
    if route.media_type != "application/json":
        paragraphs.append(f"Answers a file ({route.media_type}): give --out FILE.")
    return "\n\n".join(paragraphs)


@dataclass(frozen=True)
class Call:
    """What the command line asked for, beside the route and its path values."""

    params: list[str]
    body: str | None
    fields: list[str]
    upload: Path | None
    out: Path | None
    as_json: bool
    server: str
    token: str | None


def _operation_callback(route: ApiRoute) -> Callable[..., None]:
    """A command function for ``route``: its path parameters as arguments, then the options
    every operation shares (its signature is built here; typer reads it)."""
    names = path_parameters(route.path)

    def run(**values: Any) -> None:
        call = Call(
            params=values["option_params"] or [],
            body=values["option_body"],
            fields=values["option_fields"] or [],
            upload=values["option_upload"],
            out=values["option_out"],
            as_json=values["option_json"],
            server=values["option_server"],
            token=values["option_token"],
        )
        call_operation(route, {name: values[name] for name in names}, call)

    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter(
            name,
            keyword,
            annotation=Annotated[str, typer.Argument(show_default=False)],
        )
        for name in names
    ]
    takes_body = route.request is not None
    takes_upload = route.request is None and route.method in ("POST", "PUT")
    options: list[tuple[str, Any, Any]] = [
        (
            "option_params",
            list[str] | None,
            typer.Option("--param", metavar="NAME=VALUE", help="A query parameter (repeat it)"),
        ),
        (
            "option_body",
            str | None,
            typer.Option(
                "--body", metavar="JSON|@FILE", hidden=not takes_body, help="The JSON body"
            ),
        ),
        (
            "option_fields",
            list[str] | None,
            typer.Option(
                "--field",
                metavar="NAME=VALUE",
                hidden=not takes_body,
                help="A body field, typed by the body (repeat it; NAME:=JSON for JSON values)",
            ),
        ),
        (
            "option_upload",
            Path | None,
            typer.Option(
                "--upload",
                metavar="FILE",
                hidden=not takes_upload,
                help="Send FILE as the raw body (application/octet-stream)",
            ),
        ),
        (
            "option_out",
            Path | None,
            typer.Option("--out", metavar="FILE", help="Write the answer's body to FILE"),
        ),
        ("option_json", bool, typer.Option("--json", help="Print the answer as JSON")),
        (
            "option_server",
            str,
            typer.Option(
                "--server",
                "--api",
                envvar="CHARGEDECK_API_URL",
                show_envvar=True,
                help="The running server's base URL",
            ),
        ),
        (
            "option_token",
            str | None,
            typer.Option(
                "--token",
                envvar="CHARGEDECK_API_TOKEN",
                show_envvar=True,
                show_default=False,
                help="API token (chargedeck tokens create NAME --scope SCOPE); never printed",
            ),
        ),
    ]
    defaults: dict[str, Any] = {"option_json": False, "option_server": DEFAULT_SERVER}
    parameters += [
        inspect.Parameter(
            name, keyword, annotation=Annotated[kind, option], default=defaults.get(name)
        )
        for name, kind, option in options
    ]
    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return run


# ---- the call -------------------------------------------------------------------------------


def _no_answer(message: str) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code=EXIT_NO_ANSWER)


def _base_url(server: str) -> str:
    """``--server`` without a trailing ``/`` or ``/api/v1`` (both are accepted)."""
    base = server.rstrip("/")
    base = base.removesuffix(API_PREFIX)
    if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
        raise fail(f"--server must be an http:// or https:// URL, got {server!r}")
    return base


def _query(params: list[str]) -> str:
    pairs = []
    for text in params:
        name, equals, value = text.partition("=")
        if not equals or not name:
            raise fail(f"--param {text!r}: expected NAME=VALUE")
        pairs.append((name, value))
    return urllib.parse.urlencode(pairs)


def _request_body(route: ApiRoute, call: Call, path_values: dict[str, str]) -> tuple[Any, str]:
    """(data to send or None, its content type)."""
    from chargedeck.cli.api_body import BodyError, build_body, encode_body

    if route.request is None:
        if call.body is not None or call.fields:
            raise fail(f"{operation_name(route)} takes no JSON body (no --body or --field)")
        if call.upload is None:
            return None, "application/json"
        if route.method not in ("POST", "PUT"):
            raise fail(f"{operation_name(route)} takes no upload")
        try:  # streamed in blocks by http.client, as firmware files run to tens of MB
            return call.upload.open("rb"), "application/octet-stream"
        except OSError as exc:
            raise fail(f"cannot read {call.upload}: {exc.strerror}") from None
    if call.upload is not None:
        raise fail(f"{operation_name(route)} takes a JSON body (--body, --field), not --upload")
    try:
        body = build_body(_body_shape(route, path_values), call.body, call.fields)
    except BodyError as exc:
        raise fail(str(exc)) from None
    return encode_body(body), "application/json"


def _problem(error: urllib.error.HTTPError, route: ApiRoute) -> typer.Exit:
    """The server's problem+json as ``error: <title>: <detail>`` and exit 1."""
    raw = error.read()
    title, detail = f"{error.code} {error.reason}".strip(), ""
    try:
        problem = json.loads(raw)
    except ValueError:
        detail = raw.decode("utf-8", "replace").strip()[:200]
    else:
        if isinstance(problem, dict):
            title = str(problem.get("title") or title)
            detail = str(problem.get("detail") or "")
    if error.code == HTTPStatus.UNAUTHORIZED:
        detail += (
            f"; pass --token or set CHARGEDECK_API_TOKEN (chargedeck tokens create NAME "
            f"--scope {route.scope.value})"
        )
    elif error.code == HTTPStatus.FORBIDDEN:
        detail += f"; this needs a token with scope {route.scope.value} or higher"
    sys.stderr.write(f"error: {title}: {detail}\n" if detail else f"error: {title}\n")
    return typer.Exit(code=EXIT_PROBLEM)


@contextmanager
def _answer(
    route: ApiRoute, request: urllib.request.Request, base: str
) -> Iterator[http.client.HTTPResponse]:
    """Send ``request`` and yield the answer; problems exit 1, no answer exits 2."""
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:  # noqa: S310 - the operator's own server
            yield response
    except urllib.error.HTTPError as exc:
        raise _problem(exc, route) from None
    except urllib.error.URLError as exc:
        raise _no_answer(f"cannot reach the ChargeDeck API at {base}: {exc.reason}") from None
    except TimeoutError:
        raise _no_answer(
            f"no answer from the ChargeDeck API at {base} within {REQUEST_TIMEOUT_S:.0f} s"
        ) from None
    except (OSError, http.client.HTTPException) as exc:  # broken while the answer came
        raise _no_answer(f"the connection to the ChargeDeck API at {base} broke: {exc}") from None


def call_operation(route: ApiRoute, path_values: dict[str, str], call: Call) -> None:
    """Send the request of ``route`` and show the answer (tables, JSON or a file)."""
    base = _base_url(call.server)
    path = _PATH_PARAMETER.sub(
        lambda m: urllib.parse.quote(path_values[m.group(1)], safe=""), route.path
    )
    url = f"{base}{API_PREFIX}{path}"
    query = _query(call.params)
    if query:
        url += "?" + query
    data, content_type = _request_body(route, call, path_values)
    upload = data if isinstance(data, io.BufferedReader) else None
    headers = {"Accept": "application/json, application/problem+json, */*"}
    if data is not None:
        headers["Content-Type"] = content_type
    if upload is not None:
        headers["Content-Length"] = str(os.fstat(upload.fileno()).st_size)
    if call.token:
        headers["Authorization"] = f"Bearer {call.token}"
    request = urllib.request.Request(url, data=data, method=route.method, headers=headers)  # noqa: S310
    with closing(upload) if upload is not None else nullcontext():
        _send(route, request, base, call)


def _send(route: ApiRoute, request: urllib.request.Request, base: str, call: Call) -> None:
    """Send ``request`` and show the answer as ``call`` asks."""
    with _answer(route, request, base) as response:
        media_type = response.headers.get_content_type()
        if call.out is not None:
            written = write_streamed(response, call.out)
            if call.as_json:
                print_json({"out": str(call.out), "bytes": written, "media_type": media_type})
            else:
                console.print(f"wrote {written} bytes ({media_type}) to {call.out}")
            return
        raw = response.read()
    if not media_type.endswith("json"):
        sys.stdout.buffer.write(raw)
        sys.stdout.flush()
        return
    body = json.loads(raw) if raw else None
    if call.as_json:
        print_json(body)
        return
    from chargedeck.cli.api_output import show_answer

    show_answer(console, body, route.response)
