"""What a charging session costs: a price per kWh, optionally different at times of day.

Per-card energy and cost records are what owners reimbursed for a company car ask for most
(field notes §6 need 4). A tariff has a currency (ISO 4217), a base price per kWh and optional
time-of-day windows with their own price, read on the wall clock of the operator's time zone,
so that a 22:00-06:00 night rate follows the clock across daylight-saving changes.

Rounding rule: every part of a session is priced exactly (fractions, no rounding), and only the
session's total is rounded, once, to the currency's minor unit (ISO 4217: cents for EUR, none for
JPY), half to even. Rounding each part would let the total drift with the number of meter
readings; half to even keeps the rounding unbiased over many sessions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# ISO 4217 minor units (digits after the decimal point) of the currencies ChargeDeck prices in.
# A currency missing here is refused rather than guessed.
_CURRENCIES_BY_MINOR_UNIT = {
    2: (
        "AED ARS AUD BAM BGN BRL CAD CHF CNY COP CZK DKK EGP EUR GBP GEL HKD HUF IDR ILS INR MAD "
        "MDL MKD MXN MYR NOK NZD PEN PHP PLN QAR RON RSD SAR SEK SGD THB TRY TWD UAH USD ZAR"
    ),
    0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF",
    3: "BHD IQD JOD KWD LYD OMR TND",
}
MINOR_UNITS: Mapping[str, int] = {
    code: digits for digits, codes in _CURRENCIES_BY_MINOR_UNIT.items() for code in codes.split()
}

WH_PER_KWH = 1000

# One energy reading: from when, to when, and the Wh delivered in between.
EnergyInterval = tuple[datetime, datetime, int]

# Boundaries of the wall clock, and how far apart to look for daylight-saving changes (zones
# change their offset at most twice a year, never twice within six hours).
_ONE_DAY = timedelta(days=1)
_OFFSET_PROBE_STEP = timedelta(hours=6)


@dataclass(frozen=True)
class TimeWindow:
    """A time of day with its own price per kWh, on the tariff's wall clock.

    From ``start`` (included) to ``end`` (excluded); an ``end`` before ``start`` runs past
    midnight (22:00-06:00). Times carry no time zone: the tariff's applies. On a day the clocks
    change, a window lasts as long as the wall clock stays in it: 02:00-03:00 in Europe/Madrid
    is empty in March and two hours long in October.
    """

    start: time
    end: time
    price_per_kwh: Decimal

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError(
                "a time window is on the tariff's wall clock: give its times without a time zone"
            )
        if self.start == self.end:
            raise ValueError(
                f"a time window from {self.start.isoformat()} to {self.end.isoformat()} is "
                "empty; the tariff's base price applies all day"
            )
        _check_price(self.price_per_kwh, f"price of window {self.start}-{self.end}")

    def contains(self, wall_clock: time) -> bool:
        """Whether the wall-clock time ``wall_clock`` (no time zone) falls in this window."""
        if self.start < self.end:
            return self.start <= wall_clock < self.end
        return wall_clock >= self.start or wall_clock < self.end


@dataclass(frozen=True)
class Tariff:
    """A price per kWh in ``currency``, with time-of-day windows on ``time_zone``'s wall clock.

    Raises ValueError for a currency without a known minor unit, a negative or non-finite price,
    an unknown time zone, or overlapping windows (two prices for one moment).
    """

    currency: str
    price_per_kwh: Decimal
    time_zone: str
    windows: tuple[TimeWindow, ...] = ()

    def __post_init__(self) -> None:
        if self.currency not in MINOR_UNITS:
            raise ValueError(
                f"currency {self.currency!r} is not an ISO 4217 code ChargeDeck knows the minor "
                f"unit of; known: {', '.join(sorted(MINOR_UNITS))}"
            )
        _check_price(self.price_per_kwh, "base price")
        self.zone()
        for index, window in enumerate(self.windows):
            for other in self.windows[index + 1 :]:
                if _overlap(window, other):
                    raise ValueError(
                        f"time windows {window.start}-{window.end} and {other.start}-{other.end}"
                        " overlap: a moment would have two prices"
                    )

    def zone(self) -> ZoneInfo:
        """The tariff's time zone; ValueError if the name is not in the time zone database."""
        try:
            return ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(
                f"time zone {self.time_zone!r} is not in the IANA time zone database "
                "(for example 'Europe/Madrid')"
            ) from error


@dataclass(frozen=True)
class Cost:
    """What energy costs: ``amount`` rounded once to the currency's minor unit, half to even.

    ``unrounded`` is the exact sum, for adding sessions into a statement that is rounded once.
    """

    currency: str
    amount: Decimal
    unrounded: Fraction
    energy_wh: int


def price_at(tariff: Tariff, instant: datetime) -> Decimal:
    """The price per kWh in force at ``instant`` (with a time zone; ValueError without)."""
    _check_aware(instant)
    wall_clock = instant.astimezone(tariff.zone()).time()
    for window in tariff.windows:
        if window.contains(wall_clock):
            return window.price_per_kwh
    return tariff.price_per_kwh


