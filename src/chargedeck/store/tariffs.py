"""Tariffs: a price per kWh with optional time-of-day windows, and which charger uses which.

A tariff is stored as the operator defined it (the price as decimal text, exact on both
databases; the windows as JSON). The rules it must follow live in ``domain/tariffs.py``: a
:class:`~chargedeck.domain.tariffs.Tariff` is checked before it is stored and rebuilt when read.
At most one tariff is the default, used for chargers that have none of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import Any

import msgspec
import sqlalchemy as sa

from chargedeck.domain.ids import ChargePointId
from chargedeck.domain.tariffs import Tariff, TimeWindow
from chargedeck.store.engine import Database
from chargedeck.store.schema import charge_points, tariffs

_T = tariffs.c


class _WindowJson(msgspec.Struct, frozen=True):
    """One window in ``tariffs.windows``: wall-clock times as HH:MM[:SS], price as text."""

    start: str
    end: str
    price_per_kwh: str


_encode_windows = msgspec.json.Encoder().encode
_decode_windows = msgspec.json.Decoder(list[_WindowJson]).decode


@dataclass(frozen=True)
class TariffRecord:
    """A stored tariff: its id and name, the priced rules, whether it is the default."""

    id: int
    name: str
    tariff: Tariff
    is_default: bool
    created_at: datetime


class UnknownTariff(Exception):
    """The tariff named by an id does not exist."""

    def __init__(self, tariff_id: int) -> None:
        super().__init__(f"there is no tariff {tariff_id}")
        self.tariff_id = tariff_id


class UnknownChargePointForTariff(Exception):
    """The charge point a tariff was assigned to does not exist."""

    def __init__(self, charge_point_id: str) -> None:
        super().__init__(f"charge point {charge_point_id!r} is not known to this CSMS")
        self.charge_point_id = charge_point_id


def _time_text(moment: time) -> str:
    return moment.isoformat(timespec="seconds" if moment.second else "minutes")


def _windows_json(windows: Sequence[TimeWindow]) -> str:
    return _encode_windows(
        [_WindowJson(_time_text(w.start), _time_text(w.end), str(w.price_per_kwh)) for w in windows]
    ).decode()


def _record(row: Any) -> TariffRecord:
    """The record of a ``tariffs`` row; the stored rules pass the domain's checks again."""
    windows = tuple(
        TimeWindow(time.fromisoformat(w.start), time.fromisoformat(w.end), Decimal(w.price_per_kwh))
        for w in _decode_windows(row.windows)
    )
    tariff = Tariff(
        currency=row.currency,
        price_per_kwh=Decimal(row.price_per_kwh),
        time_zone=row.time_zone,
        windows=windows,
    )
    return TariffRecord(
        id=row.id,
        name=row.name,
        tariff=tariff,
        is_default=bool(row.is_default),
        created_at=row.created_at,
    )


class Tariffs:
    """Reads and writes of ``tariffs`` and of ``charge_points.tariff_id``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def add_tariff(
        self, name: str, tariff: Tariff, *, is_default: bool, now: datetime
    ) -> TariffRecord:
        """Store a new tariff; committed before return. A new default replaces the old one in
        the same transaction. Raises ``ConstraintViolation`` if the name is taken."""
        async with self._db.write() as connection:
            if is_default:
                await connection.execute(
                    sa.update(tariffs).where(_T.is_default.is_(True)).values(is_default=False)
                )
            row = (
                await connection.execute(
                    sa.insert(tariffs)
                    .values(
                        name=name,
                        currency=tariff.currency,
                        price_per_kwh=str(tariff.price_per_kwh),
                        time_zone=tariff.time_zone,
                        windows=_windows_json(tariff.windows),
                        is_default=is_default,
                        created_at=now,
                    )
                    .returning(tariffs)
                )
            ).one()
        return _record(row)

    async def list_tariffs(self) -> list[TariffRecord]:
        """Every tariff, by id (an operator has a handful)."""
        async with self._db.read() as connection:
            rows = await connection.execute(sa.select(tariffs).order_by(_T.id))
            return [_record(row) for row in rows]

    async def get_tariff(self, tariff_id: int) -> TariffRecord | None:
        async with self._db.read() as connection:
            row = (await connection.execute(sa.select(tariffs).where(_T.id == tariff_id))).first()
        return None if row is None else _record(row)

    async def get_tariff_by_name(self, name: str) -> TariffRecord | None:
        async with self._db.read() as connection:
            row = (await connection.execute(sa.select(tariffs).where(_T.name == name))).first()
        return None if row is None else _record(row)

    async def assign_tariff(self, charge_point_id: ChargePointId, tariff_id: int | None) -> None:
        """Make ``tariff_id`` the charger's tariff (None: back to the default); committed
        before return. Raises :class:`UnknownChargePointForTariff` or :class:`UnknownTariff`."""
        async with self._db.write() as connection:
            if tariff_id is not None:
                found = (
                    await connection.execute(sa.select(_T.id).where(_T.id == tariff_id))
                ).first()
                if found is None:
                    raise UnknownTariff(tariff_id)
            updated = (
                await connection.execute(
                    sa.update(charge_points)
                    .where(charge_points.c.id == charge_point_id)
                    .values(tariff_id=tariff_id)
                    .returning(charge_points.c.id)
                )
            ).first()
            if updated is None:
                raise UnknownChargePointForTariff(charge_point_id)

    async def tariff_of_charge_point(self, charge_point_id: ChargePointId) -> int | None:
        """The id of the charger's own tariff (None: it uses the default)."""
        async with self._db.read() as connection:
            row = (
                await connection.execute(
                    sa.select(charge_points.c.tariff_id).where(
                        charge_points.c.id == charge_point_id
                    )
                )
            ).first()
        return None if row is None else row.tariff_id
