"""Resources beside the charge point record: its connectors with the session and the limit in
force, a transaction's meter values page by page, one configuration key written with
ChangeConfiguration under If-Match (``etags.py``), one configuration template with its ETag."""

from __future__ import annotations

import logging
from datetime import datetime
from http import HTTPStatus
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from chargedeck.csms.commands import CommandError, send_command
from chargedeck.csms.configuration import read_configuration
from chargedeck.csms.stations import ChargePointDisconnected
from chargedeck.domain.configuration_keys import check_wanted_value
from chargedeck.domain.ids import TransactionId
from chargedeck.domain.masking import is_secret_configuration_key, masked_configuration_value
from chargedeck.ocpp.errors import CallErrorReceived, CallTimeout, InvalidResponse
from chargedeck.ocpp.v16.core import ChangeConfigurationRequest, ChangeConfigurationResponse
from chargedeck.server.api.auth import Principal
from chargedeck.server.api.common import (
    JSON_DECODER,
    ApiHandlers,
    ApiProblem,
    charger_errors,
    id_number,
    json_response,
    numeric_cursor,
    page_limit,
    path_charge_point_id,
    read_body,
)
from chargedeck.server.api.configuration_memory import TemplateView
from chargedeck.server.api.configuration_memory import _template_view as template_view
from chargedeck.server.api.etags import (
    check_if_match,
    configuration_etag,
    template_etag,
    with_etag,
    write_lock,
)
from chargedeck.server.api.views import Page, View
from chargedeck.store.records import ConnectorRecord, TransactionRecord

log = logging.getLogger(__name__)

# ---- views -----------------------------------------------------------------------------------


class ConnectorTransactionView(View, frozen=True, kw_only=True):
    """The session running on a connector."""

    id: int
    id_tag: str
    started_at: datetime
    meter_start: int
    """Wh, the register at the start (StartTransaction.meterStart)."""


class ConnectorLimitView(View, frozen=True, kw_only=True):
    """The limit in force (A per phase, 0 = paused, null = ChargeDeck sets none) and the chain
    of what capped it, as GET /charge-points/{id}/effective-limits computes it."""

    limit_a: float | None
    safe_limit_a: float | None
    steps: list[str]
    profile_status: str | None
    sent_at: datetime | None
    offered_a: float | None
    measured_a: float | None


class ConnectorResourceView(View, frozen=True, kw_only=True):
    """A connector: its last StatusNotification, its running session and its limit."""

    connector_id: int
    status: str | None
    """Null for a connector known only from a session or the limit, never from a status."""
    error_code: str | None
    info: str | None
    vendor_error_code: str | None
    status_timestamp: datetime | None
    transaction: ConnectorTransactionView | None
    limit: ConnectorLimitView | None


class TransactionMeterValueView(View, frozen=True, kw_only=True):
    """One MeterValue element of a session; ``id`` is the cursor for the next page."""

    id: int
    timestamp: datetime
    connector_id: int
    source: str
    energy_wh: int | None
    sampled_values: list[dict[str, Any]]
    """The sampledValue array exactly as the charger sent it (OCPP camelCase)."""
    received_at: datetime


class ConfigurationChange(View, frozen=True, kw_only=True):
    """Body of PUT /charge-points/{id}/configuration/{key}."""

    value: str


class ConfigurationChangeView(View, frozen=True, kw_only=True):
    """The charger's answer to the ChangeConfiguration and the key as it reports it now."""

    charge_point_id: str
    key: str
    status: str
    """Accepted, or RebootRequired: the value takes effect after a Reset (OCPP 1.6 §5.3)."""
    reboot_required: bool
    value: str | None
    """As the charger reported it after the change (secret values ***); null if unread."""


# ---- handlers --------------------------------------------------------------------------------


