"""Session reports and exports for the API and the CLI: each session with its energy, duration
and cost, and sums per id tag, owner, group, charger, day or month.

Sessions are read a page at a time (``Transactions.iter_sessions``) and priced with their
charger's tariff, else the default one (``domain/transactions.py``). Formats: JSON, and CSV per
RFC 4180 (a header row, CRLF line ends, fields quoted when they need it). Times are ISO 8601 on
the report's time zone with their UTC offset, so that a session across a daylight-saving change
reads right (2026-10-25T02:30:00+02:00 then 02:10:00+01:00 in Europe/Madrid). Unknown values
are empty (CSV) or null (JSON), never 0; the sentences in ``energy_notes`` say why.

A cost uses the tariff in force now: changing a charger's tariff re-prices its past sessions in
later reports.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from chargedeck.domain.tariffs import Tariff
from chargedeck.domain.transactions import (
    GroupBy,
    SessionFacts,
    SessionLine,
    SessionSummary,
    SummaryRow,
    energy_kwh,
    session_line,
)
from chargedeck.store import Store
from chargedeck.store.records import TransactionRecord
from chargedeck.store.tariffs import TariffRecord
from chargedeck.store.transactions import SessionFilter, SessionRecord

# Sessions per page read from the store: one short read each; a page with its register readings
# stays a few MB at most. Measured with bench/export.py: larger pages gain nothing.
EXPORT_PAGE_SIZE = 500


class FlagReport(msgspec.Struct, frozen=True, kw_only=True):
    """A doubt about a session's figures: a flag and its sentence."""

    flag: str
    sentence: str


class SessionReport(msgspec.Struct, frozen=True, kw_only=True):
    """One session of a report. Times are ISO 8601 on the report's time zone with their offset;
    Wh are integers, kWh and cost exact decimals as strings; null where not known."""

    transaction_id: int
    charge_point_id: str
    connector_id: int
    id_tag: str
    owner: str | None
    group: str | None
    started_at: str
    stopped_at: str | None
    duration_s: int | None
    meter_start_wh: int
    meter_stop_wh: int | None
    energy_wh: int | None
    energy_kwh: Decimal | None
    register_energy_wh: int | None
    cost: Decimal | None
    currency: str | None
    tariff: str | None
    stop_reason: str | None
    reconciliation: str | None
    energy_flags: list[FlagReport]


class SummaryReport(msgspec.Struct, frozen=True, kw_only=True):
    """One group of a summary: its key (null: sessions without one, e.g. no owner) and sums of
    what is known; the counts say how many sessions had no known energy or no price."""

    key: str | None
    currency: str | None
    sessions: int
    sessions_energy_unknown: int
    energy_wh: int
    energy_kwh: Decimal
    duration_s: int
    sessions_not_priced: int
    cost: Decimal | None


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    """Sums per group of the sessions that started in [started_from, started_before)."""

    group_by: str
    time_zone: str
    started_from: str | None
    started_before: str | None
    rows: list[SummaryReport]


SESSION_COLUMNS: tuple[str, ...] = (
    "transaction_id",
    "charge_point_id",
    "connector_id",
    "id_tag",
    "owner",
    "group",
    "started_at",
    "stopped_at",
    "duration_s",
    "meter_start_wh",
    "meter_stop_wh",
    "energy_wh",
    "energy_kwh",
    "register_energy_wh",
    "cost",
    "currency",
    "tariff",
    "stop_reason",
    "reconciliation",
    "energy_flags",
    "energy_notes",
)
"""The CSV header of a sessions export: the JSON fields, with ``energy_flags`` as the flags
separated by spaces and ``energy_notes`` as their sentences separated by " | "."""

SUMMARY_COLUMNS: tuple[str, ...] = (
    "currency",
    "sessions",
    "sessions_energy_unknown",
    "energy_wh",
    "energy_kwh",
    "duration_s",
    "sessions_not_priced",
    "cost",
)
"""The CSV header of a summary after its first column, named after what it groups by."""


def report_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ValueError with a sentence if it is not one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"time zone {name[:64]!r} is not in the IANA time zone database (for example "
            "'Europe/Madrid' or 'UTC')"
        ) from None


def parse_report_time(text: str, zone: ZoneInfo, what: str) -> datetime:
    """A period bound: a date (its midnight on ``zone``'s calendar) or an ISO 8601 date-time
    (on ``zone``'s wall clock unless it carries an offset). ValueError names ``what``."""
    try:
        if len(text) == len("2026-03-01"):
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=zone)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{what}={text[:64]!r}: expected a date (2026-03-01) or an ISO 8601 date-time "
            "(2026-03-01T08:00, 2026-03-01T08:00:00+01:00)"
        ) from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """ISO 8601 on ``zone``'s wall clock, to the second, with the UTC offset."""
    return moment.astimezone(zone).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ReportTariffs:
    """The tariffs a report prices with: each charger's own, else the default (if any)."""

    by_id: dict[int, TariffRecord]
    default: TariffRecord | None

    def tariff_of(self, session: SessionRecord) -> TariffRecord | None:
        if session.tariff_id is not None:
            own = self.by_id.get(session.tariff_id)
            if own is not None:
                return own
        return self.default


