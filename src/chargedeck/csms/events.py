"""Live events: what happened to chargers, typed, fanned out to whoever listens.

Handlers publish after the durable write (DESIGN §6): an event never announces what the store
could still lose. Listeners are the SSE stream (server/api/events.py), webhooks, MQTT publishing,
metrics and, with ``cluster_url``, the cluster relay (server/cluster.py), which carries every
event published here to the other nodes and hands theirs in with :meth:`EventBus.receive_remote`.

Each event is published on exactly one node (the one holding the charger's connection, or the one
that ran the operator's change): ``local_only`` listeners (webhooks, MQTT) therefore act once per
event in a cluster, while SSE listeners see every node's events.

A listener that falls behind loses its oldest events, never blocks a charger: its queue is
bounded and it is told how many it missed (:attr:`Subscription.missed`).
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections import deque
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import ClassVar

import msgspec

from chargedeck.clock import Clock, SystemClock


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every event: which charger it concerns ("" for site-wide events)."""

    charge_point_id: str


class ChargerConnected(Event, frozen=True, kw_only=True, tag="charger.connected"):
    remote_address: str
    security_profile: int


class ChargerDisconnected(Event, frozen=True, kw_only=True, tag="charger.disconnected"):
    close_code: int | None
    reason: str


class ConnectionRejected(Event, frozen=True, kw_only=True, tag="connection.rejected"):
    """A refused handshake: ``reason`` is the RejectionReason value, ``detail`` the sentence
    with what to change (domain/security.py)."""

    remote_host: str
    reason: str
    detail: str


class ChargerBooted(Event, frozen=True, kw_only=True, tag="charger.booted"):
    vendor: str
    model: str
    firmware_version: str | None
    status: str
    """Accepted, Pending or Rejected: what ChargeDeck answered."""


class StatusChanged(Event, frozen=True, kw_only=True, tag="connector.status"):
    connector_id: int
    status: str
    error_code: str
    info: str | None = None
    vendor_error_code: str | None = None


class TransactionStarted(Event, frozen=True, kw_only=True, tag="transaction.started"):
    connector_id: int
    transaction_id: int
    id_tag: str
    meter_start_wh: int
    started_at: datetime


class TransactionStopped(Event, frozen=True, kw_only=True, tag="transaction.stopped"):
    transaction_id: int
    meter_stop_wh: int
    reason: str
    stopped_at: datetime
    outcome: str
    """stopped, unknown_transaction or already_stopped (recorded for reconciliation)."""


class MeterValuesReceived(Event, frozen=True, kw_only=True, tag="meter.values"):
    """The newest sample of one MeterValues (or transaction data), in SI units; None where the
    charger did not send that measurand."""

    connector_id: int
    transaction_id: int | None
    sampled_at: datetime
    power_w: float | None = None
    energy_wh: float | None = None
    current_a: tuple[float | None, float | None, float | None] | None = None
    """Current.Import per phase L1, L2, L3 (A)."""
    soc_percent: float | None = None
    current_offered_a: float | None = None
    """Current.Offered (A): what the charger says it offers the car; the cluster's site lease
    holder shows it beside a limit that is not honoured (csms/load_control.py)."""


class LimitChanged(Event, frozen=True, kw_only=True, tag="limit.changed"):
    """Load control sent a connector a new limit (0 = paused), with what capped it."""

    connector_id: int
    limit_a: float
    explanation: str


class AlertRaised(Event, frozen=True, kw_only=True, tag="alert.raised"):
    """Something the operator should look at: kind is ``limit-not-honoured``,
    ``connection-rejected``, ``fault`` or ``webhook-failing``."""

    kind: str
    message: str
    connector_id: int | None = None


class AlertCleared(Event, frozen=True, kw_only=True, tag="alert.cleared"):
    kind: str
    message: str
    connector_id: int | None = None


