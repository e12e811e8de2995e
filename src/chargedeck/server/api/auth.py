"""Who is calling the API: ``Authorization: Bearer <token>`` or HTTP Basic with an operator
account (DESIGN §8).

A token costs one indexed query per request (its SHA-256 is the key). A password costs an
argon2id check (about 20 ms of CPU), so it runs in a worker thread, at most
:data:`MAX_CONCURRENT_PASSWORD_CHECKS` at a time, and a verified (username, password) pair is
remembered for :data:`VERIFIED_PASSWORD_TTL_S`. The account is still read on every request: a
remembered pair counts only while the stored hash is the one it was verified against, so a
password change or a disabled account (from the API, the CLI or another process) takes effect
on the next request. Failed checks are remembered too, so repeating one wrong password costs
nothing; an unknown username costs the same argon2 check as a known one (no user enumeration
by timing).

Nothing here logs or returns a password, a token or a hash.
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from chargedeck.clock import Clock
from chargedeck.domain.operators import (
    Scope,
    is_expired,
    is_token_text,
    narrower,
    needs_touch,
    token_hash,
)
from chargedeck.domain.passwords import MalformedHash, hash_secret, verify_secret
from chargedeck.store.operators import OperatorCredentials, Operators

log = logging.getLogger(__name__)

# RFC 7235 §4.1: a 401 names the schemes the client may use; RFC 7617 §2.1 the charset of Basic.
WWW_AUTHENTICATE: Final = 'Bearer realm="ChargeDeck", Basic realm="ChargeDeck", charset="UTF-8"'
# The same to the web UI's own requests (X-ChargeDeck-UI: 1): a Basic challenge would make the
# browser pop up its own password dialog over the UI's login page.
WWW_AUTHENTICATE_UI: Final = 'Bearer realm="ChargeDeck"'

# Long enough that a script or a browser session re-sending Basic credentials costs one argon2
# check every few minutes; short enough that a forgotten session does not stay in memory.
VERIFIED_PASSWORD_TTL_S: Final = 300.0
# A wrong password tried again within this time is refused from memory.
FAILED_PASSWORD_TTL_S: Final = 60.0
# Entries kept per cache (oldest dropped first): more than the operators of one site.
MAX_REMEMBERED_PASSWORDS: Final = 1024
# argon2 checks running at once: one per core of the 2-vCPU machine kind (DESIGN preamble); a
# flood of guesses queues here instead of taking every core from the chargers.
MAX_CONCURRENT_PASSWORD_CHECKS: Final = 2
# RFC 7617 credentials longer than this are not ours (username 64 + password 256, base64).
_MAX_BASIC_LENGTH: Final = 1024

# The web UI's session (server/api/web_session.py): POST /api/v1/login sets this HttpOnly,
# SameSite=Strict cookie holding a 12-hour API token, because a browser's EventSource cannot
# send an Authorization header. CSRF defence in depth: besides SameSite=Strict, a
# cookie-authenticated request that changes something must carry UI_HEADER: 1, which a page of
# another site cannot add without a CORS preflight this API never answers (OWASP CSRF
# Prevention Cheat Sheet, "custom request headers").
SESSION_COOKIE: Final = "chargedeck_session"
UI_HEADER: Final = "X-ChargeDeck-UI"
# RFC 9110 §9.2.1: the methods that change nothing.
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


class Unauthenticated(Exception):
    """No usable credentials (HTTP 401); the sentence says which problem, never the secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Forbidden(Exception):
    """Valid credentials whose scope is too small for the route (HTTP 403)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    """The caller of one request: an operator account (Basic) or an API token."""

    scope: Scope
    username: str | None
    """The account acting: the Basic user, or the token's owner (None: a service token)."""
    token_id: int | None = None
    token_name: str | None = None

    @property
    def by_password(self) -> bool:
        """True if the caller proved the account's password in this request (HTTP Basic)."""
        return self.token_id is None

    def describe(self) -> str:
        """Who is calling, in words: "user 'ana'" or "token 'ci' (id 3)"."""
        if self.token_id is None:
            return f"user {self.username!r}"
        return f"token {self.token_name!r} (id {self.token_id})"

    def require(self, required: Scope, what: str, alternative: str = "") -> None:
        """Raise :class:`Forbidden` unless this caller's scope allows ``required``; the sentence
        names ``what`` needs it (and the ``alternative``, if any)."""
        if not self.scope.allows(required):
            raise Forbidden(
                f"{what} needs scope {required.value}{alternative}; {self.describe()} has scope "
                f"{self.scope.value}"
            )


@dataclass(frozen=True)
class _Checked:
    password_hash: str
    """The stored hash the password was checked against."""
    ok: bool
    until: float
    """clock.monotonic() after which the result is checked again."""


