"""Who may charge: the IdTagInfo answered by Authorize, StartTransaction and StopTransaction,
in one place, so the three answer alike (OCPP 1.6 §4.1, §4.8, §4.10).

A presented idTag finds its tag in one indexed query (``store.id_tags.match_id_tag``: the tag
registered under that idTag, else the card whose UID it is, as printed or byte-reversed, with
the tag's group) and ``domain.id_tags.authorize`` decides. Only an idTag that finds nothing
costs more: it may be the charger's own placeholder for a start without a card, which is
Accepted and attributed to the charger's default owner (Wallbox ``AuthEnabled=false`` sends
``AuthDisabledIdTag``, wallbox-field-notes item 6 and Q10), or the tag of a free-vend start
(csms/free_vend.py); anything else is Invalid and counted in the unknown-tag inbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.free_vend import remote_start_id_tag
from chargedeck.domain.charger_models import model_for
from chargedeck.domain.id_tags import (
    AuthorizationDecision,
    IdTagGroup,
    KnownIdTag,
    authorize,
    authorize_placeholder,
    is_placeholder_id_tag,
)
from chargedeck.domain.ids import ConnectorId
from chargedeck.ocpp.v16.enums import AuthorizationStatus
from chargedeck.ocpp.v16.types import IdTagInfo
from chargedeck.store.id_tags import IdTagGroupRecord, IdTagMatch
from chargedeck.store.records import ChargePointRecord, IdTagRecord

log = logging.getLogger(__name__)

# Wallbox vendor key holding the idTag it sends when AuthEnabled=false (field notes §2.2); as
# reported by the charger (GetConfiguration, store.configuration) it wins over the model default.
AUTH_DISABLED_ID_TAG_KEY: Final = "AuthDisabledIdTag"


@dataclass(frozen=True)
class Authorization:
    """The answer for a presented idTag and whom a session started with it belongs to."""

    id_tag_info: IdTagInfo
    owner: str | None
    """The tag's owner; the charger's default owner for a start without a card; None for an
    unknown tag."""


async def authorize_presented(
    services: CsmsServices,
    state: ConnectionState,
    id_tag: str,
    *,
    starting_on: ConnectorId | None = None,
) -> Authorization:
    """Decide on an idTag a charger presents in Authorize (``starting_on`` None) or in a
    StartTransaction on connector ``starting_on``.

    ConcurrentTx is only decided for a StartTransaction (OCPP 1.6 §7.2), and only for a tag with
    a cap, from its open transactions on other connectors: a repeated start gets the answer the
    first one got. An unknown idTag is counted in the inbox (charger, connector, action).
    """
    now = services.clock.now()
    store = services.store
    match = await store.id_tags.match_id_tag(id_tag)
    if match is not None:
        active = 0
        if starting_on is not None and match.record.max_active_transactions is not None:
            active = await store.id_tags.count_active_transactions(
                match.record,
                except_charge_point_id=state.charge_point_id,
                except_connector_id=starting_on,
            )
        return Authorization(_decide(match, now, active), match.record.owner)
    charge_point = await store.charge_points.get_charge_point(state.charge_point_id)
    if charge_point is not None and await _is_start_without_card(services, charge_point, id_tag):
        log.info(
            "charge point %s: idTag %r is its start without a card; accepted for default owner %r",
            state.charge_point_id,
            id_tag,
            charge_point.default_owner,
        )
        return Authorization(_id_tag_info(authorize_placeholder()), charge_point.default_owner)
    action = "Authorize" if starting_on is None else "StartTransaction"
    count = await store.unknown_id_tags.record_presented(
        id_tag,
        charge_point_id=state.charge_point_id,
        connector_id=starting_on,
        action=action,
        now=now,
    )
    log.log(
        logging.INFO if count == 1 else logging.DEBUG,
        "charge point %s presented unknown idTag %r in %s (%d times); Invalid, listed in the "
        "id tag inbox",
        state.charge_point_id,
        id_tag,
        action,
        count,
    )
    return Authorization(_id_tag_info(authorize(None, now)), None)


async def id_tag_info_for(services: CsmsServices, id_tag: str) -> IdTagInfo:
    """The IdTagInfo of a StopTransaction's idTag: the same lookup and rules, nothing recorded."""
    match = await services.store.id_tags.match_id_tag(id_tag)
    if match is None:
        return _id_tag_info(authorize(None, services.clock.now()))
    return _decide(match, services.clock.now(), 0)


def _decide(match: IdTagMatch, now: datetime, active_transactions: int) -> IdTagInfo:
    return _id_tag_info(decision_for(match.record, match.group, now, active_transactions))


def decision_for(
    record: IdTagRecord,
    group: IdTagGroupRecord | IdTagRecord | None,
    now: datetime,
    active_transactions: int = 0,
) -> AuthorizationDecision:
    """What ChargeDeck answers for a registered tag at ``now`` (``domain/id_tags.authorize``):
    Authorize, StartTransaction, and the entries of a Local Authorization List alike. ``group``:
    the registered tag named as its parentIdTag."""
    known = KnownIdTag(
        id_tag=record.id_tag,
        blocked=record.blocked,
        expiry_date=record.expiry_date,
        parent_id_tag=record.parent_id_tag,
        max_active_transactions=record.max_active_transactions,
    )
    tag_group = (
        None
        if group is None or record.parent_id_tag is None
        else IdTagGroup(
            parent_id_tag=record.parent_id_tag,
            blocked=group.blocked,
            expiry_date=group.expiry_date,
        )
    )
    return authorize(known, now, active_transactions=active_transactions, group=tag_group)


async def _is_start_without_card(
    services: CsmsServices, charge_point: ChargePointRecord, id_tag: str
) -> bool:
    """The charger's placeholder idTag (its model's, or the AuthDisabledIdTag it reported), or
    the idTag of its free-vend starts while free vend is on."""
    model = model_for(charge_point.vendor or "", charge_point.model or "")
    # AuthDisabledIdTag is a vendor key of the models that have a placeholder (Wallbox, field
    # notes §2.2): only their reported configuration is read.
    if model.placeholder_id_tag is not None:
        reported = await services.store.configuration.values(
            charge_point.id, [AUTH_DISABLED_ID_TAG_KEY]
        )
        if is_placeholder_id_tag(id_tag, model, reported.get(AUTH_DISABLED_ID_TAG_KEY)):
            return True
    return charge_point.free_vend and (
        id_tag.casefold() == remote_start_id_tag(charge_point).casefold()
    )


def _id_tag_info(decision: AuthorizationDecision) -> IdTagInfo:
    return IdTagInfo(
        status=AuthorizationStatus(decision.status.value),
        expiry_date=decision.expiry_date,
        parent_id_tag=decision.parent_id_tag,
    )