AnyEvent = (
    ChargerConnected
    | ChargerDisconnected
    | ConnectionRejected
    | ChargerBooted
    | StatusChanged
    | TransactionStarted
    | TransactionStopped
    | MeterValuesReceived
    | LimitChanged
    | AlertRaised
    | AlertCleared
)

EVENT_TYPES: tuple[str, ...] = tuple(
    str(cls.__struct_config__.tag)
    for cls in (
        ChargerConnected,
        ChargerDisconnected,
        ConnectionRejected,
        ChargerBooted,
        StatusChanged,
        TransactionStarted,
        TransactionStopped,
        MeterValuesReceived,
        LimitChanged,
        AlertRaised,
        AlertCleared,
    )
)
"""Every event type's wire name, in the order the docs list them."""


class Published(msgspec.Struct, frozen=True, kw_only=True):
    """An event as it travels: stamped once where it happened.

    ``id`` is unique across nodes and restarts (``NODE-INCARNATION-SEQUENCE``, INCARNATION 8
    random hex digits drawn when the process starts): webhook receivers and the webhook delivery
    log (unique subscription and event id) deduplicate on it, so a restart that counts from 1
    again must not reuse an id.
    """

    id: str
    at: datetime
    node: str
    event: AnyEvent


_PUBLISHED_ENCODER = msgspec.json.Encoder()
_PUBLISHED_DECODER = msgspec.json.Decoder(Published)


def encode_published(published: Published) -> bytes:
    """The JSON body of a webhook, an SSE ``data:`` line and a cluster message."""
    return _PUBLISHED_ENCODER.encode(published)


def decode_published(data: bytes) -> Published:
    """Raises msgspec.ValidationError/DecodeError on a body that is not a Published event."""
    return _PUBLISHED_DECODER.decode(data)


class Delivered(msgspec.Struct, frozen=True):
    """What a subscriber receives: the event and its position on this node (SSE ``id:``)."""

    sequence: int
    local: bool
    """Published on this node (False: relayed from another node)."""
    published: Published


class Subscription:
    """One listener's bounded queue; iterate it with ``async for``."""

    QUEUE_SIZE: ClassVar[int] = 1000
    """A browser tab or webhook worker this far behind is too slow: it loses the oldest."""

    def __init__(self, bus: EventBus, *, local_only: bool, types: frozenset[str] | None) -> None:
        self._bus = bus
        self.local_only = local_only
        self.types = types
        self.missed = 0
        """Events dropped because this listener fell more than QUEUE_SIZE behind."""
        self._queue: deque[Delivered] = deque()
        self._wakeup = asyncio.Event()
        self._closed = False

    def wants(self, delivered: Delivered) -> bool:
        if self.local_only and not delivered.local:
            return False
        return self.types is None or delivered.published.event.__struct_config__.tag in self.types

    def set_types(self, types: Iterable[str] | None) -> None:
        """Listen to other event types from now on (None: all); events already queued stay."""
        self.types = None if types is None else frozenset(types)
        self._bus.subscriptions_changed()

    def offer(self, delivered: Delivered) -> None:
        if len(self._queue) >= self.QUEUE_SIZE:
            self._queue.popleft()
            self.missed += 1
        self._queue.append(delivered)
        self._wakeup.set()

    async def next(self) -> Delivered | None:
        """The next event, waiting for one; None once closed."""
        while not self._queue:
            if self._closed:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._queue.popleft()

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()
        self._bus.unsubscribe(self)

    async def __aiter__(self) -> AsyncIterator[Delivered]:
        while (delivered := await self.next()) is not None:
            yield delivered


