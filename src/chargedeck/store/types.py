"""Column types shared by ``schema.py`` and the migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


def sqlite_time_text(value: datetime) -> str:
    """How a tz-aware time is stored in SQLite: UTC, zone-less ISO text with microseconds
    (sorts as text in time order). Shared by UtcDateTime and the batch writer's raw inserts,
    where it runs twice per meter value row: times already in UTC (the clock's, and a
    charger's "Z" as msgspec decodes it) skip the conversion."""
    if value.tzinfo is not UTC:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store needs a tz-aware time")
        value = value.astimezone(UTC)
    # "YYYY-MM-DD HH:MM:SS.ffffff+00:00" without the offset.
    return value.isoformat(sep=" ", timespec="microseconds")[:26]


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A point in time stored in UTC, returned as a tz-aware UTC ``datetime`` (DESIGN §6).

    PostgreSQL stores ``timestamp with time zone``. SQLite has no time type: the value is stored
    as naive UTC ISO text of fixed width (``YYYY-MM-DD HH:MM:SS.ffffff``), which sorts like time
    and is written with the C ``isoformat`` (SQLAlchemy's own SQLite DATETIME formats in Python,
    a measurable cost per meter value row). Naive datetimes are refused with ``ValueError``:
    their zone is a guess.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Text())
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store needs a tz-aware time")
        if dialect.name == "sqlite":
            return sqlite_time_text(value)
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


def big_id() -> sa.types.TypeEngine[int]:
    """A 64-bit surrogate key that still autoincrements on SQLite.

    SQLite only autoincrements a column declared exactly ``INTEGER PRIMARY KEY`` (the rowid alias,
    64-bit anyway); PostgreSQL gets ``bigint`` so history tables never run out of ids.
    """
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")
