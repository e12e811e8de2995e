"""The picows transport (``ocpp_transport = "picows"``): about 3.5x less CPU per frame (DESIGN §4).

picows is callback-based: frames arrive in ``WSListener.on_ws_frame``. This adapter turns them
into what ``transport.py`` promises: whole messages (fragments joined, at most max_frame_bytes,
else close 1009), handled one at a time per connection by a task that exists only while the
connection has messages waiting (an idle connection holds no task), and the close frames sent
and received.

picows asks its listener factory synchronously, but the edge's handshake policy awaits the store
(is this charge point known?). So a small protocol reads the HTTP request head first, awaits the
decision with reading paused, then hands the socket and the bytes read so far to picows'
``WSProtocol``, whose factory returns the decision already made: picows still validates the
upgrade request and writes every response. picows 2.3's ``WSProtocol`` constructor is used
directly (as ``ws_create_server`` does); pyproject pins picows to 2.3.x for that reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import MutableMapping
from http import HTTPStatus
from typing import Any, cast

import picows.picows
from picows import (
    WSAutoPingStrategy,
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
)
from picows.picows import WSCloseHandshake

from chargedeck.server.tls_acceptor import take_over_tls, tls_session
from chargedeck.server.transport import (
    Accept,
    AcceptAndClose,
    CloseInfo,
    HandshakeDecision,
    HandshakeRequest,
    MessageHandler,
    ReceiveHandshake,
    Refuse,
    TransportOptions,
)

log = logging.getLogger(__name__)

# Not in picows' stubs: the protocol class ws_create_server instantiates (picows 2.3 api.py).
_WSProtocol: Any = picows.picows.WSProtocol  # type: ignore[attr-defined]

HANDSHAKE_TIMEOUT_S = 10.0
"""Longest wait for the HTTP upgrade request: websockets' ``open_timeout`` default, so both
transports drop a silent socket alike."""
MAX_REQUEST_HEAD_BYTES = 16 * 1024
"""Largest HTTP request head: picows' own limit (``_http_max_size``)."""
READ_BUFFER_INIT_BYTES = 4096
"""picows' first read buffer per connection (its default, 16 KiB, is what an idle connection
would hold); it doubles when a larger message arrives. OCPP messages are mostly under 1 KiB."""
INBOX_PAUSE = 64
"""Messages waiting on one connection before its socket stops being read (back-pressure)."""
SERVER_HEADER = ("Server", "ChargeDeck")

# RFC 6455 §7.4.1
_NO_STATUS_RECEIVED = 1005


class _TransportLog(logging.LoggerAdapter[logging.Logger]):
    """picows' own log lines, translated where they enter (STYLE rule 3).

    A peer's protocol error (an oversized frame, a bad opcode) is the charger's mistake, not
    ours: WARNING instead of ERROR. Lines with a traceback stay ERROR (a bug here). The per
    connection "accepted"/"disconnected" lines are DEBUG: the edge logs its own.
    """

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if level >= logging.ERROR and not kwargs.get("exc_info"):
            level = logging.WARNING
        elif level == logging.INFO:
            level = logging.DEBUG
        super().log(level, msg, *args, **kwargs)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        return msg, kwargs


def _close_info(info: Any) -> CloseInfo | None:
    if info is None:
        return None
    code = int(info.code.value)
    return CloseInfo(code if code else _NO_STATUS_RECEIVED, info.reason or "")


class _Link:
    """WebSocketLink over a picows WSTransport."""

    __slots__ = ("_close_timeout_s", "_transport")

    def __init__(self, transport: WSTransport, close_timeout_s: float) -> None:
        self._transport = transport
        self._close_timeout_s = close_timeout_s

    @property
    def is_open(self) -> bool:
        transport = self._transport
        if transport.is_disconnected or transport.is_close_frame_sent:
            return False
        handshake: WSCloseHandshake | None = transport.close_handshake
        return handshake is None or handshake.recv is None

    async def send_text(self, frame: bytes) -> None:
        if self.is_open:
            self._transport.send(WSMsgType.TEXT, frame)

    async def close(self, code: int, reason: str) -> None:
        transport = self._transport
        if transport.is_disconnected:
            return
        if not transport.is_close_frame_sent:
            transport.send_close(WSCloseCode(code), reason.encode())
        try:
            # The charger answers with its close frame; _Listener then drops the TCP connection
            # (RFC 6455 §7.1.1: the server closes TCP first).
            await asyncio.wait_for(transport.wait_disconnected(), self._close_timeout_s)
        except TimeoutError:
            transport.disconnect(graceful=False)
            await transport.wait_disconnected()


