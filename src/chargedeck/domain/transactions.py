"""What a charging session amounts to in a report: energy, duration, cost, and every doubt.

A session's energy is meterStop - meterStart (:mod:`chargedeck.domain.energy`), its cost comes
from its charger's tariff (:mod:`chargedeck.domain.tariffs`), and whatever makes either doubtful
travels with it as a flag and a sentence: a report never shows 0 where it does not know.

Sessions ChargeDeck closed itself (a charger that rebooted or reconnected without stopping them,
field notes Q13 and Q17) carry their :class:`Reconciliation`; their meterStop is the last
register reading ChargeDeck had, so their energy is what was measured up to that reading.
"""

from __future__ import annotations

import enum
import functools
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

from chargedeck.domain.energy import session_energy
from chargedeck.domain.tariffs import (
    Cost,
    EnergyInterval,
    Tariff,
    price_changes,
    session_cost,
    session_cost_from_total,
)


class Reconciliation(enum.StrEnum):
    """How ChargeDeck, not a StopTransaction, settled a transaction (its ``reconciliation``).

    The closed kinds end the transaction with the last register reading stored for it; a
    StopTransaction that arrives later still wins (:attr:`CORRECTED_BY_STOP`): a hard reset
    may send it after the next BootNotification (OCPP 1.6 §5.14).
    """

    CLOSED_AT_BOOT = "closed_at_boot"
    """The charger sent a BootNotification (it rebooted) while the transaction was open."""
    CLOSED_AT_RECONNECT = "closed_at_reconnect"
    """The charger reconnected without a BootNotification and, asked with TriggerMessage,
    reported the connector Available or Preparing: no session on it any more."""
    CLOSED_WHEN_AVAILABLE = "closed_when_available"
    """The connector reported Available and no StopTransaction came within the grace period."""
    RECOVERED = "recovered"
    """The charger reconnected without a BootNotification and still reported the session
    (Charging or Suspended, MeterValues with its transactionId): kept open."""
    CORRECTED_BY_STOP = "corrected_by_stop"
    """ChargeDeck had closed it; the charger's own StopTransaction came later and its reading,
    time and reason replaced ChargeDeck's."""

    @property
    def closed_by_chargedeck(self) -> bool:
        return self in _CLOSED_BY_CHARGEDECK


_CLOSED_BY_CHARGEDECK = frozenset(
    {
        Reconciliation.CLOSED_AT_BOOT,
        Reconciliation.CLOSED_AT_RECONNECT,
        Reconciliation.CLOSED_WHEN_AVAILABLE,
    }
)
CLOSED_BY_CHARGEDECK: frozenset[str] = frozenset(kind.value for kind in _CLOSED_BY_CHARGEDECK)

# OCPP 1.6 §7.36 Reason stored with a transaction ChargeDeck closed: a BootNotification means
# the charger restarted (Reboot); otherwise the spec's catch-all (Other). The reconciliation
# column says precisely what happened.
STOP_REASONS: dict[Reconciliation, str] = {
    Reconciliation.CLOSED_AT_BOOT: "Reboot",
    Reconciliation.CLOSED_AT_RECONNECT: "Other",
    Reconciliation.CLOSED_WHEN_AVAILABLE: "Other",
}

_WHY_CLOSED = {
    Reconciliation.CLOSED_AT_BOOT: "when the charger rebooted without stopping it",
    Reconciliation.CLOSED_AT_RECONNECT: (
        "when the charger reconnected and reported no session on the connector"
    ),
    Reconciliation.CLOSED_WHEN_AVAILABLE: (
        "after the connector reported Available and no StopTransaction came"
    ),
}


@dataclass(frozen=True)
class SessionFacts:
    """A stored session as plain values; ``register_samples`` are its Energy.Active.Import.
    Register readings (time, Wh), ``group`` the parentIdTag of its id tag."""

    transaction_id: int
    charge_point_id: str
    connector_id: int
    id_tag: str
    owner: str | None
    group: str | None
    meter_start: int
    meter_stop: int | None
    started_at: datetime
    stopped_at: datetime | None
    stop_reason: str | None
    reconciliation: str | None
    register_samples: tuple[tuple[datetime, int], ...] = ()


@dataclass(frozen=True)
class SessionProblem:
    """Why a figure of the session is doubtful or unknown: a flag and a sentence."""

    flag: str
    sentence: str


@dataclass(frozen=True)
class SessionLine:
    """One session of a report. ``energy_wh``, ``duration_s`` and ``cost`` are None when not
    known (never 0); ``problems`` say why. ``currency`` is the tariff's (None: not priced)."""

    facts: SessionFacts
    energy_wh: int | None
    register_energy_wh: int | None
    duration_s: int | None
    cost: Cost | None
    problems: tuple[SessionProblem, ...]
    currency: str | None = None