async def load_tariffs(store: Store) -> ReportTariffs:
    records = await store.tariffs.list_tariffs()
    default = next((record for record in records if record.is_default), None)
    return ReportTariffs({record.id: record for record in records}, default)


@dataclass(frozen=True)
class PricedSession:
    """A session's report line and the name of the tariff that applies to it."""

    line: SessionLine
    tariff_name: str | None


def session_facts(
    record: SessionRecord | TransactionRecord,
    register_samples: Iterable[tuple[datetime, int]],
    group: str | None = None,
) -> SessionFacts:
    """The plain values of a stored session (a report's, or a transaction's) for the domain."""
    return SessionFacts(
        transaction_id=record.id,
        charge_point_id=record.charge_point_id,
        connector_id=record.connector_id,
        id_tag=record.id_tag,
        owner=record.owner,
        group=group,
        meter_start=record.meter_start,
        meter_stop=record.meter_stop,
        started_at=record.started_at,
        stopped_at=record.stopped_at,
        stop_reason=record.stop_reason,
        reconciliation=record.reconciliation,
        register_samples=tuple(register_samples),
    )


def price_session(session: SessionRecord, tariffs: ReportTariffs) -> PricedSession:
    record = tariffs.tariff_of(session)
    tariff: Tariff | None = None if record is None else record.tariff
    facts = session_facts(session, session.register_samples, session.group_id_tag)
    line = session_line(facts, tariff)
    return PricedSession(line, None if record is None else record.name)


async def iter_priced_sessions(
    store: Store, where: SessionFilter, page_size: int = EXPORT_PAGE_SIZE
) -> AsyncIterator[list[PricedSession]]:
    """Every session ``where`` selects, priced, a page at a time."""
    tariffs = await load_tariffs(store)
    async for page in store.transactions.iter_sessions(where, page_size):
        yield [price_session(session, tariffs) for session in page]


def session_report(priced: PricedSession, zone: ZoneInfo) -> SessionReport:
    line, facts = priced.line, priced.line.facts
    return SessionReport(
        transaction_id=facts.transaction_id,
        charge_point_id=facts.charge_point_id,
        connector_id=facts.connector_id,
        id_tag=facts.id_tag,
        owner=facts.owner,
        group=facts.group,
        started_at=local_time(facts.started_at, zone),
        stopped_at=None if facts.stopped_at is None else local_time(facts.stopped_at, zone),
        duration_s=line.duration_s,
        meter_start_wh=facts.meter_start,
        meter_stop_wh=facts.meter_stop,
        energy_wh=line.energy_wh,
        energy_kwh=None if line.energy_wh is None else energy_kwh(line.energy_wh),
        register_energy_wh=line.register_energy_wh,
        cost=None if line.cost is None else line.cost.amount,
        currency=line.currency,
        tariff=priced.tariff_name,
        stop_reason=facts.stop_reason,
        reconciliation=facts.reconciliation,
        energy_flags=[FlagReport(flag=p.flag, sentence=p.sentence) for p in line.problems],
    )


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def session_csv_row(report: SessionReport) -> list[str]:
    """The CSV fields of a session, in :data:`SESSION_COLUMNS` order."""
    return [
        *(_cell(getattr(report, column)) for column in SESSION_COLUMNS[:-2]),
        " ".join(flag.flag for flag in report.energy_flags),
        " | ".join(flag.sentence for flag in report.energy_flags),
    ]


def csv_text(rows: Iterable[Sequence[str]]) -> str:
    """RFC 4180 CSV: CRLF line ends, fields quoted only when they hold a comma, quote or
    line break."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def summary_report(row: SummaryRow) -> SummaryReport:
    return SummaryReport(
        key=row.key,
        currency=row.currency,
        sessions=row.sessions,
        sessions_energy_unknown=row.sessions_energy_unknown,
        energy_wh=row.energy_wh,
        energy_kwh=energy_kwh(row.energy_wh),
        duration_s=row.duration_s,
        sessions_not_priced=row.sessions_not_priced,
        cost=row.cost,
    )


def summary_csv_row(report: SummaryReport) -> list[str]:
    """The CSV fields of a summary row: the key, then :data:`SUMMARY_COLUMNS`."""
    return [_cell(report.key), *(_cell(getattr(report, column)) for column in SUMMARY_COLUMNS)]


async def summarize(
    store: Store, where: SessionFilter, group_by: GroupBy, zone: ZoneInfo
) -> Summary:
    """The sums per group of the sessions ``where`` selects (read a page at a time)."""
    summary = SessionSummary(group_by, zone)
    async for page in iter_priced_sessions(store, where):
        summary.add(priced.line for priced in page)
    return Summary(
        group_by=group_by.value,
        time_zone=zone.key,
        started_from=None if where.started_from is None else local_time(where.started_from, zone),
        started_before=None
        if where.started_before is None
        else local_time(where.started_before, zone),
        rows=[summary_report(row) for row in summary.rows()],
    )
