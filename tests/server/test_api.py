"""The operator API maps every mistake to an RFC 9457 problem with its status and a sentence.

Against a real ``chargedeck serve`` shared by the module (policy accept, so a PyPI ``ocpp``
charger can record transactions for the pagination test), called with the admin token the test
helper made (``tests/server/test_api_auth.py`` is about credentials and scopes).
"""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from ocpp.v16 import call

from chargedeck.server.api.app import ROUTES
from tests.support.ocpp_lib_charger import library_charger
from tests.support.server import ServerProcess, running_server

PROBLEM_TYPE_BASE = "https://chargedeck.invalid/problems/"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("api")
    with running_server(
        f"sqlite:///{folder / 'chargedeck.db'}", ["--unknown-charge-points", "accept"], folder
    ) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


def site(server: ServerProcess) -> httpx.Client:
    """A client on the server root: API paths are written out in full (/api/v1/...)."""
    return httpx.Client(
        base_url=server.api_url.removesuffix("/api/v1"), headers=server.auth_headers, timeout=30
    )


def assert_problem(answer: httpx.Response, status: HTTPStatus, path: str | None) -> dict[str, Any]:
    """The answer is a problem document for ``status`` about ``path``; returns its body."""
    assert answer.status_code == status.value, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert body["type"].startswith(PROBLEM_TYPE_BASE)
    assert body["title"] == status.phrase
    assert body["status"] == status.value
    if path is not None:
        assert body["instance"] == path
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


# (method, path with query, JSON body or raw bytes, status, detail; None = the decoder's words)
PROBLEMS: list[tuple[str, str, Any, HTTPStatus, str | None]] = [
    (
        "GET",
        "/api/v1/charge-points/UNKNOWN",
        None,
        HTTPStatus.NOT_FOUND,
        "charge point 'UNKNOWN' is not known to this CSMS",
    ),
    (
        "GET",
        "/api/v1/charge-points/UNKNOWN/status-history",
        None,
        HTTPStatus.NOT_FOUND,
        "charge point 'UNKNOWN' is not known to this CSMS",
    ),
    (
        "GET",
        "/api/v1/transactions/abc",
        None,
        HTTPStatus.BAD_REQUEST,
        "transaction id 'abc' is not a number from 1 to 2147483647",
    ),
    (
        "GET",
        "/api/v1/transactions/-1",
        None,
        HTTPStatus.BAD_REQUEST,
        "transaction id '-1' is not a number from 1 to 2147483647",
    ),
    ("GET", "/api/v1/transactions/999999", None, HTTPStatus.NOT_FOUND, "no transaction 999999"),
    (
        "GET",
        "/api/v1/transactions?limit=0",
        None,
        HTTPStatus.BAD_REQUEST,
        "limit='0': expected an integer from 1 to 500",
    ),
    (
        "GET",
        "/api/v1/transactions?limit=501",
        None,
        HTTPStatus.BAD_REQUEST,
        "limit='501': expected an integer from 1 to 500",
    ),
    (
        "GET",
        "/api/v1/transactions?limit=ten",
        None,
        HTTPStatus.BAD_REQUEST,
        "limit='ten': expected an integer from 1 to 500",
    ),
    (
        "GET",
        "/api/v1/transactions?active=maybe",
        None,
        HTTPStatus.BAD_REQUEST,
        "active='maybe': true or false",
    ),
    (
        "GET",
        "/api/v1/transactions?cursor=x",
        None,
        HTTPStatus.BAD_REQUEST,
        "cursor 'x' is not a number from 1 to 2147483647; use next_cursor of the previous page",
    ),
    (
        "GET",
        "/api/v1/charge-points?registration=maybe",
        None,
        HTTPStatus.BAD_REQUEST,
        "registration='maybe': expected registered or pending",
    ),
    (
        "POST",
        "/api/v1/charge-points",
        b'{"id": "CP1"',
        HTTPStatus.UNPROCESSABLE_ENTITY,
        None,
    ),
    (
        "POST",
        "/api/v1/charge-points",
        {"registration": "registered"},
        HTTPStatus.UNPROCESSABLE_ENTITY,
        None,
    ),
    (
        "POST",
        "/api/v1/charge-points",
        {"id": "C" * 49},
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "charge point id is 49 characters long; at most 48 are allowed",
    ),
    (
        "POST",
        "/api/v1/id-tags",
        {"id_tag": "T" * 21},
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "Expected `str` of length <= 20 - at `$.id_tag`",
    ),
    (
        "POST",
        "/api/v1/charge-points/UNKNOWN/adopt",
        None,
        HTTPStatus.NOT_FOUND,
        "charge point 'UNKNOWN' is not in the inbox",
    ),
    (
        "DELETE",
        "/api/v1/charge-points",
        None,
        HTTPStatus.METHOD_NOT_ALLOWED,
        "DELETE is not allowed on /api/v1/charge-points",
    ),
    (
        "POST",
        "/api/v1/users",
        {"username": "Ana", "scope": "read"},
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "username 'Ana' may contain only lower-case letters a-z, digits, '.', '_' and '-', "
        "and must start with a letter or digit",
    ),
    (
        "POST",
        "/api/v1/users",
        {"username": "ana", "scope": "read", "password": "too-short"},
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "password must be at least 12 characters, got 9",
    ),
    (
        "POST",
        "/api/v1/users",
        {"username": "ana", "scope": "root"},
        HTTPStatus.UNPROCESSABLE_ENTITY,
        None,
    ),
    (
        "POST",
        "/api/v1/users",
        {"username": "admin", "scope": "read"},
        HTTPStatus.CONFLICT,
        "user 'admin' exists already",
    ),
    (
        "POST",
        "/api/v1/users/nobody/password",
        {},
        HTTPStatus.NOT_FOUND,
        "user 'nobody' does not exist",
    ),
    ("DELETE", "/api/v1/users/nobody", None, HTTPStatus.NOT_FOUND, "user 'nobody' does not exist"),
    (
        "DELETE",
        "/api/v1/users/admin",
        None,
        HTTPStatus.CONFLICT,
        "cannot disable 'admin': it is the last enabled admin account; create another admin first",
    ),
    (
        "POST",
        "/api/v1/tokens",
        {"name": "ci", "scope": "read", "expires_days": 0},
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "expiry must be 1 to 3650 days, got 0",
    ),
    (
        "POST",
        "/api/v1/tokens",
        {"name": "ci", "scope": "read", "user": "nobody"},
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "user 'nobody' does not exist or is disabled",
    ),
    (
        "DELETE",
        "/api/v1/tokens/abc",
        None,
        HTTPStatus.BAD_REQUEST,
        "token id 'abc' is not a number from 1 to 2147483647",
    ),
    (
        "DELETE",
        "/api/v1/tokens/999999",
        None,
        HTTPStatus.NOT_FOUND,
        "there is no token with id 999999",
    ),
    ("GET", "/api/v1/nope", None, HTTPStatus.NOT_FOUND, "no route /api/v1/nope"),
    ("GET", "/nope", None, HTTPStatus.NOT_FOUND, "no route /nope"),
]


