"""Local Auth List Management profile messages (OCPP 1.6 §3.3, §5.10, §5.15)."""

from __future__ import annotations

from chargedeck.ocpp.v16.base import Message
from chargedeck.ocpp.v16.enums import UpdateStatus, UpdateType
from chargedeck.ocpp.v16.types import AuthorizationData


class GetLocalListVersionRequest(Message, frozen=True):
    """OCPP 1.6 §6.27: which Local Authorization List version do you hold?"""


class GetLocalListVersionResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.28: 0 = empty list, -1 = no list support."""

    list_version: int


class SendLocalListRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.41: replace (Full) or patch (Differential) the Local Authorization List.

    The prose bounds the entries by ``SendLocalListMaxLength``; the schema has no ``maxItems``.
    """

    list_version: int
    local_authorization_list: list[AuthorizationData] | None = None
    update_type: UpdateType


class SendLocalListResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.42."""

    status: UpdateStatus
