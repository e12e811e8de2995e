"""API handlers and bodies for the charger acceptance check (csms/acceptance.py).
Routes: rows of ``ROUTES`` in app.py."""

from __future__ import annotations

from datetime import datetime

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from chargedeck.csms.acceptance import run_acceptance_check
from chargedeck.domain.acceptance import (
    AcceptanceReport,
    compare_reports,
    previous_of_other_firmware,
)
from chargedeck.server.api.auth import Principal
from chargedeck.server.api.common import (
    ApiHandlers,
    charger_errors,
    json_response,
    page_limit,
    path_charge_point_id,
    read_body,
)
from chargedeck.server.api.views import View


class AcceptanceCheckBody(View, frozen=True, kw_only=True):
    """Body of POST /charge-points/{id}/acceptance-check (optional): ``with_car`` also tries a
    remote start and stop, which needs a car plugged in to connector 1."""

    with_car: bool = False


class FeatureResultView(View, frozen=True, kw_only=True):
    """One feature: ``outcome`` is works, refused, not_supported, ignored or skipped."""

    feature: str
    outcome: str
    detail: str


class AcceptanceReportView(View, frozen=True, kw_only=True):
    """One acceptance check of a charger: per feature, what it did; the charger-model row that
    applies; the quirks observed."""

    charge_point_id: str
    firmware_version: str | None
    charger_model: str
    ran_at: datetime
    with_car: bool
    results: list[FeatureResultView]
    supported_feature_profiles: list[str] | None
    charging_rate_units: list[str] | None
    profile_kinds: list[str]
    quirks: list[str]


class FeatureChangeView(View, frozen=True, kw_only=True):
    feature: str
    before: str | None
    after: str | None


class AcceptanceComparisonView(View, frozen=True, kw_only=True):
    """The newest report against the newest one of another firmware version."""

    firmware_version: str | None
    previous_firmware_version: str | None
    previous_ran_at: datetime
    changes: list[FeatureChangeView]


class AcceptanceHistoryView(View, frozen=True, kw_only=True):
    """A charger's reports, newest first, and what changed since the last other firmware."""

    items: list[AcceptanceReportView]
    comparison: AcceptanceComparisonView | None


def report_view(report: AcceptanceReport) -> AcceptanceReportView:
    return msgspec.convert(msgspec.to_builtins(report), AcceptanceReportView, strict=False)


def _comparison(reports: list[AcceptanceReport]) -> AcceptanceComparisonView | None:
    if not reports:
        return None
    newest = reports[0]
    previous = previous_of_other_firmware(newest, reports[1:])
    if previous is None:
        return None
    return AcceptanceComparisonView(
        firmware_version=newest.firmware_version,
        previous_firmware_version=previous.firmware_version,
        previous_ran_at=previous.ran_at,
        changes=[
            FeatureChangeView(
                feature=change.feature.value,
                before=None if change.before is None else change.before.value,
                after=None if change.after is None else change.after.value,
            )
            for change in compare_reports(previous, newest)
        ],
    )


class AcceptanceHandlers(ApiHandlers):
    """The acceptance check."""

    async def run_acceptance_check(self, request: Request, caller: Principal) -> Response:
        charge_point_id = path_charge_point_id(request)
        body = (
            await read_body(request, AcceptanceCheckBody)
            if await request.body()
            else AcceptanceCheckBody()
        )
        await self.known_charge_point(charge_point_id)
        with charger_errors():
            report = await run_acceptance_check(
                self.services, charge_point_id, with_car=body.with_car
            )
        return json_response(report_view(report))

    async def list_acceptance_checks(self, request: Request, caller: Principal) -> Response:
        charge_point_id = path_charge_point_id(request)
        await self.known_charge_point(charge_point_id)
        reports = await self.services.store.acceptance_reports.list_reports(
            charge_point_id, page_limit(request)
        )
        return json_response(
            AcceptanceHistoryView(
                items=[report_view(r) for r in reports], comparison=_comparison(reports)
            )
        )
