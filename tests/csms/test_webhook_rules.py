"""The rules of csms/webhooks.py that need no server: back-off, signature, URL and type checks,
and which subscription gets which event."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chargedeck.clock import ManualClock
from chargedeck.csms.events import ChargerBooted, EventBus, StatusChanged
from chargedeck.csms.webhooks import (
    MAX_BACKOFF_S,
    backoff_s,
    check_event_types,
    check_webhook_url,
    deliveries_for,
    signature,
)
from chargedeck.store.webhooks import WebhookRecord

AT = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def webhook(webhook_id: int, event_types: str, charge_point_id: str | None = None) -> WebhookRecord:
    return WebhookRecord(
        id=webhook_id,
        name=f"w{webhook_id}",
        url="http://h/",
        secret="s",
        event_types=event_types,
        charge_point_id=charge_point_id,
        enabled=True,
        created_at=AT,
    )


def test_the_back_off_doubles_from_the_base_and_stops_at_one_hour() -> None:
    assert [backoff_s(n, 1.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff_s(13, 1.0) == MAX_BACKOFF_S == 3600.0
    assert backoff_s(10_000, 1.0) == MAX_BACKOFF_S


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    # Reference value: printf '1764144000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
    assert signature("whsec_test", 1764144000, b'{"a":1}') == (
        "sha256=3cf0d81426cfdfa667f69efb74afa9d0fab829b6c8fdddd39d4dbfedecb43c3a"
    )


@pytest.mark.parametrize(
    "url",
    ["http://192.168.1.20:8123/api/webhook/x", "https://ops.example.com/hook?token=1"],
)
def test_absolute_http_urls_are_accepted(url: str) -> None:
    assert check_webhook_url(url) == url


@pytest.mark.parametrize(
    ("url", "sentence"),
    [
        ("ws://h/", "must be an absolute http:// or https:// URL"),
        ("https:///path", "must be an absolute http:// or https:// URL"),
        ("http://h:70000/", "is not a URL"),
        ("http://h/a b", "without spaces"),
    ],
)
def test_other_urls_are_refused_with_a_sentence(url: str, sentence: str) -> None:
    with pytest.raises(ValueError, match=sentence):
        check_webhook_url(url)


def test_event_types_are_stored_as_a_comma_list_or_star() -> None:
    assert check_event_types(["connector.status", " meter.values", "connector.status"]) == (
        "connector.status,meter.values"
    )
    assert check_event_types(["*"]) == check_event_types([]) == "*"
    with pytest.raises(ValueError, match=r"'connector\.exploded' is not an event type"):
        check_event_types(["connector.exploded"])


def test_each_event_goes_to_the_subscriptions_that_want_its_type_and_charger() -> None:
    bus = EventBus(ManualClock(AT))
    booted = bus.publish(
        ChargerBooted(
            charge_point_id="CP1", vendor="V", model="M", firmware_version=None, status="Accepted"
        )
    )
    other = bus.publish(
        StatusChanged(charge_point_id="CP2", connector_id=1, status="Available", error_code="x")
    )
    hooks = [webhook(1, "*"), webhook(2, "connector.status"), webhook(3, "*", "CP1")]
    rows = deliveries_for([booted, other], hooks)
    assert [(r.subscription_id, r.event_id) for r in rows] == [
        (1, booted.id),
        (3, booted.id),
        (1, other.id),
        (2, other.id),
    ]
    assert rows[0].body == rows[1].body
