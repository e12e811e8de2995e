"""API handlers and bodies for configuration memory (snapshots, diffs, drift), configuration
templates and bulk commands (issue 7; ``csms/configuration_memory.py``). Routes: one block of
``ROUTES`` in app.py. Secret values are masked in every answer (they are never stored)."""

from __future__ import annotations

import re
from datetime import datetime
from http import HTTPStatus
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from chargedeck.csms.configuration import charger_model
from chargedeck.csms.configuration_memory import (
    BULK_ACTIONS,
    ApplyResult,
    BulkResult,
    apply_template,
    bulk,
    snapshot,
)
from chargedeck.domain.charger_models import CHARGER_MODELS
from chargedeck.domain.configuration_keys import (
    MAX_KEY_LENGTH,
    MAX_VALUE_LENGTH,
    diff_snapshots,
    drift,
)
from chargedeck.domain.masking import is_secret_configuration_key, masked_configuration_value
from chargedeck.ocpp.codec import decode_request
from chargedeck.ocpp.errors import CallErrorSent
from chargedeck.ocpp.v16.actions import ACTIONS
from chargedeck.server.api.auth import Principal
from chargedeck.server.api.common import (
    ApiHandlers,
    ApiProblem,
    charger_errors,
    checked_charge_point_id,
    id_number,
    json_response,
    page_limit,
    path_charge_point_id,
    read_body,
)
from chargedeck.server.api.etags import check_if_match, template_etag, with_etag, write_lock
from chargedeck.server.api.views import Page, View
from chargedeck.store import errors as store_errors
from chargedeck.store.configuration_memory import SnapshotRecord, TemplateRecord

MODEL_NAMES = tuple(model.name for model in CHARGER_MODELS)
_TEMPLATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}")


class SnapshotKeyView(View, frozen=True, kw_only=True):
    key: str
    value: str | None
    readonly: bool


class SnapshotView(View, frozen=True, kw_only=True):
    """A full configuration read; secret values are ``***``."""

    id: int
    charge_point_id: str
    taken_at: datetime
    firmware_version: str | None
    keys: list[SnapshotKeyView]
    unknown_keys: list[str]


class ChangedKeyView(View, frozen=True, kw_only=True):
    key: str
    before: str | None
    after: str | None


class SnapshotDiffView(View, frozen=True, kw_only=True):
    """Snapshot ``id`` against the charger's one before it (``previous_id`` null: it is the
    first, every key counts as added)."""

    id: int
    previous_id: int | None
    added: list[SnapshotKeyView]
    removed: list[SnapshotKeyView]
    changed: list[ChangedKeyView]


class DriftEntryView(View, frozen=True, kw_only=True):
    key: str
    wanted: str | None
    reported: str | None
    state: str
    """matches, differs, missing (not reported), unknown (a secret: never kept)."""
    template: str


class DriftView(View, frozen=True, kw_only=True):
    """The charger's last-reported keys against the templates for its model; ``drifted``: any
    key differs or is missing."""

    charge_point_id: str
    charger_model: str
    drifted: bool
    keys: list[DriftEntryView]


class NewTemplate(View, frozen=True, kw_only=True):
    name: str
    charger_model: str | None = None
    """A charger-model row name (see GET /configuration-templates); null: every model."""
    keys: dict[str, str]


class TemplateChange(View, frozen=True, kw_only=True):
    charger_model: str | None = None
    keys: dict[str, str]


class TemplateView(View, frozen=True, kw_only=True):
    name: str
    charger_model: str | None
    keys: dict[str, str]
    """Wanted values; secret ones are ``***``."""
    created_at: datetime
    updated_at: datetime


class ApplyTemplate(View, frozen=True, kw_only=True):
    """Which chargers: ``charge_point_ids``, or every charger of ``model`` (a charger-model row
    name); neither: every charger of the template's model (every charger if it has none)."""

    charge_point_ids: list[str] | None = None
    model: str | None = None


class KeyResultView(View, frozen=True, kw_only=True):
    key: str
    outcome: str
    """accepted, reboot required, rejected, not supported, refused (before sending), failed."""
    status: str | None
    detail: str | None


class ChargerApplyView(View, frozen=True, kw_only=True):
    charge_point_id: str
    outcome: str
    keys: list[KeyResultView]


class ApplyResultView(View, frozen=True, kw_only=True):
    template: str
    chargers: list[ChargerApplyView]
    reboot_required: list[str]


class BulkRequest(View, frozen=True, kw_only=True):
    charge_point_ids: list[str]
    payload: dict[str, Any] = msgspec.field(default_factory=dict)
    """The OCPP request payload (camelCase), e.g. {"type": "Soft"} for Reset."""


class BulkResultView(View, frozen=True, kw_only=True):
    charge_point_id: str
    outcome: str
    """accepted, rejected, not supported, not connected, unknown charge point, failed."""
    status: str | None
    detail: str | None


