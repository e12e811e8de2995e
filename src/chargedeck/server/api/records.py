"""API handlers of records: tariffs, a charger's tariff, session reports and summaries.

Reports select the sessions that started in [from, to) (a date is its midnight, a date-time
without an offset is on the wall clock of ``tz``), optionally of one id tag, owner, group
(parentIdTag) or charger, and show times on ``tz`` (default: the ``time_zone`` setting) with
their offset. ``format=json`` answers a page (cursor pagination); ``format=csv`` streams every
selected session as RFC 4180 CSV, a page of the store at a time. Bad query values are 400 with a
sentence; a bad tariff 422; an unknown charger 404; a tariff name in use 409.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime, time
from http import HTTPStatus
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from chargedeck.csms.reports import (
    SESSION_COLUMNS,
    SUMMARY_COLUMNS,
    csv_text,
    iter_priced_sessions,
    load_tariffs,
    parse_report_time,
    price_session,
    report_zone,
    session_csv_row,
    session_facts,
    session_report,
    summarize,
    summary_csv_row,
)
from chargedeck.domain.tariffs import Tariff, TimeWindow
from chargedeck.domain.transactions import GroupBy, session_line
from chargedeck.server.api.auth import Principal
from chargedeck.server.api.common import (
    ApiHandlers,
    ApiProblem,
    check_query_parameters,
    checked_charge_point_id,
    json_response,
    numeric_cursor,
    page_limit,
    path_charge_point_id,
    query_problem,
    read_body,
)
from chargedeck.server.api.records_views import (
    ChargePointTariff,
    ChargePointTariffView,
    NewTariff,
    TariffView,
    TariffWindowView,
)
from chargedeck.server.api.views import EnergyFlagView, Page
from chargedeck.store import errors as store_errors
from chargedeck.store.records import TransactionRecord
from chargedeck.store.tariffs import TariffRecord, UnknownChargePointForTariff, UnknownTariff
from chargedeck.store.transactions import SessionFilter

_FILTERS = ("from", "to", "id_tag", "owner", "group", "charge_point_id", "tz", "format")
_SESSION_PARAMETERS = frozenset({*_FILTERS, "limit", "cursor"})
_SUMMARY_PARAMETERS = frozenset({*_FILTERS, "group_by"})
_FORMATS = ("json", "csv")
CSV_MEDIA_TYPE = "text/csv; charset=utf-8; header=present"  # RFC 4180 §3, RFC 7111


def transaction_energy(
    record: TransactionRecord, register_samples: Sequence[tuple[datetime, int]]
) -> dict[str, Any]:
    """The energy fields of a transaction view: energy from meterStop - meterStart checked
    against the register samples, the doubts with their sentences, and how ChargeDeck settled
    it (the same rules as the reports, domain/transactions.py)."""
    line = session_line(session_facts(record, register_samples), None)
    return {
        "energy_wh": line.energy_wh,
        "register_energy_wh": line.register_energy_wh,
        "energy_flags": [EnergyFlagView(flag=p.flag, sentence=p.sentence) for p in line.problems],
        "owner": record.owner,
        "reconciliation": record.reconciliation,
        "reconciled_at": record.reconciled_at,
    }


def tariff_view(record: TariffRecord) -> TariffView:
    tariff = record.tariff
    return TariffView(
        id=record.id,
        name=record.name,
        currency=tariff.currency,
        price_per_kwh=tariff.price_per_kwh,
        time_zone=tariff.time_zone,
        windows=[
            TariffWindowView(
                start=w.start.isoformat(timespec="minutes"),
                end=w.end.isoformat(timespec="minutes"),
                price_per_kwh=w.price_per_kwh,
            )
            for w in tariff.windows
        ],
        is_default=record.is_default,
        created_at=record.created_at,
    )


def checked_tariff(body: NewTariff, default_zone: str) -> Tariff:
    """The tariff of a request body by the domain's rules; their sentence as a 422."""
    try:
        windows = tuple(
            TimeWindow(_wall_clock(w.start), _wall_clock(w.end), w.price_per_kwh)
            for w in body.windows
        )
        return Tariff(
            currency=body.currency.upper(),
            price_per_kwh=body.price_per_kwh,
            time_zone=body.time_zone or default_zone,
            windows=windows,
        )
    except ValueError as exc:
        raise ApiProblem(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-tariff", str(exc)) from None


def _wall_clock(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a time of day; expected HH:MM, e.g. 22:00") from None


def _choice(params: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = params.get(name, default)
    if value not in choices:
        raise query_problem(f"{name}={value[:32]!r}: expected one of {', '.join(choices)}")
    return value


def report_query(params: Mapping[str, str], default_zone: str) -> tuple[SessionFilter, ZoneInfo]:
    """The sessions a report covers and the zone it shows times on; a 400 for a bad value."""
    try:
        zone = report_zone(params.get("tz", default_zone))
        started_from = (
            None if "from" not in params else parse_report_time(params["from"], zone, "from")
        )
        started_before = None if "to" not in params else parse_report_time(params["to"], zone, "to")
    except ValueError as exc:
        raise query_problem(str(exc)) from None
    if started_from is not None and started_before is not None and started_before <= started_from:
        raise query_problem(
            f"to={params['to'][:32]!r} is not after from={params['from'][:32]!r}: the period "
            "is [from, to)"
        )
    charge_point_id = params.get("charge_point_id")
    return (
        SessionFilter(
            started_from=started_from,
            started_before=started_before,
            id_tag=params.get("id_tag"),
            owner=params.get("owner"),
            group=params.get("group"),
            charge_point_id=None
            if charge_point_id is None
            else checked_charge_point_id(charge_point_id, HTTPStatus.BAD_REQUEST),
        ),
        zone,
    )


class RecordHandlers(ApiHandlers):
    """Tariffs and reports (routes in app.py's ROUTES)."""

    async def list_tariffs(self, request: Request, caller: Principal) -> Response:
        records = await self.services.store.tariffs.list_tariffs()
        return json_response(Page(items=[tariff_view(record) for record in records]))

    async def add_tariff(self, request: Request, caller: Principal) -> Response:
        body = await read_body(request, NewTariff)
        tariff = checked_tariff(body, self.services.settings.time_zone)
        try:
            record = await self.services.store.tariffs.add_tariff(
                body.name, tariff, is_default=body.is_default, now=self.services.clock.now()
            )
        except store_errors.ConstraintViolation:
            raise ApiProblem(
                HTTPStatus.CONFLICT, "tariff-exists", f"a tariff named {body.name!r} exists"
            ) from None
        return json_response(tariff_view(record), status=HTTPStatus.CREATED)

    async def set_charge_point_tariff(self, request: Request, caller: Principal) -> Response:
        charge_point_id = path_charge_point_id(request)
        body = await read_body(request, ChargePointTariff)
        try:
            await self.services.store.tariffs.assign_tariff(charge_point_id, body.tariff_id)
        except UnknownChargePointForTariff as exc:
            raise ApiProblem(HTTPStatus.NOT_FOUND, "unknown-charge-point", str(exc)) from None
        except UnknownTariff as exc:
            raise ApiProblem(
                HTTPStatus.UNPROCESSABLE_ENTITY, "unknown-tariff", f"{exc}; see GET /tariffs"
            ) from None
        return json_response(
            ChargePointTariffView(charge_point_id=charge_point_id, tariff_id=body.tariff_id)
        )

    async def report_sessions(self, request: Request, caller: Principal) -> Response:
        params = request.query_params
        check_query_parameters(params, _SESSION_PARAMETERS)
        output = _choice(params, "format", _FORMATS, "json")
        where, zone = report_query(params, self.services.settings.time_zone)
        store = self.services.store
        if output == "csv":
            if "cursor" in params or "limit" in params:
                raise query_problem("format=csv answers every session at once: no limit/cursor")

            async def csv_pages() -> AsyncIterator[str]:
                yield csv_text([SESSION_COLUMNS])
                async for page in iter_priced_sessions(store, where):
                    yield csv_text(session_csv_row(session_report(s, zone)) for s in page)

            return StreamingResponse(
                csv_pages(),
                media_type=CSV_MEDIA_TYPE,
                headers={"Content-Disposition": 'attachment; filename="sessions.csv"'},
            )
        limit = page_limit(request, default=100)
        after_id = numeric_cursor(request)
        tariffs = await load_tariffs(store)
        sessions = await store.transactions.session_page(where, after_id=after_id, limit=limit)
        items = [session_report(price_session(s, tariffs), zone) for s in sessions]
        next_cursor = str(sessions[-1].id) if len(sessions) == limit else None
        return json_response(Page(items=items, next_cursor=next_cursor))

    async def report_summary(self, request: Request, caller: Principal) -> Response:
        params = request.query_params
        check_query_parameters(params, _SUMMARY_PARAMETERS)
        output = _choice(params, "format", _FORMATS, "json")
        if "group_by" not in params:
            raise query_problem(
                f"group_by is required: one of {', '.join(g.value for g in GroupBy)}"
            )
        group_by = GroupBy(_choice(params, "group_by", tuple(g.value for g in GroupBy), ""))
        where, zone = report_query(params, self.services.settings.time_zone)
        summary = await summarize(self.services.store, where, group_by, zone)
        if output == "json":
            return json_response(summary)
        text = csv_text(
            [(group_by.value, *SUMMARY_COLUMNS), *(summary_csv_row(row) for row in summary.rows)]
        )
        return Response(
            text,
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="summary-{group_by}.csv"'},
        )
