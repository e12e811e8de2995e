"""The SSE stream's frames (server/api/events.EventStream) over a real EventBus, in memory:
replay, gap, missed, keep-alive and the end at shutdown. The same stream over HTTP from a real
server: tests/server/test_events_stream.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from chargedeck.clock import ManualClock
from chargedeck.csms.events import EventBus, StatusChanged, Subscription
from chargedeck.server.api.events import EventStream

AT = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def status(connector_id: int, charge_point_id: str = "CP1") -> StatusChanged:
    return StatusChanged(
        charge_point_id=charge_point_id,
        connector_id=connector_id,
        status="Available",
        error_code="NoError",
    )


def parse(frame: bytes) -> tuple[str, dict[str, str]]:
    """("event", fields) of an event frame, ("comment", {"text": ...}) of a comment."""
    text = frame.decode()
    if text.startswith(":"):
        return "comment", {"text": text[1:].strip()}
    fields = dict(line.split(": ", 1) for line in text.strip().split("\n"))
    return "event", fields


async def take(frames: AsyncIterator[bytes], count: int) -> list[tuple[str, dict[str, str]]]:
    return [parse(await asyncio.wait_for(anext(frames), 1)) for _ in range(count)]


def connector_of(fields: dict[str, str]) -> int:
    return int(json.loads(fields["data"])["event"]["connector_id"])


async def test_live_events_follow_the_connected_comment_filtered_by_charger() -> None:
    bus = EventBus(ManualClock(AT))
    frames = EventStream(bus, charge_point_id="CP1").frames()
    assert await take(frames, 1) == [("comment", {"text": "connected"})]
    bus.publish(status(1, "CP2"))
    published = bus.publish(status(2))
    [(kind, fields)] = await take(frames, 1)
    assert kind == "event"
    assert fields["event"] == "connector.status"
    assert int(fields["id"]) == bus.last_sequence
    assert json.loads(fields["data"])["id"] == published.id


async def test_a_resumed_stream_replays_what_followed_and_sends_nothing_twice() -> None:
    bus = EventBus(ManualClock(AT))
    for connector_id in range(1, 4):
        bus.publish(status(connector_id))
    first = bus.oldest_sequence
    frames = EventStream(bus, last_seen=first).frames()
    replayed = await take(frames, 3)
    assert [connector_of(f) for _, f in replayed[:2]] == [2, 3]
    assert replayed[2] == ("comment", {"text": "connected"})
    bus.publish(status(4))
    [(_, live)] = await take(frames, 1)
    assert connector_of(live) == 4


async def test_a_last_event_id_older_than_the_buffer_starts_with_a_gap() -> None:
    bus = EventBus(ManualClock(AT), first_sequence=1)
    for connector_id in range(EventBus.REPLAY + 5):
        bus.publish(status(connector_id))
    frames = EventStream(bus, last_seen=2).frames()
    [(kind, gap)] = await take(frames, 1)
    assert (kind, gap["event"]) == ("event", "gap")
    assert json.loads(gap["data"]) == {"last_event_id": 2, "oldest_available": 6}
    [(_, oldest)] = await take(frames, 1)
    assert int(oldest["id"]) == 6


async def test_a_client_that_falls_behind_is_told_how_many_it_missed() -> None:
    bus = EventBus(ManualClock(AT))
    frames = EventStream(bus).frames()
    await take(frames, 1)
    for connector_id in range(Subscription.QUEUE_SIZE + 3):
        bus.publish(status(connector_id))
    (_, missed), (_, next_one) = await take(frames, 2)
    assert (missed["event"], json.loads(missed["data"])) == ("missed", {"missed": 3})
    assert connector_of(next_one) == 3


async def test_an_idle_stream_sends_keep_alive_comments() -> None:
    frames = EventStream(EventBus(ManualClock(AT)), keep_alive_s=0.01).frames()
    assert await take(frames, 2) == [
        ("comment", {"text": "connected"}),
        ("comment", {"text": "keep-alive"}),
    ]


async def test_the_stream_ends_when_the_bus_closes_and_leaves_no_subscriber() -> None:
    bus = EventBus(ManualClock(AT))
    frames = EventStream(bus).frames()
    await take(frames, 1)
    bus.close()
    assert [frame async for frame in frames] == []
    assert not bus.has_listeners


async def test_a_client_that_goes_away_leaves_no_subscriber() -> None:
    bus = EventBus(ManualClock(AT))
    frames = EventStream(bus).frames()
    await take(frames, 1)
    assert bus.has_listeners
    await frames.aclose()  # what Starlette's cancellation on http.disconnect comes to
    assert not bus.has_listeners