class EventBus:
    """In-process fan-out with a short replay buffer for reconnecting SSE clients."""

    REPLAY: ClassVar[int] = 1000
    """Events kept for ``Last-Event-ID`` resumption: a browser reconnects within seconds."""

    def __init__(
        self, clock: Clock | None = None, node: str = "local", first_sequence: int | None = None
    ) -> None:
        self.clock = clock
        """Set by CsmsServices to the services' clock when left None."""
        self.node = node
        self.incarnation = secrets.token_hex(4)
        """Part of every event id: ids stay unique when a restarted node counts from 1 again."""
        self.first_sequence = (
            int(SystemClock().now().timestamp() * 1_000_000)
            if first_sequence is None
            else first_sequence
        )
        """Sequences (SSE ``id:``) start at the start time in microseconds: a later run's are
        larger than any of an earlier run's, so a browser resuming with an id of an earlier run
        is told of a gap instead of being replayed the wrong events. (2^53, the largest integer
        JavaScript holds exactly, is reached in the year 2255.)"""
        self._ids = itertools.count(1)
        self._sequence = itertools.count(self.first_sequence)
        self._subscriptions: list[Subscription] = []
        self._wanted: frozenset[str] | None = frozenset()
        """The union of the subscriptions' types, None when one takes all (:meth:`wants`)."""
        self._recent: deque[Delivered] = deque(maxlen=self.REPLAY)
        self._closed = False

    def publish(self, event: AnyEvent) -> Published:
        """Stamp an event that happened on this node and hand it to every listener."""
        published = Published(
            id=f"{self.node}-{self.incarnation}-{next(self._ids)}",
            at=(self.clock or SystemClock()).now(),
            node=self.node,
            event=event,
        )
        self._deliver(published, local=True)
        return published

    def receive_remote(self, published: Published) -> None:
        """An event another node published (cluster relay): to every listener but local_only."""
        if published.node == self.node:
            return
        self._deliver(published, local=False)

    def subscribe(
        self, *, local_only: bool = False, types: Iterable[str] | None = None
    ) -> Subscription:
        """A listener from now on; on a closed bus, one that ends at once."""
        subscription = Subscription(
            self, local_only=local_only, types=None if types is None else frozenset(types)
        )
        if self._closed:
            subscription.close()
        else:
            self._subscriptions.append(subscription)
            self.subscriptions_changed()
        return subscription

    def close(self) -> None:
        """End every subscription (their iterators finish once drained): server shutdown, so
        that open SSE streams end and uvicorn's graceful shutdown does not wait on them forever.
        Publishing afterwards still fills the replay buffer but reaches no listener."""
        self._closed = True
        for subscription in list(self._subscriptions):
            subscription.close()

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
            self.subscriptions_changed()

    def subscriptions_changed(self) -> None:
        """Recompute what :meth:`wants` answers: on (un)subscribing and a change of types, so
        that the hot path's question costs a set lookup."""
        wanted: set[str] = set()
        for subscription in self._subscriptions:
            if subscription.types is None:
                self._wanted = None
                return
            wanted.update(subscription.types)
        self._wanted = frozenset(wanted)

    def wants(self, event_type: str) -> bool:
        """Some listener would receive an event of ``event_type`` (wire name, e.g.
        ``meter.values``): hot paths skip building events nobody would read."""
        wanted = self._wanted
        return wanted is None or event_type in wanted

    def since(self, sequence: int) -> list[Delivered]:
        """Events delivered on this node after ``sequence`` that are still in the replay buffer."""
        return [delivered for delivered in self._recent if delivered.sequence > sequence]

    @property
    def has_listeners(self) -> bool:
        """Anyone subscribed: hot paths skip building events nobody would read."""
        return bool(self._subscriptions)

    @property
    def last_sequence(self) -> int:
        return self._recent[-1].sequence if self._recent else 0

    @property
    def oldest_sequence(self) -> int:
        """The sequence of the oldest event still in the replay buffer (0: none yet): a client
        that last saw an event before ``oldest_sequence - 1`` missed some."""
        return self._recent[0].sequence if self._recent else 0

    def _deliver(self, published: Published, *, local: bool) -> None:
        delivered = Delivered(next(self._sequence), local, published)
        self._recent.append(delivered)
        for subscription in self._subscriptions:
            if subscription.wants(delivered):
                subscription.offer(delivered)
