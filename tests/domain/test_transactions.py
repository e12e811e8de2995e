"""A session in a report: energy, duration, cost and doubts; sums per group."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from chargedeck.domain.tariffs import Tariff, TimeWindow, session_cost
from chargedeck.domain.transactions import (
    GroupBy,
    SessionFacts,
    SessionSummary,
    session_line,
)

T0 = datetime(2026, 3, 28, 20, tzinfo=UTC)  # the evening before Madrid's spring clock change
NIGHT = Tariff(
    "EUR",
    Decimal("0.30"),
    "Europe/Madrid",
    (
        TimeWindow(time(22), time(6), Decimal("0.12")),
        TimeWindow(time(12), time(14), Decimal("0.05")),
    ),
)
FLAT = Tariff("EUR", Decimal("0.25"), "UTC")


def facts(
    *,
    meter_start: int = 1000,
    meter_stop: int | None = 7000,
    hours: float = 3,
    samples: tuple[tuple[datetime, int], ...] = (),
    reconciliation: str | None = None,
    id_tag: str = "04a2bc19",
    owner: str | None = "Ana",
    started_at: datetime = T0,
) -> SessionFacts:
    return SessionFacts(
        transaction_id=1,
        charge_point_id="CP1",
        connector_id=1,
        id_tag=id_tag,
        owner=owner,
        group=None,
        meter_start=meter_start,
        meter_stop=meter_stop,
        started_at=started_at,
        stopped_at=None if meter_stop is None else started_at + timedelta(hours=hours),
        stop_reason=None,
        reconciliation=reconciliation,
        register_samples=samples,
    )


def test_a_finished_session_has_energy_duration_and_cost() -> None:
    line = session_line(facts(), FLAT)
    assert (line.energy_wh, line.duration_s, line.problems) == (6000, 3 * 3600, ())
    assert line.cost is not None
    assert (line.cost.amount, line.cost.currency) == (Decimal("1.50"), "EUR")


def test_an_open_session_has_no_energy_duration_or_cost_and_says_why() -> None:
    line = session_line(facts(meter_stop=None), FLAT)
    assert (line.energy_wh, line.duration_s, line.cost) == (None, None, None)
    assert [p.flag for p in line.problems] == ["missing_stop"]


def test_a_session_chargedeck_closed_says_so() -> None:
    line = session_line(facts(reconciliation="closed_at_boot"), FLAT)
    assert line.energy_wh == 6000
    [problem] = line.problems
    assert problem.flag == "closed_by_chargedeck"
    assert "when the charger rebooted" in problem.sentence
    assert "energy after that reading is not known" in problem.sentence


def test_a_session_chargedeck_closed_without_a_reading_has_unknown_energy() -> None:
    line = session_line(facts(meter_stop=None, reconciliation="closed_when_available"), FLAT)
    assert line.energy_wh is None
    assert [p.flag for p in line.problems] == ["missing_stop", "closed_by_chargedeck"]
    assert "no register reading came after meterStart" in line.problems[1].sentence


def test_a_recovered_session_raises_no_doubt() -> None:
    assert session_line(facts(reconciliation="recovered"), FLAT).problems == ()


def test_a_stop_before_the_start_has_no_duration() -> None:
    line = session_line(facts(hours=-1), FLAT)
    assert line.duration_s is None
    assert "stopped_before_started" in [p.flag for p in line.problems]


def test_a_session_is_priced_where_its_energy_flowed() -> None:
    # 20:00-23:00 UTC is 21:00-00:00 in Madrid: one hour at the day price, two at night.
    samples = ((T0 + timedelta(hours=1), 3000), (T0 + timedelta(hours=2), 5000))
    line = session_line(facts(samples=samples), NIGHT)
    assert line.cost is not None
    assert line.cost.amount == Decimal("0.60") + Decimal("0.48")


def test_readings_that_go_backwards_price_everything_at_the_start() -> None:
    samples = ((T0 + timedelta(hours=1), 6000), (T0 + timedelta(hours=2), 2000))
    line = session_line(facts(samples=samples), NIGHT)
    assert line.cost is not None
    assert line.cost.amount == Decimal("1.80")  # 6 kWh at 21:00's day price


readings = st.lists(st.integers(min_value=0, max_value=20_000), min_size=0, max_size=30)


@given(
    offsets=st.lists(st.integers(min_value=1, max_value=48 * 3600), min_size=0, max_size=30),
    increments=readings,
    start_minutes=st.integers(min_value=0, max_value=60 * 24 * 400),
)
def test_merging_readings_never_changes_the_cost(
    offsets: list[int], increments: list[int], start_minutes: int
) -> None:
    """The report prices few merged intervals; the domain priced every reading interval."""
    started_at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=start_minutes)
    times = sorted({started_at + timedelta(seconds=s) for s in offsets})
    registers = [1000]
    for increment in increments[: len(times)]:
        registers.append(registers[-1] + increment)
    samples = tuple(zip(times, registers[1:], strict=False))
    stopped_at = started_at + timedelta(seconds=48 * 3600 + 1)
    meter_stop = registers[-1] + 500
    session = SessionFacts(
        transaction_id=1,
        charge_point_id="CP1",
        connector_id=1,
        id_tag="T",
        owner=None,
        group=None,
        meter_start=1000,
        meter_stop=meter_stop,
        started_at=started_at,
        stopped_at=stopped_at,
        stop_reason=None,
        reconciliation=None,
        register_samples=samples,
    )
    points = [(started_at, 1000), *samples, (stopped_at, meter_stop)]
    every_interval = [(a, b, wb - wa) for (a, wa), (b, wb) in pairwise(points)]
    line = session_line(session, NIGHT)
    assert line.cost is not None
    assert line.cost.unrounded == session_cost(NIGHT, every_interval).unrounded


def test_a_summary_adds_up_known_figures_and_counts_the_unknown() -> None:
    summary = SessionSummary(GroupBy.ID_TAG, ZoneInfo("UTC"))
    summary.add(
        [
            session_line(facts(id_tag="04a2bc19"), FLAT),
            session_line(facts(id_tag="04A2BC19", meter_start=0, meter_stop=2000), FLAT),
            session_line(facts(id_tag="04A2BC19", meter_stop=None), FLAT),
            session_line(facts(id_tag="OTHER"), None),
        ]
    )
    first, second = summary.rows()
    assert (first.key, first.sessions, first.energy_wh, first.cost) == (
        "04A2BC19",
        3,
        8000,
        Decimal("2.00"),
    )
    assert (first.sessions_energy_unknown, first.sessions_not_priced) == (1, 1)
    assert (second.key, second.currency, second.cost, second.sessions_not_priced) == (
        "OTHER",
        None,
        None,
        1,
    )


def test_days_and_months_are_cut_on_the_reports_calendar() -> None:
    late = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 February in Madrid
    madrid = SessionSummary(GroupBy.MONTH, ZoneInfo("Europe/Madrid"))
    madrid.add([session_line(facts(started_at=late), FLAT)])
    utc = SessionSummary(GroupBy.DAY, ZoneInfo("UTC"))
    utc.add([session_line(facts(started_at=late), FLAT)])
    assert [row.key for row in madrid.rows()] == ["2026-02"]
    assert [row.key for row in utc.rows()] == ["2026-01-31"]