class Authenticator:
    """Turns a request's Authorization header into a :class:`Principal`."""

    def __init__(self, operators: Operators, clock: Clock) -> None:
        self._operators = operators
        self._clock = clock
        self._checked: OrderedDict[tuple[str, bytes], _Checked] = OrderedDict()
        self._password_checks = asyncio.Semaphore(MAX_CONCURRENT_PASSWORD_CHECKS)
        self._dummy_hash: str | None = None
        self._touching: set[int] = set()

    async def authenticate(self, authorization: str | None) -> Principal:
        """The caller named by an ``Authorization`` header value; raises :class:`Unauthenticated`
        (or ``StoreUnavailable``)."""
        if authorization is None or not authorization.strip():
            raise Unauthenticated("no credentials: send Authorization: Bearer <token> or Basic")
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer":
            return await self._token(value)
        if scheme.lower() == "basic":
            username, password = _basic_credentials(value)
            return await self._password(username, password)
        raise Unauthenticated(
            f"unsupported authorization scheme {scheme[:20]!r}; use Bearer or Basic"
        )

    async def authenticate_request(
        self, method: str, headers: Mapping[str, str], cookies: Mapping[str, str]
    ) -> Principal:
        """The caller of a request: its ``Authorization`` header, else the web UI's session
        cookie; a cookie-authenticated unsafe method needs :data:`UI_HEADER` (raises
        :class:`Forbidden` without it)."""
        authorization = headers.get("authorization")
        session = cookies.get(SESSION_COOKIE)
        if (authorization is None or not authorization.strip()) and session:
            if method.upper() not in SAFE_METHODS and headers.get(UI_HEADER) != "1":
                raise Forbidden(
                    f"a {method.upper()} with the session cookie needs the header "
                    f"{UI_HEADER}: 1 (cross-site request forgery defence)"
                )
            return await self.session(session)
        return await self.authenticate(authorization)

    async def session(self, token_text: str) -> Principal:
        """The caller named by a session cookie's token; raises :class:`Unauthenticated`."""
        try:
            return await self._token(token_text)
        except Unauthenticated as exc:
            raise Unauthenticated(f"session ended ({exc.reason}): log in again") from None

    async def login(self, username: str, password: str) -> Principal:
        """The account proved by ``username`` and ``password`` (the same argon2 check, memory of
        failures and concurrency cap as HTTP Basic); raises :class:`Unauthenticated`."""
        return await self._password(username, password)

    def forget(self, username: str) -> None:
        """Drop what is remembered of ``username``'s passwords (after a change or disable)."""
        for key in [k for k in self._checked if k[0] == username]:
            del self._checked[key]

    # ---- tokens -------------------------------------------------------------------------------

    async def _token(self, text: str) -> Principal:
        if not is_token_text(text):
            raise Unauthenticated("unknown or revoked token")
        found = await self._operators.find_token(token_hash(text))
        if found is None or found.revoked_at is not None:
            raise Unauthenticated("unknown or revoked token")
        now = self._clock.now()
        if is_expired(found.expires_at, now):
            raise Unauthenticated(f"token expired (token {found.name!r}, id {found.id})")
        scope = found.scope
        if found.user_id is not None:
            if found.user_disabled_at is not None or found.user_scope is None:
                raise Unauthenticated(
                    f"token {found.name!r} (id {found.id}) belongs to the disabled user "
                    f"{found.username!r}"
                )
            scope = narrower(scope, found.user_scope)
        await self._touch(found.id, found.last_used_at)
        return Principal(
            scope=scope, username=found.username, token_id=found.id, token_name=found.name
        )

    async def _touch(self, token_id: int, last_used_at: datetime | None) -> None:
        """Write last_used_at at most once per TOKEN_TOUCH_INTERVAL (the store checks it too),
        and only one write per token at a time when a burst of requests arrives."""
        now = self._clock.now()
        if not needs_touch(last_used_at, now) or token_id in self._touching:
            return
        self._touching.add(token_id)
        try:
            await self._operators.touch_token(token_id, now)
        finally:
            self._touching.discard(token_id)

    # ---- passwords ----------------------------------------------------------------------------

    async def _password(self, username: str, password: str) -> Principal:
        credentials = await self._operators.find_credentials(username)
        key = (username, hashlib.sha256(password.encode()).digest())
        if not await self._password_matches(key, credentials, password):
            log.warning("API: wrong username or password for user %r", username[:64])
            raise Unauthenticated("wrong username or password")
        assert credentials is not None  # a match needs an account
        if credentials.disabled_at is not None:
            raise Unauthenticated(f"user {username!r} is disabled")
        return Principal(scope=credentials.scope, username=credentials.username)

    async def _password_matches(
        self,
        key: tuple[str, bytes],
        credentials: OperatorCredentials | None,
        password: str,
    ) -> bool:
        now = self._clock.monotonic()
        stored_hash = None if credentials is None else credentials.password_hash
        remembered = self._checked.get(key)
        if (
            remembered is not None
            and remembered.until > now
            and remembered.password_hash == (stored_hash or "")
        ):
            return remembered.ok
        async with self._password_checks:
            if stored_hash is None:
                await asyncio.to_thread(verify_secret, await self._dummy(), password.encode())
                ok = False
            else:
                try:
                    ok = await asyncio.to_thread(verify_secret, stored_hash, password.encode())
                except MalformedHash as exc:
                    log.error("API: user %r cannot log in: %s", key[0], exc)
                    ok = False
        ttl = VERIFIED_PASSWORD_TTL_S if ok else FAILED_PASSWORD_TTL_S
        self._checked[key] = _Checked(password_hash=stored_hash or "", ok=ok, until=now + ttl)
        self._checked.move_to_end(key)
        while len(self._checked) > MAX_REMEMBERED_PASSWORDS:
            self._checked.popitem(last=False)
        return ok

    async def _dummy(self) -> str:
        """A hash to check unknown usernames against, so they cost what known ones cost."""
        if self._dummy_hash is None:
            self._dummy_hash = await asyncio.to_thread(hash_secret, b"not a password of anyone")
        return self._dummy_hash


def _basic_credentials(value: str) -> tuple[str, str]:
    """RFC 7617 §2: base64 of ``user-id ":" password`` in UTF-8."""
    if len(value) > _MAX_BASIC_LENGTH:
        raise Unauthenticated("malformed Basic credentials: too long")
    try:
        decoded = binascii.a2b_base64(value, strict_mode=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Unauthenticated(
            "malformed Basic credentials: expected base64 of username:password in UTF-8"
        ) from None
    username, colon, password = decoded.partition(":")
    if not colon:
        raise Unauthenticated("malformed Basic credentials: no ':' between username and password")
    return username, password
