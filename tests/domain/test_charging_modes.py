"""Charging modes: household load, solar surplus and the solar hysteresis (issue 6; field notes
need 2: Wallbox Eco-Smart starts after minutes of export and pauses after seconds below)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chargedeck.domain.charging_modes import (
    ChargingMode,
    ConnectorDraw,
    GridReading,
    ModeInput,
    ModeSettings,
    ModeState,
    ModeTarget,
    household_reduction,
    is_fresh,
    mode_targets,
    solar_surplus_w,
    stale_at,
)
from chargedeck.domain.load_management import ConnectorKey

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SETTINGS = ModeSettings(
    nominal_voltage_v=230.0,
    solar_start_delay_s=120.0,
    solar_stop_delay_s=30.0,
    min_charging_time_s=300.0,
    meter_stale_after_s=60.0,
    household_reserve_a=5.0,
)
A = ConnectorKey("CP-A", 1)
B = ConnectorKey("CP-B", 1)
THREE = (0, 1, 2)
ON_L1 = (0,)
ONE_PHASE_6_A_W = 6 * 230.0  # 1380 W: a single-phase car's minimum
THREE_PHASE_6_A_W = 3 * 6 * 230.0  # 4140 W


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def grid(l1: float, l2: float = 0.0, l3: float = 0.0, *, measured_at: datetime = T0) -> GridReading:
    return GridReading(amps=(l1, l2, l3), measured_at=measured_at)


def connector(
    mode: ChargingMode,
    key: ConnectorKey = A,
    *,
    phases: tuple[int, ...] = ON_L1,
    state: ModeState | None = None,
    min_a: float = 6.0,
    max_a: float = 16.0,
) -> ModeInput:
    return ModeInput(
        key=key,
        mode=mode,
        grid_phases=phases,
        min_current_a=min_a,
        max_current_a=max_a,
        state=state,
    )


def one(item: ModeInput, surplus_w: float | None, now: datetime) -> ModeTarget:
    return mode_targets([item], surplus_w, now, SETTINGS)[item.key]


def solar_step(state: ModeState | None, surplus_w: float | None, now: datetime) -> ModeTarget:
    return one(connector(ChargingMode.SOLAR, state=state), surplus_w, now)


def charging_since(seconds: float) -> ModeState:
    return ModeState(charging=True, since=at(seconds))


def paused_since(seconds: float) -> ModeState:
    return ModeState(charging=False, since=at(seconds))


# ---- fresh or stale ----------------------------------------------------------------------------


def test_a_reading_is_fresh_just_before_meter_stale_after_s() -> None:
    assert is_fresh(T0, at(59.9), SETTINGS)


def test_a_reading_is_stale_once_meter_stale_after_s_has_passed() -> None:
    assert not is_fresh(T0, at(60), SETTINGS)
    assert stale_at(T0, SETTINGS) == at(60)


def test_no_reading_is_not_fresh() -> None:
    assert not is_fresh(None, T0, SETTINGS)


def test_a_reading_slightly_ahead_of_now_counts_as_fresh() -> None:
    assert is_fresh(at(5), T0, SETTINGS)


# ---- household load ----------------------------------------------------------------------------


def test_household_is_the_meter_import_less_what_the_connectors_draw_on_each_phase() -> None:
    draws = [
        ConnectorDraw(key=A, grid_phases=THREE, amps=6.0),
        ConnectorDraw(key=B, grid_phases=(2,), amps=4.0),
    ]
    reduction = household_reduction(grid(10.0, 8.0, 12.5), draws, at(1), SETTINGS)
    assert reduction.amps == (4.0, 2.0, 2.5)
    assert reduction.label == "household 4/2/2.5 A (grid meter 10/8/12.5 A less chargers 6/6/10 A)"


def test_household_is_counted_on_the_grid_phases_a_rotated_charger_uses() -> None:
    draws = [ConnectorDraw(key=A, grid_phases=(1, 2), amps=7.0)]
    assert household_reduction(grid(3.0, 9.0, 8.0), draws, T0, SETTINGS).amps == (3.0, 2.0, 1.0)


def test_household_never_goes_below_zero_when_the_site_exports() -> None:
    draws = [ConnectorDraw(key=A, grid_phases=THREE, amps=6.0)]
    reduction = household_reduction(grid(-4.0, 2.0, 7.0), draws, T0, SETTINGS)
    assert reduction.amps == (0.0, 0.0, 1.0)


def test_household_without_a_reading_is_the_reserve_on_every_phase() -> None:
    reduction = household_reduction(None, [], T0, SETTINGS)
    assert reduction.amps == (5.0, 5.0, 5.0)
    assert reduction.label == "household reserve 5 A per phase (no grid reading)"


def test_household_with_a_stale_reading_is_the_reserve_and_says_since_when() -> None:
    reduction = household_reduction(grid(20.0, 20.0, 20.0), [], at(95), SETTINGS)
    assert reduction.amps == (5.0, 5.0, 5.0)
    assert reduction.label == (
        "household reserve 5 A per phase (no fresh grid reading: the last is from "
        "2026-06-01 12:00:00 UTC, 95 s ago)"
    )


def test_a_draw_on_a_phase_index_outside_l1_to_l3_is_refused() -> None:
    draws = [ConnectorDraw(key=A, grid_phases=(3,), amps=6.0)]
    with pytest.raises(ValueError, match="grid phase index 3"):
        household_reduction(grid(10.0), draws, T0, SETTINGS)


# ---- solar surplus -----------------------------------------------------------------------------


def test_surplus_is_what_the_solar_connectors_draw_plus_the_export() -> None:
    draws = [ConnectorDraw(key=A, grid_phases=THREE, amps=6.0)]
    # 6 A x 3 x 230 V = 4140 W drawn, and 2 A exported on each phase (1380 W)
    assert solar_surplus_w(grid(-2.0, -2.0, -2.0), draws, T0, SETTINGS) == pytest.approx(5520.0)


def test_surplus_is_reduced_by_what_the_site_imports() -> None:
    draws = [ConnectorDraw(key=A, grid_phases=ON_L1, amps=8.0)]
    # 1840 W drawn, 3 A imported on L1 (690 W)
    assert solar_surplus_w(grid(3.0), draws, T0, SETTINGS) == pytest.approx(1150.0)


def test_surplus_is_negative_when_the_site_imports_more_than_the_connectors_draw() -> None:
    assert solar_surplus_w(grid(2.0, 1.0, 1.0), [], T0, SETTINGS) == pytest.approx(-920.0)


def test_there_is_no_surplus_figure_without_a_fresh_reading() -> None:
    assert solar_surplus_w(None, [], T0, SETTINGS) is None
    assert solar_surplus_w(grid(-10.0), [], at(60), SETTINGS) is None


# ---- fast and min + solar ----------------------------------------------------------------------


def test_fast_takes_its_maximum_whatever_the_surplus() -> None:
    target = one(connector(ChargingMode.FAST, max_a=32.0), -5000.0, T0)
    assert (target.max_current_a, target.reason) == (32.0, "mode fast")
    assert target.state.charging


def test_min_solar_takes_its_surplus_share_above_the_minimum() -> None:
    target = one(connector(ChargingMode.MIN_SOLAR), 2300.0, T0)
    assert target.max_current_a == pytest.approx(10.0)
    assert target.reason == "min + solar: 2300 W surplus = 10 A on 1 phase"


def test_min_solar_keeps_its_minimum_when_the_share_is_below_it() -> None:
    target = one(connector(ChargingMode.MIN_SOLAR), 800.0, T0)
    assert target.max_current_a == 6.0
    assert (
        target.reason == "min + solar: 800 W surplus = 3.5 A on 1 phase; below the minimum, so 6 A"
    )


def test_min_solar_is_capped_at_its_maximum() -> None:
    target = one(connector(ChargingMode.MIN_SOLAR, max_a=16.0), 5000.0, T0)
    assert target.max_current_a == 16.0
    assert target.reason == "min + solar: 5000 W surplus: 3680 W = 16 A on 1 phase, its maximum"


def test_min_solar_without_a_fresh_reading_gets_its_minimum() -> None:
    target = one(connector(ChargingMode.MIN_SOLAR), None, T0)
    assert target.max_current_a == 6.0
    assert target.reason == "min + solar: no fresh grid reading, so the minimum 6 A"


# ---- sharing the surplus -----------------------------------------------------------------------


def test_the_surplus_is_split_in_equal_power_and_converted_with_each_phase_count() -> None:
    single = connector(ChargingMode.MIN_SOLAR, A, phases=ON_L1, max_a=32.0)
    three = connector(ChargingMode.MIN_SOLAR, B, phases=THREE, max_a=32.0)
    targets = mode_targets([single, three], 13800.0, T0, SETTINGS)
    assert targets[A].max_current_a == pytest.approx(30.0)  # 6900 W on one phase
    assert targets[B].max_current_a == pytest.approx(10.0)  # 6900 W on three phases
    assert (
        targets[B].reason == "min + solar: 13800 W surplus shared by 2: 6900 W = 10 A on 3 phases"
    )


def test_what_a_connector_capped_at_its_maximum_cannot_take_goes_to_the_others() -> None:
    small = connector(ChargingMode.MIN_SOLAR, A, phases=ON_L1, max_a=10.0)  # at most 2300 W
    big = connector(ChargingMode.MIN_SOLAR, B, phases=ON_L1, max_a=32.0)
    targets = mode_targets([small, big], 6900.0, T0, SETTINGS)
    assert targets[A].max_current_a == pytest.approx(10.0)
    assert targets[B].max_current_a == pytest.approx(20.0)  # 4600 W


def test_fast_connectors_take_no_part_of_the_surplus() -> None:
    fast = connector(ChargingMode.FAST, A)
    solar = connector(ChargingMode.MIN_SOLAR, B, max_a=32.0)
    assert mode_targets([fast, solar], 4600.0, T0, SETTINGS)[B].max_current_a == pytest.approx(20.0)


def test_a_paused_solar_connector_is_offered_the_share_it_would_get_by_joining() -> None:
    using = connector(ChargingMode.SOLAR, A, state=charging_since(-600))
    waiting = connector(ChargingMode.SOLAR, B, state=paused_since(-600))
    targets = mode_targets([using, waiting], 2 * ONE_PHASE_6_A_W + 460.0, T0, SETTINGS)
    assert targets[A].max_current_a == pytest.approx(14.0)  # it alone uses the 3220 W now
    assert targets[B].state.above_since == T0  # 1610 W = 7 A would cover its minimum
    assert targets[B].max_current_a == 0.0


def test_a_paused_solar_connector_waits_when_joining_would_put_others_below_their_minimum() -> None:
    using = connector(ChargingMode.SOLAR, A, phases=THREE, state=charging_since(-600))
    waiting = connector(ChargingMode.SOLAR, B, phases=ON_L1, state=paused_since(-600))
    # 6000 W: B would get 3000 W (10.9 A on one phase), A 3000 W = 4.3 A on three phases < 6 A
    target = mode_targets([using, waiting], 6000.0, T0, SETTINGS)[B]
    assert target.state.above_since is None
    assert "starting would leave the others below their minimum" in target.reason


def test_surplus_for_one_more_car_counts_for_the_longest_paused_one_only() -> None:
    earlier = connector(ChargingMode.SOLAR, B, state=paused_since(-900))
    later = connector(ChargingMode.SOLAR, A, state=paused_since(-600))
    targets = mode_targets([later, earlier], 1.5 * ONE_PHASE_6_A_W, T0, SETTINGS)
    assert targets[B].state.above_since == T0
    assert targets[A].state.above_since is None


def test_a_connector_without_grid_phases_is_refused() -> None:
    with pytest.raises(ValueError, match="connector 1 of CP-A has no grid phases"):
        mode_targets([connector(ChargingMode.MIN_SOLAR, phases=())], 1000.0, T0, SETTINGS)


# ---- solar: starting ---------------------------------------------------------------------------


def test_solar_seen_for_the_first_time_waits_for_the_start_delay() -> None:
    target = solar_step(None, 2300.0, T0)
    assert target.max_current_a == 0.0
    assert not target.state.charging
    assert target.recheck_at == at(120)
    assert target.reason == (
        "solar: 2300 W surplus = 10 A on 1 phase, covers the minimum 6 A for 0 s "
        "(starts after 120 s); paused meanwhile"
    )


def test_solar_does_not_start_just_before_the_start_delay() -> None:
    first = solar_step(None, 2300.0, T0)
    target = solar_step(first.state, 2300.0, at(119))
    assert target.max_current_a == 0.0
    assert not target.state.charging


def test_solar_starts_once_the_share_covered_the_minimum_for_the_start_delay() -> None:
    first = solar_step(None, 2300.0, T0)
    target = solar_step(first.state, 2300.0, at(120))
    assert target.max_current_a == pytest.approx(10.0)
    assert target.state == ModeState(charging=True, since=at(120))
    assert target.reason == (
        "solar: 2300 W surplus = 10 A on 1 phase, covers the minimum 6 A for 120 s; starts"
    )


def test_a_dip_below_the_minimum_restarts_the_start_delay() -> None:
    state = solar_step(None, 2300.0, T0).state
    state = solar_step(state, 1000.0, at(60)).state
    state = solar_step(state, 2300.0, at(61)).state
    assert not solar_step(state, 2300.0, at(180)).state.charging
    assert solar_step(state, 2300.0, at(181)).state.charging


def test_solar_first_seen_has_no_least_off_time_to_wait_for() -> None:
    state = solar_step(None, 2300.0, T0).state
    assert solar_step(state, 2300.0, at(120)).state.charging  # 120 s < min_charging_time_s 300 s


def test_solar_below_the_minimum_stays_paused_and_says_so() -> None:
    target = solar_step(paused_since(-600), 1000.0, T0)
    assert target.max_current_a == 0.0
    assert target.recheck_at is None
    assert target.reason == (
        "solar: 1000 W surplus = 4.3 A on 1 phase, below the minimum 6 A; paused"
    )


# ---- solar: pausing ----------------------------------------------------------------------------


def test_solar_charging_keeps_its_minimum_while_the_share_is_below_it_within_the_stop_delay() -> (
    None
):
    target = solar_step(charging_since(-600), 1000.0, T0)
    assert target.max_current_a == 6.0
    assert target.state == replace(charging_since(-600), below_since=T0)
    assert target.recheck_at == at(30)


def test_solar_does_not_pause_just_before_the_stop_delay() -> None:
    state = solar_step(charging_since(-600), 1000.0, T0).state
    target = solar_step(state, 1000.0, at(29))
    assert target.max_current_a == 6.0
    assert target.state.charging
    assert target.reason == (
        "solar: 1000 W surplus = 4.3 A on 1 phase, below the minimum 6 A for 29 s "
        "(pauses after 30 s); keeps 6 A meanwhile"
    )


def test_solar_pauses_once_the_share_stayed_below_the_minimum_for_the_stop_delay() -> None:
    state = solar_step(charging_since(-600), 1000.0, T0).state
    target = solar_step(state, 1000.0, at(30))
    assert target.max_current_a == 0.0
    assert target.state == ModeState(charging=False, since=at(30))
    assert target.reason == (
        "solar: 1000 W surplus = 4.3 A on 1 phase, below the minimum 6 A for 30 s; paused"
    )


def test_a_recovery_above_the_minimum_restarts_the_stop_delay() -> None:
    state = solar_step(charging_since(-600), 1000.0, T0).state
    state = solar_step(state, 2300.0, at(20)).state
    assert state.below_since is None
    state = solar_step(state, 1000.0, at(25)).state
    assert solar_step(state, 1000.0, at(54)).state.charging
    assert not solar_step(state, 1000.0, at(55)).state.charging


def test_solar_charging_follows_its_share_above_the_minimum() -> None:
    target = solar_step(charging_since(-600), 3450.0, T0)
    assert target.max_current_a == pytest.approx(15.0)
    assert target.reason == "solar: 3450 W surplus = 15 A on 1 phase"


# ---- solar: least on and off time --------------------------------------------------------------


def test_solar_is_not_paused_within_the_least_on_time() -> None:
    state = solar_step(charging_since(0), 1000.0, at(100)).state  # below since 100 s
    target = solar_step(state, 1000.0, at(299))
    assert target.state.charging
    assert target.max_current_a == 6.0
    assert target.recheck_at == at(300)
    assert target.reason == (
        "solar: 1000 W surplus = 4.3 A on 1 phase, below the minimum 6 A, but charging for only "
        "299 s (least on time 300 s); keeps 6 A until then"
    )


def test_solar_pauses_as_soon_as_the_least_on_time_has_passed() -> None:
    state = solar_step(charging_since(0), 1000.0, at(100)).state
    assert not solar_step(state, 1000.0, at(300)).state.charging


def test_solar_is_not_started_within_the_least_off_time() -> None:
    state = solar_step(paused_since(0), 2300.0, at(10)).state  # covers since 10 s
    target = solar_step(state, 2300.0, at(299))
    assert not target.state.charging
    assert target.recheck_at == at(300)
    assert target.reason == (
        "solar: 2300 W surplus = 10 A on 1 phase, covers the minimum 6 A, but paused for only "
        "299 s (least off time 300 s); paused until then"
    )


def test_solar_starts_as_soon_as_the_least_off_time_has_passed() -> None:
    state = solar_step(paused_since(0), 2300.0, at(10)).state
    assert solar_step(state, 2300.0, at(300)).state.charging


def test_the_start_delay_deadline_is_the_later_of_the_delay_and_the_least_off_time() -> None:
    target = solar_step(paused_since(0), 2300.0, at(250))
    assert target.recheck_at == at(370)


# ---- solar: no fresh meter ---------------------------------------------------------------------


def test_solar_pauses_without_a_fresh_reading() -> None:
    target = solar_step(charging_since(-600), None, T0)
    assert target.max_current_a == 0.0
    assert target.state == ModeState(charging=False, since=T0)
    assert target.reason == "solar: no fresh grid reading; paused"


def test_solar_without_a_fresh_reading_keeps_its_minimum_within_the_least_on_time() -> None:
    target = solar_step(charging_since(-100), None, T0)
    assert target.max_current_a == 6.0
    assert target.state.charging
    assert target.recheck_at == at(200)
    assert target.reason == (
        "solar: no fresh grid reading, but charging for only 100 s (least on time 300 s); "
        "keeps 6 A until then"
    )


def test_solar_paused_without_a_fresh_reading_forgets_how_long_the_share_covered() -> None:
    state = solar_step(paused_since(-600), 2300.0, T0).state
    target = solar_step(state, None, at(60))
    assert target.max_current_a == 0.0
    assert target.state.above_since is None
