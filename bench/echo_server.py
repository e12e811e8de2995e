"""Raw `websockets` server that answers every OCPP CALL without parsing it: the transport ceiling.

Each text frame ``[2,"<id>","<Action>",{...}]`` is answered with ``[3,"<id>",{}]``, cut out of the
received bytes by slicing (no JSON decoding, no validation, no storage). The reply therefore has
the size of a real CALLRESULT for MeterValues or StatusNotification, so the transport moves the
same bytes per round trip as it does for a CSMS, and the load generator can treat the reply exactly
as it treats a CSMS's reply. Echoing the whole CALL back would make the server send 1.2 KB frames
that no CSMS sends, lowering the ceiling and flattering the CSMS under test.

Transport settings are the ones ChargeDeck uses (DESIGN §4): websockets new asyncio API, no
permessage-deflate, 64 KiB max frame, 60 s pings, subprotocol ocpp1.6, uvloop.

Usage: ``python bench/echo_server.py [--host 127.0.0.1] [--port 0]``; prints
``listening on HOST:PORT`` when ready and runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from _support import (
    MAX_FRAME_BYTES,
    OCPP_SUBPROTOCOL,
    PING_INTERVAL_S,
    announce_listening,
    install_uvloop,
    raise_open_files_limit,
)

CALL_PREFIX = b'[2,"'
"""OCPP-J 1.6 §4.2.1: a CALL starts with MessageTypeId 2 followed by the UniqueId string."""


def build_reply(frame: bytes) -> bytes:
    """Cut ``[3,"<id>",{}]`` out of a CALL by byte slicing; anything else is sent back as is."""
    if not frame.startswith(CALL_PREFIX):
        return frame
    end_of_id = frame.find(b'"', len(CALL_PREFIX))
    if end_of_id < 0:
        return frame
    return b"[3," + frame[3 : end_of_id + 1] + b",{}]"


async def answer_calls(connection: ServerConnection) -> None:
    """Answer each received frame with one text frame until the peer goes away."""
    try:
        while True:
            frame = await connection.recv(decode=False)
            if isinstance(frame, str):  # pragma: no cover - decode=False always gives bytes
                frame = frame.encode()
            await connection.send(build_reply(frame), text=True)
    except ConnectionClosed:
        return


async def serve_until_stopped(host: str, port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set_result, None)
    async with serve(
        answer_calls,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    arguments = parser.parse_args()
    raise_open_files_limit()
    install_uvloop()
    asyncio.run(serve_until_stopped(arguments.host, arguments.port))


if __name__ == "__main__":
    main()