def session_cost(tariff: Tariff, energy_intervals: Sequence[EnergyInterval]) -> Cost:
    """The cost of the energy delivered in ``energy_intervals`` (start, end, Wh).

    Within an interval the power is taken as constant: where a price change falls inside it, its
    energy is shared in proportion to time. An interval with start == end is priced at its
    start. Raises ValueError for an interval that ends before it starts, has negative energy
    (flag the session, :mod:`chargedeck.domain.energy`, rather than price it) or a time without
    a time zone.
    """
    unrounded = sum(
        (_interval_cost(tariff, *interval) for interval in energy_intervals), Fraction(0)
    )
    energy_wh = sum(wh for _start, _end, wh in energy_intervals)
    return Cost(
        tariff.currency, round_to_minor_unit(unrounded, tariff.currency), unrounded, energy_wh
    )


def session_cost_from_total(tariff: Tariff, started_at: datetime, energy_wh: int) -> Cost:
    """The cost of a session of which only the total energy is known.

    With no readings to say when the energy flowed, all of it is priced at the price in force
    when the session started: the one the driver saw when plugging in. Same errors as
    :func:`session_cost`.
    """
    return session_cost(tariff, [(started_at, started_at, energy_wh)])


def round_to_minor_unit(amount: Fraction, currency: str) -> Decimal:
    """``amount`` rounded to ``currency``'s minor unit, half to even (KeyError for an unknown
    currency: a :class:`Tariff` admits only known ones)."""
    digits = MINOR_UNITS[currency]
    return Decimal(round(amount * 10**digits)).scaleb(-digits)


def _interval_cost(tariff: Tariff, start: datetime, end: datetime, wh: int) -> Fraction:
    _check_aware(start)
    _check_aware(end)
    if end < start:
        raise ValueError(
            f"an energy interval ends ({end.isoformat()}) before it starts ({start.isoformat()})"
        )
    if wh < 0:
        raise ValueError(
            f"{wh} Wh from {start.isoformat()} to {end.isoformat()} is negative energy; "
            "flag the session instead of pricing it"
        )
    if end == start:
        return Fraction(wh) * Fraction(price_at(tariff, start)) / WH_PER_KWH
    duration = _microseconds(end - start)
    points = sorted({start, end, *price_changes(tariff, start, end)})
    cost = Fraction(0)
    for begin, finish in pairwise(points):
        share = Fraction(_microseconds(finish - begin), duration)
        cost += Fraction(wh) * share * Fraction(price_at(tariff, begin)) / WH_PER_KWH
    return cost


def price_changes(tariff: Tariff, start: datetime, end: datetime) -> list[datetime]:
    """Every instant strictly between ``start`` and ``end`` at which the price may change.

    The price is constant between two consecutive instants of this list, because it holds every
    moment the wall clock reaches a window's start or end (both occurrences of a time the
    clocks repeat in autumn) and every daylight-saving change (which is where a window begins
    when its start falls in the hour the clocks skip in spring).
    """
    zone = tariff.zone()
    boundaries = {moment for window in tariff.windows for moment in (window.start, window.end)}
    if not boundaries:
        return []
    first_day = start.astimezone(zone).date() - _ONE_DAY
    last_day = end.astimezone(zone).date() + _ONE_DAY
    candidates = set(_offset_changes(zone, start, end))
    for day in _days(first_day, last_day):
        for moment in boundaries:
            for fold in (0, 1):
                local = datetime.combine(day, moment, tzinfo=zone).replace(fold=fold)
                candidates.add(local.astimezone(UTC))
    return [instant for instant in candidates if start < instant < end]


def _offset_changes(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """The instants in [start, end] at which ``zone``'s UTC offset changes, to the microsecond."""
    changes = []
    probe = start.astimezone(UTC)
    while probe < end:
        following = min(probe + _OFFSET_PROBE_STEP, end.astimezone(UTC))
        if _offset(zone, probe) != _offset(zone, following):
            low, high = probe, following
            while high - low > timedelta(microseconds=1):
                middle = low + (high - low) / 2
                if _offset(zone, middle) == _offset(zone, low):
                    low = middle
                else:
                    high = middle
            changes.append(high)
        probe = following
    return changes


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta | None:
    return instant.astimezone(zone).utcoffset()


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _microseconds(span: timedelta) -> int:
    return span // timedelta(microseconds=1)


def _overlap(first: TimeWindow, second: TimeWindow) -> bool:
    """Whether two windows share a moment of the day (each as one or two spans of the day)."""
    return any(
        a_start < b_end and b_start < a_end
        for a_start, a_end in _spans(first)
        for b_start, b_end in _spans(second)
    )


def _spans(window: TimeWindow) -> list[tuple[timedelta, timedelta]]:
    start, end = _since_midnight(window.start), _since_midnight(window.end)
    if start < end:
        return [(start, end)]
    return [(start, _ONE_DAY), (timedelta(0), end)]


def _since_midnight(moment: time) -> timedelta:
    return timedelta(
        hours=moment.hour,
        minutes=moment.minute,
        seconds=moment.second,
        microseconds=moment.microsecond,
    )


def _check_price(price: Decimal, what: str) -> None:
    if not price.is_finite() or price < 0:
        raise ValueError(f"the {what} per kWh must be a finite amount of 0 or more, got {price}")


def _check_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{instant.isoformat()} has no time zone; energy times are absolute")
