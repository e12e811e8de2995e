"""The websockets transport (default): new asyncio API, one task per connection (DESIGN §4).

permessage-deflate off (it costs about 50 KB per connection), ``max_size`` = max_frame_bytes
(websockets closes with 1009), ping/pong by websockets' keepalive.
"""

from __future__ import annotations

import asyncio
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from chargedeck.server.tls_acceptor import TlsAcceptor, take_over_tls, tls_session
from chargedeck.server.transport import (
    Accept,
    AcceptAndClose,
    CloseInfo,
    HandshakeDecision,
    HandshakeRequest,
    ReceiveHandshake,
    Refuse,
    TransportOptions,
)


def _peer(connection: ServerConnection) -> tuple[str, str]:
    """``host:port`` and ``host`` of the peer."""
    address = connection.remote_address
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}", str(address[0])
    return str(address), str(address)


def _tls_connection_class(acceptor: TlsAcceptor) -> type[ServerConnection]:
    """A ServerConnection (websockets' documented ``create_connection`` hook) that runs the TLS
    handshake itself before websockets sees the connection (see tls_acceptor.py)."""

    class TlsServerConnection(ServerConnection):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            if transport.get_extra_info("ssl_object") is None:
                take_over_tls(transport, self, acceptor)
                return
            super().connection_made(transport)

    return TlsServerConnection


class _Link:
    """WebSocketLink over a websockets ServerConnection."""

    __slots__ = ("_ws",)

    def __init__(self, ws: ServerConnection) -> None:
        self._ws = ws

    @property
    def is_open(self) -> bool:
        return self._ws.state is State.OPEN

    async def send_text(self, frame: bytes) -> None:
        try:
            await self._ws.send(frame, text=True)
        except ConnectionClosed:
            return

    async def close(self, code: int, reason: str) -> None:
        await self._ws.close(code, reason)


class WebsocketsServer:
    """TransportServer on ``websockets.asyncio.server.serve``."""

    def __init__(self, receive_handshake: ReceiveHandshake, options: TransportOptions) -> None:
        self._receive_handshake = receive_handshake
        self._options = options
        self._decisions: dict[ServerConnection, HandshakeDecision] = {}
        self._server: Server | None = None

    async def start(self, host: str, port: int) -> tuple[str, int]:
        options = self._options
        self._server = await serve(
            self._serve_connection,
            host,
            port,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            compression=None,
            max_size=options.max_frame_bytes,
            ping_interval=options.ping_interval_s,
            ping_timeout=options.ping_timeout_s,
            close_timeout=options.close_timeout_s,
            server_header="ChargeDeck",
            backlog=options.backlog,
            create_connection=(
                ServerConnection if options.tls is None else _tls_connection_class(options.tls)
            ),
        )
        sockname = next(iter(self._server.sockets)).getsockname()
        return str(sockname[0]), int(sockname[1])

    def stop_accepting(self) -> None:
        if self._server is not None:
            self._server.close(close_connections=False)

    async def wait_closed(self) -> None:
        if self._server is not None:
            await self._server.wait_closed()

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        offered = request.headers.get_all("Sec-WebSocket-Protocol")
        remote_address, remote_host = _peer(connection)
        handshake = HandshakeRequest(
            path=request.path,
            subprotocols=tuple(p.strip() for h in offered for p in h.split(",") if p.strip()),
            headers=tuple(request.headers.raw_items()),
            remote_address=remote_address,
            remote_host=remote_host,
            tls=tls_session(connection.transport),
        )
        decision = await self._receive_handshake(handshake)
        if isinstance(decision, Refuse):
            response = connection.respond(decision.status, decision.reason + "\n")
            for name, value in decision.headers:
                response.headers[name] = value
            return response
        self._decisions[connection] = decision
        return None

    def _select_subprotocol(self, connection: ServerConnection, offered: Any) -> Any:
        decision = self._decisions.get(connection)
        return decision.subprotocol if isinstance(decision, Accept) else None

    async def _serve_connection(self, ws: ServerConnection) -> None:
        decision = self._decisions.pop(ws, None)
        if isinstance(decision, AcceptAndClose):
            await ws.close(decision.code, decision.reason)
            return
        if not isinstance(decision, Accept):  # refused: websockets does not call us then
            return
        _forget_handshake_headers(ws)
        handler = decision.open(_Link(ws))
        try:
            async for message in ws:
                if isinstance(message, str):
                    await handler.receive_text(message)
                else:
                    await handler.receive_binary(message)
        except ConnectionClosed:
            pass
        finally:
            sent, received = ws.protocol.close_sent, ws.protocol.close_rcvd
            handler.closed(
                None if sent is None else CloseInfo(int(sent.code), sent.reason),
                None if received is None else CloseInfo(int(received.code), received.reason),
            )


def _forget_handshake_headers(ws: ServerConnection) -> None:
    """Drop the handshake's request and response headers once the connection is open.

    websockets keeps both for the life of the connection; the edge took what it needs when it
    decided the handshake. Measured with tracemalloc: about 3 KB per connection, a sixth of an
    idle charger's memory (DESIGN §4 budget: 18 KB).
    """
    if ws.request is not None:
        ws.request.headers = Headers()
    if ws.response is not None:
        ws.response.headers = Headers()
