"""Operator accounts and API tokens as plain rules: scopes, names, passwords, token text
(DESIGN §8, §10).

A scope is what a credential may do: ``read`` (every GET), ``operate`` (commands to chargers,
charge point and id tag changes), ``admin`` (users and tokens). Each scope includes the ones
below it. An API token is a random 256-bit secret: the store keeps only its SHA-256 (enough for a
high-entropy secret, and cheap on every request) and its first characters for listings.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from datetime import datetime, timedelta
from typing import Final


class Scope(enum.StrEnum):
    """What a user or token may do; each scope includes the ones before it."""

    READ = "read"
    OPERATE = "operate"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _SCOPE_ORDER.index(self)

    def allows(self, required: Scope) -> bool:
        """True if a credential holding this scope may use a route that needs ``required``."""
        return self.rank >= required.rank


_SCOPE_ORDER: Final = (Scope.READ, Scope.OPERATE, Scope.ADMIN)
SCOPE_NAMES: Final = ", ".join(s.value for s in _SCOPE_ORDER)


def parse_scope(text: str, what: str = "scope") -> Scope:
    """A scope an operator typed; ValueError names the accepted values."""
    try:
        return Scope(text)
    except ValueError:
        raise ValueError(f"{what} {text[:32]!r} is not a scope; expected {SCOPE_NAMES}") from None


def narrower(first: Scope, second: Scope) -> Scope:
    """The scope both allow: a token never does more than the user it belongs to."""
    return first if first.rank <= second.rank else second


# ---- users ------------------------------------------------------------------------------------

FIRST_ADMIN_USERNAME: Final = "admin"
MAX_USERNAME_LENGTH: Final = 64
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]*")

# NIST SP 800-63B §5.1.1.2 asks for at least 8 characters; operators reach every charger, so
# ChargeDeck asks for 12. The upper bound keeps a request body from being a hashing workload.
MIN_PASSWORD_LENGTH: Final = 12
MAX_PASSWORD_LENGTH: Final = 256

# Generated passwords: 4 groups of 5 from an alphabet without look-alikes (0/O, 1/l/I), about
# 116 bits; easy to read off a console and type once before changing it.
_PASSWORD_ALPHABET: Final = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # noqa: S105
_PASSWORD_GROUPS: Final = 4
_PASSWORD_GROUP_LENGTH: Final = 5


def check_username(text: str) -> str:
    """A username an operator typed; ValueError says what is allowed.

    Lower-case so that "Ana" and "ana" cannot be two accounts, and never ':' (HTTP Basic,
    RFC 7617 §2, splits user and password at the first colon).
    """
    if not 1 <= len(text) <= MAX_USERNAME_LENGTH:
        raise ValueError(f"username must be 1 to {MAX_USERNAME_LENGTH} characters, got {len(text)}")
    if _USERNAME.fullmatch(text) is None:
        raise ValueError(
            f"username {text!r} may contain only lower-case letters a-z, digits, '.', '_' and "
            "'-', and must start with a letter or digit"
        )
    return text


def check_password(text: str) -> str:
    """A password an operator chose; ValueError says what is wrong (never the password)."""
    if len(text) < MIN_PASSWORD_LENGTH:
        raise ValueError(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters, got {len(text)}"
        )
    if len(text) > MAX_PASSWORD_LENGTH:
        raise ValueError(
            f"password must be at most {MAX_PASSWORD_LENGTH} characters, got {len(text)}"
        )
    if text.strip() != text:
        raise ValueError("password must not begin or end with white space")
    return text


def new_password() -> str:
    """A random password that satisfies :func:`check_password`, e.g. ``k7Qe2-xMp9T-...``."""
    return "-".join(
        "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(_PASSWORD_GROUP_LENGTH))
        for _ in range(_PASSWORD_GROUPS)
    )


# ---- API tokens -------------------------------------------------------------------------------

TOKEN_PREFIX: Final = "cdk_"  # noqa: S105 - a marker, not a secret
TOKEN_BYTES: Final = 32  # 256 bits: no brute force, so a plain SHA-256 stores it safely
_TOKEN = re.compile(r"cdk_[A-Za-z0-9_-]{43}")  # 32 bytes are 43 characters of base64url
LISTED_PREFIX_LENGTH: Final = 8  # "cdk_" and 4 characters: tells tokens apart in a listing
MAX_TOKEN_NAME_LENGTH: Final = 100
MAX_TOKEN_DAYS: Final = 3650

# last_used_at is for "is this token still in use?", not an audit trail: one write a minute per
# token at most, so a busy script does not turn every request into a database write.
TOKEN_TOUCH_INTERVAL: Final = timedelta(minutes=1)


def new_token() -> str:
    """A new API token: ``cdk_`` and 43 characters of base64url (32 random bytes)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def is_token_text(text: str) -> bool:
    """True if ``text`` has the form of a ChargeDeck API token (says nothing of validity)."""
    return _TOKEN.fullmatch(text) is not None


def token_hash(token: str) -> str:
    """What the store keeps of a token: the SHA-256 of its text, lower-case hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_prefix(token: str) -> str:
    """The start of a token, kept to tell tokens apart in a listing."""
    return token[:LISTED_PREFIX_LENGTH]


def check_token_name(text: str) -> str:
    """A token's name (what it is for: "home-assistant"); ValueError says what is wrong."""
    if not 1 <= len(text.strip()) <= MAX_TOKEN_NAME_LENGTH or not text.isprintable():
        raise ValueError(
            f"token name must be 1 to {MAX_TOKEN_NAME_LENGTH} printable characters, got {len(text)}"
        )
    return text


def token_expiry(now: datetime, days: int | None) -> datetime | None:
    """When a token made ``now`` for ``days`` expires (None: never); ValueError for bad days."""
    if days is None:
        return None
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValueError(f"expiry must be 1 to {MAX_TOKEN_DAYS} days, got {days}")
    return now + timedelta(days=days)


def check_token_scope(token_scope: Scope, user_scope: Scope, username: str) -> Scope:
    """A token of a user may not do more than the user; ValueError says so."""
    if not user_scope.allows(token_scope):
        raise ValueError(
            f"a token of user {username!r} (scope {user_scope.value}) cannot have scope "
            f"{token_scope.value}"
        )
    return token_scope


def is_expired(expires_at: datetime | None, now: datetime) -> bool:
    """True once ``now`` reaches ``expires_at`` (None never expires)."""
    return expires_at is not None and now >= expires_at


def needs_touch(last_used_at: datetime | None, now: datetime) -> bool:
    """True if a token's last_used_at is worth writing now (see TOKEN_TOUCH_INTERVAL)."""
    return last_used_at is None or now - last_used_at >= TOKEN_TOUCH_INTERVAL


def check_not_last_admin(username: str, enabled_admins: frozenset[str]) -> str:
    """Disabling ``username`` must leave an enabled admin account, or nobody can manage users;
    ValueError says so. ``enabled_admins``: the usernames of the enabled admin accounts."""
    if username in enabled_admins and enabled_admins <= {username}:
        raise ValueError(
            f"cannot disable {username!r}: it is the last enabled admin account; "
            "create another admin first"
        )
    return username
