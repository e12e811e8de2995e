"""The live event bus (csms/events.py): fan-out, filters, bounded queues, replay, relay, codec."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from chargedeck.clock import ManualClock
from chargedeck.csms import events
from chargedeck.csms.events import (
    EVENT_TYPES,
    AlertRaised,
    ChargerConnected,
    Delivered,
    EventBus,
    MeterValuesReceived,
    Published,
    StatusChanged,
    Subscription,
    decode_published,
    encode_published,
)

AT = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def status(connector_id: int, charge_point_id: str = "CP1") -> StatusChanged:
    return StatusChanged(
        charge_point_id=charge_point_id,
        connector_id=connector_id,
        status="Available",
        error_code="NoError",
    )


def connected(charge_point_id: str = "CP1") -> ChargerConnected:
    return ChargerConnected(
        charge_point_id=charge_point_id, remote_address="10.0.0.7:5123", security_profile=1
    )


def drain(subscription: Subscription) -> list[Delivered]:
    """What the subscription holds right now, without waiting."""
    out: list[Delivered] = []
    while subscription._queue:
        out.append(subscription._queue.popleft())
    return out


def test_every_subscriber_receives_every_event() -> None:
    bus = EventBus(ManualClock(AT))
    first, second = bus.subscribe(), bus.subscribe()
    bus.publish(status(1))
    bus.publish(status(2))
    for subscription in (first, second):
        assert [d.published.event for d in drain(subscription)] == [status(1), status(2)]


def test_published_event_is_stamped_with_node_time_and_a_node_unique_id() -> None:
    bus = EventBus(ManualClock(AT), node="node-a")
    published = bus.publish(status(1))
    assert (published.node, published.at) == ("node-a", AT)
    assert published.id.startswith("node-a-")
    assert published.id != bus.publish(status(1)).id


def test_event_ids_differ_after_a_restart_that_counts_from_one_again() -> None:
    before = EventBus(ManualClock(AT), node="node-a").publish(status(1))
    after = EventBus(ManualClock(AT), node="node-a").publish(status(1))
    assert before.id != after.id


def test_a_later_run_numbers_its_events_after_every_event_of_an_earlier_run() -> None:
    """Sequences start at the start time in µs: an earlier run would have to publish more than
    one event per µs of its life to overlap (a restart takes seconds)."""
    earlier = EventBus(ManualClock(AT))
    for connector_id in range(10):
        earlier.publish(status(connector_id))
    time.sleep(0.001)
    later = EventBus(ManualClock(AT))
    later.publish(status(1))
    assert later.oldest_sequence > earlier.last_sequence


def test_type_filter_passes_only_the_named_types() -> None:
    bus = EventBus(ManualClock(AT))
    only_status = bus.subscribe(types=["connector.status"])
    bus.publish(connected())
    bus.publish(status(1))
    assert [d.published.event for d in drain(only_status)] == [status(1)]


def test_the_bus_wants_a_type_some_subscription_takes() -> None:
    bus = EventBus(ManualClock(AT))
    assert not bus.wants("meter.values")  # nobody listens

    metrics = bus.subscribe(types=["connector.status", "charger.connected"])
    assert bus.wants("connector.status")
    assert not bus.wants("meter.values")

    everything = bus.subscribe()
    assert bus.wants("meter.values")
    everything.close()
    assert not bus.wants("meter.values")

    metrics.set_types(["meter.values"])
    assert bus.wants("meter.values")
    assert not bus.wants("connector.status")
    metrics.set_types(None)
    assert bus.wants("alert.raised")
    metrics.close()
    assert not bus.wants("alert.raised")


def test_a_closed_bus_wants_nothing() -> None:
    bus = EventBus(ManualClock(AT))
    bus.subscribe()
    bus.close()
    assert not bus.wants("meter.values")
    bus.subscribe()  # ends at once
    assert not bus.wants("meter.values")


def test_local_only_subscribers_skip_events_relayed_from_other_nodes() -> None:
    bus = EventBus(ManualClock(AT), node="node-a")
    local, everything = bus.subscribe(local_only=True), bus.subscribe()
    remote = Published(id="node-b-x-1", at=AT, node="node-b", event=status(1))
    bus.receive_remote(remote)
    bus.publish(status(2))
    assert [d.published.event for d in drain(local)] == [status(2)]
    delivered = drain(everything)
    assert [(d.local, d.published.node) for d in delivered] == [
        (False, "node-b"),
        (True, "node-a"),
    ]


def test_receive_remote_ignores_the_nodes_own_events() -> None:
    bus = EventBus(ManualClock(AT), node="node-a")
    listener = bus.subscribe()
    echo = Published(id="node-a-x-1", at=AT, node="node-a", event=status(1))
    bus.receive_remote(echo)
    assert drain(listener) == []
    assert bus.last_sequence == 0


def test_a_subscriber_that_falls_behind_loses_its_oldest_events_and_counts_them() -> None:
    bus = EventBus(ManualClock(AT))
    slow = bus.subscribe()
    extra = 5
    for connector_id in range(Subscription.QUEUE_SIZE + extra):
        bus.publish(status(connector_id))
    assert slow.missed == extra
    kept = drain(slow)
    assert len(kept) == Subscription.QUEUE_SIZE
    first = kept[0].published.event
    assert isinstance(first, StatusChanged)
    assert first.connector_id == extra


def test_since_replays_what_followed_a_sequence() -> None:
    bus = EventBus(ManualClock(AT), first_sequence=1)
    for connector_id in range(1, 5):
        bus.publish(status(connector_id))
    assert [d.sequence for d in bus.since(2)] == [3, 4]
    assert bus.since(bus.last_sequence) == []


def test_replay_buffer_keeps_the_newest_events_only() -> None:
    bus = EventBus(ManualClock(AT), first_sequence=1)
    for connector_id in range(EventBus.REPLAY + 10):
        bus.publish(status(connector_id))
    assert bus.oldest_sequence == 11
    assert bus.last_sequence == EventBus.REPLAY + 10
    assert len(bus.since(0)) == EventBus.REPLAY


async def test_iterating_a_subscription_waits_for_events_and_ends_when_closed() -> None:
    bus = EventBus(ManualClock(AT), first_sequence=1)
    subscription = bus.subscribe()

    async def collect() -> list[int]:
        return [d.sequence async for d in subscription]

    task = asyncio.create_task(collect())
    await asyncio.sleep(0)
    bus.publish(status(1))
    await asyncio.sleep(0)
    bus.publish(status(2))
    subscription.close()
    assert await asyncio.wait_for(task, 1) == [1, 2]
    assert not bus.has_listeners


async def test_closing_the_bus_ends_every_subscription_and_later_ones_at_once() -> None:
    bus = EventBus(ManualClock(AT))
    open_one = bus.subscribe()
    bus.close()
    assert await asyncio.wait_for(open_one.next(), 1) is None
    assert await asyncio.wait_for(bus.subscribe().next(), 1) is None
    assert not bus.has_listeners


@pytest.mark.parametrize(
    "event",
    [
        connected(),
        status(2),
        MeterValuesReceived(
            charge_point_id="CP1",
            connector_id=1,
            transaction_id=7,
            sampled_at=AT,
            power_w=7360.0,
            energy_wh=1200.5,
            current_a=(16.0, 16.0, None),
            current_offered_a=16.0,
        ),
        AlertRaised(charge_point_id="", kind="webhook-failing", message="receiver answers 500"),
    ],
)
def test_published_events_survive_an_encode_decode_round_trip(event: object) -> None:
    published = EventBus(ManualClock(AT)).publish(event)  # type: ignore[arg-type]
    body = encode_published(published)
    assert decode_published(body) == published
    assert msgspec.json.decode(body)["event"]["type"] in EVENT_TYPES


def test_a_meter_values_event_of_a_node_without_current_offered_still_decodes() -> None:
    # A node of the previous version in the same cluster sends meter.values without the field.
    body = (
        b'{"id":"n1-00000000-1","at":"2026-11-26T08:00:00Z","node":"n1","event":'
        b'{"type":"meter.values","charge_point_id":"CP1","connector_id":1,'
        b'"transaction_id":null,"sampled_at":"2026-11-26T08:00:00Z","current_a":[16.0,null,null]}}'
    )
    event = decode_published(body).event
    assert isinstance(event, MeterValuesReceived)
    assert event.current_a == (16.0, None, None)
    assert event.current_offered_a is None


def test_decoding_a_body_that_is_not_an_event_raises() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_published(b'{"id": "x", "at": "2026-11-26T08:00:00Z", "node": "n", "event": {}}')


def test_the_event_catalogue_documents_every_type_and_field() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "events.md").read_text()
    rows = {line.split("|")[1].strip(" `"): line for line in docs.splitlines() if "| `" in line}
    for event_type in EVENT_TYPES:
        assert event_type in rows, f"docs/events.md has no row for {event_type}"
        [cls] = [
            c
            for c in vars(events).values()
            if isinstance(c, type)
            and issubclass(c, events.Event)
            and c.__struct_config__.tag == event_type
        ]
        for field in msgspec.structs.fields(cls):
            if field.name != "charge_point_id":
                assert f"`{field.name}`" in rows[event_type], f"{event_type}.{field.name}"