@pytest.mark.parametrize(
    ("method", "target", "body", "status", "detail"),
    PROBLEMS,
    ids=[f"{p[0]} {p[1]} {p[3].value}" for p in PROBLEMS],
)
def test_each_mistake_is_a_problem_document_with_its_status_and_sentence(
    server: ServerProcess,
    method: str,
    target: str,
    body: Any,
    status: HTTPStatus,
    detail: str | None,
) -> None:
    content = body if isinstance(body, bytes) else None
    json_body = None if isinstance(body, bytes) else body
    with site(server) as client:
        answer = client.request(method, target, content=content, json=json_body)
    problem = assert_problem(answer, status, urlsplit(target).path)
    if detail is not None:
        assert problem["detail"] == detail


def test_an_id_tag_that_differs_only_in_case_is_a_409_conflict(server: ServerProcess) -> None:
    with site(server) as client:
        first = client.post("/api/v1/id-tags", json={"id_tag": "API-DUP", "owner": "Ana"})
        second = client.post("/api/v1/id-tags", json={"id_tag": "api-dup"})
    assert first.status_code == 201, first.text
    problem = assert_problem(second, HTTPStatus.CONFLICT, "/api/v1/id-tags")
    assert problem["detail"] == "id tag 'api-dup' already exists"


def test_a_charge_point_registered_twice_is_a_409_conflict(server: ServerProcess) -> None:
    with site(server) as client:
        first = client.post("/api/v1/charge-points", json={"id": "API-TWICE"})
        second = client.post("/api/v1/charge-points", json={"id": "API-TWICE"})
    assert first.status_code == 201, first.text
    problem = assert_problem(second, HTTPStatus.CONFLICT, "/api/v1/charge-points")
    assert problem["detail"] == "charge point 'API-TWICE' is already registered"


