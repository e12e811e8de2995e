"""Registering id tags: what the API and the CLI share when an operator adds a card, and the
adoption of a tag from the unknown-tag inbox.

An operator registers a card by the idTag a charger sends, or by the UID printed on it in any
common form (``parse_printed_uid``); ChargeDeck keeps the canonical UID and derives the idTag
each charger model sends for it from the charger-model table (domain/card_uids.py,
domain/charger_models.py). Input that cannot be a card raises ValueError with the sentence that
says why; the store's ``AlreadyExists`` and ``NotFound`` pass through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chargedeck.domain.card_uids import (
    ByteOrder,
    CardUid,
    candidate_uids,
    id_tag_for,
    parse_printed_uid,
)
from chargedeck.domain.charger_models import CHARGER_MODELS, ChargerModel, model_for
from chargedeck.domain.id_tags import PLACEHOLDER_ID_TAGS, check_id_tag
from chargedeck.domain.ids import IdTag
from chargedeck.store import Store
from chargedeck.store.errors import NotFound
from chargedeck.store.records import IdTagRecord
from chargedeck.store.unknown_id_tags import UnknownIdTagRecord

_PLACEHOLDERS = {placeholder.casefold() for placeholder in PLACEHOLDER_ID_TAGS}


@dataclass(frozen=True)
class ChargerIdTag:
    """The idTag the chargers of some models send for a card."""

    byte_order: ByteOrder
    id_tag: str
    charger_models: tuple[str, ...]


def checked_new_id_tag(id_tag: str | None, uid: str | None) -> tuple[IdTag, str | None]:
    """The id tag to register and the canonical UID of its card (None without a card).

    ``id_tag`` is the idTag as a charger sends it; ``uid`` the UID as printed on the card. With
    only a UID, the id tag is the canonical UID. Raises ValueError: neither given, an idTag
    longer than OCPP 1.6 allows, a UID that is no 4-, 7- or 10-byte UID (the sentence of
    ``parse_printed_uid``), or a chargers' placeholder for a start without a card.
    """
    if id_tag is None and uid is None:
        raise ValueError(
            "give the id tag as the charger sends it, or the UID printed on the card, or both"
        )
    card_uid = None if uid is None else parse_printed_uid(uid).canonical
    tag = check_id_tag(id_tag) if id_tag is not None else card_uid
    assert tag is not None
    if tag.casefold() in _PLACEHOLDERS:
        raise ValueError(
            f"{tag!r} is the idTag chargers send when they start without a card (Wallbox "
            "AuthDisabledIdTag); it cannot be registered as a card"
        )
    return IdTag(tag), card_uid


def checked_owner(owner: str) -> str:
    """An owner's name as typed, without surrounding spaces; ValueError if it is blank."""
    name = owner.strip()
    if not name:
        raise ValueError("owner must not be blank")
    return name


def charger_id_tags(card_uid: str) -> list[ChargerIdTag]:
    """The idTag each charger model sends for the card, one entry per distinct idTag."""
    uid = CardUid(bytes.fromhex(card_uid))
    sent: dict[tuple[ByteOrder, str], list[str]] = {}
    for model in CHARGER_MODELS:
        key = (model.uid_byte_order, id_tag_for(uid, model.uid_byte_order, model.id_tag_case))
        sent.setdefault(key, []).append(model.name)
    return [
        ChargerIdTag(byte_order=order, id_tag=id_tag, charger_models=tuple(models))
        for (order, id_tag), models in sent.items()
    ]


def id_tag_sent_by(record: IdTagRecord, model: ChargerModel) -> str:
    """The idTag a charger of ``model`` sends for this tag: for a card, its UID in the model's
    byte order and case (what its Local Authorization List must hold); else the id tag."""
    if record.card_uid is None:
        return record.id_tag
    uid = CardUid(bytes.fromhex(record.card_uid))
    return id_tag_for(uid, model.uid_byte_order, model.id_tag_case)


async def adopt_unknown_id_tag(
    store: Store, id_tag: str, *, owner: str, label: str | None, now: datetime
) -> IdTagRecord:
    """Register a tag of the inbox for ``owner``; it leaves the inbox.

    Raises ``NotFound`` if it is not in the inbox, ValueError for a blank owner or a
    placeholder idTag, ``AlreadyExists`` if another tag answers to it.
    """
    return await _register_from_inbox(
        store, id_tag, owner=checked_owner(owner), label=label, blocked=False, now=now
    )


async def block_unknown_id_tag(store: Store, id_tag: str, *, now: datetime) -> IdTagRecord:
    """Register a tag of the inbox as blocked (Authorize answers Blocked from now on); it leaves
    the inbox. Raises as :func:`adopt_unknown_id_tag`."""
    return await _register_from_inbox(store, id_tag, owner=None, label=None, blocked=True, now=now)


async def _register_from_inbox(
    store: Store,
    id_tag: str,
    *,
    owner: str | None,
    label: str | None,
    blocked: bool,
    now: datetime,
) -> IdTagRecord:
    seen = await store.unknown_id_tags.get_unknown_id_tag(id_tag)
    if seen is None:
        raise NotFound(f"id tag {id_tag!r} is not in the unknown-tag inbox")
    tag, _ = checked_new_id_tag(seen.id_tag, None)
    return await store.id_tags.add_id_tag(
        tag,
        now=now,
        owner=owner,
        label=label,
        blocked=blocked,
        card_uid=await _card_uid_as_seen(store, seen),
        notes=(
            f"{'blocked' if blocked else 'adopted'} from the unknown-tag inbox: presented "
            f"{seen.count} times, last by {seen.last_charge_point_id} ({seen.last_action}) at "
            f"{seen.last_seen_at.isoformat(timespec='seconds')}"
        ),
    )


async def _card_uid_as_seen(store: Store, seen: UnknownIdTagRecord) -> str | None:
    """The card UID behind an idTag from the inbox, when the charger that sent it is of a model
    that reverses UIDs (Wallbox): then the card also works on chargers that send it as
    printed. None otherwise: an idTag sent as printed is matched as it is."""
    charge_point = await store.charge_points.get_charge_point(seen.last_charge_point_id)
    if charge_point is None or charge_point.vendor is None:
        return None
    model = model_for(charge_point.vendor, charge_point.model or "")
    if model.uid_byte_order is not ByteOrder.REVERSED:
        return None
    candidates = candidate_uids(seen.id_tag)
    if not candidates:
        return None  # not 8, 14 or 20 hex digits: no card UID
    return CardUid(candidates[0].bytes[::-1]).canonical