class _Listener(WSListener):
    """One connection: frames in, whole messages out to the edge, in order."""

    def __init__(self, server: PicowsServer, decision: Accept | AcceptAndClose) -> None:
        super().__init__()
        self._server = server
        self._decision: Accept | AcceptAndClose | None = decision
        self._transport: WSTransport | None = None
        self._link: _Link | None = None
        self._handler: MessageHandler | None = None
        self._inbox: deque[str | bytes] = deque()
        self._task: asyncio.Task[None] | None = None
        self._fragments: list[bytes] | None = None
        self._fragments_text = False
        self._fragments_size = 0
        self._paused = False
        self._disconnected = False

    # ---- picows callbacks ------------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        decision, self._decision = self._decision, None
        self._transport = transport
        self._link = _Link(transport, self._server.options.close_timeout_s)
        self._server.listeners.add(self)
        if isinstance(decision, AcceptAndClose):
            self._task = asyncio.get_running_loop().create_task(
                self._close_then_finish(decision.code, decision.reason)
            )
        elif decision is not None:
            self._handler = decision.open(self._link)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        if msg_type is WSMsgType.TEXT or msg_type is WSMsgType.BINARY:
            if self._fragments is not None:
                self._protocol_error(WSCloseCode.PROTOCOL_ERROR, "expected a continuation frame")
            elif frame.fin:
                self._deliver(msg_type is WSMsgType.TEXT, frame.get_payload_as_bytes())
            else:
                self._fragments = [frame.get_payload_as_bytes()]
                self._fragments_text = msg_type is WSMsgType.TEXT
                self._fragments_size = frame.payload_size
        elif msg_type is WSMsgType.CONTINUATION:
            self._receive_continuation(frame)
        elif msg_type is WSMsgType.CLOSE:
            if not transport.is_close_frame_sent:
                code = frame.get_close_code()
                # RFC 6455 §5.5.1: echo the status code received (1000 when there was none).
                transport.send_close(code if code.value else WSCloseCode.OK)
            transport.disconnect()
        # PING is answered by picows (enable_auto_pong); PONG feeds its auto-ping.

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._disconnected = True
        if self._task is None:
            self._finish()

    # ---- messages ----------------------------------------------------------------------------

    def _receive_continuation(self, frame: WSFrame) -> None:
        if self._fragments is None:
            self._protocol_error(WSCloseCode.PROTOCOL_ERROR, "unexpected continuation frame")
            return
        self._fragments_size += frame.payload_size
        if self._fragments_size > self._server.options.max_frame_bytes:
            # picows limits each frame; websockets (and DESIGN §4) limit the whole message.
            self._fragments = None
            self._protocol_error(WSCloseCode.MESSAGE_TOO_BIG, "message too big")
            return
        self._fragments.append(frame.get_payload_as_bytes())
        if frame.fin:
            payload = b"".join(self._fragments)
            self._fragments = None
            self._deliver(self._fragments_text, payload)

    def _deliver(self, text: bool, payload: bytes) -> None:
        if self._handler is None:
            return  # accepted only to be closed
        if text:
            try:
                message: str | bytes = payload.decode("utf-8")
            except UnicodeDecodeError:
                # RFC 6455 §8.1: a text message that is not UTF-8 fails the connection with 1007.
                self._protocol_error(WSCloseCode.INVALID_TEXT, "invalid UTF-8 in a text message")
                return
        else:
            message = payload
        self._inbox.append(message)
        if len(self._inbox) >= INBOX_PAUSE and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.underlying_transport.pause_reading()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain(self._handler))

    async def _drain(self, handler: MessageHandler) -> None:
        """Handle waiting messages one at a time, in order (as websockets' receive loop does)."""
        inbox = self._inbox
        try:
            while inbox:
                message = inbox.popleft()
                if isinstance(message, str):
                    await handler.receive_text(message)
                else:
                    await handler.receive_binary(message)
                if self._paused and not inbox and self._transport is not None:
                    self._paused = False
                    if not self._transport.is_disconnected:
                        self._transport.underlying_transport.resume_reading()
        except Exception:
            # A bug in the edge: logged with its traceback, the connection closed with 1011 as
            # websockets does when a connection handler fails.
            log.exception("error while handling a message; closing with 1011")
            inbox.clear()
            if self._link is not None:
                await self._link.close(WSCloseCode.INTERNAL_ERROR.value, "")
        finally:
            self._task = None
            if self._disconnected:
                self._finish()

    async def _close_then_finish(self, code: int, reason: str) -> None:
        try:
            if self._link is not None:
                await self._link.close(code, reason)
        finally:
            self._task = None
            if self._disconnected:
                self._finish()

    def _protocol_error(self, code: WSCloseCode, reason: str) -> None:
        transport = self._transport
        if transport is None or transport.is_close_frame_sent:
            return
        transport.send_close(code, reason.encode())
        asyncio.get_running_loop().call_later(
            self._server.options.close_timeout_s, transport.disconnect
        )

    def _finish(self) -> None:
        self._server.listeners.discard(self)
        handler, self._handler = self._handler, None
        if handler is None or self._transport is None:
            return
        handshake: WSCloseHandshake | None = self._transport.close_handshake
        if handshake is None:
            handler.closed(None, None)
        else:
            handler.closed(_close_info(handshake.sent), _close_info(handshake.recv))


