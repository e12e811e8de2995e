"""The charger WebSocket edge: handshake policy, receive loop, writes, time-outs, shutdown.

A short loop around the sans-I/O session (STYLE rule 1): feed each text message in, run the
handler of each CALL, write what the session has to send. The WebSocket library sits behind
``transport.py`` (DESIGN §4): ``ocpp_transport`` picks websockets (default) or picows; every rule
here is written once for both.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from chargedeck.csms import configuration_memory, triggers
from chargedeck.csms.connection_guard import ConnectionGuard
from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.dispatch import dispatch
from chargedeck.csms.events import ChargerConnected, ChargerDisconnected, ConnectionRejected
from chargedeck.csms.message_log import IN, OUT, MessageLogWriter
from chargedeck.csms.reconciliation import on_connected
from chargedeck.csms.stations import ChargePointDisconnected
from chargedeck.domain.charge_points import UnknownChargePointPolicy
from chargedeck.domain.ids import ChargePointId
from chargedeck.domain.security import (
    BasicCredentials,
    MalformedAuthorization,
    PresentedIdentity,
    Rejection,
    RejectionReason,
    SecurityProfile,
    describe_tls_failure,
    parse_basic_authorization,
)
from chargedeck.ocpp.errors import CallErrorReceived, CallErrorSent, CallTimeout, InvalidResponse
from chargedeck.ocpp.handshake import (
    OCPP16_SUBPROTOCOL,
    HandshakeRefused,
    SubprotocolChoice,
    choose_subprotocol,
    parse_charge_point_id,
)
from chargedeck.ocpp.session import (
    CallFailed,
    CallReceived,
    CallRefused,
    Event,
    FrameIgnored,
    OcppSession,
    OutgoingCall,
    ResultReceived,
    Role,
)
from chargedeck.ocpp.v16.base import Message
from chargedeck.ocpp.v16.smart_charging import SetChargingProfileRequest
from chargedeck.server.metrics import (
    ACCEPTED,
    CANCELLED,
    DISCONNECTED,
    INVALID_RESPONSE,
    TIMEOUT,
    Metrics,
    action_label,
    error_code_label,
)
from chargedeck.server.tls_acceptor import TlsAcceptor, TlsFailure
from chargedeck.server.transport import (
    Accept,
    AcceptAndClose,
    CloseInfo,
    HandshakeDecision,
    HandshakeRequest,
    Refuse,
    TransportFactory,
    TransportOptions,
    TransportServer,
    WebSocketLink,
)
from chargedeck.store.errors import StoreUnavailable

# RFC 6455 §7.4.1 status codes the edge sends.
NORMAL_CLOSURE = 1000
GOING_AWAY = 1001
PROTOCOL_ERROR = 1002
UNSUPPORTED_DATA = 1003
MESSAGE_TOO_BIG = 1009

log = logging.getLogger(__name__)


class ChargePointConnection:
    """One charger's live connection: the StationLink the application layer calls and the
    MessageHandler its transport feeds, one message at a time."""

    __slots__ = (
        "_calls",
        "_message_log",
        "_metrics",
        "_on_closed",
        "_services",
        "_session",
        "_timer",
        "_tls",
        "_ws",
        "busy",
        "draining",
        "state",
        "taken_over",
    )

    def __init__(
        self,
        ws: WebSocketLink,
        state: ConnectionState,
        services: CsmsServices,
        on_closed: Callable[[ChargePointConnection], None],
        *,
        metrics: Metrics | None = None,
        message_log: MessageLogWriter | None = None,
        tls: bool = False,
    ) -> None:
        self._ws = ws
        self._metrics = metrics
        self._message_log = message_log
        self._tls = tls
        self._on_closed = on_closed
        self.state = state
        self._services = services
        self._session = OcppSession(Role.CSMS, services.settings.call_timeout_s)
        self._calls: dict[OutgoingCall, asyncio.Future[Message]] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.busy = False
        self.draining = False
        self.taken_over = False
        """Set by server/cluster.py before it closes this connection because the charger
        connected to another node: the charger is online there, so no ChargerDisconnected."""

    # ---- StationLink ---------------------------------------------------------------------

    async def call(self, request: Message, timeout_s: float | None = None) -> Message:
        """Send a CALL through the session's one-outstanding-call queue and await its answer."""
        if not self._ws.is_open:
            raise ChargePointDisconnected(self.state.charge_point_id)
        outgoing = self._session.send_call(request, self._services.clock.monotonic(), timeout_s)
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        if self._calls is None:
            self._calls = {}
        self._calls[outgoing] = future
        await self._flush()
        try:
            response = await future
        except BaseException as exc:
            if self._metrics is not None:
                _count_call(self._metrics, request, outgoing, None, exc)
            raise
        else:
            if self._metrics is not None:
                _count_call(self._metrics, request, outgoing, response, None)
            return response
        finally:
            if self._calls is not None:
                self._calls.pop(outgoing, None)
            self._session.cancel_call(outgoing)

    async def close(self, code: int, reason: str) -> None:
        await self._ws.close(code, reason)

    # ---- MessageHandler ----------------------------------------------------------------

    async def receive_text(self, message: str) -> None:
        """Handle one message: its events in order, then write what the session has to send."""
        if self._message_log is not None:
            self._message_log.record(self.state.charge_point_id, IN, message)
        if self.draining:
            return  # shutting down: unanswered, so the charger sends it again later
        self.busy = True
        try:
            events = self._session.receive_message(message, self._services.clock.monotonic())
            for event in events:
                await self._handle(event)
            await self._flush()
        finally:
            self.busy = False

    async def receive_binary(self, message: bytes) -> None:
        if not self._ws.is_open:
            return
        log.warning(
            "charge point %s sent a binary frame; OCPP-J uses text frames only "
            "(OCPP-J 1.6 §4.1.2): closing with 1003",
            self.state.charge_point_id,
        )
        await self._ws.close(UNSUPPORTED_DATA, "binary frames are not OCPP-J")

    def closed(self, sent: CloseInfo | None, received: CloseInfo | None) -> None:
        self._fail_pending_calls()
        self._on_closed(self)
        if self._metrics is not None:
            self._metrics.connection_closed(self._tls)
        # A newer connection of the charger replaced this one here (OcppServer._open), or
        # another node took the charger over: it is still online, so subscribers hear no
        # disconnect and the newer connection's message log pairing is kept.
        replaced = self._services.stations.get_local(self.state.charge_point_id) is not None
        if self._message_log is not None and not replaced:
            self._message_log.forget(self.state.charge_point_id)
        if sent is not None and sent.code == MESSAGE_TOO_BIG:
            log.warning(
                "charge point %s sent a message larger than %d bytes: closed with 1009",
                self.state.charge_point_id,
                self._services.settings.max_frame_bytes,
            )
        close = received if received is not None else sent
        if not replaced and not self.taken_over:
            self._services.events.publish(
                ChargerDisconnected(
                    charge_point_id=self.state.charge_point_id,
                    close_code=close.code if close is not None else None,
                    reason=(close.reason if close is not None else "") or "connection lost",
                )
            )
        log.info(
            "charge point %s disconnected (close code %s%s)",
            self.state.charge_point_id,
            close.code if close is not None else "none: connection lost",
            f", {close.reason}" if close is not None and close.reason else "",
        )

    async def _handle(self, event: Event) -> None:
        charge_point_id = self.state.charge_point_id
        if isinstance(event, CallReceived):
            metrics = self._metrics
            started = time.perf_counter() if metrics is not None else 0.0
            try:
                response = await dispatch(self._services, self.state, event.action, event.request)
            except CallErrorSent as error:
                if metrics is not None:
                    metrics.message_received(
                        event.action.name, error.code.value, time.perf_counter() - started
                    )
                log.warning(
                    "charge point %s: %s %s refused with %s: %s",
                    charge_point_id,
                    event.action.name,
                    event.message_id,
                    error.code.value,
                    error.description,
                )
                self._session.send_call_error(event.message_id, error)
            else:
                self._session.send_call_result(event.message_id, response)
                if metrics is not None:
                    metrics.message_received(
                        event.action.name, ACCEPTED, time.perf_counter() - started
                    )
        elif isinstance(event, CallRefused):
            if self._metrics is not None:
                self._metrics.message_refused(
                    action_label(event.action_name), event.error.code.value
                )
            log.warning(
                "charge point %s: CALL %s (%s) refused with %s: %s",
                charge_point_id,
                event.message_id[:36],
                event.action_name[:64] if event.action_name else "?",
                event.error.code.value,
                event.error.description,
            )
        elif isinstance(event, ResultReceived):
            self._resolve(event.call, event.response, None)
        elif isinstance(event, CallFailed):
            log.warning("charge point %s: %s", charge_point_id, event.error)
            self._resolve(event.call, None, event.error)
        elif isinstance(event, FrameIgnored):
            log.warning("charge point %s: %s", charge_point_id, event.reason)

    def _resolve(
        self, call: OutgoingCall, response: Message | None, error: Exception | None
    ) -> None:
        future = None if self._calls is None else self._calls.get(call)
        if future is None or future.done():
            return
        if error is not None:
            future.set_exception(error)
        elif response is not None:
            future.set_result(response)

    async def _flush(self) -> None:
        frames = self._session.frames_to_send()
        self._arm_timer()
        for frame in frames:
            if self._message_log is not None:
                self._message_log.record(self.state.charge_point_id, OUT, frame)
            await self._ws.send_text(frame)

    def _arm_timer(self) -> None:
        deadline = self._session.next_deadline()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if deadline is None:
            return
        delay = max(0.0, deadline - self._services.clock.monotonic())
        self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        for event in self._session.handle_timers(self._services.clock.monotonic()):
            if isinstance(event, CallFailed):
                log.warning("charge point %s: %s", self.state.charge_point_id, event.error)
                self._resolve(event.call, None, event.error)
        # The next queued call, if any, has been handed out: write it and re-arm.
        asyncio.get_running_loop().create_task(self._flush())

    def _fail_pending_calls(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._calls:
            return
        for future in self._calls.values():
            if not future.done():
                future.set_exception(ChargePointDisconnected(self.state.charge_point_id))


def _count_call(
    metrics: Metrics,
    request: Message,
    outgoing: OutgoingCall,
    response: Message | None,
    error: BaseException | None,
) -> None:
    """Count one of our CALLs by how it ended (and a SetChargingProfile by its purpose)."""
    if response is not None:
        result = ACCEPTED
    elif isinstance(error, CallErrorReceived):
        result = error_code_label(error.code)
    elif isinstance(error, CallTimeout):
        result = TIMEOUT
    elif isinstance(error, InvalidResponse):
        result = INVALID_RESPONSE
    elif isinstance(error, ChargePointDisconnected):
        result = DISCONNECTED
    else:
        result = CANCELLED
    metrics.message_sent(outgoing.action.name, result)
    if isinstance(request, SetChargingProfileRequest):
        status = getattr(response, "status", None)
        metrics.charging_profile_sent(
            request.cs_charging_profiles.charging_profile_purpose.value,
            result if status is None else str(status.value),
        )


def presented_identity(request: HandshakeRequest) -> PresentedIdentity:
    """What the charger brought: TLS, its client certificate, its Basic credentials as bytes."""
    authorizations = [value for name, value in request.headers if name.lower() == "authorization"]
    credentials: BasicCredentials | None = None
    malformed: str | None = None
    if len(authorizations) > 1:
        malformed = "more than one Authorization header"
    elif authorizations:
        try:
            credentials = parse_basic_authorization(authorizations[0])
        except MalformedAuthorization as exc:
            malformed = str(exc)
    return PresentedIdentity(
        tls=request.tls is not None,
        credentials=credentials,
        malformed_authorization=malformed,
        client_certificate_der=None if request.tls is None else request.tls.client_certificate_der,
    )


class OcppServer:
    """Accepts charger connections on ``/…/<ChargePointID>``; the transport carries the frames."""

    def __init__(
        self,
        services: CsmsServices,
        guard: ConnectionGuard,
        transport: TransportFactory | None = None,
        *,
        metrics: Metrics | None = None,
        message_log: MessageLogWriter | None = None,
    ) -> None:
        self._services = services
        self._guard = guard
        self._metrics = metrics
        self._message_log = message_log
        self._transport_factory = transport
        self._connections: set[ChargePointConnection] = set()
        self._servers: list[TransportServer] = []
        self._draining = False

    async def start(self, host: str, port: int, tls: TlsAcceptor | None = None) -> tuple[str, int]:
        """Listen for ws:// (or wss:// with ``tls``); returns the bound address (port 0 picks a
        free one). Called once per listener: the ws:// and the wss:// port share every rule."""
        settings = self._services.settings
        factory = self._transport_factory or transport_factory(settings.ocpp_transport)
        server = factory(
            self.receive_handshake,
            TransportOptions(
                max_frame_bytes=settings.max_frame_bytes,
                ping_interval_s=settings.ping_interval_s,
                ping_timeout_s=settings.ping_timeout_s,
                close_timeout_s=settings.close_timeout_s,
                tls=tls,
                backlog=settings.ocpp_listen_backlog,
            ),
        )
        self._servers.append(server)
        return await server.start(host, port)

    # ---- handshake -------------------------------------------------------------------------

    async def receive_handshake(self, request: HandshakeRequest) -> HandshakeDecision:
        """Decide an upgrade request: refuse it (HTTP status), accept it, or accept and close.

        Security refusals (credentials, profile, certificate, back-off) go through the guard,
        which logs, counts and stores them with their reason; the others are only logged.
        """
        peer = request.remote_address
        host = request.remote_host or peer.rpartition(":")[0] or peer
        tls = request.tls is not None
        if self._metrics is not None:
            self._metrics.connection_attempted(tls)
        try:
            charge_point_id = ChargePointId(parse_charge_point_id(request.path))
            if self._draining:
                raise HandshakeRefused(HTTPStatus.SERVICE_UNAVAILABLE, "server is shutting down")
            throttled = self._guard.throttled(charge_point_id, host)
            if throttled is not None:
                return self._refuse(charge_point_id, host, throttled)
            try:
                access = await self._services.store.registrations.access_of(charge_point_id)
            except StoreUnavailable as exc:
                log.error("handshake of %s: store unavailable: %s", charge_point_id, exc)
                raise HandshakeRefused(
                    HTTPStatus.SERVICE_UNAVAILABLE, "the CSMS cannot read its store; retry later"
                ) from exc
        except HandshakeRefused as refused:
            log.warning("handshake from %s for %s refused: %s", peer, request.path[:120], refused)
            if self._metrics is not None:
                self._metrics.connection_rejected(
                    "unavailable"
                    if refused.status is HTTPStatus.SERVICE_UNAVAILABLE
                    else "invalid_request"
                )
            return Refuse(refused.status, refused.reason)
        if access is None:
            admitted = self._admit_unknown(charge_point_id)
        else:
            admitted = await self._guard.admit(
                charge_point_id, host, access, presented_identity(request)
            )
        if isinstance(admitted, Rejection):
            return self._refuse(charge_point_id, host, admitted)
        self._guard.succeeded(charge_point_id, host)
        state = ConnectionState(
            charge_point_id=charge_point_id,
            remote_address=peer,
            connected_at=self._services.clock.now(),
            registration=None if access is None else access.registration,
            security_profile=admitted,
        )
        choice = choose_subprotocol(list(request.subprotocols))
        if choice is SubprotocolChoice.NOT_OFFERED:
            log.warning(
                "charge point %s from %s did not offer subprotocol %s: handshake completed "
                "without a subprotocol and closed (OCPP-J 1.6 §3.1.2)",
                charge_point_id,
                peer,
                OCPP16_SUBPROTOCOL,
            )
            return AcceptAndClose(PROTOCOL_ERROR, "subprotocol ocpp1.6 not offered")
        if choice is SubprotocolChoice.NONE_OFFERED:
            log.warning("charge point %s offered no subprotocol; assuming ocpp1.6", charge_point_id)
            return Accept(None, lambda link: self._open(link, state, tls))
        return Accept(OCPP16_SUBPROTOCOL, lambda link: self._open(link, state, tls))

    def _admit_unknown(self, charge_point_id: ChargePointId) -> SecurityProfile | Rejection:
        """A charger the store does not know: the unknown_charge_points policy decides, and no
        unknown charger gets in when the server asks every charger for credentials."""
        settings = self._services.settings
        if settings.unknown_charge_points is UnknownChargePointPolicy.REJECT:
            return Rejection(
                RejectionReason.UNKNOWN_CHARGE_POINT,
                f"unknown charge point {charge_point_id!r} (unknown_charge_points=reject)",
            )
        if self._guard.min_profile > SecurityProfile.NONE:
            return Rejection(
                RejectionReason.UNKNOWN_CHARGE_POINT,
                f"unknown charge point {charge_point_id!r}: with min_security_profile "
                f"{int(self._guard.min_profile)} only chargers added with credentials connect",
            )
        return SecurityProfile.NONE

    def _refuse(self, charge_point_id: str, host: str, rejection: Rejection) -> Refuse:
        self._guard.refused(charge_point_id, host, rejection)
        if self._metrics is not None:
            self._metrics.connection_rejected(rejection.reason.value)
        self._publish_rejection(charge_point_id, host, rejection)
        headers: tuple[tuple[str, str], ...] = ()
        if rejection.status is HTTPStatus.UNAUTHORIZED:
            headers = (("WWW-Authenticate", 'Basic realm="ChargeDeck OCPP"'),)
        elif rejection.retry_after_s is not None:
            headers = (("Retry-After", str(rejection.retry_after_s)),)
        return Refuse(rejection.status, f"{rejection.reason.value}: {rejection.detail}", headers)

    def refuse_tls(self, failure: TlsFailure) -> None:
        """A TLS handshake on the wss:// port failed: record it (the charger id is not known)."""
        rejection = describe_tls_failure(
            failure.ssl_reason, failure.verify_message, failure.connection_lost, failure.timed_out
        )
        self._guard.refused("", failure.remote_host, rejection)
        if self._metrics is not None:
            self._metrics.connection_rejected(rejection.reason.value)
        self._publish_rejection("", failure.remote_host, rejection)

    def _publish_rejection(self, charge_point_id: str, host: str, rejection: Rejection) -> None:
        """Every deliberate refusal is an event (the UI shows why), except the rate limiter's own
        refusals of a flood, which the guard counts."""
        if rejection.reason is RejectionReason.RATE_LIMITED:
            return
        self._services.events.publish(
            ConnectionRejected(
                charge_point_id=charge_point_id,
                remote_host=host,
                reason=rejection.reason.value,
                detail=rejection.detail,
            )
        )

    # ---- connections -----------------------------------------------------------------------

    def _open(
        self, link: WebSocketLink, state: ConnectionState, tls: bool = False
    ) -> ChargePointConnection:
        charge_point_id = state.charge_point_id
        connection = ChargePointConnection(
            link,
            state,
            self._services,
            self._closed,
            metrics=self._metrics,
            message_log=self._message_log,
            tls=tls,
        )
        if self._metrics is not None:
            self._metrics.connection_opened(tls)
        if self._draining:
            connection.draining = True
        previous = self._services.stations.attach(connection)
        if previous is not None:
            log.warning(
                "charge point %s connected again from %s: the older connection is closed",
                charge_point_id,
                state.remote_address,
            )
            asyncio.get_running_loop().create_task(
                previous.close(NORMAL_CLOSURE, "replaced by a newer connection")
            )
        log.info(
            "charge point %s connected from %s (%s)",
            charge_point_id,
            state.remote_address,
            "registered" if state.registration else "not registered",
        )
        self._connections.add(connection)
        self._services.events.publish(
            ChargerConnected(
                charge_point_id=charge_point_id,
                remote_address=state.remote_address,
                security_profile=int(state.security_profile),
            )
        )
        # Transactions still open in the store are checked once the charger has had time to
        # boot (csms/reconciliation.py keeps the task).
        on_connected(self._services, state)
        # A charger silent for 5 s is asked for its boot (csms/triggers.py, field notes Q2).
        triggers.on_connected(self._services, state)
        # After the boot is accepted and no transaction runs: a configuration snapshot.
        configuration_memory.on_connected(self._services, state)
        return connection

    def _closed(self, connection: ChargePointConnection) -> None:
        self._connections.discard(connection)
        self._services.stations.detach(connection)
        if self._services.stations.get_local(connection.state.charge_point_id) is None:
            self._services.load_control.on_disconnected(connection.state.charge_point_id)

    # ---- shutdown ----------------------------------------------------------------------------

    async def shutdown(self, timeout_s: float, wait: Callable[[], Any] | None = None) -> None:
        """Stop accepting, let every message in flight finish and be answered, then close 1001."""
        self._draining = True
        if not self._servers:
            return
        for server in self._servers:
            server.stop_accepting()
        for connection in self._connections:
            connection.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        # Polled, only during shutdown: cheaper than an event per connection on the hot path.
        while any(c.busy for c in self._connections) and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        await asyncio.gather(
            *(c.close(GOING_AWAY, "server shutting down") for c in list(self._connections)),
            return_exceptions=True,
        )
        for server in self._servers:
            await server.wait_closed()


def transport_factory(name: str) -> TransportFactory:
    """The adapter for the ``ocpp_transport`` setting; picows is imported only when chosen."""
    if name == "picows":
        from chargedeck.server.ws_picows import PicowsServer

        return PicowsServer
    from chargedeck.server.ws_websockets import WebsocketsServer

    return WebsocketsServer
