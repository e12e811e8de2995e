"""API handlers of "who may charge": id tags (by idTag or printed card UID), the unknown-tag
inbox with adoption, and a charger's authorization policy (default owner, free vend).

Every change to an id tag is followed by ``resync_after_id_tag_change``, which brings connected
chargers' Local Authorization Lists up to date. Errors: a bad idTag in the path is 400, a body
that cannot be a card 422 with the sentence that says why, an unknown tag 404, a tag another tag
already answers to 409.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from http import HTTPStatus

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from chargedeck.csms.free_vend import remote_start_id_tag
from chargedeck.csms.id_tag_registry import (
    adopt_unknown_id_tag,
    block_unknown_id_tag,
    charger_id_tags,
    checked_new_id_tag,
    checked_owner,
)
from chargedeck.csms.local_lists import resync_after_id_tag_change
from chargedeck.domain.card_uids import InvalidCardUid, parse_printed_uid
from chargedeck.domain.id_tags import check_id_tag
from chargedeck.domain.ids import IdTag
from chargedeck.server.api.auth import Principal
from chargedeck.server.api.authorization_views import (
    AdoptIdTag,
    ChargePointAuthorization,
    ChargePointAuthorizationView,
    ChargerIdTagView,
    IdTagChange,
    IdTagView,
    NewIdTag,
    UnknownIdTagView,
)
from chargedeck.server.api.common import (
    ApiHandlers,
    ApiProblem,
    json_response,
    page_limit,
    path_charge_point_id,
    read_body,
)
from chargedeck.server.api.views import Page
from chargedeck.store import errors as store_errors
from chargedeck.store.id_tags import IdTagChanges
from chargedeck.store.records import ChargePointRecord, IdTagRecord


@contextlib.contextmanager
def _id_tag_problems() -> Iterator[None]:
    """What registering or changing an id tag can refuse, as problems."""
    try:
        yield
    except InvalidCardUid as exc:
        raise ApiProblem(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-card-uid", str(exc)) from None
    except ValueError as exc:
        raise ApiProblem(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-body", str(exc)) from None
    except store_errors.AlreadyExists as exc:
        raise ApiProblem(HTTPStatus.CONFLICT, "id-tag-exists", str(exc)) from None
    except store_errors.NotFound as exc:
        raise ApiProblem(HTTPStatus.NOT_FOUND, "unknown-id-tag", str(exc)) from None


def _path_id_tag(request: Request) -> str:
    """The idTag in the path (percent-decoded by the router); one no charger can send is 400."""
    text: str = request.path_params["id_tag"]
    try:
        return check_id_tag(text)
    except ValueError as exc:
        raise ApiProblem(HTTPStatus.BAD_REQUEST, "invalid-id-tag", str(exc)) from None


def _id_tag_view(record: IdTagRecord) -> IdTagView:
    return IdTagView(
        id_tag=record.id_tag,
        card_uid=record.card_uid,
        charger_id_tags=[]
        if record.card_uid is None
        else [
            ChargerIdTagView(
                byte_order=sent.byte_order.value,
                id_tag=sent.id_tag,
                charger_models=list(sent.charger_models),
            )
            for sent in charger_id_tags(record.card_uid)
        ],
        owner=record.owner,
        label=record.label,
        parent_id_tag=record.parent_id_tag,
        expiry_date=record.expiry_date,
        blocked=record.blocked,
        max_active_transactions=record.max_active_transactions,
        notes=record.notes,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def _authorization_view(record: ChargePointRecord) -> ChargePointAuthorizationView:
    return ChargePointAuthorizationView(
        charge_point_id=record.id,
        default_owner=record.default_owner,
        free_vend=record.free_vend,
        free_vend_id_tag=record.free_vend_id_tag,
        remote_start_id_tag=remote_start_id_tag(record),
    )


class AuthorizationHandlers(ApiHandlers):
    """Handlers of the id tag, inbox and charger authorization routes."""

    async def list_id_tags(self, request: Request, caller: Principal) -> Response:
        limit = page_limit(request, default=100)
        records = await self.services.store.id_tags.list_id_tags(
            limit=limit, after=request.query_params.get("cursor")
        )
        next_cursor = records[-1].id_tag if len(records) == limit else None
        return json_response(
            Page(items=[_id_tag_view(r) for r in records], next_cursor=next_cursor)
        )

    async def add_id_tag(self, request: Request, caller: Principal) -> Response:
        body = await read_body(request, NewIdTag)
        with _id_tag_problems():
            id_tag, card_uid = checked_new_id_tag(body.id_tag, body.uid)
            record = await self.services.store.id_tags.add_id_tag(
                id_tag,
                now=self.services.clock.now(),
                card_uid=card_uid,
                parent_id_tag=None if body.parent_id_tag is None else IdTag(body.parent_id_tag),
                expiry_date=body.expiry_date,
                blocked=body.blocked,
                owner=None if body.owner is None else checked_owner(body.owner),
                label=body.label,
                notes=body.notes,
                max_active_transactions=body.max_active_transactions,
            )
        await resync_after_id_tag_change(self.services)
        return json_response(_id_tag_view(record), status=201)

    async def get_id_tag(self, request: Request, caller: Principal) -> Response:
        id_tag = _path_id_tag(request)
        record = await self.services.store.id_tags.get_id_tag(id_tag)
        if record is None:
            raise ApiProblem(
                HTTPStatus.NOT_FOUND, "unknown-id-tag", f"id tag {id_tag!r} is not registered"
            )
        return json_response(_id_tag_view(record))

    async def update_id_tag(self, request: Request, caller: Principal) -> Response:
        id_tag = _path_id_tag(request)
        body = await read_body(request, IdTagChange)
        with _id_tag_problems():
            values = {
                name: value
                for name, value in msgspec.structs.asdict(body).items()
                if name != "uid" and value is not msgspec.UNSET
            }
            if isinstance(body.owner, str):
                values["owner"] = checked_owner(body.owner)
            if not isinstance(body.uid, msgspec.UnsetType):
                values["card_uid"] = (
                    None if body.uid is None else parse_printed_uid(body.uid).canonical
                )
            record = await self.services.store.id_tags.update_id_tag(
                id_tag, IdTagChanges(**values), self.services.clock.now()
            )
        await resync_after_id_tag_change(self.services)
        return json_response(_id_tag_view(record))

    async def remove_id_tag(self, request: Request, caller: Principal) -> Response:
        id_tag = _path_id_tag(request)
        with _id_tag_problems():
            record = await self.services.store.id_tags.remove_id_tag(id_tag)
        await resync_after_id_tag_change(self.services)
        return json_response(_id_tag_view(record))

    async def list_unknown_id_tags(self, request: Request, caller: Principal) -> Response:
        records = await self.services.store.unknown_id_tags.list_unknown_id_tags(
            page_limit(request)
        )
        return json_response(
            Page(
                items=[msgspec.convert(r, UnknownIdTagView, from_attributes=True) for r in records]
            )
        )

    async def adopt_unknown_id_tag(self, request: Request, caller: Principal) -> Response:
        id_tag = _path_id_tag(request)
        body = await read_body(request, AdoptIdTag)
        with _id_tag_problems():
            record = await adopt_unknown_id_tag(
                self.services.store,
                id_tag,
                owner=body.owner,
                label=body.label,
                now=self.services.clock.now(),
            )
        await resync_after_id_tag_change(self.services)
        return json_response(_id_tag_view(record), status=201)

    async def block_unknown_id_tag(self, request: Request, caller: Principal) -> Response:
        id_tag = _path_id_tag(request)
        with _id_tag_problems():
            record = await block_unknown_id_tag(
                self.services.store, id_tag, now=self.services.clock.now()
            )
        await resync_after_id_tag_change(self.services)
        return json_response(_id_tag_view(record), status=201)

    async def get_charge_point_authorization(self, request: Request, caller: Principal) -> Response:
        charge_point_id = path_charge_point_id(request)
        record = await self.services.store.charge_points.get_charge_point(charge_point_id)
        if record is None:
            raise ApiProblem(
                HTTPStatus.NOT_FOUND,
                "unknown-charge-point",
                f"charge point {charge_point_id!r} is not in the store",
            )
        return json_response(_authorization_view(record))

    async def set_charge_point_authorization(self, request: Request, caller: Principal) -> Response:
        charge_point_id = path_charge_point_id(request)
        body = await read_body(request, ChargePointAuthorization)
        with _id_tag_problems():
            owner = None if body.default_owner is None else checked_owner(body.default_owner)
        try:
            record = await self.services.store.charge_points.set_authorization_policy(
                charge_point_id,
                default_owner=owner,
                free_vend=body.free_vend,
                free_vend_id_tag=body.free_vend_id_tag,
            )
        except store_errors.NotFound as exc:
            raise ApiProblem(HTTPStatus.NOT_FOUND, "unknown-charge-point", str(exc)) from None
        return json_response(_authorization_view(record))
