"""API handlers and bodies for remote triggers (OCPP 1.6 §5.17 TriggerMessage), per charger and
in bulk (csms/triggers.py). Routes: rows of ``ROUTES`` in app.py."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from http import HTTPStatus
from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from chargedeck.csms.triggers import InvalidTrigger, trigger, trigger_bulk
from chargedeck.ocpp.v16.enums import MessageTrigger
from chargedeck.server.api.auth import Principal
from chargedeck.server.api.common import (
    ApiHandlers,
    ApiProblem,
    charger_errors,
    checked_charge_point_id,
    json_response,
    path_charge_point_id,
    read_body,
)
from chargedeck.server.api.views import View

MAX_BULK_CHARGE_POINTS = 1000
"""Chargers in one bulk trigger: a large site in one request; more is a script's mistake."""


class TriggerBody(View, frozen=True, kw_only=True):
    """Body of POST /charge-points/{id}/trigger. ``requested_message``: BootNotification,
    DiagnosticsStatusNotification, FirmwareStatusNotification, Heartbeat, MeterValues,
    StatusNotification; ``connector_id`` (1 or more) only for StatusNotification and
    MeterValues (left out: every connector)."""

    requested_message: MessageTrigger
    connector_id: int | None = None


class BulkTriggerBody(TriggerBody, frozen=True, kw_only=True):
    """Body of POST /bulk/trigger: the same request to each of ``charge_point_ids``."""

    charge_point_ids: Annotated[
        list[str], msgspec.Meta(min_length=1, max_length=MAX_BULK_CHARGE_POINTS)
    ]


class TriggerResultView(View, frozen=True, kw_only=True):
    """One charger's outcome: ``status`` is its answer (Accepted, Rejected, NotImplemented) or
    NotConnected, UnknownChargePoint, NotAllowed, Timeout, Error with ``detail``."""

    charge_point_id: str
    requested_message: str
    connector_id: int | None
    status: str
    detail: str | None = None


class BulkTriggerView(View, frozen=True, kw_only=True):
    results: list[TriggerResultView]


class TriggerHandlers(ApiHandlers):
    """Remote triggers."""

    async def trigger_message(self, request: Request, caller: Principal) -> Response:
        charge_point_id = path_charge_point_id(request)
        body = await read_body(request, TriggerBody)
        with _invalid_trigger(), charger_errors():
            status = await trigger(
                self.services, charge_point_id, body.requested_message, body.connector_id
            )
        return json_response(
            TriggerResultView(
                charge_point_id=charge_point_id,
                requested_message=body.requested_message.value,
                connector_id=body.connector_id,
                status=status.value,
            )
        )

    async def trigger_bulk(self, request: Request, caller: Principal) -> Response:
        body = await read_body(request, BulkTriggerBody)
        charge_point_ids = [
            checked_charge_point_id(text, HTTPStatus.UNPROCESSABLE_ENTITY)
            for text in body.charge_point_ids
        ]
        with _invalid_trigger():
            results = await trigger_bulk(
                self.services, charge_point_ids, body.requested_message, body.connector_id
            )
        return json_response(
            BulkTriggerView(
                results=[
                    TriggerResultView(
                        charge_point_id=result.charge_point_id,
                        requested_message=body.requested_message.value,
                        connector_id=body.connector_id,
                        status=result.status,
                        detail=result.detail,
                    )
                    for result in results
                ]
            )
        )


@contextlib.contextmanager
def _invalid_trigger() -> Iterator[None]:
    """InvalidTrigger as a 422 with its sentence."""
    try:
        yield
    except InvalidTrigger as exc:
        raise ApiProblem(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-trigger", str(exc)) from None
