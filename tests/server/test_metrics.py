"""GET /metrics: a Prometheus scraper sees charger connections, messages by action and result,
handler latency, group commits and refusals move as a real charger talks to a real server.

One ``chargedeck serve`` for the module (policy accept); a PyPI ``ocpp`` charger talks to it;
the document is read with prometheus_client's own text-format parser.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import ChargingProfileStatus
from websockets.exceptions import InvalidStatus

from tests.support.metrics import metrics_url, scrape, value, wait_until
from tests.support.ocpp_lib_charger import LibraryCharger, library_charger
from tests.support.server import ServerProcess, bearer, create_api_token, running_server

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("metrics")
    with running_server(
        f"sqlite:///{folder / 'chargedeck.db'}", ["--unknown-charge-points", "accept"], folder
    ) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


async def test_a_chargers_messages_move_the_counters_and_histograms(server: ServerProcess) -> None:
    before = scrape(server)
    async with library_charger(server.ocpp_url, "MX-1") as charger:
        await charger.call(
            call.BootNotification(charge_point_model="Pulsar Plus", charge_point_vendor="Wallbox")
        )
        await charger.call(call.Heartbeat())
        await charger.call(call.Heartbeat())
        await charger.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
        )
        during = scrape(server)
        # Async: the charger answers on this test's event loop.
        async with server.async_api_client() as api:
            answer = await api.post(
                "/charge-points/MX-1/commands/ChangeConfiguration",
                json={"key": "HeartbeatInterval", "value": "300"},
            )
            assert answer.status_code == 200, answer.text

    after = wait_until(
        server,
        lambda s: (
            value(s, "chargedeck_connections", transport="ws") == 0
            and value(s, "chargedeck_events_published_total", type="charger.disconnected")
            > value(before, "chargedeck_events_published_total", type="charger.disconnected")
        ),
    )

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    received = "chargedeck_messages_received_total"
    assert moved(received, action="Heartbeat", result="accepted") == 2
    assert moved(received, action="BootNotification", result="accepted") == 1
    assert moved(received, action="StatusNotification", result="accepted") == 1
    assert moved("chargedeck_handler_seconds_count", action="Heartbeat") == 2
    assert moved("chargedeck_handler_seconds_sum", action="Heartbeat") > 0
    assert moved("chargedeck_handler_seconds_bucket", action="Heartbeat", le="+Inf") == 2
    assert (
        moved("chargedeck_messages_sent_total", action="ChangeConfiguration", result="accepted")
        == 1
    )
    assert value(during, "chargedeck_connections", transport="ws") == 1
    assert value(after, "chargedeck_connections", transport="ws") == 0
    assert moved("chargedeck_connection_attempts_total", transport="ws") == 1
    # The boot and the status went through the group commit.
    assert moved("chargedeck_db_batch_rows_count") >= 1
    assert moved("chargedeck_db_batch_rows_sum") >= 2
    assert moved("chargedeck_db_batch_commit_seconds_count") >= 1
    events = "chargedeck_events_published_total"
    assert moved(events, type="charger.booted") == 1
    assert moved(events, type="connector.status") == 1


async def test_a_wrong_password_counts_a_wrong_password_rejection(server: ServerProcess) -> None:
    with server.api_client() as api:
        answer = api.post("/charge-points", json={"id": "MX-PW", "password": PASSWORD})
        assert answer.status_code == 201, answer.text
    before = scrape(server)
    token = base64.b64encode(b"MX-PW:not-the-password-at-all").decode()

    with pytest.raises(InvalidStatus) as refused:
        async with library_charger(
            server.ocpp_url, "MX-PW", headers={"Authorization": f"Basic {token}"}
        ):
            pass

    assert refused.value.response.status_code == 401
    after = scrape(server)
    rejections = "chargedeck_connection_rejections_total"
    assert (
        value(after, rejections, reason="wrong_password")
        - value(before, rejections, reason="wrong_password")
        == 1
    )
    assert value(after, rejections, reason="unknown_charge_point") == value(
        before, rejections, reason="unknown_charge_point"
    )


def test_metrics_need_a_token_of_scope_read(server: ServerProcess) -> None:
    anonymous = httpx.get(metrics_url(server), timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert "metrics_public" in anonymous.json()["detail"]

    samples = scrape(server, bearer(create_api_token(server.database_url, "read", name="scrape")))

    assert ("chargedeck_connections", frozenset({("transport", "ws")})) in samples


async def test_the_message_log_counts_the_frames_it_stored(server: ServerProcess) -> None:
    before = scrape(server)
    async with library_charger(server.ocpp_url, "MX-LOG") as charger:
        await charger.call(call.Heartbeat())
    # Two frames: the Heartbeat CALL and its CALLRESULT, stored within a flush (0.5 s).
    after = wait_until(
        server,
        lambda s: (
            value(s, "chargedeck_message_log_rows_total", outcome="written")
            >= value(before, "chargedeck_message_log_rows_total", outcome="written") + 2
        ),
    )
    written = "chargedeck_message_log_rows_total"
    assert value(after, written, outcome="written") - value(before, written, outcome="written") >= 2
    assert value(after, written, outcome="dropped") == 0


def test_the_metrics_path_is_outside_the_api(server: ServerProcess) -> None:
    with server.api_client() as api:
        assert api.get("/metrics").status_code == 404


async def test_a_refused_call_counts_its_callerror_code(server: ServerProcess) -> None:
    """A CALL of an action ChargeDeck does not know is refused by the session (NotImplemented)
    and counted under action ``unknown``: a charger's garbage makes no new label values."""
    before = scrape(server)
    async with library_charger(server.ocpp_url, "MX-BAD") as charger:
        await charger._connection.send('[2,"x1","NoSuchAction",{}]')
        await asyncio.sleep(0.1)
    after = wait_until(
        server,
        lambda s: (
            value(
                s, "chargedeck_messages_received_total", action="unknown", result="NotImplemented"
            )
            > value(
                before,
                "chargedeck_messages_received_total",
                action="unknown",
                result="NotImplemented",
            )
        ),
    )
    received = "chargedeck_messages_received_total"
    assert (
        value(after, received, action="unknown", result="NotImplemented")
        - value(before, received, action="unknown", result="NotImplemented")
        == 1
    )
    assert ("chargedeck_messages_received_total", frozenset({("action", "NoSuchAction")})) not in {
        (name, frozenset((k, v) for k, v in labels if k == "action")) for name, labels in after
    }


