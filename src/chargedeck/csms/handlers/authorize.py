"""Authorize (OCPP 1.6 §4.1): Accepted, Blocked, Expired or Invalid from the id tag table."""

from __future__ import annotations

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.id_tag_info import id_tag_info_for
from chargedeck.ocpp.v16.core import AuthorizeRequest, AuthorizeResponse


async def handle_authorize(
    services: CsmsServices, state: ConnectionState, request: AuthorizeRequest
) -> AuthorizeResponse:
    return AuthorizeResponse(id_tag_info=await id_tag_info_for(services, request.id_tag))
