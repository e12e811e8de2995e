"""Who may charge: the authorization decision for an id tag (OCPP 1.6 §4.1, §7.8)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from chargedeck.domain.charger_models import CHARGER_MODELS, ChargerModel

# OCPP 1.6 §7.28 IdToken is a CiString20Type: what a charger sends for a card, at most 20 chars.
MAX_ID_TAG_LENGTH = 20


def check_id_tag(text: str, what: str = "id tag") -> str:
    """An id tag an operator typed, checked against IdToken; ValueError says why."""
    if not 1 <= len(text) <= MAX_ID_TAG_LENGTH:
        raise ValueError(
            f"{what} must be 1 to {MAX_ID_TAG_LENGTH} characters (OCPP 1.6 IdToken), "
            f"got {len(text)}"
        )
    return text


class AuthorizationStatus(enum.StrEnum):
    """OCPP 1.6 §7.2 AuthorizationStatus."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


@dataclass(frozen=True)
class KnownIdTag:
    """What the store knows of an id tag, as plain values.

    ``max_active_transactions`` caps how many transactions the tag may run at once (``None``: no
    cap); at the cap, StartTransaction answers ConcurrentTx. It is at least 1: a tag that may
    never charge is ``blocked``. Raises ValueError otherwise.
    """

    id_tag: str
    blocked: bool
    expiry_date: datetime | None
    parent_id_tag: str | None
    max_active_transactions: int | None = None

    def __post_init__(self) -> None:
        if self.max_active_transactions is not None and self.max_active_transactions < 1:
            raise ValueError(
                f"max active transactions of id tag {self.id_tag!r} must be at least 1 (or no "
                f"cap); got {self.max_active_transactions}: block the tag instead"
            )


@dataclass(frozen=True)
class IdTagGroup:
    """What the store knows of a parentIdTag the operator manages as a group (an account, a fleet).

    OCPP 1.6 only says that tags with the same parentIdTag form a group whose members may stop
    each other's transactions (§4.10 StopTransaction, IdTagInfo ``parentIdTag``); blocking or
    expiring the group is ChargeDeck's rule, applied by :func:`authorize`.
    """

    parent_id_tag: str
    blocked: bool
    expiry_date: datetime | None


@dataclass(frozen=True)
class AuthorizationDecision:
    """An IdTagInfo in plain values."""

    status: AuthorizationStatus
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None


def authorize(
    known: KnownIdTag | None,
    now: datetime,
    *,
    active_transactions: int = 0,
    group: IdTagGroup | None = None,
) -> AuthorizationDecision:
    """Decide for a presented tag: unknown -> Invalid, blocked -> Blocked, past expiry -> Expired,
    at its cap of ``max_active_transactions`` -> ConcurrentTx, else Accepted.

    Blocked wins over expired: a blocked card stays blocked whatever its date; both win over
    ConcurrentTx, which is about the moment, not the card.

    ``active_transactions`` counts the tag's transactions running now, not counting the one
    being started (a StartTransaction repeated after a lost answer must get the same answer).
    ConcurrentTx is "only relevant for a StartTransaction.req" (OCPP 1.6 §7.2), so Authorize
    leaves it at 0.

    ``group`` is the known record of the tag's parentIdTag, if the operator manages it. The spec
    is silent on groups beyond stopping (§4.10); ChargeDeck's rule: a blocked group blocks its
    members, an expired group expires them, and the answered expiryDate is the earlier of the
    tag's and the group's, so that a charger's cache, which drops an entry at its expiryDate
    (IdTagInfo, §3.5.1 Authorization Cache), asks again no later than the group lapses.

    Raises ValueError when ``group`` is not the tag's parent or ``active_transactions`` is
    negative.
    """
    if active_transactions < 0:
        raise ValueError(f"active transactions cannot be negative, got {active_transactions}")
    if known is None:
        return AuthorizationDecision(AuthorizationStatus.INVALID)
    if group is not None and (
        known.parent_id_tag is None
        or group.parent_id_tag.casefold() != known.parent_id_tag.casefold()
    ):
        raise ValueError(
            f"group {group.parent_id_tag!r} is not the parent of id tag {known.id_tag!r} "
            f"(its parentIdTag is {known.parent_id_tag!r})"
        )
    expiry_date = _earlier(known.expiry_date, group.expiry_date if group else None)
    if known.blocked or (group is not None and group.blocked):
        status = AuthorizationStatus.BLOCKED
    elif expiry_date is not None and expiry_date <= now:
        status = AuthorizationStatus.EXPIRED
    elif (
        known.max_active_transactions is not None
        and active_transactions >= known.max_active_transactions
    ):
        status = AuthorizationStatus.CONCURRENT_TX
    else:
        status = AuthorizationStatus.ACCEPTED
    return AuthorizationDecision(status, expiry_date, known.parent_id_tag)


# The idTags chargers send when they start on plug-in without a card (free vend), from the
# charger-model table. An operator may not register a card under one of these: it would be
# mistaken for a free-vend start.
PLACEHOLDER_ID_TAGS: frozenset[str] = frozenset(
    model.placeholder_id_tag for model in CHARGER_MODELS if model.placeholder_id_tag is not None
)


def is_placeholder_id_tag(
    id_tag: str, model: ChargerModel, auth_disabled_id_tag: str | None = None
) -> bool:
    """True if ``id_tag`` is the free-vend placeholder of this charger, not a card.

    ``auth_disabled_id_tag`` is the charger's AuthDisabledIdTag configuration value when it has
    been read; it wins over the model's default (Wallbox: ``NoAuthorization``, field notes Q10).
    Compared ignoring case, as every IdToken (OCPP 1.6 §7.28).
    """
    placeholder = model.placeholder_id_tag if auth_disabled_id_tag is None else auth_disabled_id_tag
    if not placeholder:
        return False
    return id_tag.casefold() == placeholder.casefold()


def authorize_placeholder() -> AuthorizationDecision:
    """The answer to a charger's free-vend placeholder: Accepted, always.

    A Wallbox with AuthEnabled=false has already started charging on plug-in; refusing its
    placeholder would make it stop (StopTransactionOnInvalidId, field notes §2.1) although its
    owner chose free charging (field notes Q10: "Always accept NoAuthorization ... for that
    station"). The session belongs to the charger's default owner, which the caller records.
    No expiryDate and no parentIdTag: the placeholder is no card to cache, and in no group
    whose members could stop the session.
    """
    return AuthorizationDecision(AuthorizationStatus.ACCEPTED)


def _earlier(first: datetime | None, second: datetime | None) -> datetime | None:
    if first is None:
        return second
    if second is None:
        return first
    return min(first, second)