class BulkView(View, frozen=True, kw_only=True):
    action: str
    results: list[BulkResultView]


def _key_views(record: SnapshotRecord) -> list[SnapshotKeyView]:
    return [
        SnapshotKeyView(
            key=entry.key,
            value=masked_configuration_value(entry.key, entry.value),
            readonly=entry.readonly,
        )
        for entry in record.keys
    ]


def _snapshot_view(record: SnapshotRecord) -> SnapshotView:
    return SnapshotView(
        id=record.id,
        charge_point_id=record.charge_point_id,
        taken_at=record.taken_at,
        firmware_version=record.firmware_version,
        keys=_key_views(record),
        unknown_keys=record.unknown_keys,
    )


def _template_view(record: TemplateRecord) -> TemplateView:
    return TemplateView(
        name=record.name,
        charger_model=record.charger_model,
        keys={key: masked_configuration_value(key, v) or "" for key, v in record.keys.items()},
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def _apply_view(result: ApplyResult) -> ApplyResultView:
    return ApplyResultView(
        template=result.template,
        chargers=[
            ChargerApplyView(
                charge_point_id=charger.charge_point_id,
                outcome=charger.outcome.value,
                keys=[
                    KeyResultView(
                        key=key.key, outcome=key.outcome.value, status=key.status, detail=key.detail
                    )
                    for key in charger.keys
                ],
            )
            for charger in result.chargers
        ],
        reboot_required=result.reboot_required,
    )


def _bulk_view(result: BulkResult) -> BulkResultView:
    return BulkResultView(
        charge_point_id=result.charge_point_id,
        outcome=result.outcome.value,
        status=result.status,
        detail=result.detail,
    )


def _checked_model(model: str | None) -> str | None:
    if model is not None and model not in MODEL_NAMES:
        raise ApiProblem(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "unknown-charger-model",
            f"charger model {model[:64]!r} is not one of: {', '.join(MODEL_NAMES)}",
        )
    return model


def _checked_keys(keys: dict[str, str]) -> dict[str, str]:
    """Key names and value lengths (§6.9); values are checked per charger when applied, where
    the charger's own readonly flags are known."""
    if not keys:
        raise ApiProblem(
            HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-body", "a template needs at least one key"
        )
    for key, value in keys.items():
        if is_secret_configuration_key(key):
            # A template is stored and shown: a secret in it would be kept in clear. The charger
            # password goes through the security-profile flow, which stores only its hash.
            raise ApiProblem(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "secret-in-template",
                f"{key} holds a secret and cannot be part of a template; set a charger's "
                "AuthorizationKey with PUT /charge-points/{id}/password",
            )
        if not key or len(key) > MAX_KEY_LENGTH or len(value) > MAX_VALUE_LENGTH:
            raise ApiProblem(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "invalid-body",
                f"key {key[:60]!r}: names are 1-{MAX_KEY_LENGTH} characters and values at most "
                f"{MAX_VALUE_LENGTH} (OCPP 1.6 §6.9)",
            )
    return keys


class ConfigurationMemoryHandlers(ApiHandlers):
    """Snapshots, drift, templates and bulk commands."""

    async def list_configuration_snapshots(self, request: Request, caller: Principal) -> Response:
        record = await self.known_charge_point(path_charge_point_id(request))
        snapshots = await self.services.store.configuration_memory.list_snapshots(
            record.id, page_limit(request, 20)
        )
        return json_response(Page(items=[_snapshot_view(item) for item in snapshots]))

    async def take_configuration_snapshot(self, request: Request, caller: Principal) -> Response:
        charge_point_id = path_charge_point_id(request)
        with charger_errors():
            taken = await snapshot(self.services, charge_point_id)
        return json_response(_snapshot_view(taken), 201)

    async def diff_configuration_snapshot(self, request: Request, caller: Principal) -> Response:
        record = await self.known_charge_point(path_charge_point_id(request))
        snapshot_id = id_number(request.path_params["snapshot_id"], "snapshot-id", "")
        memory = self.services.store.configuration_memory
        after = await memory.get_snapshot(record.id, snapshot_id)
        if after is None:
            raise ApiProblem(
                HTTPStatus.NOT_FOUND,
                "unknown-snapshot",
                f"charge point {record.id!r} has no configuration snapshot {snapshot_id}",
            )
        before = await memory.previous_snapshot(record.id, snapshot_id)
        diff = diff_snapshots(
            [] if before is None else before.snapshot_keys(), after.snapshot_keys()
        )
        return json_response(
            SnapshotDiffView(
                id=after.id,
                previous_id=None if before is None else before.id,
                added=[
                    SnapshotKeyView(key=k.key, value=k.value, readonly=k.readonly)
                    for k in diff.added
                ],
                removed=[
                    SnapshotKeyView(key=k.key, value=k.value, readonly=k.readonly)
                    for k in diff.removed
                ],
                changed=[
                    ChangedKeyView(key=c.key, before=c.before, after=c.after) for c in diff.changed
                ],
            )
        )

    async def configuration_drift(self, request: Request, caller: Principal) -> Response:
        record = await self.known_charge_point(path_charge_point_id(request))
        model = charger_model(record).name
        reported = {
            key.key: key.value
            for key in await self.services.store.configuration.list_keys(record.id)
        }
        entries: list[DriftEntryView] = []
        for template in await self.services.store.configuration_memory.list_templates():
            if template.charger_model not in (None, model):
                continue
            entries.extend(
                DriftEntryView(
                    key=entry.key,
                    wanted=entry.wanted,
                    reported=entry.reported,
                    state=entry.state.value,
                    template=template.name,
                )
                for entry in drift(template.keys, reported)
            )
        return json_response(
            DriftView(
                charge_point_id=record.id,
                charger_model=model,
                drifted=any(entry.state in ("differs", "missing") for entry in entries),
                keys=entries,
            )
        )

    async def list_configuration_templates(self, request: Request, caller: Principal) -> Response:
        templates = await self.services.store.configuration_memory.list_templates()
        return json_response(Page(items=[_template_view(item) for item in templates]))

    async def add_configuration_template(self, request: Request, caller: Principal) -> Response:
        body = await read_body(request, NewTemplate)
        if _TEMPLATE_NAME.fullmatch(body.name) is None:
            raise ApiProblem(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "invalid-body",
                f"template name {body.name[:64]!r}: 1-64 letters, digits, spaces, '.', '_', '-'",
            )
        try:
            record = await self.services.store.configuration_memory.add_template(
                body.name,
                _checked_model(body.charger_model),
                _checked_keys(body.keys),
                self.services.clock.now(),
            )
        except store_errors.AlreadyExists as exc:
            raise ApiProblem(HTTPStatus.CONFLICT, "template-exists", str(exc)) from None
        return json_response(_template_view(record), 201)

    async def replace_configuration_template(self, request: Request, caller: Principal) -> Response:
        body = await read_body(request, TemplateChange)
        name: str = request.path_params["name"]
        templates = self.services.store.configuration_memory
        async with write_lock(self, f"template:{name}"):  # If-Match: RFC 9110 §13.1.1
            current = await templates.get_template(name)
            if current is not None:
                check_if_match(request, template_etag(current), f"template {name[:64]!r}")
            try:
                record = await templates.replace_template(
                    name,
                    _checked_model(body.charger_model),
                    _checked_keys(body.keys),
                    self.services.clock.now(),
                )
            except store_errors.NotFound as exc:
                raise ApiProblem(HTTPStatus.NOT_FOUND, "unknown-template", str(exc)) from None
        return with_etag(json_response(_template_view(record)), template_etag(record))

    async def apply_configuration_template(self, request: Request, caller: Principal) -> Response:
        name = request.path_params["name"]
        template = await self.services.store.configuration_memory.get_template(name)
        if template is None:
            raise ApiProblem(
                HTTPStatus.NOT_FOUND,
                "unknown-template",
                f"there is no configuration template {name[:64]!r}",
            )
        body = await read_body(request, ApplyTemplate)
        if body.charge_point_ids is not None:
            ids = [
                checked_charge_point_id(text, HTTPStatus.UNPROCESSABLE_ENTITY)
                for text in body.charge_point_ids
            ]
        else:
            model = _checked_model(body.model) or template.charger_model
            ids = [
                record.id
                for record in await self.services.store.charge_points.list_charge_points()
                if model is None or charger_model(record).name == model
            ]
        return json_response(_apply_view(await apply_template(self.services, ids, template)))

    async def bulk_command(self, request: Request, caller: Principal) -> Response:
        action = request.path_params["action"]
        if action not in BULK_ACTIONS:
            raise ApiProblem(
                HTTPStatus.NOT_FOUND,
                "unknown-bulk-action",
                f"{action[:64]!r} is not a bulk action; available: {', '.join(BULK_ACTIONS)}",
            )
        body = await read_body(request, BulkRequest)
        ids = [
            checked_charge_point_id(text, HTTPStatus.UNPROCESSABLE_ENTITY)
            for text in body.charge_point_ids
        ]
        try:
            payload = decode_request(ACTIONS[action], msgspec.json.encode(body.payload))
        except CallErrorSent as error:
            raise ApiProblem(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "invalid-command-payload",
                f"{action} payload is invalid ({error.code.value}): {error.description}",
            ) from None
        results = await bulk(self.services, ids, payload)
        return json_response(BulkView(action=action, results=[_bulk_view(r) for r in results]))
