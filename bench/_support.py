"""Small helpers shared by the benchmark servers and the load generator.

The scripts in bench/ run as plain files (``python bench/echo_server.py``), so this module is
imported by its bare name from the script's own folder.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import signal
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
    handler: Callable[[ServerConnection], Awaitable[None]], host: str, port: int
) -> None:
    """Serve ``handler`` with the transport settings every benchmark server shares, announce the
    bound port, and stop on SIGTERM/SIGINT."""
    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set_result, None)
    async with serve(
        handler,
        host,
        port,
        compression=None,
        subprotocols=[Subprotocol(OCPP_SUBPROTOCOL)],
        max_size=MAX_FRAME_BYTES,
        ping_interval=PING_INTERVAL_S,
    ) as server:
        bound_port = next(iter(server.sockets)).getsockname()[1]
        announce_listening(host, bound_port)
        await stop


def run_server(handler: Callable[[ServerConnection], Awaitable[None]], description: str) -> None:
    """The command line of a benchmark server: --host, --port (0 = a free port)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    arguments = parser.parse_args()
    raise_open_files_limit()
    install_uvloop()
    asyncio.run(serve_until_stopped(handler, arguments.host, arguments.port))
