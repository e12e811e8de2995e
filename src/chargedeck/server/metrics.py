"""Prometheus metrics of one ``chargedeck serve`` process, served at ``GET /metrics``.

Every metric lives in this object's own ``CollectorRegistry`` (never the global one: tests and
the simulator run several servers in one process). The OCPP path runs about 4,000 messages/s,
so its hooks are a dict lookup of a pre-bound label child and one ``inc``/``observe``: label
children are made once per (action, result) and cached.

Counters that other parts already keep (the batch writer's hook, the message log writer's
row counts) are read at scrape time or handed in by a callback; live events (alerts, events by
type) come from a subscription to the event bus (csms/events.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chargedeck.csms.events import EVENT_TYPES, AlertRaised, EventBus, Subscription
from chargedeck.csms.message_log import MessageLogWriter
from chargedeck.csms.webhooks import RESULTS, AttemptOutcome, WebhookWorker
from chargedeck.domain.operators import Scope
from chargedeck.ocpp.errors import ErrorCode
from chargedeck.ocpp.v16.actions import ACTIONS
from chargedeck.server.api.auth import (
    WWW_AUTHENTICATE,
    Authenticator,
    Forbidden,
    Unauthenticated,
)
from chargedeck.server.api.common import ApiProblem, problem_response
from chargedeck.store.errors import StoreUnavailable

CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4
"""Prometheus text format 0.0.4."""

# Handler latency from 0.1 ms (a Heartbeat answered from memory) to 5 s (a store that stalls;
# a charger gives up after its own time-out, typically 30 s).
LATENCY_BUCKETS: Final = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
# Batch writer: one row (a quiet system) to its cap of 500 rows (store/batch_writer.py).
BATCH_ROW_BUCKETS: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500)
# A batch commits in 1-40 ms on the reference machine; 50 ms is its budget.
COMMIT_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
# A webhook POST: 10 ms (a receiver on the LAN) to 30 s (webhook_timeout_s is 10 s by default).
WEBHOOK_REQUEST_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Stored to delivered: tens of ms (a first attempt to a receiver on the LAN) to 4 h (retries
# back off from webhook_retry_base_s = 1 s doubling up to 1 h, csms/webhooks.py).
WEBHOOK_DELIVERY_BUCKETS: Final = (
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    14400.0,
)

COUNTED_EVENT_TYPES: Final = tuple(kind for kind in EVENT_TYPES if kind != "meter.values")
"""The event types ``chargedeck_events_published_total`` counts."""

ACCEPTED: Final = "accepted"
TIMEOUT: Final = "timeout"
INVALID_RESPONSE: Final = "invalid_response"
DISCONNECTED: Final = "disconnected"
CANCELLED: Final = "cancelled"
"""The caller stopped waiting (e.g. the API client went away) before the charger answered."""
UNKNOWN_ACTION: Final = "unknown"
"""The action label of a CALL whose action is not an OCPP 1.6 action: a charger sending
garbage must not create a label value per garbage string."""


INVALID_CODE: Final = "invalid_code"
"""The result label of a CALLERROR whose code is not one of OCPP-J 1.6 §4.2.3."""
_ERROR_CODES: Final = frozenset(code.value for code in ErrorCode)


def action_label(name: str | None) -> str:
    """The action as a label value: an OCPP 1.6 action name, else ``unknown``."""
    return name if name is not None and name in ACTIONS else UNKNOWN_ACTION


def error_code_label(code: str) -> str:
    """A charger's CALLERROR code as a label value: a §4.2.3 code, else ``invalid_code``."""
    return code if code in _ERROR_CODES else INVALID_CODE


class _ReadAtScrape(Collector):
    """A counter family read at scrape time from counts another part keeps as plain numbers
    (the message log writer, the webhook worker: csms/ imports no metrics library)."""

    def __init__(
        self,
        name: str,
        documentation: str,
        label: str,
        read: Callable[[], Iterable[tuple[str, float]]],
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._label = label
        self._read = read

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self._name, self._documentation, labels=[self._label])
        for label_value, count in self._read():
            family.add_metric([label_value], count)
        yield family


