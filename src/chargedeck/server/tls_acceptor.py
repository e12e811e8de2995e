"""TLS on the charger port, with every failed handshake seen and explained.

``loop.create_server(ssl=...)`` completes TLS before the protocol hears of the connection, and a
handshake that fails is dropped without a word to the application (asyncio and uvloop log it only
in debug mode). But "Certificate Validation Failed" in the charger's app is exactly the failure an
owner needs explained (Wallbox field notes Q18). So the listener accepts plain TCP, and each new
connection is handed to :func:`take_over_tls`, which runs the handshake itself with
``loop.connect_accepted_socket(ssl=...)``: the handshake's outcome comes back to us, with the
peer's address, the OpenSSL reason and the client certificate.

The accepted socket is duplicated and the plain transport aborted before it reads a byte (uvloop
ignores ``pause_reading()`` inside ``connection_made``, so starting TLS on that transport would
lose the ClientHello); the duplicate then carries the TLS connection. The SSL context is asked
for at each handshake, so a reloaded certificate applies to new chargers only and connected ones
stay connected.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TlsSession:
    """What the edge needs to know about a connection's TLS."""

    version: str
    cipher: str
    client_certificate_der: bytes | None


@dataclass(frozen=True, slots=True)
class TlsFailure:
    """A TLS handshake that did not complete."""

    remote_host: str
    ssl_reason: str | None
    """OpenSSL's reason code, e.g. TLSV1_ALERT_UNKNOWN_CA."""
    verify_message: str | None
    """Set when the client certificate failed verification."""
    connection_lost: bool
    timed_out: bool


@dataclass(frozen=True, slots=True)
class TlsAcceptor:
    """How an adapter terminates TLS: the current context, the time limit, who hears of
    failures."""

    context: Callable[[], ssl.SSLContext]
    handshake_timeout_s: float
    on_failure: Callable[[TlsFailure], None]
    refuses_host: Callable[[str], bool] = lambda host: False
    """True for an address in its failure back-off: closed before any TLS work."""


class _Discard(asyncio.Protocol):
    """Owns the aborted plain transport so its end is not reported to the real protocol."""


def take_over_tls(
    raw: asyncio.BaseTransport, protocol: asyncio.Protocol, acceptor: TlsAcceptor
) -> None:
    """Run the TLS handshake for a freshly accepted plain connection, then call
    ``protocol.connection_made`` with the TLS transport; on failure tell ``acceptor``."""
    sock = raw.get_extra_info("socket")
    peer = raw.get_extra_info("peername")
    host = str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)
    raw.set_protocol(_Discard())
    if acceptor.refuses_host(host):
        cast(asyncio.Transport, raw).abort()
        return
    duplicate = socket.socket(fileno=os.dup(sock.fileno()))
    cast(asyncio.Transport, raw).abort()  # uvloop's transports have abort() but other bases
    task = asyncio.get_running_loop().create_task(_handshake(duplicate, protocol, acceptor, host))
    _HANDSHAKES.add(task)
    task.add_done_callback(_HANDSHAKES.discard)


_HANDSHAKES: set[asyncio.Task[None]] = set()


async def _handshake(
    sock: socket.socket, protocol: asyncio.Protocol, acceptor: TlsAcceptor, host: str
) -> None:
    loop = asyncio.get_running_loop()
    try:
        await loop.connect_accepted_socket(
            lambda: protocol,
            sock,
            ssl=acceptor.context(),
            ssl_handshake_timeout=acceptor.handshake_timeout_s,
        )
    except ssl.SSLCertVerificationError as exc:
        _failed(acceptor, sock, TlsFailure(host, exc.reason, exc.verify_message, False, False))
    except ssl.SSLError as exc:
        _failed(acceptor, sock, TlsFailure(host, exc.reason, None, False, False))
    except (TimeoutError, ConnectionAbortedError) as exc:
        # asyncio and uvloop report the handshake time-out as ConnectionAbortedError.
        timed_out = isinstance(exc, TimeoutError) or "taking longer" in str(exc)
        _failed(acceptor, sock, TlsFailure(host, None, None, not timed_out, timed_out))
    except OSError:
        _failed(acceptor, sock, TlsFailure(host, None, None, True, False))


def _failed(acceptor: TlsAcceptor, sock: socket.socket, failure: TlsFailure) -> None:
    if sock.fileno() >= 0:
        sock.close()
    acceptor.on_failure(failure)


def tls_session(transport: asyncio.BaseTransport) -> TlsSession | None:
    """The TLS facts of a connection, or None for plain ws."""
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    return TlsSession(
        version=str(ssl_object.version()),
        cipher=str(cipher[0]) if cipher else "",
        client_certificate_der=ssl_object.getpeercert(binary_form=True),
    )
