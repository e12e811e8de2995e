"""Authorize (OCPP 1.6 §4.1): Accepted, Blocked, Expired or Invalid, with the tag's parentIdTag
and expiryDate where known (csms/id_tag_info.py); an unknown idTag lands in the inbox."""

from __future__ import annotations

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.id_tag_info import authorize_presented
from chargedeck.ocpp.v16.core import AuthorizeRequest, AuthorizeResponse


async def handle_authorize(
    services: CsmsServices, state: ConnectionState, request: AuthorizeRequest
) -> AuthorizeResponse:
    authorization = await authorize_presented(services, state, request.id_tag)
    return AuthorizeResponse(id_tag_info=authorization.id_tag_info)
