"""API handlers and bodies for chargers' Local Authorization Lists (OCPP 1.6 §5.15) and their
reported configuration (§5.8). Routes: rows of ``ROUTES`` in app.py."""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import Response

from chargedeck.csms.configuration import read_configuration
from chargedeck.csms.local_lists import (
    LOCAL_AUTH_LIST_ENABLED,
    LOCAL_AUTH_LIST_MAX_LENGTH,
    LOCAL_LIST_KEYS,
    OFFLINE_AUTHORIZATION_KEYS,
    SEND_LOCAL_LIST_MAX_LENGTH,
    LocalListNotAccepted,
    LocalListRefused,
    resyncs_on_id_tag_change,
    sync_local_list,
)
from chargedeck.domain.masking import masked_configuration_value
from chargedeck.server.api.auth import Principal
from chargedeck.server.api.common import (
    ApiHandlers,
    ApiProblem,
    charger_errors,
    json_response,
    page_limit,
    path_charge_point_id,
)
from chargedeck.server.api.etags import configuration_etag, with_etag
from chargedeck.server.api.views import Page, View
from chargedeck.store.configuration import ConfigurationKeyRecord
from chargedeck.store.local_lists import LocalListSendRecord

# How many sends GET /local-list shows unless ?limit= says otherwise: a 500-tag list at 100 per
# request is 5 sends, so this covers a few syncs.
DEFAULT_HISTORY = 20


class ConfigurationKeyView(View, frozen=True, kw_only=True):
    """A configuration key as the charger last reported it; secret values are ``***``."""

    key: str
    value: str | None
    readonly: bool
    reported_at: datetime


class LocalListSendView(View, frozen=True, kw_only=True):
    """One SendLocalList sent; ``status`` is the charger's answer, null if it gave none."""

    list_version: int
    update_type: str
    entry_count: int
    status: str | None
    sent_at: datetime


class LocalListView(View, frozen=True, kw_only=True):
    """What the charger's list holds as far as ChargeDeck knows (``version`` null: unknown, the
    next sync sends it in full), whether id tag changes resync it, the keys it reported, and the
    sends, newest first."""

    charge_point_id: str
    version: int | None
    synced_at: datetime | None
    entry_count: int
    resync_on_id_tag_change: bool
    list_keys: list[ConfigurationKeyView]
    """LocalAuthListEnabled, LocalAuthListMaxLength, SendLocalListMaxLength (§9.4)."""
    offline_authorization: list[ConfigurationKeyView]
    """LocalAuthorizeOffline, LocalPreAuthorize, AllowOfflineTxForUnknownId (§9.1)."""
    sends: list[LocalListSendView]


class LocalListSyncView(View, frozen=True, kw_only=True):
    """A sync: the version the charger now holds, how many id tags, the sends it took (oldest
    first, none when it was up to date), and whether the whole list was sent again after a
    Failed or VersionMismatch answer."""

    charge_point_id: str
    version: int
    entry_count: int
    full_resend: bool
    sends: list[LocalListSendView]


def configuration_key_view(record: ConfigurationKeyRecord) -> ConfigurationKeyView:
    return ConfigurationKeyView(
        key=record.key,
        value=masked_configuration_value(record.key, record.value),
        readonly=record.readonly,
        reported_at=record.reported_at,
    )


def _send_view(record: LocalListSendRecord) -> LocalListSendView:
    return LocalListSendView(
        list_version=record.list_version,
        update_type=record.update_type.value,
        entry_count=record.entry_count,
        status=record.status,
        sent_at=record.sent_at,
    )


class LocalListHandlers(ApiHandlers):
    """Local lists and reported configuration."""

    async def sync_local_list(self, request: Request, caller: Principal) -> Response:
        charge_point_id = path_charge_point_id(request)
        try:
            with charger_errors():
                result = await sync_local_list(self.services, charge_point_id)
        except LocalListRefused as exc:
            raise ApiProblem(HTTPStatus.CONFLICT, "local-list-refused", str(exc)) from None
        except LocalListNotAccepted as exc:
            raise ApiProblem(HTTPStatus.CONFLICT, "local-list-not-accepted", str(exc)) from None
        return json_response(
            LocalListSyncView(
                charge_point_id=result.charge_point_id,
                version=result.version,
                entry_count=result.entry_count,
                full_resend=result.full_resend,
                sends=[_send_view(send) for send in result.sends],
            )
        )

    async def get_local_list(self, request: Request, caller: Principal) -> Response:
        record = await self.known_charge_point(path_charge_point_id(request))
        store = self.services.store
        held = await store.local_lists.held_version(record.id)
        keys = {
            key.key.lower(): configuration_key_view(key)
            for key in await store.configuration.list_keys(record.id, LOCAL_LIST_KEYS)
        }

        def reported(*names: str) -> list[ConfigurationKeyView]:
            return [keys[name.lower()] for name in names if name.lower() in keys]

        sends = await store.local_lists.list_sends(record.id, page_limit(request, DEFAULT_HISTORY))
        return json_response(
            LocalListView(
                charge_point_id=record.id,
                version=None if held is None else held[0],
                synced_at=None if held is None else held[1],
                entry_count=await store.local_lists.count_entries(record.id),
                resync_on_id_tag_change=await resyncs_on_id_tag_change(self.services, record.id),
                list_keys=reported(
                    LOCAL_AUTH_LIST_ENABLED, LOCAL_AUTH_LIST_MAX_LENGTH, SEND_LOCAL_LIST_MAX_LENGTH
                ),
                offline_authorization=reported(*OFFLINE_AUTHORIZATION_KEYS),
                sends=[_send_view(send) for send in sends],
            )
        )

    async def get_configuration(self, request: Request, caller: Principal) -> Response:
        record = await self.known_charge_point(path_charge_point_id(request))
        keys = await self.services.store.configuration.list_keys(record.id)
        page = json_response(Page(items=[configuration_key_view(key) for key in keys]))
        return with_etag(page, configuration_etag(keys))  # If-Match of PUT .../{key}

    async def refresh_configuration(self, request: Request, caller: Principal) -> Response:
        charge_point_id = path_charge_point_id(request)
        with charger_errors():
            await read_configuration(self.services, charge_point_id)
        keys = await self.services.store.configuration.list_keys(charge_point_id)
        page = json_response(Page(items=[configuration_key_view(key) for key in keys]))
        return with_etag(page, configuration_etag(keys))
