"""``GET /api/v1/events``: the live event bus (csms/events.py) as Server-Sent Events.

The stream follows the WHATWG HTML Living Standard §9.2 (Server-sent events): each event is
``id:`` (the bus's sequence on this node), ``event:`` (its type, e.g. ``connector.status``) and
one ``data:`` line holding the JSON of :func:`encode_published`, then a blank line. A browser's
``EventSource`` reconnects by itself and sends the last ``id:`` it saw as ``Last-Event-ID``; the
stream then replays what followed from the bus's replay buffer, or says ``event: gap`` first when
the buffer no longer reaches back that far (or the server restarted). A comment line every
:data:`KEEP_ALIVE_S` keeps proxies from closing an idle stream; ``event: missed`` tells a client
that read too slowly how many events it lost.

Authentication is the route table's, like every route (scope read). The stream ends when the
client goes away (Starlette cancels it) and when the server shuts down (``EventBus.close``), so
uvicorn's graceful shutdown never waits on an open stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from http import HTTPStatus

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from chargedeck.csms.events import EVENT_TYPES, Delivered, EventBus, encode_published
from chargedeck.server.api.auth import Principal
from chargedeck.server.api.common import ApiHandlers, ApiProblem, checked_charge_point_id

KEEP_ALIVE_S = 15.0
"""A comment this often on an idle stream: below the 30-60 s idle time-outs of common reverse
proxies (nginx proxy_read_timeout 60 s, HAProxy timeout server as usually configured)."""

EVENT_STREAM = "text/event-stream"

_ENCODER = msgspec.json.Encoder()


def sse_frame(event: str, data: bytes, event_id: int | None = None) -> bytes:
    """One event of the stream; ``data`` is one line of JSON (no newlines: msgspec's compact
    encoding never writes one)."""
    head = b"" if event_id is None else b"id: %d\n" % event_id
    return head + b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


def delivered_frame(delivered: Delivered) -> bytes:
    published = delivered.published
    return sse_frame(
        str(published.event.__struct_config__.tag),
        encode_published(published),
        delivered.sequence,
    )


def parse_types(text: str | None) -> frozenset[str] | None:
    """The ``types`` filter: a comma list of event types; an unknown one is a 400."""
    if text is None:
        return None
    names = frozenset(name.strip() for name in text.split(",") if name.strip())
    unknown = sorted(names - set(EVENT_TYPES))
    if unknown or not names:
        raise ApiProblem(
            HTTPStatus.BAD_REQUEST,
            "invalid-query",
            f"types={text[:200]!r}: {', '.join(repr(u) for u in unknown) or 'no type'} is not "
            f"an event type; use a comma list of {', '.join(EVENT_TYPES)}",
        )
    return names


def parse_last_event_id(text: str | None) -> int | None:
    """``Last-Event-ID``: an ``id:`` this server sent (a whole number), else a 400."""
    if text is None or text == "":
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise ApiProblem(
            HTTPStatus.BAD_REQUEST,
            "invalid-last-event-id",
            f"Last-Event-ID {text[:40]!r} is not an event id of this stream (a whole number); "
            "reconnect without it to start from now",
        )
    return int(text)


def replay_after(bus: EventBus, last_seen: int) -> tuple[bool, list[Delivered]]:
    """What a client that last saw sequence ``last_seen`` missed, and whether some of it is gone
    (older than the replay buffer, or sent before this server restarted)."""
    if not bus.first_sequence - 1 <= last_seen <= bus.last_sequence:  # another run's id
        return True, bus.since(0)
    gone = bus.oldest_sequence > last_seen + 1
    return gone, bus.since(last_seen)


class EventStream:
    """One client's stream: what it missed (``last_seen``), then live events, as SSE bytes.

    It subscribes when made, before it reads the replay buffer: nothing published in between is
    lost, and what both hold is sent once (by sequence).
    """

    def __init__(
        self,
        bus: EventBus,
        *,
        types: frozenset[str] | None = None,
        charge_point_id: str | None = None,
        last_seen: int | None = None,
        keep_alive_s: float = KEEP_ALIVE_S,
    ) -> None:
        self._bus = bus
        self._charge_point_id = charge_point_id
        self._last_seen = last_seen
        self._keep_alive_s = keep_alive_s
        self._subscription = bus.subscribe(types=types)
        self._gap, self._replay = (False, []) if last_seen is None else replay_after(bus, last_seen)
        self._replayed_up_to = bus.last_sequence  # later events come from the subscription

    def _wanted(self, delivered: Delivered) -> bool:
        return self._subscription.wants(delivered) and (
            self._charge_point_id is None
            or delivered.published.event.charge_point_id == self._charge_point_id
        )

    async def frames(self) -> AsyncIterator[bytes]:
        """Ends when the bus closes (server shutdown); cancelled when the client goes away."""
        subscription = self._subscription
        try:
            if self._gap:
                yield sse_frame(
                    "gap",
                    _ENCODER.encode(
                        {
                            "last_event_id": self._last_seen,
                            "oldest_available": self._bus.oldest_sequence,
                        }
                    ),
                )
            for old in self._replay:
                if self._wanted(old):
                    yield delivered_frame(old)
            # Opens the stream at once, so that a client knows it is subscribed.
            yield b": connected\n\n"
            reported_missed = 0
            while True:
                try:
                    delivered = await asyncio.wait_for(subscription.next(), self._keep_alive_s)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if delivered is None:  # the bus closed: the server is shutting down
                    return
                if subscription.missed > reported_missed:
                    yield sse_frame(
                        "missed",
                        _ENCODER.encode({"missed": subscription.missed - reported_missed}),
                    )
                    reported_missed = subscription.missed
                if delivered.sequence <= self._replayed_up_to or not self._wanted(delivered):
                    continue
                yield delivered_frame(delivered)
        finally:
            subscription.close()


class EventStreamHandlers(ApiHandlers):
    """The SSE stream of live events."""

    async def stream_events(self, request: Request, caller: Principal) -> Response:
        types = parse_types(request.query_params.get("types"))
        charge_point_text = request.query_params.get("charge_point_id")
        charge_point_id = (
            None
            if charge_point_text is None
            else checked_charge_point_id(charge_point_text, HTTPStatus.BAD_REQUEST)
        )
        last_seen = parse_last_event_id(request.headers.get("last-event-id"))
        stream = EventStream(
            self.services.events,
            types=types,
            charge_point_id=charge_point_id,
            last_seen=last_seen,
        )
        return StreamingResponse(
            stream.frames(),
            media_type=EVENT_STREAM,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
