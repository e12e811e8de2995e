"""Small helpers shared by the benchmark servers and the load generator.

The scripts in bench/ run as plain files (``python bench/echo_server.py``), so this module is
imported by its bare name from the script's own folder.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import signal
import ssl
import sys
from collections.abc import Awaitable, Callable

from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

OCPP_SUBPROTOCOL = "ocpp1.6"
"""OCPP-J 1.6 §3.1.2: the WebSocket subprotocol every charger asks for."""

MAX_FRAME_BYTES = 64 * 1024
"""Largest frame accepted: the same limit ChargeDeck uses (DESIGN §4), so no server gets a cheaper
or dearer size check than another."""

PING_INTERVAL_S = 60.0
"""Keep-alive ping interval of the servers (DESIGN §4), identical for all three servers."""

LISTEN_BACKLOG = 100
"""asyncio's default listen queue (loop.create_server), which ChargeDeck's listener also uses:
the reconnect storm depends on it (bench/README.md)."""


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit so 5,000 sockets fit; returns the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def install_uvloop() -> str:
    """Use uvloop where it is installed (DESIGN §4); returns the loop's name for the report."""
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def announce_listening(host: str, port: int) -> None:
    """Print the ready line the harness waits for (same shape as ChargeDeck's log line)."""
    print(f"listening on {host}:{port}", flush=True)
    sys.stdout.flush()


async def serve_until_stopped(
    handler: Callable[[ServerConnection], Awaitable[None]],
    host: str,
    port: int,
    tls: ssl.SSLContext | None = None,
    tls_port: int = 0,
    backlog: int = LISTEN_BACKLOG,
) -> None:
    """Serve ``handler`` with the transport settings every benchmark server shares, announce the
    bound port, and stop on SIGTERM/SIGINT. With ``tls``, also serve wss:// on ``tls_port``
    (announced as ``tls listening on HOST:PORT`` after the plain line)."""
    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set_result, None)
    options: dict[str, object] = {
        "compression": None,
        "subprotocols": [Subprotocol(OCPP_SUBPROTOCOL)],
        "max_size": MAX_FRAME_BYTES,
        "ping_interval": PING_INTERVAL_S,
        "backlog": backlog,
    }
    async with contextlib.AsyncExitStack() as servers:
        server = await servers.enter_async_context(serve(handler, host, port, **options))
        bound_port = next(iter(server.sockets)).getsockname()[1]
        announce_listening(host, bound_port)
        if tls is not None:
            secure = await servers.enter_async_context(
                serve(handler, host, tls_port, ssl=tls, **options)
            )
            print(f"tls listening on {host}:{next(iter(secure.sockets)).getsockname()[1]}")
            sys.stdout.flush()
        await stop


def run_server(handler: Callable[[ServerConnection], Awaitable[None]], description: str) -> None:
    """The command line of a benchmark server: --host, --port (0 = a free port), and wss:// on
    --tls-port with --tls-cert/--tls-key (PEM chain and key, as ChargeDeck's settings)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls-cert", default="", help="PEM certificate chain: also serve wss://")
    parser.add_argument("--tls-key", default="", help="PEM private key of --tls-cert")
    parser.add_argument("--tls-port", type=int, default=0)
    parser.add_argument(
        "--backlog",
        type=int,
        default=LISTEN_BACKLOG,
        help="listen queue length (default: asyncio's, as ChargeDeck's listener)",
    )
    arguments = parser.parse_args()
    raise_open_files_limit()
    install_uvloop()
    tls = None
    if arguments.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(arguments.tls_cert, arguments.tls_key)
    asyncio.run(
        serve_until_stopped(
            handler, arguments.host, arguments.port, tls, arguments.tls_port, arguments.backlog
        )
    )