def _parse_request_head(head: bytes) -> tuple[str, list[tuple[str, str]]] | None:
    """Request target and headers of an HTTP/1.1 request head (RFC 9112 §3, §5); None if bad."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[1]:
        return None
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            return None
        headers.append((name, value.strip()))
    return parts[1], headers


class _Handshake(asyncio.Protocol):
    """Reads the HTTP request head, awaits the edge's decision, then hands over to picows."""

    def __init__(self, server: PicowsServer) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        acceptor = self._server.options.tls
        if acceptor is not None and transport.get_extra_info("ssl_object") is None:
            take_over_tls(transport, self, acceptor)  # called again once TLS is up
            return
        # uvloop's transports do not derive from asyncio.Transport but have its methods.
        self._transport = cast(asyncio.Transport, transport)
        self._timer = asyncio.get_running_loop().call_later(
            HANDSHAKE_TIMEOUT_S, self._transport.abort
        )

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        if self._task is not None:
            self._buffer += data
            return
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_REQUEST_HEAD_BYTES:
                self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request head too large")
            return
        self._transport.pause_reading()
        self._task = asyncio.get_running_loop().create_task(self._decide(bytes(self._buffer[:end])))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def _refuse(self, status: HTTPStatus, reason: str) -> None:
        assert self._transport is not None
        response = WSUpgradeResponse.create_error_response(
            status, (reason + "\n").encode(), [SERVER_HEADER, ("Connection", "close")]
        )
        self._transport.write(bytes(response.to_bytes()))
        self._transport.close()

    async def _decide(self, head: bytes) -> None:
        transport = self._transport
        assert transport is not None
        parsed = _parse_request_head(head)
        if parsed is None:
            self._refuse(HTTPStatus.BAD_REQUEST, "malformed HTTP request")
            return
        path, headers = parsed
        peer = transport.get_extra_info("peername")
        has_port = isinstance(peer, tuple) and len(peer) >= 2
        request = HandshakeRequest(
            path=path,
            subprotocols=tuple(
                p.strip()
                for name, value in headers
                if name.lower() == "sec-websocket-protocol"
                for p in value.split(",")
                if p.strip()
            ),
            headers=tuple(headers),
            remote_address=f"{peer[0]}:{peer[1]}" if has_port else str(peer),
            remote_host=str(peer[0]) if has_port else str(peer),
            tls=tls_session(transport),
        )
        decision = await self._server.receive_handshake(request)
        if transport.is_closing():
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        protocol = self._server.build_protocol(decision)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        data = memoryview(self._buffer)
        while data and not transport.is_closing():
            buffer = protocol.get_buffer(len(data))
            size = min(len(buffer), len(data))
            buffer[:size] = data[:size]
            protocol.buffer_updated(size)
            data = data[size:]
        if not transport.is_closing():
            transport.resume_reading()


class PicowsServer:
    """TransportServer on picows, one _Listener per connection."""

    def __init__(self, receive_handshake: ReceiveHandshake, options: TransportOptions) -> None:
        self.receive_handshake = receive_handshake
        self.options = options
        self.listeners: set[_Listener] = set()
        self._server: asyncio.Server | None = None
        self._log = _TransportLog(logging.getLogger("chargedeck.server.picows"), {})

    async def start(self, host: str, port: int) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Handshake(self), host, port, backlog=self.options.backlog
        )
        sockname = self._server.sockets[0].getsockname()
        return str(sockname[0]), int(sockname[1])

    def stop_accepting(self) -> None:
        if self._server is not None:
            self._server.close()

    async def wait_closed(self) -> None:
        if self._server is not None:
            await self._server.wait_closed()
        # Connections end within the close time-out (see _Link.close): wait for their handlers.
        while self.listeners:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    def build_protocol(self, decision: HandshakeDecision) -> Any:
        """picows' WSProtocol whose listener factory answers with ``decision``."""
        options = self.options

        def listener_factory(request: WSUpgradeRequest) -> WSUpgradeResponseWithListener:
            if isinstance(decision, Refuse):
                response = WSUpgradeResponse.create_error_response(
                    decision.status,
                    (decision.reason + "\n").encode(),
                    [
                        ("Content-Type", "text/plain; charset=utf-8"),
                        SERVER_HEADER,
                        *decision.headers,
                    ],
                )
                return WSUpgradeResponseWithListener(response, None)
            headers = [SERVER_HEADER]
            if isinstance(decision, Accept) and decision.subprotocol is not None:
                headers.append(("Sec-WebSocket-Protocol", decision.subprotocol))
            response = WSUpgradeResponse.create_101_response(headers)
            return WSUpgradeResponseWithListener(response, _Listener(self, decision))

        return _WSProtocol(
            None,  # host:port, client side only
            None,  # path, client side only
            False,  # is_client_side
            listener_factory,
            self._log,
            True,  # disconnect_on_exception
            None,  # handshake time-out: _Handshake has enforced it
            True,  # enable_auto_ping: liveness when the charger is silent (OCPP-J 1.6 §5.2)
            options.ping_interval_s,
            min(options.ping_timeout_s, options.ping_interval_s),  # picows requires <= idle
            WSAutoPingStrategy.PING_WHEN_IDLE,
            True,  # enable_auto_pong
            options.max_frame_bytes,  # larger frame: picows closes with 1009
            None,  # extra headers, client side only
            READ_BUFFER_INIT_BYTES,
        )
