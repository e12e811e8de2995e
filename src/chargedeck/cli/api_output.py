"""How ``chargedeck api`` shows a JSON answer: a table for a page or list, key/value for one object.

Columns come from the view type in the route's row (``Page[ChargePointView]``: the fields of
``ChargePointView`` in their declared order) plus any key the answer has beyond them; columns
empty in every row are left out, so a wide view stays readable. Nested values are shown as
compact JSON (shortened in list tables; ``--json`` has them whole). A list of objects inside one
object (a transaction's meter values, a charger's connectors) gets a table of its own.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from rich.console import Console
from rich.table import Table

CELL_MAX_CHARS = 60
"""Nested JSON longer than this is shortened in list tables (a row per line on an 80-column
terminal stays legible); ``--json`` and the key/value view show it whole."""
CELL_FIT_CHARS = 27
"""The width a list column is given when deciding how many columns fit the terminal: a
date-time as the API writes it (``2026-11-26T06:54:50.728393Z``) fits on one line; longer cells
fold onto more lines."""


def cell_text(value: Any, *, limit: int | None = None) -> str:
    """A JSON value as table text: '' for null, true/false, compact JSON for lists and objects."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if limit is not None and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def item_fields(response_type: Any) -> list[str]:
    """The wire names of the items of a ``Page[X]`` (or ``list[X]``) view, in declared order;
    [] when the type says nothing (a free dict)."""
    args = typing.get_args(response_type)
    origin = typing.get_origin(response_type)
    item = None
    if args and isinstance(origin, type) and issubclass(origin, msgspec.Struct):
        item = args[0]  # Page[X]
    elif origin is list and args:
        item = args[0]
    if isinstance(item, type) and issubclass(item, msgspec.Struct):
        return [f.encode_name for f in msgspec.structs.fields(item)]
    return []


def _columns(declared: Sequence[str], rows: Sequence[dict[str, Any]]) -> list[str]:
    columns = list(declared)
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    if rows:
        columns = [c for c in columns if any(row.get(c) not in (None, "", [], {}) for row in rows)]
    return columns


def _fitted(columns: list[str], rows: Sequence[dict[str, Any]], width: int) -> list[str]:
    """The leading columns that fit in ``width`` characters, each at least as wide as its header
    and its cells up to :data:`CELL_FIT_CHARS` (the first column always)."""
    kept: list[str] = []
    used = 1  # the table's left border
    for column in columns:
        cells = [len(cell_text(row.get(column), limit=CELL_MAX_CHARS)) for row in rows]
        needed = max(len(column), min(max(cells, default=0), CELL_FIT_CHARS)) + 3
        if kept and used + needed > width:
            break
        kept.append(column)
        used += needed
    return kept


def rows_table(
    rows: Sequence[dict[str, Any]], declared: Sequence[str], width: int | None = None
) -> tuple[Table, list[str]]:
    """A table of objects, one row each, and the columns left out to fit ``width``."""
    columns = _columns(declared, rows)
    shown = columns if width is None else _fitted(columns, rows, width)
    table = Table()
    for index, column in enumerate(shown):
        # The first column (the id) is never folded: it is what an operator copies.
        table.add_column(column, overflow="fold", no_wrap=index == 0)
    for row in rows:
        table.add_row(*(cell_text(row.get(c), limit=CELL_MAX_CHARS) for c in shown))
    return table, columns[len(shown) :]


def _print_rows(console: Console, rows: Sequence[dict[str, Any]], declared: Sequence[str]) -> None:
    if not rows:
        console.print("(no items)")
        return
    table, hidden = rows_table(rows, declared, console.width)
    console.print(table)
    if hidden:
        console.print(f"(not shown to fit the terminal: {', '.join(hidden)}; --json has all)")


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def object_tables(body: dict[str, Any]) -> Iterable[Table | str]:
    """One object as a field/value table, then a table per non-empty list of objects in it
    (after a line with its name)."""
    table = Table("field", "value")
    table.columns[1].overflow = "fold"
    nested = []
    for key, value in body.items():
        if _is_rows(value):
            nested.append((key, value))
        else:
            table.add_row(key, cell_text(value))
    yield table
    for key, rows in nested:
        yield f"{key}:"
        yield rows_table(rows, [])[0]


def show_answer(console: Console, body: Any, response_type: Any) -> None:
    """Print a decoded JSON answer as tables (see the module docstring)."""
    declared = item_fields(response_type)
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        _print_rows(console, [_as_row(i) for i in body["items"]], declared)
        cursor = body.get("next_cursor")
        if cursor:
            console.print(f"more: add --param cursor={cursor}")
        return
    if isinstance(body, list):
        _print_rows(console, [_as_row(i) for i in body], declared)
        return
    if isinstance(body, dict):
        for table in object_tables(body):
            console.print(table)
        return
    console.print(cell_text(body))


def _as_row(item: Any) -> dict[str, Any]:
    return item if isinstance(item, dict) else {"value": item}
