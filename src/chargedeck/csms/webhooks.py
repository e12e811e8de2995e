"""Webhooks: live events POSTed to the operator's URLs, signed, retried, logged (issue 10).

The worker subscribes to the event bus with ``local_only``: each event is published on exactly
one node (csms/events.py), so in a cluster each is turned into deliveries once, by the node
where it happened (issue 9: webhooks fire once, not once per node). Events are collected for
:data:`BATCH_S` and stored as one delivery row per matching subscription in one transaction (a
charger fleet's MeterValues do not cost a transaction per event per subscription); rows are
unique per subscription and event id, so storing one twice is harmless.

Sending reads the rows back: a row is claimed by this node for a while before it is sent, so
nodes sharing the database never send the same row at once, and rows of a node that died are
taken over when its claims run out; pending rows survive a restart.

Each POST carries the event as JSON (:func:`encode_published`) and the headers
``X-ChargeDeck-Event`` (type), ``X-ChargeDeck-Delivery`` (event id, the receiver's
deduplication key), ``X-ChargeDeck-Timestamp`` (unix seconds) and ``X-ChargeDeck-Signature``:
``sha256=`` and the hex HMAC-SHA256 of ``TIMESTAMP.BODY`` under the webhook's secret (the scheme
of Stripe's and GitHub's webhooks: the timestamp in the signed text lets a receiver refuse
replays). A 2xx answer is delivered; anything else is retried after
``webhook_retry_base_s`` doubling up to :data:`MAX_BACKOFF_S`, at most ``webhook_max_attempts``
times, then failed, with one ``webhook-failing`` alert per webhook until a delivery to it
succeeds again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import urllib.parse
import weakref
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import msgspec

from chargedeck.csms.events import (
    EVENT_TYPES,
    AlertCleared,
    AlertRaised,
    EventBus,
    Published,
    Subscription,
    encode_published,
)
from chargedeck.store.errors import StoreError
from chargedeck.store.webhooks import (
    ALL_EVENT_TYPES,
    DELIVERED,
    FAILED,
    PENDING,
    DeliveryRecord,
    NewDelivery,
    WebhookRecord,
)

if TYPE_CHECKING:
    from chargedeck.csms.context import CsmsServices

log = logging.getLogger(__name__)

BATCH_S = 0.1
"""Events wait this long to be stored together: at a fleet's MeterValues rate one transaction
per 100 ms instead of one per event and subscription; a receiver hardly notices 0.1 s."""
MAX_BATCH_EVENTS = 1000
"""Stored at once at most, so that one transaction stays short."""
POLL_S = 1.0
"""How often pending rows are looked for besides this node's own new events: deliveries of
other nodes whose claims ran out, pings and manual retries made through the API."""
REFRESH_TYPES_S = 2.0
"""How often the worker re-reads whether an enabled webhook takes meter.values (its bus
subscription leaves them out otherwise, so that no MeterValues event is built for nobody): a
meter.values webhook created by the CLI or on another node gets them from at most this long
after; every other event type is always taken."""
MAX_IN_FLIGHT = 32
"""Deliveries being sent at once: a slow receiver does not hold up the others."""
MAX_BACKOFF_S = 3600.0
"""The back-off stops doubling at 1 h (issue 10)."""
CLAIM_MARGIN_S = 30.0
"""A claim lasts the attempt's time-out plus this: long enough to record the outcome, short
enough that a dead node's rows move on within a minute."""
MAX_URL_LENGTH = 2000
"""The common practical URL limit (browsers, proxies)."""
MAX_NAME_LENGTH = 100
PING_TYPE = "webhook.ping"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a marker that says what the text is, not a secret)

EVENT_HEADER = "X-ChargeDeck-Event"
DELIVERY_HEADER = "X-ChargeDeck-Delivery"
TIMESTAMP_HEADER = "X-ChargeDeck-Timestamp"
SIGNATURE_HEADER = "X-ChargeDeck-Signature"

RETRIED = "retried"
"""The result of an attempt that failed and will be tried again (a delivery stays pending)."""
RESULTS = (DELIVERED, RETRIED, FAILED)
"""The results of a recorded attempt, as metrics label them (server/metrics.py)."""


