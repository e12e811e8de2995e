"""Turning result rows into records."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
import sqlalchemy as sa

T = TypeVar("T", bound=msgspec.Struct)


def to_record(record_type: type[T], row: sa.Row[*tuple[Any, ...]]) -> T:
    """Build ``record_type`` from a row whose column names are its fields.

    ``msgspec.convert`` also turns stored text into the record's enums and raises
    ``msgspec.ValidationError`` if the database holds a value the record does not allow.
    """
    return msgspec.convert(row, record_type, from_attributes=True)


def to_records(record_type: type[T], rows: sa.Result[*tuple[Any, ...]]) -> list[T]:
    """``to_record`` over every row of a result."""
    return [msgspec.convert(row, record_type, from_attributes=True) for row in rows]
