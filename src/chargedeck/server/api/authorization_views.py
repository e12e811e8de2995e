"""API bodies of "who may charge": id tags, the unknown-tag inbox, a charger's authorization
policy (default owner, free vend). Typed, frozen, snake_case, as every API body (views.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from chargedeck.server.api.views import IdTagText, View, ZonedDateTime

# Room for any printed form of a 10-byte UID ("0x" and a separator between each byte, 32
# characters) and stray spaces; longer is no UID, refused before it is parsed.
UidText = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
MaxActiveTransactions = Annotated[int, msgspec.Meta(ge=1)]


class ChargerIdTagView(View, frozen=True, kw_only=True):
    """The idTag the chargers of these models send for the card."""

    byte_order: str
    """``as_printed`` or ``reversed`` (Wallbox: little-endian)."""
    id_tag: str
    charger_models: list[str]


class IdTagView(View, frozen=True, kw_only=True):
    """A registered id tag. A card registered by its UID answers to every idTag in
    ``charger_id_tags`` as well as to ``id_tag``."""

    id_tag: str
    card_uid: str | None
    """The UID printed on the card, canonical: upper-case hex in printed byte order."""
    charger_id_tags: list[ChargerIdTagView]
    owner: str | None
    label: str | None
    parent_id_tag: str | None
    expiry_date: datetime | None
    blocked: bool
    max_active_transactions: int | None
    notes: str | None
    created_at: datetime
    updated_at: datetime | None


class NewIdTag(View, frozen=True, kw_only=True):
    """Body of POST /id-tags: ``id_tag`` as the charger sends it, or ``uid`` as printed on the
    card (``04:A2:2B:1A:5C:3D:80``, ``04 a2 2b ...``, ``04A22B1A5C3D80``; 4, 7 or 10 bytes), or
    both; with only ``uid`` the id tag is the canonical UID."""

    id_tag: IdTagText | None = None
    uid: UidText | None = None
    owner: str | None = None
    label: str | None = None
    parent_id_tag: IdTagText | None = None
    expiry_date: ZonedDateTime | None = None
    blocked: bool = False
    max_active_transactions: MaxActiveTransactions | None = None
    notes: str | None = None


class IdTagChange(View, frozen=True, kw_only=True):
    """Body of PATCH /id-tags/{id_tag}: the fields to change; null clears one (``uid``: null
    forgets the card UID)."""

    uid: UidText | msgspec.UnsetType | None = msgspec.UNSET
    owner: str | msgspec.UnsetType | None = msgspec.UNSET
    label: str | msgspec.UnsetType | None = msgspec.UNSET
    parent_id_tag: IdTagText | msgspec.UnsetType | None = msgspec.UNSET
    expiry_date: ZonedDateTime | msgspec.UnsetType | None = msgspec.UNSET
    blocked: bool | msgspec.UnsetType = msgspec.UNSET
    max_active_transactions: MaxActiveTransactions | msgspec.UnsetType | None = msgspec.UNSET
    notes: str | msgspec.UnsetType | None = msgspec.UNSET


class UnknownIdTagView(View, frozen=True, kw_only=True):
    """An idTag a charger presented that no registered tag answers to."""

    id_tag: str
    count: int
    first_seen_at: datetime
    last_seen_at: datetime
    last_charge_point_id: str
    last_connector_id: int | None
    last_action: str


class AdoptIdTag(View, frozen=True, kw_only=True):
    """Body of POST /id-tags/unknown/{id_tag}/adopt."""

    owner: str
    label: str | None = None


class ChargePointAuthorization(View, frozen=True, kw_only=True):
    """Body of PUT /charge-points/{charge_point_id}/authorization (every field; absent ones
    are cleared)."""

    default_owner: str | None = None
    """Whom sessions without a card are attributed to (placeholder idTag, free vend)."""
    free_vend: bool = False
    """Start a transaction (RemoteStartTransaction) when a connector goes Preparing."""
    free_vend_id_tag: IdTagText | None = None
    """The idTag of those starts; null: ChargeDeck's default, ``FreeVend``."""


class ChargePointAuthorizationView(View, frozen=True, kw_only=True):
    charge_point_id: str
    default_owner: str | None
    free_vend: bool
    free_vend_id_tag: str | None
    remote_start_id_tag: str
    """The idTag a free-vend RemoteStartTransaction carries."""
