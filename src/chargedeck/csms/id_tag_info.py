"""The IdTagInfo answered by Authorize, StartTransaction and StopTransaction, in one place."""

from __future__ import annotations

from chargedeck.csms.context import CsmsServices
from chargedeck.domain.id_tags import KnownIdTag, authorize
from chargedeck.ocpp.v16.enums import AuthorizationStatus
from chargedeck.ocpp.v16.types import IdTagInfo


async def id_tag_info_for(services: CsmsServices, id_tag: str) -> IdTagInfo:
    """Look the tag up (case-insensitively, OCPP 1.6 §7.15) and decide."""
    record = await services.store.id_tags.get_id_tag(id_tag)
    known = (
        None
        if record is None
        else KnownIdTag(
            id_tag=record.id_tag,
            blocked=record.blocked,
            expiry_date=record.expiry_date,
            parent_id_tag=record.parent_id_tag,
        )
    )
    decision = authorize(known, services.clock.now())
    return IdTagInfo(
        status=AuthorizationStatus(decision.status.value),
        expiry_date=decision.expiry_date,
        parent_id_tag=decision.parent_id_tag,
    )
