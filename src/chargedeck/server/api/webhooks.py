"""API handlers and bodies for webhooks (issue 10): subscriptions, their delivery log, a test
ping and a manual retry. Routes: rows of ``ROUTES`` in app.py; sending is csms/webhooks.py's.

The secret that signs a webhook's deliveries is answered once, by the POST that creates it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from http import HTTPStatus
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from chargedeck.csms.webhooks import (
    changing_webhooks,
    check_event_types,
    check_webhook_name,
    check_webhook_url,
    new_secret,
    ping_delivery,
)
from chargedeck.server.api.auth import Principal
from chargedeck.server.api.common import (
    ApiHandlers,
    ApiProblem,
    checked_charge_point_id,
    checked_value,
    id_number,
    json_response,
    numeric_cursor,
    page_limit,
    read_body,
)
from chargedeck.server.api.views import Page, View
from chargedeck.store import errors as store_errors
from chargedeck.store.webhooks import PENDING, DeliveryRecord, WebhookRecord


class WebhookView(View, frozen=True, kw_only=True):
    """A webhook: events of ``event_types`` (``["*"]``: all) about ``charge_point_id`` (null:
    every charger) are POSTed to ``url``, signed with its secret."""

    id: int
    name: str
    url: str
    event_types: list[str]
    charge_point_id: str | None
    enabled: bool
    created_at: datetime


class CreatedWebhookView(WebhookView, frozen=True, kw_only=True):
    """A new webhook with its ``secret``, shown in this answer only: the receiver checks
    X-ChargeDeck-Signature with it (docs/events.md)."""

    secret: str


class NewWebhook(View, frozen=True, kw_only=True):
    """Body of POST /webhooks: ``url`` an absolute http(s) URL; ``event_types`` event types
    (docs/events.md) or ``["*"]``; ``charge_point_id`` only that charger's events."""

    name: str
    url: str
    event_types: list[str] = msgspec.field(default_factory=lambda: ["*"])
    charge_point_id: str | None = None
    enabled: bool = True


class WebhookChange(View, frozen=True, kw_only=True):
    """Body of PATCH /webhooks/{webhook_id}: what is given changes (``charge_point_id`` null:
    every charger again)."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    url: str | msgspec.UnsetType = msgspec.UNSET
    event_types: list[str] | msgspec.UnsetType = msgspec.UNSET
    charge_point_id: str | msgspec.UnsetType | None = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


class WebhookDeliveryView(View, frozen=True, kw_only=True):
    """One event for one webhook: ``status`` pending (``next_attempt_at`` is when it is tried
    again), delivered or failed; the last attempt's HTTP status and error."""

    id: int
    webhook_id: int
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def webhook_view(record: WebhookRecord) -> WebhookView:
    return WebhookView(
        id=record.id,
        name=record.name,
        url=record.url,
        event_types=record.event_types.split(","),
        charge_point_id=record.charge_point_id,
        enabled=record.enabled,
        created_at=record.created_at,
    )


def delivery_view(record: DeliveryRecord) -> WebhookDeliveryView:
    return WebhookDeliveryView(
        id=record.id,
        webhook_id=record.subscription_id,
        event_id=record.event_id,
        event_type=record.event_type,
        status=record.status,
        attempts=record.attempts,
        next_attempt_at=record.next_attempt_at if record.status == PENDING else None,
        last_status_code=record.last_status_code,
        last_error=record.last_error,
        created_at=record.created_at,
        delivered_at=record.delivered_at,
    )


