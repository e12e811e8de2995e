"""The charger WebSocket edge: handshake, receive loop, writes, time-outs, shutdown.

A short loop around the sans-I/O session (STYLE rule 1): feed each text message in, run the
handler of each CALL, write what the session has to send. Transport settings per DESIGN §4:
websockets' new asyncio API, permessage-deflate off, frame size limit (1009 when exceeded),
ping/pong.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.protocol import State

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.dispatch import dispatch
from chargedeck.csms.stations import ChargePointDisconnected
from chargedeck.domain.charge_points import UnknownChargePointPolicy
from chargedeck.domain.ids import ChargePointId
from chargedeck.ocpp.errors import CallErrorSent
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

log = logging.getLogger(__name__)


def _peer(connection: ServerConnection) -> str:
    address = connection.remote_address
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


class ChargePointConnection:
    """One charger's live connection; the StationLink the application layer calls."""

    __slots__ = ("_calls", "_services", "_session", "_timer", "_ws", "busy", "draining", "state")

    def __init__(
        self, ws: ServerConnection, state: ConnectionState, services: CsmsServices
    ) -> None:
        self._ws = ws
        self.state = state
        self._services = services
        self._session = OcppSession(Role.CSMS, services.settings.call_timeout_s)
        self._calls: dict[OutgoingCall, asyncio.Future[Message]] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.busy = False
        self.draining = False

    # ---- StationLink ---------------------------------------------------------------------

    async def call(self, request: Message, timeout_s: float | None = None) -> Message:
        """Send a CALL through the session's one-outstanding-call queue and await its answer."""
        if self._ws.state is not State.OPEN:
            raise ChargePointDisconnected(self.state.charge_point_id)
        outgoing = self._session.send_call(request, self._services.clock.monotonic(), timeout_s)
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        if self._calls is None:
            self._calls = {}
        self._calls[outgoing] = future
        await self._flush()
        try:
            return await future
        finally:
            if self._calls is not None:
                self._calls.pop(outgoing, None)
            self._session.cancel_call(outgoing)

    async def close(self, code: int, reason: str) -> None:
        await self._ws.close(code, reason)

    # ---- receive loop --------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until it closes."""
        ws = self._ws
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    log.warning(
                        "charge point %s sent a binary frame; OCPP-J uses text frames only "
                        "(OCPP-J 1.6 §4.1.2): closing with 1003",
                        self.state.charge_point_id,
                    )
                    await ws.close(CloseCode.UNSUPPORTED_DATA, "binary frames are not OCPP-J")
                    break
                if self.draining:
                    break  # shutting down: unanswered, so the charger sends it again later
                self.busy = True
                try:
                    events = self._session.receive_message(
                        message, self._services.clock.monotonic()
                    )
                    for event in events:
                        await self._handle(event)
                    await self._flush()
                finally:
                    self.busy = False
        except ConnectionClosed:
            pass
        finally:
            self._fail_pending_calls()
        self._log_close()

    async def _handle(self, event: Event) -> None:
        charge_point_id = self.state.charge_point_id
        if isinstance(event, CallReceived):
            try:
                response = await dispatch(self._services, self.state, event.action, event.request)
            except CallErrorSent as error:
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
        elif isinstance(event, CallRefused):
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
            try:
                await self._ws.send(frame, text=True)
            except ConnectionClosed:
                return

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

    def _log_close(self) -> None:
        ws = self._ws
        sent = ws.protocol.close_sent
        received = ws.protocol.close_rcvd
        if sent is not None and sent.code == CloseCode.MESSAGE_TOO_BIG:
            log.warning(
                "charge point %s sent a message larger than %d bytes: closed with 1009",
                self.state.charge_point_id,
                self._services.settings.max_frame_bytes,
            )
        code = received.code if received is not None else sent.code if sent is not None else None
        reason = (
            received.reason if received is not None else sent.reason if sent is not None else ""
        )
        log.info(
            "charge point %s disconnected (close code %s%s)",
            self.state.charge_point_id,
            code if code is not None else "none: connection lost",
            f", {reason}" if reason else "",
        )