class Metrics:
    """The metrics and the hooks the edges call."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self._connections = Gauge(
            "chargedeck_connections",
            "Charger WebSocket connections open now, by transport (ws or wss)",
            ["transport"],
            registry=registry,
        )
        self._attempts = Counter(
            "chargedeck_connection_attempts",
            "Charger WebSocket upgrade requests, by transport (ws or wss)",
            ["transport"],
            registry=registry,
        )
        self._rejections = Counter(
            "chargedeck_connection_rejections",
            "Refused charger connections, by reason (domain/security.py RejectionReason; "
            "invalid_request for a bad URL, unavailable while the store or server cannot serve)",
            ["reason"],
            registry=registry,
        )
        self._received = Counter(
            "chargedeck_messages_received",
            "CALLs from chargers, by action and ChargeDeck's answer (accepted: a CALLRESULT, "
            "else the CALLERROR code)",
            ["action", "result"],
            registry=registry,
        )
        self._sent = Counter(
            "chargedeck_messages_sent",
            "CALLs to chargers, by action and the charger's answer (accepted: a CALLRESULT, "
            "else the CALLERROR code, timeout, invalid_response, disconnected or cancelled)",
            ["action", "result"],
            registry=registry,
        )
        self._handler = Histogram(
            "chargedeck_handler_seconds",
            "Time from a charger's CALL to ChargeDeck's answer being ready, by action",
            ["action"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._batch_rows = Histogram(
            "chargedeck_db_batch_rows",
            "Rows per group commit of the batch writer (MeterValues, StatusNotification, boots)",
            buckets=BATCH_ROW_BUCKETS,
            registry=registry,
        )
        self._batch_commit = Histogram(
            "chargedeck_db_batch_commit_seconds",
            "Time one group commit of the batch writer took",
            buckets=COMMIT_BUCKETS,
            registry=registry,
        )
        self._profiles = Counter(
            "chargedeck_charging_profiles_sent",
            "SetChargingProfile calls, by chargingProfilePurpose and the charger's answer",
            ["purpose", "result"],
            registry=registry,
        )
        self._alerts = Counter(
            "chargedeck_alerts_raised",
            "Alerts raised (limit-not-honoured, connection-rejected, fault, ...), by kind",
            ["kind"],
            registry=registry,
        )
        self._events = Counter(
            "chargedeck_events_published",
            "Live events published on this node, by type (csms/events.py; all but meter.values, "
            "counted as MeterValues messages)",
            ["type"],
            registry=registry,
        )
        self._webhook_request = Histogram(
            "chargedeck_webhook_request_seconds",
            "Round trip of one webhook POST (to webhook_timeout_s when nothing answered)",
            buckets=WEBHOOK_REQUEST_BUCKETS,
            registry=registry,
        )
        self._webhook_delivery = Histogram(
            "chargedeck_webhook_delivery_seconds",
            "Time from a webhook delivery being stored to its receiver accepting it, retries "
            "included",
            buckets=WEBHOOK_DELIVERY_BUCKETS,
            registry=registry,
        )
        self._received_children: dict[tuple[str, str], Counter] = {}
        self._sent_children: dict[tuple[str, str], Counter] = {}
        self._handler_children: dict[str, Histogram] = {}
        self._ws = self._connections.labels("ws")
        self._wss = self._connections.labels("wss")
        self._attempts_ws = self._attempts.labels("ws")
        self._attempts_wss = self._attempts.labels("wss")
        self._event_task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None

    # ---- hooks of the charger edge (server/ocpp_ws.py) ----------------------------------

    def connection_attempted(self, tls: bool) -> None:
        (self._attempts_wss if tls else self._attempts_ws).inc()

    def connection_rejected(self, reason: str) -> None:
        self._rejections.labels(reason).inc()

    def connection_opened(self, tls: bool) -> None:
        (self._wss if tls else self._ws).inc()

    def connection_closed(self, tls: bool) -> None:
        (self._wss if tls else self._ws).dec()

    def message_received(self, action: str, result: str, seconds: float) -> None:
        """A charger's CALL and how it was answered; ``seconds`` spent until the answer."""
        self.message_refused(action, result)
        histogram = self._handler_children.get(action)
        if histogram is None:
            histogram = self._handler_children[action] = self._handler.labels(action)
        histogram.observe(seconds)

    def message_refused(self, action: str, result: str) -> None:
        """A CALL counted by how it was answered; not timed when the session refused it before
        any handler ran (message_received times the others)."""
        _counter_child(self._received_children, self._received, action, result).inc()

    def message_sent(self, action: str, result: str) -> None:
        """One of ChargeDeck's CALLs ended: answered, refused, timed out or cut off."""
        _counter_child(self._sent_children, self._sent, action, result).inc()

    def charging_profile_sent(self, purpose: str, result: str) -> None:
        self._profiles.labels(purpose, result).inc()

    # ---- hooks of the store and the message log ------------------------------------------

    def batch_committed(self, rows: int, seconds: float) -> None:
        """The batch writer's observer (store/batch_writer.py ``BatchWriter.observer``)."""
        self._batch_rows.observe(rows)
        self._batch_commit.observe(seconds)

    def watch_message_log(self, writer: MessageLogWriter) -> None:
        self.registry.register(
            _ReadAtScrape(
                "chargedeck_message_log_rows",
                "OCPP frames of the message log: written, dropped (buffer full or store down), "
                "pruned by retention",
                "outcome",
                lambda: (
                    ("written", writer.rows_written),
                    ("dropped", writer.rows_dropped),
                    ("pruned", writer.rows_pruned),
                ),
            )
        )

    def watch_webhooks(self, worker: WebhookWorker) -> None:
        """Count the worker's attempts at scrape time and time each one as it is recorded."""
        self.registry.register(
            _ReadAtScrape(
                "chargedeck_webhook_deliveries",
                "Webhook delivery attempts this node recorded, by result: delivered (a 2xx "
                "answer), retried (failed, tried again later), failed (gave up after "
                "webhook_max_attempts)",
                "result",
                lambda: ((result, worker.attempts[result]) for result in RESULTS),
            )
        )
        worker.observer = self.webhook_attempted

    def webhook_attempted(self, outcome: AttemptOutcome) -> None:
        self._webhook_request.observe(outcome.request_s)
        if outcome.delivery_s is not None:
            self._webhook_delivery.observe(outcome.delivery_s)

    # ---- events ----------------------------------------------------------------------------

    def start(self, events: EventBus) -> None:
        """Count the events published on this node (and the alerts among them), except
        ``meter.values``: one per MeterValues message, already counted by
        ``chargedeck_messages_received_total{action="MeterValues"}``; skipping it here saves
        the subscription's wake-up per message (measured: bench/observability.py)."""
        self._subscription = events.subscribe(local_only=True, types=COUNTED_EVENT_TYPES)
        self._event_task = asyncio.get_running_loop().create_task(
            self._count_events(self._subscription), name="chargedeck-metrics-events"
        )

    async def close(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
        if self._event_task is not None:
            self._event_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._event_task

    async def _count_events(self, subscription: Subscription) -> None:
        children: dict[str, Counter] = {}
        async for delivered in subscription:
            event = delivered.published.event
            kind = str(event.__struct_config__.tag)
            counter = children.get(kind)
            if counter is None:
                counter = children[kind] = self._events.labels(kind)
            counter.inc()
            if isinstance(event, AlertRaised):
                self._alerts.labels(event.kind).inc()

    # ---- exposition ------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The text format 0.0.4 document of every metric."""
        return generate_latest(self.registry)


def metrics_route(metrics: Metrics, authenticator: Authenticator, public: bool) -> Route:
    """``GET /metrics`` on the operator HTTP port, outside /api/v1 (DESIGN §1): a token of scope
    read (a scraper's ``authorization.credentials``), or nothing with ``metrics_public``."""

    async def scrape(request: Request) -> Response:
        if not public:
            try:
                caller = await authenticator.authenticate_request(
                    request.method, request.headers, request.cookies
                )
                caller.require(Scope.READ, "GET /metrics")
            except Unauthenticated as exc:
                return problem_response(
                    request,
                    ApiProblem(
                        HTTPStatus.UNAUTHORIZED,
                        "unauthenticated",
                        f"{exc.reason} (or set metrics_public = true to scrape without a token)",
                        {"WWW-Authenticate": WWW_AUTHENTICATE},
                    ),
                )
            except Forbidden as exc:
                return problem_response(
                    request, ApiProblem(HTTPStatus.FORBIDDEN, "forbidden", exc.reason)
                )
            except StoreUnavailable as exc:
                return problem_response(
                    request,
                    ApiProblem(HTTPStatus.SERVICE_UNAVAILABLE, "store-unavailable", str(exc)),
                )
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    return Route("/metrics", scrape, methods=["GET"])


def _counter_child(
    children: dict[tuple[str, str], Counter], counter: Counter, action: str, result: str
) -> Counter:
    """The labelled child of ``counter``, looked up once per (action, result): ``labels()``
    costs a lock and a tuple on every call, too much for every message."""
    child = children.get((action, result))
    if child is None:
        child = children[(action, result)] = counter.labels(action, result)
    return child
