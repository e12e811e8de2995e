"""A session's energy: meterStop - meterStart, cross-checked, and never a silent 0."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from chargedeck.domain.energy import (
    EnergyFlag,
    disagreement_tolerance_wh,
    session_energy,
)

T0 = datetime(2026, 6, 1, 18, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_the_energy_is_meter_stop_minus_meter_start() -> None:
    energy = session_energy(532_218, 542_718, [(at(1), 532_300), (at(30), 540_000)])
    assert (energy.energy_wh, energy.flags) == (10_500, frozenset())


def test_the_register_energy_is_the_last_sample_minus_the_first() -> None:
    energy = session_energy(1_000, 2_000, [(at(30), 1_900), (at(1), 1_100), (at(10), 1_400)])
    assert energy.register_energy_wh == 800


def test_a_session_without_samples_has_no_register_energy_and_no_flags() -> None:
    energy = session_energy(1_000, 2_000, [])
    assert (energy.energy_wh, energy.register_energy_wh, energy.flags) == (1_000, None, frozenset())


def test_a_missing_meter_stop_is_flagged_and_the_energy_is_unknown_not_zero() -> None:
    energy = session_energy(1_000, None, [(at(1), 1_100), (at(2), 1_200)])
    assert (energy.energy_wh, energy.flags) == (None, {EnergyFlag.MISSING_STOP})
    assert energy.register_energy_wh == 100


def test_a_missing_meter_start_is_flagged_and_the_energy_is_unknown() -> None:
    energy = session_energy(None, 2_000, [])
    assert (energy.energy_wh, energy.flags) == (None, {EnergyFlag.MISSING_START})


def test_a_meter_stop_below_meter_start_is_a_meter_reset_with_unknown_energy() -> None:
    energy = session_energy(5_000, 120, [])
    assert (energy.energy_wh, energy.flags) == (None, {EnergyFlag.METER_RESET})
    assert energy.problems[0].sentence == (
        "meterStop 120 Wh is below meterStart 5000 Wh: the meter was reset or replaced during "
        "the session"
    )


def test_a_negative_reading_is_flagged_and_named() -> None:
    energy = session_energy(-5, 100, [])
    assert (energy.energy_wh, energy.flags) == (None, {EnergyFlag.NEGATIVE})
    assert "meterStart -5 Wh" in energy.problems[0].sentence


def test_a_negative_register_sample_is_flagged() -> None:
    energy = session_energy(0, 100, [(at(1), -3)])
    assert EnergyFlag.NEGATIVE in energy.flags
    assert energy.energy_wh == 100


def test_a_register_dropping_to_zero_is_flagged_as_going_backwards() -> None:
    # Pulsar Plus: Energy.Active.Import.Register intermittently 0 (lbbrhzn/ocpp#1756).
    energy = session_energy(1_000, 1_300, [(at(1), 1_100), (at(2), 0), (at(3), 1_200)])
    assert energy.flags == {EnergyFlag.REGISTER_WENT_BACKWARDS}
    assert energy.energy_wh == 300
    assert energy.register_energy_wh is None
    assert energy.problems[0].sentence == (
        "the energy register went back from 1100 Wh at 2026-06-01T18:01:00+00:00 "
        "to 0 Wh at 2026-06-01T18:02:00+00:00"
    )


def test_a_register_sample_above_meter_stop_disagrees() -> None:
    energy = session_energy(1_000, 2_000, [(at(1), 1_000), (at(2), 2_011)])
    assert energy.flags == {EnergyFlag.REGISTER_DISAGREES}
    assert energy.problems[0].sentence == (
        "the energy register read 2011 Wh at 2026-06-01T18:02:00+00:00, 11 Wh above meterStop "
        "2000 Wh (tolerance 10 Wh)"
    )


def test_a_register_sample_below_meter_start_disagrees() -> None:
    # A lifetime register against a meterStart of 0 is the opposite case (field notes G7).
    energy = session_energy(50_000, 60_000, [(at(1), 40_000), (at(2), 55_000)])
    assert energy.flags == {EnergyFlag.REGISTER_DISAGREES}


def test_register_samples_within_the_tolerance_agree() -> None:
    energy = session_energy(100_000, 200_000, [(at(1), 99_000), (at(2), 201_000)])
    assert energy.flags == frozenset()


def test_the_tolerance_is_10_wh_or_1_percent_whichever_is_more() -> None:
    assert disagreement_tolerance_wh(None) == 10
    assert disagreement_tolerance_wh(500) == 10
    assert disagreement_tolerance_wh(100_000) == 1_000
    assert disagreement_tolerance_wh(100_001) == 1_001


def test_every_flag_comes_with_a_sentence() -> None:
    energy = session_energy(-1, None, [(at(1), 5), (at(2), 4)])
    assert energy.flags == {
        EnergyFlag.NEGATIVE,
        EnergyFlag.MISSING_STOP,
        EnergyFlag.REGISTER_WENT_BACKWARDS,
    }
    assert all(problem.sentence for problem in energy.problems)


@given(
    start=st.integers(0, 10**9),
    energy=st.integers(0, 10**6),
    fractions=st.lists(st.floats(0, 1), max_size=30),
)
def test_monotone_register_samples_within_the_session_raise_no_flag(
    start: int, energy: int, fractions: list[float]
) -> None:
    readings = sorted(start + round(energy * fraction) for fraction in fractions)
    samples = [(at(minute), wh) for minute, wh in enumerate(readings)]
    result = session_energy(start, start + energy, samples)
    assert result.flags == frozenset()
    assert result.energy_wh == energy


@given(
    start=st.one_of(st.none(), st.integers(-10, 10**6)),
    stop=st.one_of(st.none(), st.integers(-10, 10**6)),
    readings=st.lists(st.integers(-10, 10**6), max_size=10),
)
def test_the_energy_is_known_and_not_negative_or_unknown_and_explained(
    start: int | None, stop: int | None, readings: list[int]
) -> None:
    result = session_energy(start, stop, [(at(n), wh) for n, wh in enumerate(readings)])
    if result.energy_wh is None:
        assert result.flags & {
            EnergyFlag.MISSING_START,
            EnergyFlag.MISSING_STOP,
            EnergyFlag.NEGATIVE,
            EnergyFlag.METER_RESET,
        }
    else:
        assert result.energy_wh >= 0
        assert result.energy_wh == (stop or 0) - (start or 0)
