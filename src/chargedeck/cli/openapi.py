"""``chargedeck openapi``: the REST API's OpenAPI 3.1 document, as the server serves it.

The document is generated from the route table (``server/api/app.py`` ROUTES) and checked in as
``docs/openapi.json`` so that a change of the API shows in review; a test fails when the
checked-in file and the generated one differ. Regenerate with
``chargedeck openapi --out docs/openapi.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from chargedeck.cli._support import console, fail

app = typer.Typer(no_args_is_help=True)

REGENERATE_COMMAND = "chargedeck openapi --out docs/openapi.json"


def openapi_text() -> str:
    """The document as checked in: indented, keys in the generator's order, one final newline
    (the same content the server answers at /api/v1/openapi.json, formatted for diffs)."""
    from chargedeck.server.api.app import ROUTES
    from chargedeck.server.api.common import API_PREFIX
    from chargedeck.server.api.openapi import build_openapi

    return json.dumps(build_openapi(ROUTES, API_PREFIX), indent=2, ensure_ascii=False) + "\n"


@app.command(
    "openapi",
    help="Print the REST API's OpenAPI 3.1 document, or write it with --out; --check exits 1 "
    "when the file differs from what the code generates.",
)
def openapi(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the document to this file")
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Compare --out with the generated document only")
    ] = False,
) -> None:
    text = openapi_text()
    if out is None:
        if check:
            raise fail("--check needs --out FILE, the document to compare")
        typer.echo(text, nl=False)
        return
    if check:
        try:
            current = out.read_text(encoding="utf-8")
        except OSError as exc:
            raise fail(f"cannot read {out}: {exc.strerror}") from None
        if current != text:
            typer.echo(f"{out} is out of date; regenerate it: {REGENERATE_COMMAND}", err=True)
            raise typer.Exit(code=1)
        console.print(f"{out} is up to date")
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror}") from None
    console.print(f"wrote {out} ({len(text.encode())} bytes)")