def session_line(facts: SessionFacts, tariff: Tariff | None) -> SessionLine:
    """Energy (meterStop - meterStart, checked against the register samples), duration and
    cost of a session under ``tariff`` (None: not priced).

    A tariff with time-of-day windows prices the energy between readings at the times it
    flowed (start, register samples, stop; :func:`~chargedeck.domain.tariffs.session_cost`);
    when the readings do not rise steadily from meterStart to meterStop, or the tariff has no
    windows, all of it at the price in force when the session started.
    """
    energy = session_energy(facts.meter_start, facts.meter_stop, facts.register_samples)
    problems = [SessionProblem(p.flag.value, p.sentence) for p in energy.problems]
    if facts.reconciliation in CLOSED_BY_CHARGEDECK:
        why = _WHY_CLOSED[Reconciliation(facts.reconciliation)]
        problems.append(
            SessionProblem(
                "closed_by_chargedeck",
                f"ChargeDeck closed this session {why}, with the last register reading it had "
                "(energy after that reading is not known)"
                if facts.meter_stop is not None
                else f"ChargeDeck closed this session {why}; no register reading came after "
                "meterStart, so its energy is not known",
            )
        )
    duration_s = None
    if facts.stopped_at is not None:
        seconds = (facts.stopped_at - facts.started_at).total_seconds()
        if seconds < 0:
            problems.append(
                SessionProblem(
                    "stopped_before_started",
                    f"the session stopped at {facts.stopped_at.isoformat()}, before it started "
                    f"at {facts.started_at.isoformat()}: the charger's clock jumped",
                )
            )
        else:
            duration_s = int(seconds)
    cost = None if tariff is None else _cost(tariff, facts, energy.energy_wh)
    return SessionLine(
        facts,
        energy.energy_wh,
        energy.register_energy_wh,
        duration_s,
        cost,
        tuple(problems),
        None if tariff is None else tariff.currency,
    )


def energy_kwh(energy_wh: int) -> Decimal:
    """Wh as kWh, exactly (three decimals)."""
    return Decimal(energy_wh).scaleb(-3)


def _cost(tariff: Tariff, facts: SessionFacts, energy_wh: int | None) -> Cost | None:
    if energy_wh is None:
        return None
    intervals = _energy_intervals(facts) if tariff.windows else None
    if intervals is None:
        return session_cost_from_total(tariff, facts.started_at, energy_wh)
    changes = _price_changes(tariff, intervals[0][0], intervals[-1][1])
    if not changes:  # one price from start to stop: the same as pricing every interval
        return session_cost_from_total(tariff, facts.started_at, energy_wh)
    return session_cost(tariff, _merged(intervals, changes))


# A day's price changes (window boundaries, daylight-saving changes) are worked out once per
# tariff and day, not once per session: an export of 100,000 sessions spends its time on them
# otherwise (bench/export.py). 366 days x a few tariffs.
_PRICE_CHANGE_DAYS_CACHED = 2048
_ONE_DAY = timedelta(days=1)
_JUST_BEFORE = timedelta(microseconds=1)


@functools.lru_cache(maxsize=_PRICE_CHANGE_DAYS_CACHED)
def _price_changes_on(tariff: Tariff, day: date) -> tuple[datetime, ...]:
    """Every instant of the UTC ``day`` (midnight included) at which the price may change."""
    midnight = datetime.combine(day, time(), tzinfo=UTC)
    return tuple(sorted(price_changes(tariff, midnight - _JUST_BEFORE, midnight + _ONE_DAY)))


def _price_changes(tariff: Tariff, start: datetime, end: datetime) -> list[datetime]:
    """The instants in (start, end] at which the price may change, in order."""
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    return [
        change
        for offset in range((last - first).days + 1)
        for change in _price_changes_on(tariff, first + offset * _ONE_DAY)
        if start < change <= end
    ]


def _energy_intervals(facts: SessionFacts) -> list[EnergyInterval] | None:
    """(from, to, Wh) between consecutive readings meterStart, samples, meterStop; None when
    they do not rise steadily in time (the caller then prices the total at the start)."""
    start, stop = facts.meter_start, facts.meter_stop
    if stop is None or facts.stopped_at is None or facts.stopped_at < facts.started_at:
        return None
    readings = [
        (facts.started_at, start),
        *sorted(
            (at, wh)
            for at, wh in facts.register_samples
            if facts.started_at <= at <= facts.stopped_at and start <= wh <= stop
        ),
        (facts.stopped_at, stop),
    ]
    intervals = []
    for (earlier_at, earlier_wh), (later_at, later_wh) in pairwise(readings):
        if later_wh < earlier_wh:
            return None
        intervals.append((earlier_at, later_at, later_wh - earlier_wh))
    return intervals


