"""Charging modes and the site's dynamic inputs: household load, solar surplus, stale meters.

Owners want three modes (field notes, need 2; evcc's PV modes): **fast** (as much as the fuse
allows), **min + solar** (the connector's minimum always, more from solar surplus) and **solar**
(only from surplus, with start/stop hysteresis and a least on/off time that protect contactors
and the car). The grid meter (per-phase current, import positive) tells how much the household
takes: it is subtracted from the grid connection's budget. A reading ``meter_stale_after_s``
old is no longer used: load control falls back to the safe limits.

Pure: no I/O, no clock (STYLE rule 1).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from chargedeck.domain.load_management import ConnectorKey, PhaseCurrents, Reduction


class ChargingMode(enum.StrEnum):
    FAST = "fast"
    MIN_SOLAR = "min_solar"
    SOLAR = "solar"


@dataclass(frozen=True)
class GridReading:
    """The grid connection meter: current per phase in A, import positive, export negative."""

    amps: PhaseCurrents
    measured_at: datetime


@dataclass(frozen=True)
class SolarReading:
    """Solar production in W (shown in explanations; the surplus comes from the grid meter)."""

    power_w: float
    measured_at: datetime


@dataclass(frozen=True)
class ModeSettings:
    """The numbers the modes run on (settings of the same names, config.py)."""

    nominal_voltage_v: float = 230.0
    solar_start_delay_s: float = 120.0
    solar_stop_delay_s: float = 30.0
    min_charging_time_s: float = 300.0
    meter_stale_after_s: float = 60.0
    household_reserve_a: float = 0.0


@dataclass(frozen=True)
class ConnectorDraw:
    """What a connector draws now (its latest Current.Import per phase, averaged), and where."""

    key: ConnectorKey
    grid_phases: tuple[int, ...]
    amps: float


@dataclass(frozen=True)
class ModeState:
    """Memory of the solar hysteresis for one connector, handed back on the next call."""

    charging: bool
    since: datetime
    """When ``charging`` last changed."""
    below_since: datetime | None = None
    """Since when the surplus share has been below the minimum (while charging)."""
    above_since: datetime | None = None
    """Since when the surplus share has covered the minimum (while not charging)."""
    first_seen: bool = False
    """True while ``charging`` is how the connector was first seen, not a switch this module
    made: there is no on/off time to protect yet, so ``min_charging_time_s`` does not hold it."""


@dataclass(frozen=True)
class ModeInput:
    key: ConnectorKey
    mode: ChargingMode
    grid_phases: tuple[int, ...]
    min_current_a: float
    max_current_a: float
    state: ModeState | None
    """None the first time the connector is seen charging."""


@dataclass(frozen=True)
class ModeTarget:
    """The most the mode lets a connector take now (0 = the mode pauses it), and why."""

    key: ConnectorKey
    max_current_a: float
    reason: str
    state: ModeState
    recheck_at: datetime | None = None
    """When the decision changes by itself if nothing else does (a hysteresis delay or the least
    on/off time runs out): load control recomputes then. None when only new input changes it."""


_EPSILON_A = 1e-9
"""Slack when comparing a share with a minimum: 1380 W / 230 V must count as 6 A."""


def is_fresh(measured_at: datetime | None, now: datetime, settings: ModeSettings) -> bool:
    """Whether a reading taken at ``measured_at`` may still be used: for ``meter_stale_after_s``
    after it was measured (from :func:`stale_at` on it is stale). A timestamp slightly ahead of
    ``now`` (clock skew) counts as fresh; the input edges refuse ones far in the future."""
    if measured_at is None:
        return False
    return now < stale_at(measured_at, settings)


def stale_at(measured_at: datetime, settings: ModeSettings) -> datetime:
    """When a reading taken at ``measured_at`` stops being used: the deadline at which load
    control falls back to the safe limits if no newer reading came."""
    return measured_at + timedelta(seconds=settings.meter_stale_after_s)


def household_reduction(
    grid: GridReading | None,
    draws: Sequence[ConnectorDraw],
    now: datetime,
    settings: ModeSettings,
) -> Reduction:
    """The grid connection's budget taken by everything but the chargers: the meter's import on
    each phase less what the site's connectors draw there, never below 0; the household reserve
    when there is no fresh reading.

    ``draws`` are all the site's connectors (every mode): each draws its ``amps`` on each of its
    grid phases. Export (negative current) leaves nothing to subtract: solar power on a phase
    does not raise the fuse's limit. Raises ``ValueError`` for a grid phase outside 0..2."""
    if grid is None or not is_fresh(grid.measured_at, now, settings):
        reserve = settings.household_reserve_a
        return Reduction(
            amps=(reserve, reserve, reserve),
            label=f"household reserve {_amps(reserve)} per phase ({_no_fresh_grid(grid, now)})",
        )
    chargers = _per_phase(draws)
    amps: PhaseCurrents = (
        max(0.0, grid.amps[0] - chargers[0]),
        max(0.0, grid.amps[1] - chargers[1]),
        max(0.0, grid.amps[2] - chargers[2]),
    )
    return Reduction(
        amps=amps,
        label=(
            f"household {_phases(amps)} (grid meter {_phases(grid.amps)} "
            f"less chargers {_phases(chargers)})"
        ),
    )