# ---- rules for subscriptions (API and CLI) --------------------------------------------------


def check_webhook_name(name: str) -> str:
    """Raises ValueError with a sentence for an empty or too long name."""
    stripped = name.strip()
    if not stripped or len(stripped) > MAX_NAME_LENGTH or not stripped.isprintable():
        raise ValueError(
            f"webhook name {name[:40]!r} must be 1 to {MAX_NAME_LENGTH} printable characters"
        )
    return stripped


def check_webhook_url(url: str) -> str:
    """An absolute http(s) URL with a host; raises ValueError saying what is wrong."""
    if len(url) > MAX_URL_LENGTH or any(c.isspace() for c in url):
        raise ValueError(f"webhook url must be at most {MAX_URL_LENGTH} characters without spaces")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"webhook url {url[:80]!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"webhook url {url[:80]!r} must be an absolute http:// or https:// URL with a host, "
            "e.g. https://example.com/chargedeck"
        )
    del port  # read only to reject a port that is not a number
    try:
        httpx.URL(url)  # what the sender will parse: an IDNA host it cannot encode, a bad port
    except (httpx.InvalidURL, UnicodeError) as exc:
        raise ValueError(f"webhook url {url[:80]!r} is not a URL: {exc}") from None
    return url


def check_event_types(types: Iterable[str]) -> str:
    """The stored form of a subscription's types: ``*`` or a comma list of known types."""
    names = [name.strip() for name in types if name.strip()]
    if not names or names == [ALL_EVENT_TYPES]:
        return ALL_EVENT_TYPES
    unknown = [name for name in names if name not in EVENT_TYPES]
    if unknown:
        raise ValueError(
            f"{', '.join(repr(u) for u in unknown)} is not an event type; use * or some of "
            f"{', '.join(EVENT_TYPES)}"
        )
    return ",".join(dict.fromkeys(names))