def _event_types(types: list[str]) -> str:
    try:
        return check_event_types(types)
    except ValueError as exc:
        raise ApiProblem(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-body", str(exc)) from None


def _charge_point(text: str | None) -> str | None:
    if text is None:
        return None
    return checked_charge_point_id(text, HTTPStatus.UNPROCESSABLE_ENTITY)


@contextlib.contextmanager
def _store_refusals() -> Iterator[None]:
    try:
        yield
    except store_errors.NotFound as exc:
        raise ApiProblem(HTTPStatus.NOT_FOUND, "not-found", str(exc)) from None
    except store_errors.Conflict as exc:
        raise ApiProblem(HTTPStatus.CONFLICT, "webhook-conflict", str(exc)) from None


def _webhook_id(request: Request) -> int:
    return id_number(request.path_params["webhook_id"], "webhook-id", "")


class WebhookHandlers(ApiHandlers):
    """Webhook subscriptions and deliveries."""

    async def _webhook(self, webhook_id: int) -> WebhookRecord:
        record = await self.services.store.webhooks.get_webhook(webhook_id)
        if record is None:
            raise ApiProblem(HTTPStatus.NOT_FOUND, "not-found", f"there is no webhook {webhook_id}")
        return record

    async def list_webhooks(self, request: Request, caller: Principal) -> Response:
        records = await self.services.store.webhooks.list_webhooks()
        return json_response(Page(items=[webhook_view(r) for r in records]))

    async def add_webhook(self, request: Request, caller: Principal) -> Response:
        body = await read_body(request, NewWebhook)
        secret = new_secret()
        with _store_refusals():
            async with changing_webhooks(self.services):  # the worker takes its events at once
                record = await self.services.store.webhooks.add_webhook(
                    name=checked_value(check_webhook_name, body.name),
                    url=checked_value(check_webhook_url, body.url),
                    secret=secret,
                    event_types=_event_types(body.event_types),
                    charge_point_id=_charge_point(body.charge_point_id),
                    enabled=body.enabled,
                    now=self.services.clock.now(),
                )
        view = webhook_view(record)
        return json_response(
            CreatedWebhookView(**msgspec.structs.asdict(view), secret=record.secret), status=201
        )

    async def get_webhook(self, request: Request, caller: Principal) -> Response:
        return json_response(webhook_view(await self._webhook(_webhook_id(request))))

    async def update_webhook(self, request: Request, caller: Principal) -> Response:
        webhook_id = _webhook_id(request)
        body = await read_body(request, WebhookChange)
        changes: dict[str, Any] = {}
        if body.name is not msgspec.UNSET:
            changes["name"] = checked_value(check_webhook_name, body.name)
        if body.url is not msgspec.UNSET:
            changes["url"] = checked_value(check_webhook_url, body.url)
        if body.event_types is not msgspec.UNSET:
            changes["event_types"] = _event_types(body.event_types)
        if body.charge_point_id is not msgspec.UNSET:
            changes["charge_point_id"] = _charge_point(body.charge_point_id)
        if body.enabled is not msgspec.UNSET:
            changes["enabled"] = body.enabled
        with _store_refusals():
            async with changing_webhooks(self.services):
                record = await self.services.store.webhooks.update_webhook(webhook_id, changes)
        return json_response(webhook_view(record))

    async def delete_webhook(self, request: Request, caller: Principal) -> Response:
        with _store_refusals():
            async with changing_webhooks(self.services):
                record = await self.services.store.webhooks.delete_webhook(_webhook_id(request))
        return json_response(webhook_view(record))

    async def list_webhook_deliveries(self, request: Request, caller: Principal) -> Response:
        webhook = await self._webhook(_webhook_id(request))
        limit = page_limit(request)
        records = await self.services.store.webhooks.list_deliveries(
            webhook.id, limit=limit, before_id=numeric_cursor(request)
        )
        next_cursor = str(records[-1].id) if len(records) == limit else None
        return json_response(
            Page(items=[delivery_view(r) for r in records], next_cursor=next_cursor)
        )

    async def test_webhook(self, request: Request, caller: Principal) -> Response:
        """Queue a ping; the worker sends it within a second (csms/webhooks.POLL_S)."""
        webhook = await self._webhook(_webhook_id(request))
        store = self.services.store.webhooks
        now = self.services.clock.now()
        ping = ping_delivery(webhook, self.services.events.node, now)
        record = await store.add_delivery(ping, now)
        return json_response(delivery_view(record), status=202)

    async def retry_webhook_delivery(self, request: Request, caller: Principal) -> Response:
        delivery_id = id_number(request.path_params["delivery_id"], "delivery-id", "")
        with _store_refusals():
            record = await self.services.store.webhooks.retry_delivery(
                delivery_id, self.services.clock.now()
            )
        return json_response(delivery_view(record), status=202)