def _merged(
    intervals: Sequence[EnergyInterval], changes: Sequence[datetime]
) -> list[EnergyInterval]:
    """The same energy in fewer intervals: consecutive intervals inside one price period (between
    two of the sorted ``changes``) become one, priced alike, so the cost is exactly the same; an
    interval across a price change stays as it is, to be shared in proportion to time. A session
    read every 10 s becomes a handful of intervals instead of thousands."""
    merged: list[EnergyInterval] = []
    run: EnergyInterval | None = None
    run_period = -1
    for interval in intervals:
        begin, end, wh = interval
        # Index of the price period ``begin`` falls in (a change at ``begin`` itself has already
        # taken effect: a window includes its start).
        period = bisect_right(changes, begin)
        crosses = period < len(changes) and changes[period] < end
        if not crosses and run is not None and run_period == period and run[1] == begin:
            run = (run[0], end, run[2] + wh)
            continue
        if run is not None:
            merged.append(run)
            run = None
        if crosses:
            merged.append(interval)
        else:
            run, run_period = interval, period
    if run is not None:
        merged.append(run)
    return merged


class GroupBy(enum.StrEnum):
    """What a summary adds sessions up by."""

    ID_TAG = "id_tag"
    OWNER = "owner"
    GROUP = "group"
    CHARGE_POINT = "charge_point"
    DAY = "day"
    MONTH = "month"


@dataclass(frozen=True)
class SummaryRow:
    """The sessions of one group priced in one currency (a group whose chargers' tariffs differ
    in currency has a row per currency; sessions without a tariff have currency None).

    ``energy_wh``, ``duration_s`` and ``cost`` add up the sessions where they are known;
    ``sessions_energy_unknown`` and ``sessions_not_priced`` count the others. ``cost`` is the
    sum of the sessions' rounded costs, so that a statement adds up to its lines (None when no
    session of the row was priced).
    """

    key: str | None
    currency: str | None
    sessions: int
    sessions_energy_unknown: int
    energy_wh: int
    duration_s: int
    sessions_not_priced: int
    cost: Decimal | None


def group_key(line: SessionLine, group_by: GroupBy, zone: ZoneInfo) -> str | None:
    """The group of a session: its id tag or group (case-insensitive, OCPP 1.6 §7.15: upper
    case), owner, charger, or the day or month it started on ``zone``'s calendar."""
    facts = line.facts
    if group_by is GroupBy.ID_TAG:
        return facts.id_tag.upper()
    if group_by is GroupBy.OWNER:
        return facts.owner
    if group_by is GroupBy.GROUP:
        return None if facts.group is None else facts.group.upper()
    if group_by is GroupBy.CHARGE_POINT:
        return facts.charge_point_id
    local = facts.started_at.astimezone(zone)
    if group_by is GroupBy.DAY:
        return local.date().isoformat()
    return f"{local.year:04d}-{local.month:02d}"


@dataclass
class _Totals:
    sessions: int = 0
    sessions_energy_unknown: int = 0
    energy_wh: int = 0
    duration_s: int = 0
    sessions_not_priced: int = 0
    cost: Decimal | None = None


class SessionSummary:
    """Adds sessions up per group, one session at a time (memory grows with the groups only)."""

    def __init__(self, group_by: GroupBy, zone: ZoneInfo) -> None:
        self.group_by = group_by
        self.zone = zone
        self._totals: dict[tuple[str | None, str | None], _Totals] = {}

    def add(self, lines: Iterable[SessionLine]) -> None:
        for line in lines:
            key = (group_key(line, self.group_by, self.zone), line.currency)
            totals = self._totals.get(key)
            if totals is None:
                totals = self._totals[key] = _Totals()
            totals.sessions += 1
            if line.energy_wh is None:
                totals.sessions_energy_unknown += 1
            else:
                totals.energy_wh += line.energy_wh
            if line.duration_s is not None:
                totals.duration_s += line.duration_s
            if line.cost is None:
                totals.sessions_not_priced += 1
            else:
                totals.cost = line.cost.amount + (totals.cost or 0)

    def rows(self) -> list[SummaryRow]:
        """The groups in order of their key (sessions without one last), then currency."""
        ordered = sorted(
            self._totals.items(),
            key=lambda item: (item[0][0] is None, item[0][0] or "", item[0][1] or ""),
        )
        return [
            SummaryRow(
                key,
                currency,
                totals.sessions,
                totals.sessions_energy_unknown,
                totals.energy_wh,
                totals.duration_s,
                totals.sessions_not_priced,
                totals.cost,
            )
            for (key, currency), totals in ordered
        ]