class ResourceHandlers(ApiHandlers):
    """Connectors, meter values, ETag-guarded configuration writes (rows in app.py ROUTES)."""

    async def list_connectors(self, request: Request, caller: Principal) -> Response:
        record = await self.known_charge_point(path_charge_point_id(request))
        statuses: dict[int, ConnectorRecord] = {
            c.connector_id: c
            for c in await self.services.store.connectors.list_connectors(record.id)
        }
        sessions: dict[int, TransactionRecord] = {
            t.connector_id: t
            for t in await self.services.store.transactions.list_transactions(
                charge_point_id=record.id, active=True, limit=100
            )
        }
        limits = {
            limit.connector_id: limit
            for limit in self.services.load_control.effective_limits(record.id)
        }
        views = []
        for connector_id in sorted(set(statuses) | set(sessions) | set(limits)):
            status = statuses.get(connector_id)
            session = sessions.get(connector_id)
            limit = limits.get(connector_id)
            views.append(
                ConnectorResourceView(
                    connector_id=connector_id,
                    status=None if status is None else status.status,
                    error_code=None if status is None else status.error_code,
                    info=None if status is None else status.info,
                    vendor_error_code=None if status is None else status.vendor_error_code,
                    status_timestamp=None if status is None else status.status_timestamp,
                    transaction=(
                        None
                        if session is None
                        else ConnectorTransactionView(
                            id=session.id,
                            id_tag=session.id_tag,
                            started_at=session.started_at,
                            meter_start=session.meter_start,
                        )
                    ),
                    limit=(
                        None
                        if limit is None
                        else msgspec.convert(limit, ConnectorLimitView, from_attributes=True)
                    ),
                )
            )
        return json_response(Page(items=views))

    async def list_transaction_meter_values(self, request: Request, caller: Principal) -> Response:
        text: str = request.path_params["transaction_id"]
        transaction_id = TransactionId(id_number(text, "transaction-id", ""))
        after_id = numeric_cursor(request)
        limit = page_limit(request, 100)
        transactions = self.services.store.transactions
        if await transactions.get_transaction(transaction_id) is None:
            raise ApiProblem(HTTPStatus.NOT_FOUND, "unknown-transaction", f"no transaction {text}")
        rows = await transactions.meter_values_page(transaction_id, after_id=after_id, limit=limit)
        items = [
            TransactionMeterValueView(
                id=r.id,
                timestamp=r.timestamp,
                connector_id=r.connector_id,
                source=r.source.value,
                energy_wh=r.energy_wh,
                sampled_values=JSON_DECODER.decode(r.sampled_values),
                received_at=r.received_at,
            )
            for r in rows
        ]
        next_cursor = str(rows[-1].id) if len(rows) == limit else None
        return json_response(Page(items=items, next_cursor=next_cursor))

    async def change_configuration_key(self, request: Request, caller: Principal) -> Response:
        record = await self.known_charge_point(path_charge_point_id(request))
        key: str = request.path_params["key"]
        body = await read_body(request, ConfigurationChange)
        if is_secret_configuration_key(key):
            raise ApiProblem(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "secret-configuration-key",
                f"{key} is a secret: set the charger's password with PUT "
                "/api/v1/charge-points/{id}/password, which keeps ChargeDeck's copy in step",
            )
        configuration = self.services.store.configuration
        async with write_lock(self, f"configuration:{record.id}"):
            keys = await configuration.list_keys(record.id)
            check_if_match(request, configuration_etag(keys), f"the configuration of {record.id}")
            reported = {k.key.casefold(): k for k in keys}.get(key.casefold())
            refusal = check_wanted_value(
                key, body.value, reported_readonly=None if reported is None else reported.readonly
            )
            if refusal is not None:
                raise ApiProblem(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-value", refusal)
            with charger_errors():
                answer = await send_command(
                    self.services, record.id, ChangeConfigurationRequest(key=key, value=body.value)
                )
            assert isinstance(answer, ChangeConfigurationResponse)
            status = str(answer.status.value)
            if status not in ("Accepted", "RebootRequired"):
                raise ApiProblem(
                    HTTPStatus.CONFLICT,
                    "configuration-refused",
                    f"{record.id} answered {status} to ChangeConfiguration of {key}: "
                    + (
                        "the charger does not know the key"
                        if status == "NotSupported"
                        else "the charger refused the value"
                    ),
                )
            try:  # the stored key follows, so that drift and the ETag see the change at once
                await read_configuration(self.services, record.id, [key])
            except (CommandError, ChargePointDisconnected, CallErrorReceived, CallTimeout) as exc:
                log.warning("charge point %s: %s not read back: %s", record.id, key, exc)
            except InvalidResponse as exc:
                log.warning("charge point %s: %s not read back: %s", record.id, key, exc)
            keys = await configuration.list_keys(record.id)
        now_reported = {k.key.casefold(): k for k in keys}.get(key.casefold())
        view = ConfigurationChangeView(
            charge_point_id=record.id,
            key=key,
            status=status,
            reboot_required=status == "RebootRequired",
            value=(
                None
                if now_reported is None
                else masked_configuration_value(now_reported.key, now_reported.value)
            ),
        )
        return with_etag(json_response(view), configuration_etag(keys))

    async def get_configuration_template(self, request: Request, caller: Principal) -> Response:
        name: str = request.path_params["name"]
        record = await self.services.store.configuration_memory.get_template(name)
        if record is None:
            raise ApiProblem(
                HTTPStatus.NOT_FOUND,
                "unknown-template",
                f"there is no configuration template {name[:64]!r}",
            )
        view: TemplateView = template_view(record)
        return with_etag(json_response(view), template_etag(record))