def new_secret() -> str:
    """32 random bytes: the HMAC-SHA256 key length RFC 2104 §3 recommends (the hash's size)."""
    return SECRET_PREFIX + secrets.token_hex(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>`` of ``TIMESTAMP.BODY`` under ``secret``: what a receiver recomputes."""
    digest = hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256).hexdigest()
    return "sha256=" + digest


def backoff_s(attempts: int, base_s: float) -> float:
    """Wait after the ``attempts``-th failed attempt: base, 2 base, 4 base ... at most 1 h."""
    return float(min(base_s * 2 ** min(attempts - 1, 32), MAX_BACKOFF_S))


class Ping(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag=PING_TYPE):
    """The event of a test delivery (POST /webhooks/{id}/test)."""

    charge_point_id: str
    webhook_id: int
    webhook_name: str


class PingPublished(msgspec.Struct, frozen=True, kw_only=True):
    """A ping, shaped like every other delivery body (:class:`Published`)."""

    id: str
    at: datetime
    node: str
    event: Ping


def ping_delivery(webhook: WebhookRecord, node: str, now: datetime) -> NewDelivery:
    """A test delivery to ``webhook``, with an id of its own."""
    ping = PingPublished(
        id=f"{node}-ping-{secrets.token_hex(8)}",
        at=now,
        node=node,
        event=Ping(charge_point_id="", webhook_id=webhook.id, webhook_name=webhook.name),
    )
    return NewDelivery(
        subscription_id=webhook.id,
        event_id=ping.id,
        event_type=PING_TYPE,
        body=msgspec.json.encode(ping).decode(),
    )


def deliveries_for(
    events: Iterable[Published], webhooks: Iterable[WebhookRecord]
) -> list[NewDelivery]:
    """One delivery per event and subscription that wants it."""
    hooks = list(webhooks)
    rows: list[NewDelivery] = []
    for published in events:
        event_type = str(published.event.__struct_config__.tag)
        body: str | None = None
        for hook in hooks:
            if hook.wants(event_type, published.event.charge_point_id):
                body = body or encode_published(published).decode()
                rows.append(
                    NewDelivery(
                        subscription_id=hook.id,
                        event_id=published.id,
                        event_type=event_type,
                        body=body,
                    )
                )
    return rows


# ---- the worker -----------------------------------------------------------------------------


def wanted_types(webhooks: Iterable[WebhookRecord]) -> frozenset[str] | None:
    """What the worker listens to: every event type, but meter.values only while an enabled
    webhook takes it (None: everything). meter.values is the one frequent event (one per
    MeterValues), so no such event is built for nobody; every other type is always taken, so a
    webhook created on another node or by the CLI misses none of them while the worker has not
    re-read the webhooks yet."""
    for hook in webhooks:
        if hook.event_types == ALL_EVENT_TYPES or _METER_VALUES in hook.event_types.split(","):
            return None
    return _ALL_BUT_METER_VALUES


_METER_VALUES = "meter.values"
_ALL_BUT_METER_VALUES = frozenset(EVENT_TYPES) - {_METER_VALUES}


_WORKERS: weakref.WeakKeyDictionary[EventBus, WebhookWorker] = weakref.WeakKeyDictionary()
"""The running worker of each bus (one a server): found by :func:`changing_webhooks`."""


@contextlib.asynccontextmanager
async def changing_webhooks(services: CsmsServices) -> AsyncIterator[None]:
    """Wrap a change of webhooks on this node (API): until it is done and re-read, the worker
    takes every event, so a webhook created now gets every event published after it."""
    worker = _WORKERS.get(services.events)
    if worker is None:
        yield
        return
    worker.webhooks_changing(+1)
    try:
        yield
    finally:
        worker.webhooks_changing(-1)


class AttemptOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """One recorded attempt, as the worker's observer sees it (for metrics)."""

    result: str
    """One of :data:`RESULTS`."""
    request_s: float
    """The POST's round trip in seconds, up to ``webhook_timeout_s`` when nothing answered."""
    delivery_s: float | None
    """Seconds from the delivery being stored to being delivered; None unless delivered."""


class WebhookWorker:
    """Stores this node's events as deliveries and sends due deliveries; start and stop it in
    the composition root (server/app.py)."""

    def __init__(self, services: CsmsServices, client: httpx.AsyncClient | None = None) -> None:
        self._services = services
        # Redirects are not followed (a 3xx is not delivered: the operator fixes the URL);
        # HTTPS_PROXY/NO_PROXY from the environment are honoured, as curl does.
        self._client = client or httpx.AsyncClient(follow_redirects=False)
        self._subscription: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wakeup = asyncio.Event()
        self._failing: set[int] = set()
        """Webhooks with an open ``webhook-failing`` alert (raised once until one succeeds)."""
        self.attempts: dict[str, int] = dict.fromkeys(RESULTS, 0)
        """Recorded attempts of this node by result (:data:`RESULTS`), since it started."""
        self.observer: Callable[[AttemptOutcome], None] | None = None
        """Called after each recorded attempt (server/metrics.py times them)."""
        self._changes_open = 0
        """Changes of webhooks under way (:func:`changing_webhooks`): no narrowing meanwhile."""
        self._changes_seen = 0
        """Counts the starts and ends of changes: a re-read that overlapped one is not used."""
        self._refresh = asyncio.Event()

    @property
    def node(self) -> str:
        return self._services.events.node

    def start(self) -> None:
        # Every type until the webhooks are read (_follow_webhooks narrows it at once).
        self._subscription = self._services.events.subscribe(local_only=True)
        _WORKERS[self._services.events] = self
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._store_events(self._subscription), name="webhooks-store"),
            loop.create_task(self._send_due(), name="webhooks-send"),
            loop.create_task(self._follow_webhooks(self._subscription), name="webhooks-types"),
        ]

    def webhooks_changing(self, delta: int) -> None:
        """A change of webhooks starts (+1) or ends (-1): take every event until it is re-read."""
        self._changes_open += delta
        self._changes_seen += 1
        if self._subscription is not None and self._subscription.types is not None:
            self._subscription.set_types(None)
        self._refresh.set()

    async def _follow_webhooks(self, subscription: Subscription) -> None:
        """Keep the subscription's types the union of the enabled webhooks' (re-read every
        REFRESH_TYPES_S and after each change made through this node's API)."""
        store = self._services.store.webhooks
        while True:
            self._refresh.clear()
            seen = self._changes_seen
            try:
                types = wanted_types(await store.enabled_webhooks())
                # A change that overlapped the read wakes this loop again when it ends.
                unchanged = self._changes_open == 0 and self._changes_seen == seen
                if unchanged and types != subscription.types:
                    subscription.set_types(types)
            except StoreError as exc:
                log.warning("webhooks: cannot read which events webhooks take: %s", exc)
            except Exception:  # a bug must not stop following the webhooks (logged)
                log.exception("webhooks: reading which events webhooks take failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._refresh.wait(), REFRESH_TYPES_S)

    async def stop(self) -> None:
        """Store the events still held (the bus closed first, or this closes the subscription),
        stop sending and give this node's claims up so a restart sends them at once."""
        if self._subscription is not None:
            self._subscription.close()
        if _WORKERS.get(self._services.events) is self:
            del _WORKERS[self._services.events]
        if self._tasks:
            store_task, send_task, types_task = self._tasks
            await asyncio.wait({store_task}, timeout=5.0)
            for task in (store_task, send_task, types_task, *self._in_flight):
                task.cancel()
            await asyncio.gather(
                store_task, send_task, types_task, *self._in_flight, return_exceptions=True
            )
            self._tasks = []
        await self._client.aclose()
        try:
            await self._services.store.webhooks.release_claims(self.node)
        except StoreError as exc:
            log.warning("webhooks: could not release this node's claims: %s", exc)

    # ---- events in --------------------------------------------------------------------------

    async def _store_events(self, subscription: Subscription) -> None:
        loop = asyncio.get_running_loop()
        closed = False
        while not closed:
            first = await subscription.next()
            if first is None:
                return
            batch = [first.published]
            deadline = loop.time() + BATCH_S
            while len(batch) < MAX_BATCH_EVENTS:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    more = await asyncio.wait_for(subscription.next(), remaining)
                except TimeoutError:
                    break
                if more is None:
                    closed = True
                    break
                batch.append(more.published)
            if subscription.missed:
                log.warning(
                    "webhooks: %d events were dropped before they could be stored "
                    "(the store is too slow for the event rate)",
                    subscription.missed,
                )
                subscription.missed = 0
            await self._store_batch(batch)

    async def _store_batch(self, batch: list[Published]) -> None:
        store = self._services.store.webhooks
        try:
            # Read per batch (at most 10 a second), not cached: a webhook created on any node
            # gets every event stored after its creation.
            hooks = await store.enabled_webhooks()
            rows = deliveries_for(batch, hooks)
            if rows:
                await store.add_deliveries(rows, self._services.clock.now())
                self._wakeup.set()
        except StoreError as exc:
            log.error("webhooks: %d events not stored for delivery: %s", len(batch), exc)
        except Exception:  # a bug loses this batch, not every later event (logged)
            log.exception("webhooks: %d events not stored for delivery", len(batch))

    # ---- deliveries out ---------------------------------------------------------------------

    async def _send_due(self) -> None:
        """Claim and start what is due; otherwise sleep until the next delivery is due (at most
        POLL_S), or until new deliveries are stored or an attempt ends."""
        store = self._services.store.webhooks
        settings = self._services.settings
        while True:
            self._wakeup.clear()
            now = self._services.clock.now()
            wait_s = POLL_S
            try:
                # A read first: an idle server takes no write lock (SQLite) once a second.
                next_due = await store.next_due(now)
                room = MAX_IN_FLIGHT - len(self._in_flight)
                if next_due is not None and next_due <= now and room > 0:
                    claimed = await store.claim_due(
                        self.node,
                        now,
                        now + timedelta(seconds=settings.webhook_timeout_s + CLAIM_MARGIN_S),
                        room,
                    )
                    for delivery, hook in claimed:
                        task = asyncio.get_running_loop().create_task(self._attempt(delivery, hook))
                        self._in_flight.add(task)
                        task.add_done_callback(self._attempt_done)
                    if claimed:
                        continue
                    # Taken by another node in between: look again after POLL_S.
                elif next_due is not None and room > 0:
                    wait_s = min(POLL_S, (next_due - now).total_seconds())
            except StoreError as exc:
                log.warning("webhooks: cannot read pending deliveries: %s", exc)
            except Exception:  # a bug must not stop every later delivery (logged)
                log.exception("webhooks: looking for due deliveries failed unexpectedly")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), max(wait_s, 0.001))

    def _attempt_done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wakeup.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("webhooks: delivery failed unexpectedly", exc_info=task.exception())

    async def _attempt(self, delivery: DeliveryRecord, hook: WebhookRecord) -> None:
        settings = self._services.settings
        clock = self._services.clock
        body = delivery.body.encode()
        timestamp = int(clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "ChargeDeck-Webhooks",
            EVENT_HEADER: delivery.event_type,
            DELIVERY_HEADER: delivery.event_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(hook.secret, timestamp, body),
        }
        status_code: int | None = None
        error: str | None = None
        started = clock.monotonic()
        try:
            answer = await self._client.post(
                hook.url, content=body, headers=headers, timeout=settings.webhook_timeout_s
            )
            status_code = answer.status_code
            if not 200 <= status_code < 300:
                error = f"the receiver answered HTTP {status_code}"
        except httpx.TimeoutException:
            error = f"no answer within webhook_timeout_s ({settings.webhook_timeout_s:g} s)"
        except httpx.HTTPError as exc:  # connection refused, DNS, TLS, protocol errors
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        except (httpx.InvalidURL, UnicodeError) as exc:  # a URL stored before it was checked
            error = f"the webhook url cannot be used: {exc}"
        request_s = clock.monotonic() - started
        attempts = delivery.attempts + 1
        now = clock.now()
        next_attempt_at: datetime | None = None
        if error is None:
            status = DELIVERED
        elif attempts >= settings.webhook_max_attempts:
            status = FAILED
        else:
            status = PENDING
            next_attempt_at = now + timedelta(
                seconds=backoff_s(attempts, settings.webhook_retry_base_s)
            )
        try:
            recorded = await self._services.store.webhooks.record_attempt(
                delivery.id,
                self.node,
                status=status,
                attempts=attempts,
                status_code=status_code,
                error=error,
                next_attempt_at=next_attempt_at,
                now=now,
            )
        except StoreError as exc:
            log.warning("webhooks: outcome of delivery %d not stored: %s", delivery.id, exc)
            return
        if not recorded:
            return  # another node took the delivery over: its attempt counts, not this one
        result = RETRIED if status == PENDING else status
        self.attempts[result] += 1
        if self.observer is not None:
            delivery_s = (
                max(0.0, (now - delivery.created_at).total_seconds())
                if status == DELIVERED
                else None
            )
            self.observer(AttemptOutcome(result=result, request_s=request_s, delivery_s=delivery_s))
        if status == FAILED:
            log.warning(
                "webhook %r: delivery %d (%s) failed after %d attempts: %s",
                hook.name,
                delivery.id,
                delivery.event_type,
                attempts,
                error,
            )
            if hook.id not in self._failing:
                self._failing.add(hook.id)
                self._services.events.publish(
                    AlertRaised(
                        charge_point_id="",
                        kind="webhook-failing",
                        # The name, not the URL: a URL may carry a secret (the alert reaches
                        # read-scope SSE clients, MQTT and other webhooks).
                        message=f"webhook {hook.name!r} gave up on delivery "
                        f"{delivery.id} of {delivery.event_type} after {attempts} attempts: "
                        f"{error}; fix the receiver, then retry it with POST "
                        f"/api/v1/webhook-deliveries/{delivery.id}/retry",
                    )
                )
        elif status == DELIVERED and hook.id in self._failing:
            self._failing.discard(hook.id)
            self._services.events.publish(
                AlertCleared(
                    charge_point_id="",
                    kind="webhook-failing",
                    message=f"webhook {hook.name!r} delivers again",
                )
            )
