"""What the OCPP edge needs from a WebSocket server, so the library can change (DESIGN §4).

The edge (``ocpp_ws.py``) holds every rule: handshake policy, the session loop, dispatch, timers,
shutdown and logging. A transport adapter (``ws_websockets.py``, ``ws_picows.py``) only moves
bytes: it asks the edge to decide each upgrade request, completes or refuses it as told, feeds
each connection's messages to the edge one at a time and in order, and reports how it closed.
Connections are independent: one connection's message being handled never holds another's back,
so the group commit sees many connections' messages at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Protocol

from chargedeck.server.tls_acceptor import TlsAcceptor, TlsSession


@dataclass(frozen=True, slots=True)
class HandshakeRequest:
    """The HTTP upgrade request of a charger, as far as the edge needs it (OCPP-J 1.6 §3)."""

    path: str
    """Request target as sent, e.g. ``/ocpp/CP-1``."""
    subprotocols: tuple[str, ...]
    """Sec-WebSocket-Protocol values offered, in order (every header, split on commas)."""
    headers: tuple[tuple[str, str], ...]
    """Every request header as sent (for Basic auth, Security Profile 1 and 2)."""
    remote_address: str
    """``host:port`` of the peer."""
    remote_host: str = ""
    """The peer's address without the port (what back-off and the refusal record key on)."""
    tls: TlsSession | None = None
    """The TLS session (wss://), None for plain ws://."""


@dataclass(frozen=True, slots=True)
class CloseInfo:
    """One close frame (RFC 6455 §5.5.1): its status code and reason text."""

    code: int
    reason: str


class WebSocketLink(Protocol):
    """One open WebSocket connection, as the edge drives it."""

    @property
    def is_open(self) -> bool:
        """True until a close frame was sent or received, or the connection dropped."""
        ...

    async def send_text(self, frame: bytes) -> None:
        """Send one text frame; ``frame`` is UTF-8 JSON. Does nothing once the link is closed."""
        ...

    async def close(self, code: int, reason: str) -> None:
        """Send a close frame and wait (at most the close time-out) for the connection to end."""
        ...


class MessageHandler(Protocol):
    """The edge's side of one connection. The adapter awaits each call before the next one."""

    async def receive_text(self, message: str) -> None:
        """One complete text message (OCPP-J 1.6 §4.1.2: every OCPP-J message is text)."""
        ...

    async def receive_binary(self, message: bytes) -> None:
        """One complete binary message: not OCPP-J, so the edge closes with 1003."""
        ...

    def closed(self, sent: CloseInfo | None, received: CloseInfo | None) -> None:
        """The connection has ended, after the last message was handled; None: no close frame."""
        ...


@dataclass(frozen=True, slots=True)
class Accept:
    """Complete the upgrade, answering ``subprotocol`` (None: no Sec-WebSocket-Protocol)."""

    subprotocol: str | None
    open: Callable[[WebSocketLink], MessageHandler]
    """Called once the connection is open; the handler receives its messages."""


@dataclass(frozen=True, slots=True)
class AcceptAndClose:
    """Complete the upgrade without a subprotocol, then close at once (OCPP-J 1.6 §3.1.2)."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Refuse:
    """Answer the upgrade request with an HTTP error status; ``reason`` is the text body."""

    status: HTTPStatus
    reason: str
    headers: tuple[tuple[str, str], ...] = ()
    """Extra response headers, e.g. WWW-Authenticate with a 401 (RFC 7235 §3.1)."""


HandshakeDecision = Accept | AcceptAndClose | Refuse
ReceiveHandshake = Callable[[HandshakeRequest], Awaitable[HandshakeDecision]]
"""The edge's handshake policy: the adapter awaits it for every upgrade request."""


@dataclass(frozen=True, slots=True)
class TransportOptions:
    """Limits an adapter enforces (DESIGN §4); see the settings of the same names."""

    max_frame_bytes: int
    """Largest message; a larger one is refused with close code 1009 (the edge logs it)."""
    ping_interval_s: float
    ping_timeout_s: float
    close_timeout_s: float
    tls: TlsAcceptor | None = None
    """Terminate TLS on this listener (the wss:// port), None for plain ws://."""
    backlog: int = 4096
    """Listen queue length (``ocpp_listen_backlog``)."""


class TransportServer(Protocol):
    """A listening WebSocket server that hands every upgrade request to ``ReceiveHandshake``."""

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen; returns the bound address (port 0 picks a free one)."""
        ...

    def stop_accepting(self) -> None:
        """Close the listening socket; open connections stay open."""
        ...

    async def wait_closed(self) -> None:
        """Return once the listening socket is closed and every connection has ended."""
        ...


TransportFactory = Callable[[ReceiveHandshake, TransportOptions], TransportServer]
