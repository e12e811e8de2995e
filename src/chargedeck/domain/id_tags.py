"""Who may charge: the authorization decision for an id tag (OCPP 1.6 §4.1, §7.8)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

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
    """What the store knows of an id tag, as plain values."""

    id_tag: str
    blocked: bool
    expiry_date: datetime | None
    parent_id_tag: str | None


@dataclass(frozen=True)
class AuthorizationDecision:
    """An IdTagInfo in plain values."""

    status: AuthorizationStatus
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None


def authorize(known: KnownIdTag | None, now: datetime) -> AuthorizationDecision:
    """Decide for a presented tag: unknown -> Invalid, blocked -> Blocked, past expiry -> Expired.

    Blocked wins over expired: a blocked card stays blocked whatever its date.
    """
    if known is None:
        return AuthorizationDecision(AuthorizationStatus.INVALID)
    if known.blocked:
        status = AuthorizationStatus.BLOCKED
    elif known.expiry_date is not None and known.expiry_date <= now:
        status = AuthorizationStatus.EXPIRED
    else:
        status = AuthorizationStatus.ACCEPTED
    return AuthorizationDecision(status, known.expiry_date, known.parent_id_tag)
