"""The web UI's session and files at the API level (server/api/web_session.py, web_static.py,
setup.py): a login sets an HttpOnly SameSite=Strict cookie holding a 12-hour token, the cookie
authenticates like a bearer token, a cookie-authenticated change needs X-ChargeDeck-UI: 1
(CSRF), logout revokes; the UI's files are public and revalidated by ETag; the add-a-charger
assistant's URLs name the bound OCPP port.

Against a real ``chargedeck serve``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest

from chargedeck.server.api.app import ROUTES
from chargedeck.server.api.setup import lan_address, url_host
from tests.server.test_api import assert_problem
from tests.support.server import ServerProcess, create_api_token, running_server

UI = {"X-ChargeDeck-UI": "1"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("web-session")
    with running_server(f"sqlite:///{folder / 'chargedeck.db'}", cwd=folder) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


@pytest.fixture(scope="module")
def admin_password(server: ServerProcess) -> str:
    password = server.first_admin_password()
    assert password, server.log_text()
    return password


def browser(server: ServerProcess) -> httpx.Client:
    """A client without an Authorization header, keeping cookies like a browser."""
    return httpx.Client(base_url=server.api_url, timeout=30)


def log_in(http: httpx.Client, password: str, username: str = "admin") -> httpx.Response:
    answer = http.post("/login", json={"username": username, "password": password}, headers=UI)
    assert answer.status_code == 200, answer.text
    return answer


def test_login_sets_an_httponly_strict_cookie_for_twelve_hours(
    server: ServerProcess, admin_password: str
) -> None:
    with browser(server) as http:
        answer = log_in(http, admin_password)
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("chargedeck_session=cdk_")
        for attribute in ("HttpOnly", "Max-Age=43200", "Path=/", "SameSite=strict"):
            assert attribute in cookie, cookie
        assert "Secure" not in cookie  # plain-HTTP UI on the LAN: a Secure cookie would be lost
        body = answer.json()
        assert (body["username"], body["scope"]) == ("admin", "admin")
        expires = datetime.fromisoformat(body["expires_at"])
        assert timedelta(hours=11, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=12)
        assert admin_password not in answer.text


def test_the_session_cookie_authenticates_reads_as_its_user(
    server: ServerProcess, admin_password: str
) -> None:
    with browser(server) as http:
        log_in(http, admin_password)
        me = http.get("/me")
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "admin"
    assert me.json()["token_name"] == "web session of admin"


def test_the_session_is_a_token_listed_with_its_expiry(
    server: ServerProcess, admin_password: str
) -> None:
    with browser(server) as http:
        token_id = log_in(http, admin_password).json()["token_id"]
    with server.api_client() as api:
        listed = {t["id"]: t for t in api.get("/tokens").json()["items"]}
    assert listed[token_id]["name"] == "web session of admin"
    assert listed[token_id]["expires_at"] is not None


def test_a_wrong_password_is_401_without_a_basic_challenge(server: ServerProcess) -> None:
    with browser(server) as http:
        answer = http.post("/login", json={"username": "admin", "password": "nope"}, headers=UI)
    problem = assert_problem(answer, HTTPStatus.UNAUTHORIZED, "/api/v1/login")
    assert problem["detail"] == "wrong username or password"
    # A Basic challenge would make the browser open its own password dialog over the UI.
    assert answer.headers["www-authenticate"] == 'Bearer realm="ChargeDeck"'
    assert "set-cookie" not in answer.headers


def test_an_unknown_user_is_refused_like_a_wrong_password(server: ServerProcess) -> None:
    with browser(server) as http:
        answer = http.post("/login", json={"username": "nobody", "password": "x" * 20}, headers=UI)
    assert assert_problem(answer, HTTPStatus.UNAUTHORIZED, None)["detail"] == (
        "wrong username or password"
    )


def test_login_without_the_ui_header_is_403(server: ServerProcess, admin_password: str) -> None:
    with browser(server) as http:
        answer = http.post("/login", json={"username": "admin", "password": admin_password})
    problem = assert_problem(answer, HTTPStatus.FORBIDDEN, "/api/v1/login")
    assert problem["type"].endswith("/ui-header-required")
    assert "X-ChargeDeck-UI: 1" in problem["detail"]


def test_a_login_body_without_a_password_is_422(server: ServerProcess) -> None:
    with browser(server) as http:
        answer = http.post("/login", json={"username": "admin"}, headers=UI)
    problem = assert_problem(answer, HTTPStatus.UNPROCESSABLE_ENTITY, "/api/v1/login")
    assert "password" in problem["detail"]


def test_a_cookie_change_without_the_ui_header_is_403_csrf(
    server: ServerProcess, admin_password: str
) -> None:
    with browser(server) as http:
        log_in(http, admin_password)
        answer = http.post("/charge-points", json={"id": "CSRF-1"})
        listed = http.get("/charge-points").json()["items"]
    problem = assert_problem(answer, HTTPStatus.FORBIDDEN, "/api/v1/charge-points")
    assert problem["detail"] == (
        "a POST with the session cookie needs the header X-ChargeDeck-UI: 1 (cross-site "
        "request forgery defence)"
    )
    assert "CSRF-1" not in {c["id"] for c in listed}


def test_a_cookie_change_with_the_ui_header_is_done(
    server: ServerProcess, admin_password: str
) -> None:
    with browser(server) as http:
        log_in(http, admin_password)
        answer = http.post("/charge-points", json={"id": "UI-1"}, headers=UI)
    assert answer.status_code == 201, answer.text


def test_the_authorization_header_wins_over_the_cookie(server: ServerProcess) -> None:
    """A script with a token needs no CSRF header, whatever cookie it carries."""
    with httpx.Client(
        base_url=server.api_url,
        timeout=30,
        headers=server.auth_headers,
        cookies={"chargedeck_session": "cdk_not-a-session"},
    ) as http:
        answer = http.post("/charge-points", json={"id": "BEARER-1"})
    assert answer.status_code == 201, answer.text


def test_an_expired_session_is_401_asking_to_log_in_again(server: ServerProcess) -> None:
    token = create_api_token(
        server.database_url, name="old session", expires_at=datetime.now(UTC) - timedelta(hours=1)
    )
    with httpx.Client(
        base_url=server.api_url, timeout=30, cookies={"chargedeck_session": token}
    ) as http:
        answer = http.get("/me")
    problem = assert_problem(answer, HTTPStatus.UNAUTHORIZED, "/api/v1/me")
    assert problem["detail"].startswith("session ended (token expired")
    assert problem["detail"].endswith("log in again")


def test_logout_revokes_the_session_and_clears_the_cookie(
    server: ServerProcess, admin_password: str
) -> None:
    with browser(server) as http:
        log_in(http, admin_password)
        session = http.cookies["chargedeck_session"]
        answer = http.post("/logout", headers=UI)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"revoked": True}
    assert 'chargedeck_session=""' in answer.headers["set-cookie"]
    assert "Max-Age=0" in answer.headers["set-cookie"]
    with httpx.Client(
        base_url=server.api_url, timeout=30, cookies={"chargedeck_session": session}
    ) as http:
        after = http.get("/me")
    problem = assert_problem(after, HTTPStatus.UNAUTHORIZED, "/api/v1/me")
    assert problem["detail"] == "session ended (unknown or revoked token): log in again"


def test_logout_without_a_session_only_clears_the_cookie(server: ServerProcess) -> None:
    with browser(server) as http:
        answer = http.post("/logout", headers=UI)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"revoked": False}


def test_logout_without_the_ui_header_is_403(server: ServerProcess, admin_password: str) -> None:
    with browser(server) as http:
        log_in(http, admin_password)
        answer = http.post("/logout")
        still = http.get("/me")
    assert_problem(answer, HTTPStatus.FORBIDDEN, "/api/v1/logout")
    assert still.status_code == 200


def test_a_read_users_session_has_scope_read(server: ServerProcess) -> None:
    with server.api_client() as api:
        created = api.post("/users", json={"username": "viewer", "scope": "read"})
    assert created.status_code == 201, created.text
    with browser(server) as http:
        session = log_in(http, created.json()["password"], "viewer").json()
        answer = http.post("/charge-points", json={"id": "VIEW-1"}, headers=UI)
    assert session["scope"] == "read"
    assert_problem(answer, HTTPStatus.FORBIDDEN, "/api/v1/charge-points")


def test_only_login_and_logout_are_public_in_the_openapi_document(server: ServerProcess) -> None:
    assert {(r.method, r.path) for r in ROUTES if r.public} == {
        ("POST", "/login"),
        ("POST", "/logout"),
    }
    with browser(server) as http:
        paths = http.get("/openapi.json").json()["paths"]
    assert paths["/api/v1/login"]["post"]["security"] == []
    assert paths["/api/v1/logout"]["post"]["security"] == []
    assert paths["/api/v1/setup/charger-url"]["get"]["security"] != []


# ---- the UI's files ---------------------------------------------------------------------------


def site(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.api_url.removesuffix("/api/v1"), timeout=30)


def test_the_root_serves_the_ui_without_credentials(server: ServerProcess) -> None:
    with site(server) as http:
        answer = http.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/web/app.js">' in answer.text
    assert answer.headers["cache-control"] == "no-cache"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_every_web_file_in_the_package_is_served_with_its_type(server: ServerProcess) -> None:
    web = Path(__file__).resolve().parents[2] / "src/chargedeck/server/web"
    names = [p.relative_to(web).as_posix() for p in web.rglob("*.js")]
    assert {"app.js", "lib.js", "plot.js", "pages/login.js", "pages/dashboard.js"} <= set(names)
    with site(server) as http:
        for name in names:
            answer = http.get(f"/web/{name}")
            assert answer.status_code == 200, name
            assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
            assert answer.content == (web / name).read_bytes()
        css = http.get("/web/app.css")
    assert css.headers["content-type"] == "text/css; charset=utf-8"


def test_an_unchanged_file_is_304_by_its_etag(server: ServerProcess) -> None:
    with site(server) as http:
        first = http.get("/web/app.js")
        again = http.get("/web/app.js", headers={"If-None-Match": first.headers["etag"]})
        other = http.get("/web/app.js", headers={"If-None-Match": '"something-else"'})
    assert again.status_code == 304
    assert again.content == b""
    assert other.status_code == 200


@pytest.mark.parametrize("name", ["nope.js", "../api/app.py", "..%2F..%2Fconfig.py", "index.txt"])
def test_a_file_outside_the_ui_is_a_404_problem(server: ServerProcess, name: str) -> None:
    with site(server) as http:
        answer = http.get(f"/web/{name}")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


# ---- the add-a-charger assistant's URLs -------------------------------------------------------


def test_the_charger_url_names_the_bound_port_and_warns_about_loopback(
    server: ServerProcess,
) -> None:
    with server.api_client() as api:
        answer = api.get("/setup/charger-url", params={"charge_point_id": "Garage 1"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["host"] == "127.0.0.1"  # the test server listens for chargers there only
    assert body["host_source"] == "ocpp_host"
    assert body["ws_url"] == f"ws://127.0.0.1:{server.ocpp_port}/ocpp"
    assert body["ws_url_with_id"] == f"ws://127.0.0.1:{server.ocpp_port}/ocpp/Garage%201"
    assert (body["wss_url"], body["tls_enabled"], body["ca_certificate_url"]) == (None, False, None)
    assert "set ocpp_host to 0.0.0.0" in body["warning"]


def test_a_bad_charge_point_id_for_the_url_is_400(server: ServerProcess) -> None:
    with server.api_client() as api:
        answer = api.get("/setup/charger-url", params={"charge_point_id": "a/b"})
    assert_problem(answer, HTTPStatus.BAD_REQUEST, "/api/v1/setup/charger-url")


def test_the_public_host_setting_is_the_host_to_type(tmp_path: Path) -> None:
    with running_server(
        f"sqlite:///{tmp_path / 'chargedeck.db'}",
        ["--public-host", "chargedeck.home.arpa"],
        cwd=tmp_path,
    ) as s:
        with s.api_client() as api:
            body = api.get("/setup/charger-url").json()
        assert s.error_lines() == [], s.log_text()
    assert body["host_source"] == "public_host"
    assert body["ws_url"] == f"ws://chargedeck.home.arpa:{s.ocpp_port}/ocpp"
    assert body["warning"] is None


def test_the_lan_address_is_an_ipv4_address_found_without_sending() -> None:
    parts = lan_address().split(".")
    assert len(parts) == 4
    assert all(p.isdigit() and 0 <= int(p) <= 255 for p in parts)


def test_an_ipv6_host_goes_into_the_url_in_brackets() -> None:
    assert url_host("fd00::5") == "[fd00::5]"
    assert url_host("192.168.1.20") == "192.168.1.20"
    assert url_host("chargedeck.lan") == "chargedeck.lan"