class OcppServer:
    """Accepts charger connections on ``/…/<ChargePointID>`` and runs one loop per connection."""

    def __init__(self, services: CsmsServices) -> None:
        self._services = services
        self._handshakes: dict[ServerConnection, tuple[ConnectionState, SubprotocolChoice]] = {}
        self._connections: set[ChargePointConnection] = set()
        self._server: Server | None = None
        self._draining = False

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen; returns the bound address (port 0 picks a free one)."""
        settings = self._services.settings
        self._server = await serve(
            self._serve_connection,
            host,
            port,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            compression=None,
            max_size=settings.max_frame_bytes,
            ping_interval=settings.ping_interval_s,
            ping_timeout=settings.ping_timeout_s,
            close_timeout=settings.close_timeout_s,
            server_header="ChargeDeck",
        )
        sockname = next(iter(self._server.sockets)).getsockname()
        return str(sockname[0]), int(sockname[1])

    # ---- handshake -------------------------------------------------------------------------

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        peer = _peer(connection)
        try:
            charge_point_id = ChargePointId(parse_charge_point_id(request.path))
            if self._draining:
                raise HandshakeRefused(HTTPStatus.SERVICE_UNAVAILABLE, "server is shutting down")
            known = await self._services.store.charge_points.get_charge_point(charge_point_id)
            if (
                known is None
                and self._services.settings.unknown_charge_points is UnknownChargePointPolicy.REJECT
            ):
                raise HandshakeRefused(
                    HTTPStatus.NOT_FOUND,
                    f"unknown charge point {charge_point_id!r} (unknown_charge_points=reject)",
                )
        except HandshakeRefused as refused:
            log.warning("handshake from %s for %s refused: %s", peer, request.path[:120], refused)
            return connection.respond(refused.status, refused.reason + "\n")
        state = ConnectionState(
            charge_point_id=charge_point_id,
            remote_address=peer,
            connected_at=self._services.clock.now(),
            registration=None if known is None else known.registration,
        )
        offered = request.headers.get_all("Sec-WebSocket-Protocol")
        protocols = [p.strip() for header in offered for p in header.split(",") if p.strip()]
        self._handshakes[connection] = (state, choose_subprotocol(protocols))
        return None

    def _select_subprotocol(self, connection: ServerConnection, offered: Any) -> Any:
        handshake = self._handshakes.get(connection)
        if handshake is not None and handshake[1] is SubprotocolChoice.OCPP16:
            return OCPP16_SUBPROTOCOL
        return None

    # ---- connections -----------------------------------------------------------------------

    async def _serve_connection(self, ws: ServerConnection) -> None:
        handshake = self._handshakes.pop(ws, None)
        if handshake is None:  # process_request refused it; websockets does not call us then
            return
        state, choice = handshake
        charge_point_id = state.charge_point_id
        if choice is SubprotocolChoice.NOT_OFFERED:
            log.warning(
                "charge point %s from %s did not offer subprotocol %s: handshake completed "
                "without a subprotocol and closed (OCPP-J 1.6 §3.1.2)",
                charge_point_id,
                state.remote_address,
                OCPP16_SUBPROTOCOL,
            )
            await ws.close(CloseCode.PROTOCOL_ERROR, "subprotocol ocpp1.6 not offered")
            return
        if choice is SubprotocolChoice.NONE_OFFERED:
            log.warning("charge point %s offered no subprotocol; assuming ocpp1.6", charge_point_id)
        connection = ChargePointConnection(ws, state, self._services)
        previous = self._services.stations.attach(connection)
        if previous is not None:
            log.warning(
                "charge point %s connected again from %s: the older connection is closed",
                charge_point_id,
                state.remote_address,
            )
            asyncio.get_running_loop().create_task(
                previous.close(CloseCode.NORMAL_CLOSURE, "replaced by a newer connection")
            )
        log.info(
            "charge point %s connected from %s (%s)",
            charge_point_id,
            state.remote_address,
            "registered" if state.registration else "not registered",
        )
        self._connections.add(connection)
        try:
            await connection.run()
        finally:
            self._connections.discard(connection)
            self._services.stations.detach(connection)

    # ---- shutdown ----------------------------------------------------------------------------

    async def shutdown(self, timeout_s: float, wait: Callable[[], Any] | None = None) -> None:
        """Stop accepting, let every message in flight finish and be answered, then close 1001."""
        self._draining = True
        if self._server is None:
            return
        self._server.close(close_connections=False)
        for connection in self._connections:
            connection.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        # Polled, only during shutdown: cheaper than an event per connection on the hot path.
        while any(c.busy for c in self._connections) and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        await asyncio.gather(
            *(c.close(CloseCode.GOING_AWAY, "server shutting down") for c in self._connections),
            return_exceptions=True,
        )
        await self._server.wait_closed()
