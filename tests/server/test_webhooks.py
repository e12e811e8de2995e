"""Webhooks end to end: a real ``chargedeck serve``, a PyPI ``ocpp`` charger causing events, and
a real HTTP receiver on 127.0.0.1 (http.server in a thread) that checks what arrives.

The server runs with a 0.05 s retry base and 3 attempts, so retries take a fraction of a second.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from ocpp.v16 import call

from tests.support.metrics import Samples, value, wait_until
from tests.support.ocpp_lib_charger import library_charger
from tests.support.server import ServerProcess, bearer, create_api_token, running_server

DEADLINE_S = 10.0
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every POST; answers the statuses queued for its path, then 200."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    answers: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    async def wait_for(
        self, path: str, done: Callable[[list[Received]], bool], what: str
    ) -> list[Received]:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            got = self.at(path)
            if done(got):
                return got
            await asyncio.sleep(0.02)
        raise AssertionError(f"{what}: got {[r.json for r in self.at(path)]}")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                state.received.append(Received(self.path, dict(self.headers), body))
                queued = state.answers.get(self.path, [])
                status = queued.pop(0) if queued else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = http.server_address[1]
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        http.shutdown()
        http.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("webhooks")
    with running_server(
        f"sqlite:///{folder / 'chargedeck.db'}",
        [
            "--unknown-charge-points",
            "accept",
            "--webhook-retry-base-s",
            "0.05",
            "--webhook-max-attempts",
            str(MAX_ATTEMPTS),
        ],
        folder,
    ) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    with server.api_client() as client:
        yield client


@pytest.fixture
async def aapi(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with server.async_api_client() as client:
        yield client


def create(api: httpx.Client, **body: Any) -> dict[str, Any]:
    answer = api.post("/webhooks", json=body)
    assert answer.status_code == HTTPStatus.CREATED, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def acreate(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    answer = await api.post("/webhooks", json=body)
    assert answer.status_code == HTTPStatus.CREATED, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def deliveries(api: httpx.AsyncClient, webhook_id: int) -> list[dict[str, Any]]:
    answer = await api.get(f"/webhooks/{webhook_id}/deliveries")
    assert answer.status_code == HTTPStatus.OK, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def assert_signed(received: Received, secret: str) -> None:
    timestamp = received.headers["X-ChargeDeck-Timestamp"]
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    assert received.headers["X-ChargeDeck-Signature"] == f"sha256={expected}"
    assert abs(int(timestamp) - time.time()) < 60
    assert received.headers["X-ChargeDeck-Delivery"] == received.json["id"]
    assert received.headers["X-ChargeDeck-Event"] == received.json["event"]["type"]


async def charge(server: ServerProcess, charge_point_id: str) -> None:
    """Boot, report Available, start and stop a transaction, disconnect."""
    async with library_charger(server.ocpp_url, charge_point_id) as charger:
        await charger.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        await charger.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
        )
        started = await charger.call(
            call.StartTransaction(
                connector_id=1,
                id_tag="04A2BC19",
                meter_start=1000,
                timestamp=datetime.now(UTC).isoformat(),
            )
        )
        await charger.call(
            call.StopTransaction(
                meter_stop=2500,
                timestamp=datetime.now(UTC).isoformat(),
                transaction_id=started.transaction_id,
            )
        )


async def test_a_charging_session_reaches_the_receiver_once_per_event_and_signed(
    server: ServerProcess, aapi: httpx.AsyncClient, receiver: Receiver
) -> None:
    hook = await acreate(aapi, name="session", url=receiver.url("/session"), charge_point_id="WH1")
    await charge(server, "WH1")
    got = await receiver.wait_for(
        "/session",
        lambda got: any(r.json["event"]["type"] == "charger.disconnected" for r in got),
        "no charger.disconnected",
    )
    await asyncio.sleep(0.3)  # a duplicate would arrive within the retry base of 0.05 s
    got = receiver.at("/session")
    # Sent concurrently: the order of arrival is not the order of events (docs/events.md).
    got.sort(key=lambda r: int(r.json["id"].rsplit("-", 1)[1]))
    assert [r.json["event"]["type"] for r in got] == [
        "charger.connected",
        "charger.booted",
        "connector.status",
        "transaction.started",
        "transaction.stopped",
        "charger.disconnected",
    ]
    assert len({r.json["id"] for r in got}) == len(got)
    for received in got:
        assert_signed(received, hook["secret"])
        assert received.json["event"]["charge_point_id"] == "WH1"
    started = got[3].json["event"]
    assert (started["connector_id"], started["meter_start_wh"]) == (1, 1000)
    log = await deliveries(aapi, hook["id"])
    assert sorted((d["status"], d["attempts"]) for d in log) == [("delivered", 1)] * len(got)


async def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt(
    server: ServerProcess, aapi: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.answers["/flaky"] = [500, 500]
    hook = await acreate(
        aapi,
        name="flaky",
        url=receiver.url("/flaky"),
        event_types=["connector.status"],
        charge_point_id="WH2",
    )
    async with library_charger(server.ocpp_url, "WH2") as charger:
        await charger.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        await charger.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing")
        )
    got = await receiver.wait_for("/flaky", lambda got: len(got) >= 3, "fewer than 3 attempts")
    assert len({r.body for r in got}) == 1
    assert {r.headers["X-ChargeDeck-Delivery"] for r in got} == {got[0].json["id"]}
    for received in got:
        assert_signed(received, hook["secret"])

    deadline = time.monotonic() + DEADLINE_S
    while (await deliveries(aapi, hook["id"]))[0]["status"] == "pending":
        assert time.monotonic() < deadline, "still pending"
        await asyncio.sleep(0.02)
    [entry] = await deliveries(aapi, hook["id"])
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("delivered", 3, 200)
    assert entry["event_id"] == got[0].json["id"]


async def test_a_receiver_that_keeps_failing_is_given_up_with_one_alert_then_retried(
    server: ServerProcess, aapi: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.answers["/down"] = [503] * (2 * MAX_ATTEMPTS)
    await acreate(aapi, name="alerts", url=receiver.url("/alerts"), event_types=["alert.raised"])
    await acreate(aapi, name="cleared", url=receiver.url("/cleared"), event_types=["alert.cleared"])
    hook = await acreate(
        aapi,
        name="down",
        url=receiver.url("/down"),
        event_types=["connector.status"],
        charge_point_id="WH3",
    )
    async with library_charger(server.ocpp_url, "WH3") as charger:
        await charger.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        for status in ("Available", "Preparing"):
            await charger.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status=status)
            )
    await receiver.wait_for("/down", lambda got: len(got) >= 2 * MAX_ATTEMPTS, "attempts missing")
    alerts = await receiver.wait_for(
        "/alerts",
        lambda got: any(r.json["event"]["kind"] == "webhook-failing" for r in got),
        "no webhook-failing alert",
    )
    await asyncio.sleep(0.3)
    failing = [r for r in receiver.at("/alerts") if r.json["event"]["kind"] == "webhook-failing"]
    assert len(failing) == 1, [r.json for r in alerts]
    assert "gave up" in failing[0].json["event"]["message"]
    log = await deliveries(aapi, hook["id"])
    assert [(d["status"], d["attempts"], d["last_status_code"]) for d in log] == [
        ("failed", MAX_ATTEMPTS, 503)
    ] * 2
    assert log[0]["last_error"] == "the receiver answered HTTP 503"

    retried = await aapi.post(f"/webhook-deliveries/{log[0]['id']}/retry")
    assert retried.status_code == HTTPStatus.ACCEPTED, retried.text
    await receiver.wait_for("/down", lambda got: len(got) == 2 * MAX_ATTEMPTS + 1, "no retry")
    cleared = await receiver.wait_for("/cleared", lambda got: len(got) >= 1, "no alert.cleared")
    assert cleared[0].json["event"]["kind"] == "webhook-failing"
    again = await aapi.post(f"/webhook-deliveries/{log[0]['id']}/retry")
    assert again.status_code in (HTTPStatus.ACCEPTED, HTTPStatus.CONFLICT), again.text


async def test_a_ping_is_delivered_signed(aapi: httpx.AsyncClient, receiver: Receiver) -> None:
    hook = await acreate(aapi, name="ping", url=receiver.url("/ping"), event_types=["alert.raised"])
    queued = await aapi.post(f"/webhooks/{hook['id']}/test")
    assert queued.status_code == HTTPStatus.ACCEPTED, queued.text
    [ping] = await receiver.wait_for("/ping", lambda got: len(got) >= 1, "no ping")
    assert_signed(ping, hook["secret"])
    assert ping.json["event"] == {
        "type": "webhook.ping",
        "charge_point_id": "",
        "webhook_id": hook["id"],
        "webhook_name": "ping",
    }
    assert ping.json["id"] == queued.json()["event_id"]


def test_a_webhook_is_listed_changed_and_deleted_without_its_secret(api: httpx.Client) -> None:
    hook = create(api, name="crud", url="https://example.com/hook", event_types=["*"])
    assert hook["secret"].startswith("whsec_")
    assert len(hook["secret"]) == len("whsec_") + 64
    listed = [w for w in api.get("/webhooks").json()["items"] if w["id"] == hook["id"]]
    assert listed == [{k: v for k, v in hook.items() if k != "secret"}]
    changed = api.patch(
        f"/webhooks/{hook['id']}",
        json={"enabled": False, "event_types": ["connector.status", "meter.values"]},
    ).json()
    assert (changed["enabled"], changed["event_types"]) == (
        False,
        ["connector.status", "meter.values"],
    )
    assert "secret" not in api.get(f"/webhooks/{hook['id']}").json()
    assert api.delete(f"/webhooks/{hook['id']}").status_code == HTTPStatus.OK
    assert api.get(f"/webhooks/{hook['id']}").status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"name": "x", "url": "ftp://example.com/"}, 422, "absolute http:// or https:// URL"),
        ({"name": "x", "url": "/relative"}, 422, "absolute http:// or https:// URL"),
        ({"name": "x", "url": "http://h:port/"}, 422, "is not a URL"),
        ({"name": "x", "url": "http://[::1/"}, 422, "is not a URL"),
        ({"name": "", "url": "http://h/"}, 422, "webhook name '' must be 1 to 100"),
        (
            {"name": "x", "url": "http://h/", "event_types": ["charger.exploded"]},
            422,
            "'charger.exploded' is not an event type",
        ),
        ({"name": "x", "url": "http://h/", "charge_point_id": "a/b"}, 422, "/"),
        ({"name": "x"}, 422, "missing required field `url`"),
    ],
)
def test_a_bad_webhook_is_refused_with_a_sentence(
    api: httpx.Client, body: dict[str, Any], status: int, detail: str
) -> None:
    answer = api.post("/webhooks", json=body)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert detail in answer.json()["detail"]


def test_names_are_unique_and_unknown_ids_are_404(api: httpx.Client) -> None:
    create(api, name="twice", url="http://example.com/")
    taken = api.post("/webhooks", json={"name": "twice", "url": "http://example.com/"})
    assert taken.status_code == HTTPStatus.CONFLICT
    assert "'twice' exists already" in taken.json()["detail"]
    assert api.get("/webhooks/999999/deliveries").status_code == HTTPStatus.NOT_FOUND
    assert api.post("/webhook-deliveries/999999/retry").status_code == HTTPStatus.NOT_FOUND
    assert api.get("/webhooks/abc").status_code == HTTPStatus.BAD_REQUEST


def test_a_read_token_may_see_deliveries_but_not_webhooks_whose_urls_may_hold_secrets(
    server: ServerProcess, api: httpx.Client
) -> None:
    hook = create(api, name="secret-url", url="http://ha.local/api/webhook/abc123")
    token = create_api_token(server.database_url, "read", name="webhooks-reader")
    with httpx.Client(base_url=server.api_url, headers=bearer(token), timeout=10) as reader:
        listed = reader.get("/webhooks")
        created = reader.post("/webhooks", json={"name": "r", "url": "http://example.com/"})
        log = reader.get(f"/webhooks/{hook['id']}/deliveries")
    assert (listed.status_code, created.status_code) == (HTTPStatus.FORBIDDEN,) * 2
    assert log.status_code == HTTPStatus.OK
    assert "abc123" not in log.text


async def test_a_pending_delivery_is_sent_by_the_next_run_after_a_restart(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.answers["/restart"] = [503]
    database_url = f"sqlite:///{tmp_path / 'chargedeck.db'}"
    # The retry is due 5 s after the refused attempt: the first run has stopped by then.
    args = ["--unknown-charge-points", "accept", "--webhook-retry-base-s", "5"]
    with running_server(database_url, args, tmp_path) as first:
        async with first.async_api_client() as api:
            hook = await acreate(
                api, name="restart", url=receiver.url("/restart"), event_types=["charger.booted"]
            )
            async with library_charger(first.ocpp_url, "WH4") as charger:
                await charger.call(
                    call.BootNotification(charge_point_model="M", charge_point_vendor="V")
                )
            await receiver.wait_for("/restart", lambda got: len(got) == 1, "no first attempt")
            deadline = time.monotonic() + DEADLINE_S
            while (pending := (await deliveries(api, hook["id"]))[0])["attempts"] == 0:
                assert time.monotonic() < deadline, pending
                await asyncio.sleep(0.02)
        assert first.terminate() == 0
        assert first.error_lines() == [], first.log_text()
    assert (pending["status"], pending["attempts"]) == ("pending", 1)
    assert len(receiver.at("/restart")) == 1  # the first run did not send the retry

    with running_server(database_url, args, tmp_path) as second:
        got = await receiver.wait_for("/restart", lambda got: len(got) == 2, "not sent again")
        async with second.async_api_client() as api:
            deadline = time.monotonic() + DEADLINE_S
            while (entry := (await deliveries(api, hook["id"]))[0])["status"] == "pending":
                assert time.monotonic() < deadline, entry
                await asyncio.sleep(0.02)
        assert second.error_lines() == [], second.log_text()
    assert got[0].body == got[1].body
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("delivered", 2, 200)


async def test_metrics_count_attempts_by_result_and_time_requests_and_deliveries(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.answers["/counted"] = [500, 500]
    receiver.answers["/given-up"] = [503] * MAX_ATTEMPTS
    args = ["--webhook-retry-base-s", "0.05", "--webhook-max-attempts", str(MAX_ATTEMPTS)]
    with running_server(f"sqlite:///{tmp_path / 'chargedeck.db'}", args, tmp_path) as server:
        async with server.async_api_client() as api:
            for name in ("counted", "given-up"):
                hook = await acreate(api, name=name, url=receiver.url(f"/{name}"))
                queued = await api.post(f"/webhooks/{hook['id']}/test")
                assert queued.status_code == HTTPStatus.ACCEPTED, queued.text

        def settled(samples: Samples) -> bool:
            return value(samples, "chargedeck_webhook_request_seconds_count") >= 2 * MAX_ATTEMPTS

        samples = wait_until(server, settled)
        assert server.error_lines() == [], server.log_text()
    deliveries_total = "chargedeck_webhook_deliveries_total"
    assert {
        result: value(samples, deliveries_total, result=result)
        for result in ("delivered", "retried", "failed")
    } == {"delivered": 1, "retried": 2 * (MAX_ATTEMPTS - 1), "failed": 1}
    assert value(samples, "chargedeck_webhook_request_seconds_count") == 2 * MAX_ATTEMPTS
    local = value(samples, "chargedeck_webhook_request_seconds_bucket", le="2.5")
    assert local == 2 * MAX_ATTEMPTS  # a receiver on this machine answers in well under 2.5 s
    assert value(samples, "chargedeck_webhook_delivery_seconds_count") == 1
    # Delivered on the third attempt: after the back-offs of 0.05 s and 0.1 s at least.
    assert value(samples, "chargedeck_webhook_delivery_seconds_sum") >= 0.15
