"""API handlers and bodies for reservations (OCPP 1.6 §5.13 ReserveNow, §5.1 CancelReservation).
Routes: rows of ``ROUTES`` in app.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from chargedeck.csms.reservations import (
    NothingToCancel,
    UnknownReservation,
    cancel_reservation,
    get_reservation,
    list_reservations,
    reserve,
)
from chargedeck.domain.ids import ChargePointId
from chargedeck.domain.reservations import ReservationRefused
from chargedeck.server.api.auth import Principal
from chargedeck.server.api.common import (
    ApiHandlers,
    ApiProblem,
    charger_errors,
    checked_charge_point_id,
    id_number,
    json_response,
    numeric_cursor,
    page_limit,
    read_body,
)
from chargedeck.server.api.views import Page, View
from chargedeck.store.reservations import ReservationRecord, ReservationRecordStatus

# One week: longer than any plausible hold of a public connector, short enough to catch a typo
# in minutes (a year typed as minutes). The charger drops a reservation at its expiryDate anyway.
MAX_RESERVATION_MINUTES = 7 * 24 * 60


class ReservationView(View, frozen=True, kw_only=True):
    """A reservation; ``id`` is its OCPP reservationId. ``status``: unanswered, active,
    faulted, occupied, rejected, unavailable (the charger's refusals), used, expired,
    cancelled."""

    id: int
    charge_point_id: str
    connector_id: int
    id_tag: str
    parent_id_tag: str | None
    expiry_date: datetime
    status: str
    transaction_id: int | None
    """The transaction that used it (status used)."""
    created_at: datetime
    updated_at: datetime


class ReservationResultView(ReservationView, frozen=True, kw_only=True):
    """A reservation just made or cancelled, with the charger's answer."""

    charger_status: str


class NewReservation(View, frozen=True, kw_only=True):
    """Body of POST /reservations: a connector (0 = any, where the charger supports it) held
    for a registered id tag until ``expiry_date`` (with its offset) or for ``minutes``."""

    charge_point_id: str
    connector_id: Annotated[int, msgspec.Meta(ge=0)]
    id_tag: str
    expiry_date: datetime | None = None
    minutes: Annotated[float, msgspec.Meta(gt=0, le=MAX_RESERVATION_MINUTES)] | None = None


def _view(record: ReservationRecord) -> ReservationView:
    return msgspec.convert(record, ReservationView, from_attributes=True)


def _result_view(record: ReservationRecord, charger_status: str) -> ReservationResultView:
    return ReservationResultView(
        **msgspec.structs.asdict(_view(record)), charger_status=charger_status
    )


def _reservation_id(request: Request) -> int:
    return id_number(request.path_params["reservation_id"], "reservation-id", "")


class ReservationHandlers(ApiHandlers):
    """Reservations."""

    async def list_reservations(self, request: Request, caller: Principal) -> Response:
        params = request.query_params
        statuses = None
        if (status_text := params.get("status")) is not None:
            try:
                statuses = [ReservationRecordStatus(s) for s in status_text.split(",")]
            except ValueError:
                known = ", ".join(status.value for status in ReservationRecordStatus)
                raise ApiProblem(
                    HTTPStatus.BAD_REQUEST,
                    "invalid-query",
                    f"status={status_text[:64]!r}: expected one or more of {known}, "
                    "separated by commas",
                ) from None
        before_id = numeric_cursor(request)
        charge_point_id = params.get("charge_point_id")
        limit = page_limit(request)
        records = await list_reservations(
            self.services,
            charge_point_id=None if charge_point_id is None else ChargePointId(charge_point_id),
            statuses=statuses,
            limit=limit,
            before_id=before_id,
        )
        next_cursor = str(records[-1].id) if len(records) == limit else None
        return json_response(Page(items=[_view(r) for r in records], next_cursor=next_cursor))

    async def add_reservation(self, request: Request, caller: Principal) -> Response:
        body = await read_body(request, NewReservation)
        charge_point_id = checked_charge_point_id(
            body.charge_point_id, HTTPStatus.UNPROCESSABLE_ENTITY
        )
        if (body.expiry_date is None) == (body.minutes is None):
            raise ApiProblem(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "invalid-body",
                "give expiry_date (ISO 8601 with offset) or minutes, not both",
            )
        if body.expiry_date is not None and body.expiry_date.tzinfo is None:
            raise ApiProblem(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "invalid-body",
                f"expiry_date {body.expiry_date.isoformat()} needs an offset, e.g. Z or +01:00",
            )
        expiry_date = (
            body.expiry_date
            if body.expiry_date is not None
            else self.services.clock.now() + timedelta(minutes=body.minutes or 0)
        )
        try:
            with charger_errors():
                outcome = await reserve(
                    self.services, charge_point_id, body.connector_id, body.id_tag, expiry_date
                )
        except ReservationRefused as exc:
            raise ApiProblem(HTTPStatus.CONFLICT, "reservation-refused", str(exc)) from None
        record = outcome.reservation
        if record.status is not ReservationRecordStatus.ACTIVE:
            raise ApiProblem(
                HTTPStatus.CONFLICT,
                "reservation-refused-by-charger",
                f"charge point {charge_point_id} answered {outcome.charger_status} to "
                f"reservation {record.id} (connector {record.connector_id}); nothing is held",
            )
        return json_response(_result_view(record, outcome.charger_status), status=201)

    async def get_reservation(self, request: Request, caller: Principal) -> Response:
        try:
            record = await get_reservation(self.services, _reservation_id(request))
        except UnknownReservation as exc:
            raise ApiProblem(HTTPStatus.NOT_FOUND, "unknown-reservation", str(exc)) from None
        return json_response(_view(record))

    async def cancel_reservation(self, request: Request, caller: Principal) -> Response:
        try:
            with charger_errors():
                outcome = await cancel_reservation(self.services, _reservation_id(request))
        except UnknownReservation as exc:
            raise ApiProblem(HTTPStatus.NOT_FOUND, "unknown-reservation", str(exc)) from None
        except NothingToCancel as exc:
            raise ApiProblem(HTTPStatus.CONFLICT, "nothing-to-cancel", str(exc)) from None
        return json_response(_result_view(outcome.reservation, outcome.charger_status))