def solar_surplus_w(
    grid: GridReading | None,
    draws: Sequence[ConnectorDraw],
    now: datetime,
    settings: ModeSettings,
) -> float | None:
    """Power the solar-mode connectors may use without importing: what they draw now plus what
    is exported (minus what is imported), in W; None without a fresh grid reading.

    ``draws`` are the solar-mode (min + solar and solar) connectors only: what a fast connector
    draws is not surplus. Power is current x ``nominal_voltage_v`` on every phase (the meter
    gives currents, not power). Negative when the site imports more than those connectors draw.
    Raises ``ValueError`` for a connector without grid phases."""
    if grid is None or not is_fresh(grid.measured_at, now, settings):
        return None
    volts = settings.nominal_voltage_v
    chargers_w = sum(draw.amps * _phase_count(draw.key, draw.grid_phases) * volts for draw in draws)
    return chargers_w - sum(grid.amps) * volts


def mode_targets(
    inputs: Sequence[ModeInput],
    surplus_w: float | None,
    now: datetime,
    settings: ModeSettings,
) -> Mapping[ConnectorKey, ModeTarget]:
    """Each connector's target under its mode. Fast: its maximum. Min + solar: its minimum plus
    its share of the surplus. Solar: its share of the surplus once that has covered its minimum
    for ``solar_start_delay_s``; paused after it stayed below for ``solar_stop_delay_s``; never
    switched again within ``min_charging_time_s``. Without a surplus figure (no fresh meter)
    min + solar gets its minimum and solar pauses.

    The surplus is shared in equal power among the connectors using it now (min + solar ones,
    and solar ones that charge), none getting more than its maximum (what it cannot take goes
    to the others); amps per phase = W / (phases x ``nominal_voltage_v``). A paused solar
    connector's share is what it would get by joining them, and it counts as covering its
    minimum only if everyone would still cover theirs; paused ones are considered longest
    paused first, so surplus for one more car starts one car, not two that then stop again.

    A connector seen for the first time (``state`` None) counts as charging unless it is in
    solar mode, where it waits for the start delay like a paused one, without a least off time.
    While the least on time holds a solar connector whose surplus is gone (share below its
    minimum, or no fresh meter), it keeps its minimum. Raises ``ValueError`` for a connector
    without grid phases."""
    volts = settings.nominal_voltage_v
    states = {item.key: item.state or _first_seen(item, now) for item in inputs}
    using = [
        item
        for item in inputs
        if item.mode is ChargingMode.MIN_SOLAR
        or (item.mode is ChargingMode.SOLAR and states[item.key].charging)
    ]
    paused = sorted(
        (
            item
            for item in inputs
            if item.mode is ChargingMode.SOLAR and not states[item.key].charging
        ),
        key=lambda item: (states[item.key].since, item.key),
    )
    shares: dict[ConnectorKey, _Share] = {}
    if surplus_w is not None:
        shares.update(_split(using, surplus_w, volts))
        joined = list(using)
        for item in paused:
            trial = _split([*joined, item], surplus_w, volts)
            fits = all(trial[other.key].covers(other) for other in [*joined, item])
            shares[item.key] = replace(trial[item.key], fits_with_others=fits)
            if fits:
                joined.append(item)
    targets: dict[ConnectorKey, ModeTarget] = {}
    for item in inputs:
        state, share = states[item.key], shares.get(item.key)
        if item.mode is ChargingMode.FAST:
            targets[item.key] = _target(item, item.max_current_a, "mode fast", _on(state, now))
        elif item.mode is ChargingMode.MIN_SOLAR:
            targets[item.key] = _min_solar(item, share, _on(state, now))
        else:
            targets[item.key] = _solar(item, share, state, now, settings)
    return targets


