"""Tariffs: a price per kWh, time-of-day windows on the operator's wall clock; session costs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargedeck.domain.tariffs import (
    Tariff,
    TimeWindow,
    price_at,
    round_to_minor_unit,
    session_cost,
    session_cost_from_total,
)

MADRID = "Europe/Madrid"
NIGHT = TimeWindow(time(22), time(6), Decimal("0.12"))
HOME = Tariff("EUR", Decimal("0.30"), MADRID, (NIGHT,))
FLAT = Tariff("EUR", Decimal("0.2875"), MADRID)


def madrid(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A UTC instant given as Madrid wall-clock time in winter (UTC+1)."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=1)


def test_a_flat_tariff_prices_every_kwh_the_same() -> None:
    start = datetime(2026, 1, 10, 18, tzinfo=UTC)
    cost = session_cost(FLAT, [(start, start + timedelta(hours=2), 10_000)])
    assert (cost.amount, cost.currency, cost.energy_wh) == (Decimal("2.88"), "EUR", 10_000)


def test_the_total_is_rounded_half_to_even_to_the_minor_unit() -> None:
    assert round_to_minor_unit(Fraction("2.875"), "EUR") == Decimal("2.88")
    assert round_to_minor_unit(Fraction("2.865"), "EUR") == Decimal("2.86")
    assert round_to_minor_unit(Fraction("2.5"), "JPY") == Decimal(2)
    assert round_to_minor_unit(Fraction("1.0005"), "KWD") == Decimal("1.000")


def test_a_window_starts_at_its_start_time() -> None:
    assert price_at(HOME, madrid(2026, 1, 10, 22)) == Decimal("0.12")
    assert price_at(HOME, madrid(2026, 1, 10, 21, 59)) == Decimal("0.30")


def test_a_window_ends_just_before_its_end_time() -> None:
    assert price_at(HOME, madrid(2026, 1, 11, 5, 59)) == Decimal("0.12")
    assert price_at(HOME, madrid(2026, 1, 11, 6)) == Decimal("0.30")


def test_energy_across_a_window_boundary_is_shared_in_proportion_to_time() -> None:
    # 21:00-23:00 at constant power: 1 h at 0.30, 1 h at 0.12.
    cost = session_cost(HOME, [(madrid(2026, 1, 10, 21), madrid(2026, 1, 10, 23), 2_000)])
    assert cost.unrounded == Fraction("0.42")


def test_a_session_through_the_night_window_pays_both_boundaries() -> None:
    cost = session_cost(HOME, [(madrid(2026, 1, 10, 21), madrid(2026, 1, 11, 7), 10_000)])
    assert cost.unrounded == Fraction(2 * 300 + 8 * 120, 1000)


def test_a_window_follows_the_wall_clock_in_summer() -> None:
    # 22:00 in Madrid in July is 20:00 UTC (CEST, UTC+2).
    assert price_at(HOME, datetime(2026, 7, 1, 20, tzinfo=UTC)) == Decimal("0.12")
    assert price_at(HOME, datetime(2026, 7, 1, 19, 59, tzinfo=UTC)) == Decimal("0.30")


EARLY = Tariff("EUR", Decimal("0.30"), MADRID, (TimeWindow(time(2), time(3), Decimal("0.10")),))


def test_a_window_in_the_hour_skipped_in_spring_is_empty() -> None:
    # 2026-03-29: at 01:00 UTC Madrid goes from 02:00 CET to 03:00 CEST.
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    cost = session_cost(EARLY, [(start, start + timedelta(hours=1), 1_000)])
    assert cost.unrounded == Fraction("0.30")


def test_a_window_in_the_hour_repeated_in_autumn_lasts_two_hours() -> None:
    # 2026-10-25: at 01:00 UTC Madrid goes from 03:00 CEST back to 02:00 CET.
    start = datetime(2026, 10, 24, 23, 30, tzinfo=UTC)
    cost = session_cost(EARLY, [(start, start + timedelta(hours=3), 3_000)])
    assert cost.unrounded == Fraction(2 * 100 + 1 * 300, 1000)


def test_a_window_starting_in_the_skipped_hour_starts_when_the_clocks_jump() -> None:
    late = Tariff(
        "EUR", Decimal("0.30"), MADRID, (TimeWindow(time(2, 30), time(4), Decimal("0.10")),)
    )
    start = datetime(2026, 3, 29, 0, tzinfo=UTC)
    cost = session_cost(late, [(start, start + timedelta(hours=2), 2_000)])
    assert cost.unrounded == Fraction(300 + 100, 1000)


def test_with_only_the_total_known_the_price_at_the_start_applies() -> None:
    cost = session_cost_from_total(HOME, madrid(2026, 1, 10, 21, 30), 20_000)
    assert cost.amount == Decimal("6.00")


def test_an_interval_that_ends_before_it_starts_is_refused() -> None:
    start = datetime(2026, 1, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match=r"ends .* before it starts"):
        session_cost(HOME, [(start, start - timedelta(seconds=1), 10)])


def test_negative_energy_is_refused_not_priced() -> None:
    start = datetime(2026, 1, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match=r"-5 Wh .* is negative energy"):
        session_cost(HOME, [(start, start + timedelta(minutes=1), -5)])


def test_a_time_without_a_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        price_at(HOME, datetime(2026, 1, 10, 12))


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: Tariff("EURO", Decimal(1), MADRID), "'EURO' is not an ISO 4217 code"),
        (lambda: Tariff("EUR", Decimal(-1), MADRID), "base price per kWh must be .* 0 or more"),
        (lambda: Tariff("EUR", Decimal("NaN"), MADRID), "must be a finite amount"),
        (lambda: Tariff("EUR", Decimal(1), "Europe/Atlantis"), "'Europe/Atlantis' is not in"),
        (lambda: TimeWindow(time(6), time(6), Decimal(1)), "is empty"),
        (
            lambda: Tariff(
                "EUR",
                Decimal(1),
                MADRID,
                (NIGHT, TimeWindow(time(5), time(7), Decimal("0.2"))),
            ),
            "22:00:00-06:00:00 and 05:00:00-07:00:00 overlap",
        ),
    ],
)
def test_a_tariff_that_cannot_price_is_refused_with_the_reason(
    make: Callable[[], object], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        make()


def test_adjacent_windows_do_not_overlap() -> None:
    evening = TimeWindow(time(18), time(22), Decimal("0.40"))
    assert Tariff("EUR", Decimal("0.30"), MADRID, (evening, NIGHT)).windows == (evening, NIGHT)


instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
intervals = st.tuples(instants, st.integers(0, 4 * 3600), st.integers(0, 50_000)).map(
    lambda t: (t[0], t[0] + timedelta(seconds=t[1]), t[2])
)
tariffs = st.sampled_from([HOME, FLAT, EARLY])


@given(tariffs, st.lists(intervals, max_size=8))
def test_a_session_costs_the_sum_of_its_unrounded_parts_rounded_once(
    tariff: Tariff, parts: list[tuple[datetime, datetime, int]]
) -> None:
    unrounded = sum((session_cost(tariff, [part]).unrounded for part in parts), Fraction(0))
    cost = session_cost(tariff, parts)
    assert cost.unrounded == unrounded
    assert cost.amount == round_to_minor_unit(unrounded, tariff.currency)
    assert cost.energy_wh == sum(wh for _start, _end, wh in parts)


@given(
    tariffs,
    instants,
    st.integers(1, 12 * 3600),
    st.integers(0, 12 * 3600),
    st.integers(0, 20),
)
def test_splitting_constant_power_at_any_moment_does_not_change_the_cost(
    tariff: Tariff, start: datetime, first_s: int, second_s: int, wh_per_s: int
) -> None:
    middle = start + timedelta(seconds=first_s)
    end = middle + timedelta(seconds=second_s)
    whole = session_cost(tariff, [(start, end, wh_per_s * (first_s + second_s))])
    split = session_cost(
        tariff, [(start, middle, wh_per_s * first_s), (middle, end, wh_per_s * second_s)]
    )
    assert split.unrounded == whole.unrounded


@given(tariffs, intervals)
def test_the_cost_lies_between_the_cheapest_and_dearest_price(
    tariff: Tariff, interval: tuple[datetime, datetime, int]
) -> None:
    prices = [tariff.price_per_kwh, *(window.price_per_kwh for window in tariff.windows)]
    wh = Fraction(interval[2], 1000)
    assert wh * Fraction(min(prices)) <= session_cost(tariff, [interval]).unrounded
    assert session_cost(tariff, [interval]).unrounded <= wh * Fraction(max(prices))
