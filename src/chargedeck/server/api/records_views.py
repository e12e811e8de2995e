"""API bodies of tariffs and reports (the session and summary rows are csms/reports.py's, shared
with ``chargedeck export``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import msgspec

from chargedeck.csms.reports import SessionReport, Summary, SummaryReport
from chargedeck.server.api.views import View

TariffName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
WallClock = Annotated[str, msgspec.Meta(min_length=4, max_length=8, examples=["22:00"])]


class TariffWindowView(View, frozen=True, kw_only=True):
    """A time of day with its own price, on the tariff's wall clock; ``end`` before ``start``
    runs past midnight (22:00-06:00)."""

    start: WallClock
    end: WallClock
    price_per_kwh: Decimal


class TariffView(View, frozen=True, kw_only=True):
    id: int
    name: str
    currency: str
    """ISO 4217 code."""
    price_per_kwh: Decimal
    """Base price per kWh, where no window applies."""
    time_zone: str
    """IANA zone of the windows' wall clock."""
    windows: list[TariffWindowView]
    is_default: bool
    """Prices the sessions of chargers that have no tariff of their own."""
    created_at: datetime


class NewTariff(View, frozen=True, kw_only=True):
    """Body of POST /tariffs. ``time_zone`` defaults to the ``time_zone`` setting; a new default
    tariff replaces the old default."""

    name: TariffName
    currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3)]
    price_per_kwh: Decimal
    time_zone: str | None = None
    windows: list[TariffWindowView] = msgspec.field(default_factory=list)
    is_default: bool = False


class ChargePointTariff(View, frozen=True, kw_only=True):
    """Body of PUT /charge-points/{id}/tariff: a tariff id, or null for the default tariff."""

    tariff_id: int | None


class ChargePointTariffView(View, frozen=True, kw_only=True):
    charge_point_id: str
    tariff_id: int | None
    """The charger's own tariff; null: the default tariff prices its sessions."""


__all__ = [
    "ChargePointTariff",
    "ChargePointTariffView",
    "NewTariff",
    "SessionReport",
    "Summary",
    "SummaryReport",
    "TariffView",
    "TariffWindowView",
]