# ---- sharing the surplus ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Share:
    """One connector's part of the surplus, with the figures its reason quotes."""

    surplus_w: float
    sharing: int
    """How many connectors it is shared by (including this one)."""
    power_w: float
    phases: int
    amps: float
    capped: bool
    """Its equal part would be more than its maximum: it gets its maximum."""
    fits_with_others: bool = True
    """For a paused connector: everyone already using the surplus would still cover their
    minimum if it joined."""

    def covers(self, item: ModeInput) -> bool:
        return self.amps + _EPSILON_A >= item.min_current_a

    def describe(self) -> str:
        plural = "s" if self.phases > 1 else ""
        amps = f"{_amps(self.amps)} on {self.phases} phase{plural}"
        if self.sharing == 1 and not self.capped:
            return f"{_watts(self.surplus_w)} surplus = {amps}"
        shared = f" shared by {self.sharing}" if self.sharing > 1 else ""
        capped = ", its maximum" if self.capped else ""
        return f"{_watts(self.surplus_w)} surplus{shared}: {_watts(self.power_w)} = {amps}{capped}"


def _split(
    items: Sequence[ModeInput], surplus_w: float, volts: float
) -> dict[ConnectorKey, _Share]:
    """Equal power for everyone, each at most its maximum; what a capped one leaves is shared by
    the rest (the smallest maxima are settled first). A deficit gives everyone 0."""
    phases = {item.key: _phase_count(item.key, item.grid_phases) for item in items}

    def most_w(item: ModeInput) -> float:
        return max(0.0, item.max_current_a) * phases[item.key] * volts

    shares: dict[ConnectorKey, _Share] = {}
    remaining_w, left = surplus_w, len(items)
    for item in sorted(items, key=lambda item: (most_w(item), item.key)):
        equal_w = remaining_w / left
        power_w = max(0.0, min(most_w(item), equal_w))
        remaining_w -= power_w
        left -= 1
        shares[item.key] = _Share(
            surplus_w=surplus_w,
            sharing=len(items),
            power_w=power_w,
            phases=phases[item.key],
            amps=power_w / (phases[item.key] * volts),
            capped=most_w(item) < equal_w,
        )
    return shares


# ---- one connector under its mode ------------------------------------------------------------


def _min_solar(item: ModeInput, share: _Share | None, state: ModeState) -> ModeTarget:
    if share is None:
        return _target(
            item,
            item.min_current_a,
            f"min + solar: no fresh grid reading, so the minimum {_amps(item.min_current_a)}",
            state,
        )
    reason = f"min + solar: {share.describe()}"
    if not share.covers(item):
        return _target(
            item,
            item.min_current_a,
            f"{reason}; below the minimum, so {_amps(item.min_current_a)}",
            state,
        )
    return _target(item, share.amps, reason, state)


def _solar(
    item: ModeInput, share: _Share | None, state: ModeState, now: datetime, settings: ModeSettings
) -> ModeTarget:
    guard_until = _guard_until(state, settings)
    guarded = guard_until is not None and now < guard_until
    doing, on_off = ("charging", "on") if state.charging else ("paused", "off")
    least = _seconds_value(settings.min_charging_time_s)
    held = f"{doing} for only {_seconds(now - state.since)} (least {on_off} time {least})"
    minimum = _amps(item.min_current_a)
    if state.charging:
        if share is not None and share.covers(item):
            return _target(
                item, share.amps, f"solar: {share.describe()}", replace(state, below_since=None)
            )
        if share is None:
            if guarded:
                return _target(
                    item,
                    item.min_current_a,
                    f"solar: no fresh grid reading, but {held}; keeps {minimum} until then",
                    replace(state, below_since=None),
                    guard_until,
                )
            return _target(item, 0.0, "solar: no fresh grid reading; paused", _off(now))
        below_since = state.below_since or now
        stop_at = below_since + timedelta(seconds=settings.solar_stop_delay_s)
        below = f"solar: {share.describe()}, below the minimum {minimum}"
        if now < stop_at:
            return _target(
                item,
                item.min_current_a,
                f"{below} for {_seconds(now - below_since)} (pauses after "
                f"{_seconds_value(settings.solar_stop_delay_s)}); keeps {minimum} meanwhile",
                replace(state, below_since=below_since),
                _later(stop_at, guard_until),
            )
        if guarded:
            return _target(
                item,
                item.min_current_a,
                f"{below}, but {held}; keeps {minimum} until then",
                replace(state, below_since=below_since),
                guard_until,
            )
        return _target(
            item,
            0.0,
            f"{below} for {_seconds(now - below_since)}; paused",
            _off(now),
        )
    if share is None:
        return _target(
            item, 0.0, "solar: no fresh grid reading; paused", replace(state, above_since=None)
        )
    if not share.covers(item):
        return _target(
            item,
            0.0,
            f"solar: {share.describe()}, below the minimum {minimum}; paused",
            replace(state, above_since=None),
        )
    if not share.fits_with_others:
        return _target(
            item,
            0.0,
            f"solar: {share.describe()}, but starting would leave the others below their "
            "minimum; paused",
            replace(state, above_since=None),
        )
    above_since = state.above_since or now
    start_at = above_since + timedelta(seconds=settings.solar_start_delay_s)
    covers = f"solar: {share.describe()}, covers the minimum {minimum}"
    if now < start_at:
        return _target(
            item,
            0.0,
            f"{covers} for {_seconds(now - above_since)} (starts after "
            f"{_seconds_value(settings.solar_start_delay_s)}); paused meanwhile",
            replace(state, above_since=above_since),
            _later(start_at, guard_until),
        )
    if guarded:
        return _target(
            item,
            0.0,
            f"{covers}, but {held}; paused until then",
            replace(state, above_since=above_since),
            guard_until,
        )
    return _target(
        item,
        share.amps,
        f"{covers} for {_seconds(now - above_since)}; starts",
        ModeState(charging=True, since=now),
    )


