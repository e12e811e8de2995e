"""Operator access to the API (DESIGN §8): every route needs credentials, a token or a password;
each route needs a scope; secrets never come back out.

Against a real ``chargedeck serve``; the operations are taken from the OpenAPI document it
serves, so a route added to the table is checked without touching this file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
import pytest
from ocpp.routing import on
from ocpp.v16 import call, call_result

from chargedeck.domain.operators import Scope, new_token
from chargedeck.server.api.app import ROUTES
from tests.server.test_api import assert_problem
from tests.support.ocpp_lib_charger import LibraryCharger, library_charger
from tests.support.server import ServerProcess, bearer, create_api_token, running_server

SCOPES = (Scope.READ, Scope.OPERATE, Scope.ADMIN)
# Every path parameter gets a value no row has: a request that gets past the scope check finds
# nothing and changes nothing (no charge point, user, token or transaction 999999).
NOWHERE = "999999"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("api-auth")
    with running_server(
        f"sqlite:///{folder / 'chargedeck.db'}", ["--unknown-charge-points", "accept"], folder
    ) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


@pytest.fixture(scope="module")
def tokens(server: ServerProcess) -> dict[Scope, str]:
    """One service token per scope, made in the store like ``chargedeck tokens create``."""
    return {
        scope: create_api_token(server.database_url, scope.value, name=f"{scope.value}-token")
        for scope in SCOPES
    }


def client(server: ServerProcess, **kwargs: Any) -> httpx.Client:
    """A client on the API (paths relative to /api/v1)."""
    return httpx.Client(base_url=server.api_url, timeout=30, **kwargs)


def site(server: ServerProcess, **kwargs: Any) -> httpx.Client:
    """A client on the server root, for the full paths of the OpenAPI document."""
    return httpx.Client(base_url=server.api_url.removesuffix("/api/v1"), timeout=30, **kwargs)


class Operation:
    """One operation of the served OpenAPI document."""

    def __init__(self, method: str, path: str, operation: dict[str, Any]) -> None:
        self.method = method.upper()
        self.path = path
        self.scope = Scope(operation["x-required-scope"])
        self.security = operation["security"]
        self.target = re.sub(r"{\w+}", NOWHERE, path)

    def __repr__(self) -> str:
        return f"{self.method} {self.path}"

    def send(self, http: httpx.Client, **kwargs: Any) -> httpx.Response:
        body = {} if self.method in ("POST", "PUT", "PATCH") else None
        # A live stream (GET /events) never ends: its status and headers are the answer.
        with http.stream(self.method, self.target, json=body, **kwargs) as answer:
            if answer.headers.get("content-type", "").startswith("text/event-stream"):
                return answer
            answer.read()
            return answer


def served_operations(server: ServerProcess) -> list[Operation]:
    with httpx.Client(timeout=30) as http:
        answer = http.get(server.api_url + "/openapi.json")
    assert answer.status_code == 200, answer.text
    return [
        Operation(method, path, operation)
        for path, operations in answer.json()["paths"].items()
        for method, operation in operations.items()
        # Public routes (web UI login/logout) check credentials themselves:
        # tests/server/test_web_session.py.
        if operation["security"]
    ]


def test_the_openapi_document_is_public_and_declares_bearer_and_basic(
    server: ServerProcess,
) -> None:
    with httpx.Client(timeout=30) as http:
        document = http.get(server.api_url + "/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert {name: (s["type"], s["scheme"]) for name, s in schemes.items()} == {
        "bearerToken": ("http", "bearer"),
        "operatorPassword": ("http", "basic"),
    }
    operations = served_operations(server)
    assert len(operations) == len([r for r in ROUTES if not r.public])
    for operation in operations:
        assert operation.security == [{"bearerToken": []}, {"operatorPassword": []}], operation


def test_the_scope_of_a_route_follows_the_policy() -> None:
    """GET reads; accounts, tokens, webhook subscriptions (their URLs may carry a receiver's
    secret), the effective settings and how chargers authenticate (passwords, security
    profiles, TLS, revocations) are admin; every other change is operate."""
    security = ("/password", "/security-profile", "/tls/reload", "/certificates/revoked")
    for route in (r for r in ROUTES if not r.public):
        if (
            route.path.startswith(("/users", "/tokens", "/settings"))
            or (route.path.startswith("/webhook") and not route.path.endswith("/deliveries"))
            or (route.method != "GET" and route.path.endswith(security))
        ):
            expected = Scope.ADMIN
        elif route.method == "GET":
            expected = Scope.READ
        else:
            expected = Scope.OPERATE
        assert (route.method, route.path, route.scope) == (route.method, route.path, expected)


def test_every_operation_without_credentials_is_401_with_a_challenge(
    server: ServerProcess,
) -> None:
    with site(server) as http:
        for operation in served_operations(server):
            answer = operation.send(http)
            problem = assert_problem(answer, HTTPStatus.UNAUTHORIZED, None)
            assert problem["detail"] == (
                "no credentials: send Authorization: Bearer <token> or Basic"
            ), operation
            challenge = answer.headers["www-authenticate"]
            assert challenge.startswith('Bearer realm="ChargeDeck"'), operation
            assert 'Basic realm="ChargeDeck"' in challenge, operation


def test_every_operation_refuses_a_token_of_a_smaller_scope_with_403(
    server: ServerProcess, tokens: dict[Scope, str]
) -> None:
    checked = 0
    with site(server) as http:
        for operation in served_operations(server):
            for held in SCOPES:
                if held.allows(operation.scope):
                    continue
                answer = operation.send(http, headers=bearer(tokens[held]))
                problem = assert_problem(answer, HTTPStatus.FORBIDDEN, None)
                assert f"{operation} needs scope {operation.scope.value}" in problem["detail"]
                assert problem["detail"].endswith(f"has scope {held.value}"), problem
                checked += 1
    assert checked >= 10  # the operate and admin routes were all there


def test_every_operation_lets_a_token_of_its_own_scope_through(
    server: ServerProcess, tokens: dict[Scope, str]
) -> None:
    with site(server) as http:
        for operation in served_operations(server):
            answer = operation.send(http, headers=bearer(tokens[operation.scope]))
            assert answer.status_code not in (401, 403), (operation, answer.text)
            if answer.headers["content-type"] == "application/problem+json":  # found nothing
                assert answer.json()["instance"] == operation.target, answer.text


# ---- tokens -----------------------------------------------------------------------------------


def test_a_read_token_can_read_but_cannot_send_a_command(
    server: ServerProcess, tokens: dict[Scope, str]
) -> None:
    with client(server, headers=bearer(tokens[Scope.READ])) as http:
        listed = http.get("/charge-points")
        command = http.post("/charge-points/CP1/commands/Reset", json={"type": "Soft"})
    assert listed.status_code == 200, listed.text
    problem = assert_problem(
        command, HTTPStatus.FORBIDDEN, "/api/v1/charge-points/CP1/commands/Reset"
    )
    assert problem["detail"] == (
        "POST /api/v1/charge-points/{charge_point_id}/commands/{action} needs scope operate; "
        f"token 'read-token' (id {token_id(server, tokens[Scope.READ])}) has scope read"
    )


def token_id(server: ServerProcess, token: str) -> int:
    with client(server, headers=bearer(token)) as http:
        me = http.get("/me")
    assert me.status_code == 200, me.text
    identifier: int = me.json()["token_id"]
    return identifier


def test_a_revoked_token_is_401_unknown_or_revoked(server: ServerProcess) -> None:
    token = create_api_token(server.database_url, "read", name="soon-revoked")
    identifier = token_id(server, token)
    with client(server, headers=server.auth_headers) as http:
        revoked = http.delete(f"/tokens/{identifier}")
    with client(server, headers=bearer(token)) as http:
        answer = http.get("/charge-points")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    problem = assert_problem(answer, HTTPStatus.UNAUTHORIZED, "/api/v1/charge-points")
    assert problem["detail"] == "unknown or revoked token"


def test_an_expired_token_is_401_token_expired(server: ServerProcess) -> None:
    yesterday = datetime.now(UTC) - timedelta(days=1)
    token = create_api_token(server.database_url, "admin", name="old", expires_at=yesterday)
    with client(server, headers=bearer(token)) as http:
        answer = http.get("/charge-points")
    problem = assert_problem(answer, HTTPStatus.UNAUTHORIZED, "/api/v1/charge-points")
    assert problem["detail"].startswith("token expired (token 'old', id ")


@pytest.mark.parametrize("text", [new_token(), "not-a-token", ""], ids=["unknown", "junk", "empty"])
def test_a_token_the_store_does_not_know_is_401(server: ServerProcess, text: str) -> None:
    with client(server, headers={"Authorization": f"Bearer {text}".strip()}) as http:
        answer = http.get("/charge-points")
    problem = assert_problem(answer, HTTPStatus.UNAUTHORIZED, "/api/v1/charge-points")
    assert problem["detail"] == "unknown or revoked token"


def test_a_token_never_does_more_than_its_user(server: ServerProcess) -> None:
    with client(server, headers=server.auth_headers) as http:
        created = http.post("/users", json={"username": "viewer", "scope": "read"})
    assert created.status_code == 201, created.text
    token = create_api_token(server.database_url, "admin", name="too-big", user="viewer")
    with client(server, headers=bearer(token)) as http:
        me = http.get("/me")
        users = http.get("/users")
    assert me.json()["scope"] == "read"
    assert_problem(users, HTTPStatus.FORBIDDEN, "/api/v1/users")


def test_a_token_is_answered_once_and_listed_only_by_its_first_characters(
    server: ServerProcess,
) -> None:
    with client(server, headers=server.auth_headers) as http:
        created = http.post("/tokens", json={"name": "home-assistant", "scope": "read"})
        listed = http.get("/tokens")
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    assert token.startswith("cdk_")
    [row] = [t for t in listed.json()["items"] if t["id"] == created.json()["id"]]
    assert row["token_prefix"] == token[:8]
    assert "token" not in row
    assert token not in listed.text


def test_last_used_at_is_written_at_most_once_a_minute(server: ServerProcess) -> None:
    token = create_api_token(server.database_url, "read", name="busy")
    identifier = token_id(server, token)
    with client(server, headers=server.auth_headers) as admin:
        first = admin.get("/tokens").json()["items"]
        with client(server, headers=bearer(token)) as http:
            for _ in range(3):
                assert http.get("/me").status_code == 200
        second = admin.get("/tokens").json()["items"]
    [before] = [t for t in first if t["id"] == identifier]
    [after] = [t for t in second if t["id"] == identifier]
    assert before["last_used_at"] is not None
    assert after["last_used_at"] == before["last_used_at"]


# ---- passwords --------------------------------------------------------------------------------


def test_basic_authentication_with_the_first_admin_password_works(server: ServerProcess) -> None:
    password = server.first_admin_password()
    assert password is not None, server.log_text()
    with client(server, auth=("admin", password)) as http:
        me = http.get("/me")
    assert me.status_code == 200, me.text
    assert me.json() == {
        "username": "admin",
        "scope": "admin",
        "token_id": None,
        "token_name": None,
    }


@pytest.mark.parametrize(
    ("username", "password"),
    [("admin", "not the password"), ("nobody", "not the password")],
    ids=["wrong password", "unknown user"],
)
def test_a_wrong_username_or_password_is_401(
    server: ServerProcess, username: str, password: str
) -> None:
    with client(server, auth=(username, password)) as http:
        answer = http.get("/me")
    problem = assert_problem(answer, HTTPStatus.UNAUTHORIZED, "/api/v1/me")
    assert problem["detail"] == "wrong username or password"
    assert "Basic" in answer.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        ("Basic !!!", "malformed Basic credentials: expected base64 of username:password in UTF-8"),
        ("Basic YWRtaW4=", "malformed Basic credentials: no ':' between username and password"),
        ("Digest x", "unsupported authorization scheme 'Digest'; use Bearer or Basic"),
    ],
)
def test_a_malformed_authorization_header_is_401_saying_what_is_wrong(
    server: ServerProcess, authorization: str, detail: str
) -> None:
    with client(server, headers={"Authorization": authorization}) as http:
        answer = http.get("/me")
    problem = assert_problem(answer, HTTPStatus.UNAUTHORIZED, "/api/v1/me")
    assert problem["detail"] == detail


def test_a_user_sets_their_own_password_but_not_anothers(server: ServerProcess) -> None:
    with client(server, headers=server.auth_headers) as http:
        created = http.post("/users", json={"username": "ops", "scope": "read"})
    assert created.status_code == 201, created.text
    first = created.json()["password"]
    chosen = "a new and long password"
    with client(server, auth=("ops", first)) as http:
        own = http.post("/users/ops/password", json={"password": chosen})
    with client(server, auth=("ops", chosen)) as http:
        other = http.post("/users/admin/password", json={"password": chosen})
        me = http.get("/me")
    with client(server, auth=("ops", first)) as http:
        old = http.get("/me")
    assert own.status_code == 200, own.text
    assert own.json() == {"username": "ops", "password": None}
    assert me.status_code == 200, me.text
    assert old.status_code == 401
    problem = assert_problem(other, HTTPStatus.FORBIDDEN, "/api/v1/users/admin/password")
    assert problem["detail"] == (
        "POST /api/v1/users/{username}/password needs scope admin (or Basic authentication as "
        "that user); user 'ops' has scope read"
    )


def test_a_token_of_a_user_cannot_set_that_users_password(server: ServerProcess) -> None:
    with client(server, headers=server.auth_headers) as http:
        http.post("/users", json={"username": "scripted", "scope": "operate"})
    token = create_api_token(server.database_url, "operate", name="s", user="scripted")
    with client(server, headers=bearer(token)) as http:
        answer = http.post("/users/scripted/password", json={})
    assert_problem(answer, HTTPStatus.FORBIDDEN, "/api/v1/users/scripted/password")


def test_a_disabled_user_can_use_neither_password_nor_tokens(server: ServerProcess) -> None:
    with client(server, headers=server.auth_headers) as http:
        created = http.post("/users", json={"username": "leaver", "scope": "operate"})
        password = created.json()["password"]
        made = http.post(
            "/tokens", json={"name": "leaver-script", "scope": "read", "user": "leaver"}
        )
        token = made.json()["token"]
        with client(server, auth=("leaver", password)) as as_leaver:
            before = as_leaver.get("/me")
        disabled = http.delete("/users/leaver")
    with client(server, auth=("leaver", password)) as http:
        by_password = http.get("/me")
    with client(server, headers=bearer(token)) as http:
        by_token = http.get("/me")
    assert before.status_code == 200, before.text
    assert disabled.json()["disabled_at"] is not None
    assert assert_problem(by_password, HTTPStatus.UNAUTHORIZED, "/api/v1/me")["detail"] == (
        "user 'leaver' is disabled"
    )
    assert assert_problem(by_token, HTTPStatus.UNAUTHORIZED, "/api/v1/me")["detail"].endswith(
        "belongs to the disabled user 'leaver'"
    )


def test_secrets_never_appear_in_the_log(server: ServerProcess, tokens: dict[Scope, str]) -> None:
    with client(server, headers=server.auth_headers) as http:
        user = http.post("/users", json={"username": "quiet", "scope": "read"}).json()
        token = http.post("/tokens", json={"name": "quiet", "scope": "read"}).json()["token"]
    with client(server, auth=("quiet", user["password"])) as http:
        assert http.get("/me").status_code == 200
    with client(server, auth=("quiet", "a wrong password guess")) as http:
        assert http.get("/me").status_code == 401
    with client(server, headers=bearer(token)) as http:
        assert http.get("/me").status_code == 200
    log = server.log_text()
    secrets = [user["password"], token, server.token, "a wrong password guess", *tokens.values()]
    assert [s for s in secrets if s in log] == []
    first_admin_password = server.first_admin_password()
    assert first_admin_password is not None
    assert log.count(first_admin_password) == 1  # the first-start notice, nowhere else


# ---- first start ------------------------------------------------------------------------------


def test_the_first_start_prints_the_admin_password_once_and_later_starts_do_not(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'first.db'}"
    with running_server(database_url, cwd=tmp_path) as first:
        password = first.first_admin_password()
        assert password is not None, first.log_text()
        with client(first, auth=("admin", password)) as http:
            me = http.get("/me")
        notice = [line for line in first.lines if password in line]
    with running_server(database_url, cwd=tmp_path) as second:
        with client(second, auth=("admin", password)) as http:
            again = http.get("/me")
        second_log = second.log_text()
    assert me.status_code == 200, me.text
    assert notice == [f"      {password}"]  # on the console, not a log line
    assert first.log_text().count("shown this once") == 1
    assert "shown this once" not in second_log
    assert second.first_admin_password() is None
    assert again.status_code == 200, again.text


# ---- secrets in charger answers ---------------------------------------------------------------

AUTHORIZATION_KEY = "0123456789abcdef0123"
WEBSOCKET_PASSWORD = "wallbox-ocpp-secret"


class SecretTellingCharger(LibraryCharger):  # type: ignore[misc]
    """Answers GetConfiguration with the secrets a Wallbox reads back (field notes §2.2)."""

    @on("GetConfiguration")
    def on_get_configuration(self, **kwargs: Any) -> Any:
        self.received.append(("GetConfiguration", kwargs))
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": "HeartbeatInterval", "readonly": False, "value": "60"},
                {"key": "AuthorizationKey", "readonly": False, "value": AUTHORIZATION_KEY},
                {"key": "WebSocketPassword", "readonly": False, "value": WEBSOCKET_PASSWORD},
                {"key": "PUK", "readonly": True, "value": "12345678"},
                {"key": "AuthorizationKey", "readonly": False},
            ],
            unknown_key=[],
        )


async def test_get_configuration_answers_show_secret_values_as_stars(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "AUTH-SECRETS", SecretTellingCharger) as charger:
        await charger.call(
            call.BootNotification(
                charge_point_vendor="Wall Box Chargers", charge_point_model="PLP1"
            )
        )
        async with server.async_api_client() as http:
            answer = await http.post(
                "/charge-points/AUTH-SECRETS/commands/GetConfiguration", json={}
            )
    assert answer.status_code == 200, answer.text
    assert answer.json()["response"]["configurationKey"] == [
        {"key": "HeartbeatInterval", "readonly": False, "value": "60"},
        {"key": "AuthorizationKey", "readonly": False, "value": "***"},
        {"key": "WebSocketPassword", "readonly": False, "value": "***"},
        {"key": "PUK", "readonly": True, "value": "***"},
        {"key": "AuthorizationKey", "readonly": False},
    ]
    assert AUTHORIZATION_KEY not in server.log_text()
    assert WEBSOCKET_PASSWORD not in server.log_text()
