"""What an operator may say about a site (domain/sites.py): the values kept and the sentences
given for the rest."""

from __future__ import annotations

import pytest

from chargedeck.domain.charging_modes import ChargingMode
from chargedeck.domain.load_management import Strategy
from chargedeck.domain.sites import (
    check_mode,
    check_name,
    check_operator_limit,
    check_strategy,
    parse_operator_limit,
    phase_limits,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("16A", (16.0, "A")),
        ("16.5 a", (16.5, "A")),
        ("11kW", (11.0, "kW")),
        ("7.4 KW", (7.4, "kW")),
        ("0A", (0.0, "A")),
        ("none", None),
        (" None ", None),
    ],
)
def test_an_operator_limit_is_typed_in_amps_or_kilowatts_or_none(
    text: str, expected: tuple[float, str] | None
) -> None:
    assert parse_operator_limit(text) == expected


@pytest.mark.parametrize("text", ["16", "16 amps", "A", "-6A", "11 W", ""])
def test_an_operator_limit_without_a_known_unit_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not like 16A, 11kW or none"):
        parse_operator_limit(text)


def test_an_amp_limit_keeps_one_decimal_as_ocpp_allows() -> None:
    assert check_operator_limit(16.3, "A") == (16.3, "A")
    assert check_operator_limit(80, "A") == (80.0, "A")
    with pytest.raises(ValueError, match=r"steps of 0.1 A \(OCPP 1.6 §7.13\), got 16.25"):
        check_operator_limit(16.25, "A")


def test_limits_beyond_what_chargers_draw_are_refused() -> None:
    with pytest.raises(ValueError, match=r"from 0 to 80 A per phase, got 80\.1 A"):
        check_operator_limit(80.1, "A")
    with pytest.raises(ValueError, match=r"from 0 to 350 kW, got 350\.5 kW"):
        check_operator_limit(350.5, "kW")
    with pytest.raises(ValueError, match="got nan A"):
        check_operator_limit(float("nan"), "A")


def test_a_single_phase_fuse_limits_l1_only() -> None:
    assert phase_limits(40, 1) == (40.0, 0.0, 0.0)
    assert phase_limits(25, 3) == (25.0, 25.0, 25.0)


def test_a_fuse_of_zero_or_beyond_10000_a_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a limit above 0 A on at least one phase"):
        phase_limits(0, 3)
    with pytest.raises(ValueError, match=r"limit on L1 must be from 0 to 10000 A, got 10000\.5 A"):
        phase_limits(10000.5, 1)


def test_names_are_trimmed_and_must_say_something() -> None:
    assert check_name("  home ", "site name") == "home"
    with pytest.raises(ValueError, match="site name must not be empty"):
        check_name("   ", "site name")
    with pytest.raises(ValueError, match="at most 64 characters, got 65"):
        check_name("x" * 65, "circuit name")
    with pytest.raises(ValueError, match="must not hold control characters"):
        check_name("a\nb", "circuit name")


def test_strategies_and_modes_are_the_domain_enums() -> None:
    assert check_strategy("first_come") is Strategy.FIRST_COME
    assert check_mode("min_solar") is ChargingMode.MIN_SOLAR
    with pytest.raises(ValueError, match="mode 'eco' is not one of fast, min_solar, solar"):
        check_mode("eco")