def _first_seen(item: ModeInput, now: datetime) -> ModeState:
    return ModeState(charging=item.mode is not ChargingMode.SOLAR, since=now, first_seen=True)


def _on(state: ModeState, now: datetime) -> ModeState:
    """The state of a connector its mode lets charge (fast, min + solar)."""
    if state.charging:
        return replace(state, below_since=None, above_since=None)
    return ModeState(charging=True, since=now)


def _off(now: datetime) -> ModeState:
    return ModeState(charging=False, since=now)


def _guard_until(state: ModeState, settings: ModeSettings) -> datetime | None:
    """Until when the least on/off time holds the connector as it is (None: nothing to hold)."""
    if state.first_seen:
        return None
    return state.since + timedelta(seconds=settings.min_charging_time_s)


def _later(deadline: datetime, guard_until: datetime | None) -> datetime:
    """When a hysteresis delay that runs out at ``deadline`` can act, given the least on/off
    time."""
    return deadline if guard_until is None else max(deadline, guard_until)


def _target(
    item: ModeInput,
    amps: float,
    reason: str,
    state: ModeState,
    recheck_at: datetime | None = None,
) -> ModeTarget:
    if amps > item.max_current_a:
        amps = item.max_current_a
        reason = f"{reason}; capped at the maximum {_amps(item.max_current_a)}"
    return ModeTarget(
        key=item.key, max_current_a=amps, reason=reason, state=state, recheck_at=recheck_at
    )


# ---- helpers ---------------------------------------------------------------------------------


def _phase_count(key: ConnectorKey, grid_phases: tuple[int, ...]) -> int:
    if not grid_phases:
        raise ValueError(
            f"connector {key.connector_id} of {key.charge_point_id} has no grid phases"
        )
    return len(grid_phases)


def _per_phase(draws: Sequence[ConnectorDraw]) -> PhaseCurrents:
    totals = [0.0, 0.0, 0.0]
    for draw in draws:
        for phase in draw.grid_phases:
            if phase not in (0, 1, 2):
                raise ValueError(
                    f"connector {draw.key.connector_id} of {draw.key.charge_point_id} is on "
                    f"grid phase index {phase}; expected 0, 1 or 2 (L1, L2, L3)"
                )
            totals[phase] += draw.amps
    return (totals[0], totals[1], totals[2])


def _no_fresh_grid(grid: GridReading | None, now: datetime) -> str:
    if grid is None:
        return "no grid reading"
    return (
        f"no fresh grid reading: the last is from {grid.measured_at:%Y-%m-%d %H:%M:%S %Z}, "
        f"{_seconds(now - grid.measured_at)} ago"
    )


def _number(value: float) -> str:
    """One decimal at most, no trailing .0, never -0."""
    return f"{round(value, 1) + 0.0:g}"


def _amps(value: float) -> str:
    return f"{_number(value)} A"


def _phases(amps: PhaseCurrents) -> str:
    return f"{_number(amps[0])}/{_number(amps[1])}/{_number(amps[2])} A"


def _watts(value: float) -> str:
    return f"{round(value)} W"


def _seconds(elapsed: timedelta) -> str:
    return _seconds_value(elapsed.total_seconds())


def _seconds_value(seconds: float) -> str:
    return f"{_number(seconds)} s"
