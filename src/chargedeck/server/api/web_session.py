"""The web UI's login: a cookie session for browsers.

A browser's EventSource (the live event stream) cannot send an Authorization header, so
``POST /api/v1/login`` proves an operator's password (the argon2 check of HTTP Basic, with its
memory of failures and its concurrency cap) and answers with an HttpOnly, SameSite=Strict
cookie holding a new API token of that user's scope that expires after
:data:`WEB_SESSION_TTL`. The token is stored like every other token (listed by GET /tokens,
revoked with the user, checked by the same code), so nothing new has to be trusted.
``POST /api/v1/logout`` revokes it and clears the cookie.

Both need the header ``X-ChargeDeck-UI: 1`` (auth.py: UI_HEADER), like every
cookie-authenticated request that changes something.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from chargedeck.domain.operators import Scope, new_token, token_hash, token_prefix
from chargedeck.server.api.auth import SESSION_COOKIE, UI_HEADER, Principal, Unauthenticated
from chargedeck.server.api.common import ApiHandlers, ApiProblem, json_response, read_body
from chargedeck.server.api.views import View

log = logging.getLogger(__name__)

# A working day: a browser left open overnight logs in again the next morning.
WEB_SESSION_TTL: Final = timedelta(hours=12)
# Longer names are not usernames (domain/operators.py allows 64 characters).
_MAX_USERNAME_LENGTH: Final = 64
# An operator password longer than this is not one (argon2 would still check it: no DoS by size).
_MAX_PASSWORD_LENGTH: Final = 256


class LoginBody(View, frozen=True, kw_only=True):
    """Body of POST /login: an operator account's username and password."""

    username: str
    password: str


class SessionView(View, frozen=True, kw_only=True):
    """The session a login opened (the token itself is only in the HttpOnly cookie)."""

    username: str
    scope: Scope
    token_id: int
    expires_at: datetime


class LoggedOutView(View, frozen=True, kw_only=True):
    """What POST /logout did: whether a live session was revoked."""

    revoked: bool


def _require_ui_header(request: Request, what: str) -> None:
    if request.headers.get(UI_HEADER) != "1":
        raise ApiProblem(
            HTTPStatus.FORBIDDEN,
            "ui-header-required",
            f"{what} needs the header {UI_HEADER}: 1 (cross-site request forgery defence)",
        )


def _set_cookie(request: Request, response: Response, value: str, max_age: int) -> None:
    """The session cookie: HttpOnly (no script reads it), SameSite=Strict (no other site sends
    it), Secure when the UI is served over HTTPS (a plain-HTTP LAN UI could not keep it)."""
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


class WebSessionHandlers(ApiHandlers):
    """POST /login and POST /logout (public routes: they authenticate by themselves)."""

    async def login(self, request: Request, caller: Principal | None) -> Response:
        _require_ui_header(request, "POST /api/v1/login")
        body = await read_body(request, LoginBody)
        if not body.username or len(body.username) > _MAX_USERNAME_LENGTH:
            raise ApiProblem(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "invalid-body",
                f"username must be 1 to {_MAX_USERNAME_LENGTH} characters",
            )
        if len(body.password) > _MAX_PASSWORD_LENGTH:
            raise Unauthenticated("wrong username or password")
        who = await self.authenticator.login(body.username, body.password)
        user = await self.services.store.operators.get_user(body.username)
        if user is None or user.disabled_at is not None:  # disabled between check and now
            raise Unauthenticated(f"user {body.username!r} is disabled")
        token = new_token()
        now = self.services.clock.now()
        expires_at = now + WEB_SESSION_TTL
        record = await self.services.store.operators.create_token(
            name=f"web session of {user.username}",
            scope=who.scope,
            token_hash=token_hash(token),
            token_prefix=token_prefix(token),
            now=now,
            user_id=user.id,
            expires_at=expires_at,
        )
        log.info("user %r logged in to the web UI (session token id %d)", user.username, record.id)
        response = json_response(
            SessionView(
                username=user.username, scope=who.scope, token_id=record.id, expires_at=expires_at
            )
        )
        _set_cookie(request, response, token, int(WEB_SESSION_TTL.total_seconds()))
        return response

    async def logout(self, request: Request, caller: Principal | None) -> Response:
        _require_ui_header(request, "POST /api/v1/logout")
        revoked = False
        session = request.cookies.get(SESSION_COOKIE)
        if session:
            try:
                who = await self.authenticator.session(session)
            except Unauthenticated:
                who = None  # expired or revoked already: only the cookie is left to clear
            if who is not None and who.token_id is not None:
                await self.services.store.operators.revoke_token(
                    who.token_id, self.services.clock.now()
                )
                revoked = True
                log.info("%s logged out of the web UI", who.describe())
        response = json_response(LoggedOutView(revoked=revoked))
        _set_cookie(request, response, "", 0)
        return response