@pytest.mark.parametrize("limit", [1, 500])
def test_the_page_size_limits_themselves_are_accepted(server: ServerProcess, limit: int) -> None:
    with site(server) as client:
        answer = client.get(f"/api/v1/transactions?limit={limit}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"


def test_the_openapi_document_is_3_1_and_lists_every_route_with_its_method(
    server: ServerProcess,
) -> None:
    with site(server) as client:
        answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    document = answer.json()
    assert document["openapi"].startswith("3.1.")
    documented = {
        (path, method.upper()): operation["operationId"]
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert documented == {("/api/v1" + r.path, r.method): r.handler for r in ROUTES}


async def test_transactions_are_paged_newest_first_each_exactly_once(
    server: ServerProcess,
) -> None:
    started_ids = []
    async with library_charger(server.ocpp_url, "API-PAGES") as charger:
        await charger.call(
            call.BootNotification(charge_point_vendor="Wall Box Chargers", charge_point_model="X")
        )
        for minute in range(5):
            started = await charger.call(
                call.StartTransaction(
                    connector_id=1,
                    id_tag="04A2B3C4",
                    meter_start=1000 * (minute + 1),
                    timestamp=f"2026-03-01T10:0{minute}:00Z",
                )
            )
            started_ids.append(started.transaction_id)
    pages: list[list[int]] = []
    cursor: str | None = None
    async with server.async_api_client() as client:
        while len(pages) < 10:
            params = {"charge_point_id": "API-PAGES", "limit": "2"}
            if cursor is not None:
                params["cursor"] = cursor
            answer = await client.get("/transactions", params=params)
            assert answer.status_code == 200, answer.text
            page = answer.json()
            pages.append([t["id"] for t in page["items"]])
            cursor = page["next_cursor"]
            if cursor is None:
                break
    newest_first = sorted(started_ids, reverse=True)
    assert len(set(started_ids)) == 5
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:5]]


# ---- known bugs in src/, reported; each flips to a failure once fixed ----------------------


@pytest.fixture(scope="module")
def scratch_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server for the known-bug tests: they make it log ERROR lines until the bugs are fixed."""
    folder = tmp_path_factory.mktemp("api-bugs")
    with running_server(f"sqlite:///{folder / 'chargedeck.db'}", cwd=folder) as s:
        yield s


BAD_NUMBERS: list[tuple[str, HTTPStatus]] = [
    ("/api/v1/transactions/%C2%B2", HTTPStatus.BAD_REQUEST),  # '²': str.isdigit() is True
    ("/api/v1/transactions/99999999999999999999", HTTPStatus.BAD_REQUEST),  # beyond int32
    ("/api/v1/transactions?cursor=%C2%B2", HTTPStatus.BAD_REQUEST),
    ("/api/v1/transactions?cursor=99999999999999999999", HTTPStatus.BAD_REQUEST),
]


@pytest.mark.parametrize(("target", "status"), BAD_NUMBERS, ids=[b[0] for b in BAD_NUMBERS])
def test_a_number_that_is_not_a_transaction_id_is_a_problem_not_a_500(
    scratch_server: ServerProcess, target: str, status: HTTPStatus
) -> None:
    with site(scratch_server) as client:
        answer = client.get(target)
    assert_problem(answer, status, None)


def test_an_id_tag_expiry_without_a_time_zone_is_a_422(scratch_server: ServerProcess) -> None:
    with site(scratch_server) as client:
        answer = client.post(
            "/api/v1/id-tags", json={"id_tag": "NAIVE", "expiry_date": "2027-01-01T00:00:00"}
        )
    assert_problem(answer, HTTPStatus.UNPROCESSABLE_ENTITY, "/api/v1/id-tags")


def test_a_parent_id_tag_of_21_characters_is_a_422(scratch_server: ServerProcess) -> None:
    with site(scratch_server) as client:
        answer = client.post("/api/v1/id-tags", json={"id_tag": "CHILD", "parent_id_tag": "P" * 21})
    assert_problem(answer, HTTPStatus.UNPROCESSABLE_ENTITY, "/api/v1/id-tags")


def test_a_registered_charge_point_id_is_taken_literally(scratch_server: ServerProcess) -> None:
    with site(scratch_server) as client:
        answer = client.post("/api/v1/charge-points", json={"id": "garage#2"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["id"] == "garage#2"