class RefusingCharger(LibraryCharger):
    """Refuses every charging profile (a charger whose smart charging is switched off)."""

    @on("SetChargingProfile")
    def on_set_charging_profile(self, **kwargs: Any) -> Any:
        return call_result.SetChargingProfile(status=ChargingProfileStatus.rejected)


async def test_a_refused_charging_profile_is_counted_by_purpose_and_status(
    server: ServerProcess,
) -> None:
    before = scrape(server)
    async with library_charger(server.ocpp_url, "MX-CP", RefusingCharger) as charger:
        await charger.call(
            call.BootNotification(charge_point_model="Pulsar Plus", charge_point_vendor="Wallbox")
        )
        async with server.async_api_client() as api:
            answer = await api.post(
                "/charge-points/MX-CP/charging-profiles",
                json={
                    "connector_id": 1,
                    "stack_level": 0,
                    "charging_profile_purpose": "TxDefaultProfile",
                    "charging_profile_kind": "Absolute",
                    "charging_schedule": {
                        "charging_rate_unit": "A",
                        "charging_schedule_period": [{"start_period": 0, "limit": 10}],
                    },
                },
            )
    after = scrape(server)

    assert answer.status_code == 200, answer.text
    assert answer.json()["charger_status"] == "Rejected"
    profiles = "chargedeck_charging_profiles_sent_total"
    moved = value(after, profiles, purpose="TxDefaultProfile", result="Rejected") - value(
        before, profiles, purpose="TxDefaultProfile", result="Rejected"
    )
    assert moved == 1, answer.text
