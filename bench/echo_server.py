"""Raw `websockets` server that answers every OCPP CALL without parsing it: the transport ceiling.

Each text frame ``[2,"<id>","<Action>",{...}]`` is answered with ``[3,"<id>",{}]``, cut out of the
received bytes by slicing (no JSON decoding, no validation, no storage). The reply therefore has
the size of a real CALLRESULT for MeterValues or StatusNotification, so the transport moves the
same bytes per round trip as it does for a CSMS, and the load generator can treat the reply exactly
as it treats a CSMS's reply. Echoing the whole CALL back would make the server send 1.2 KB frames
that no CSMS sends, lowering the ceiling and flattering the CSMS under test.

Transport settings are the ones ChargeDeck uses (DESIGN §4): websockets new asyncio API, no
permessage-deflate, 64 KiB max frame, 60 s pings, subprotocol ocpp1.6, uvloop.

Usage: ``python bench/echo_server.py [--host 127.0.0.1] [--port 0] [--tls-cert PEM --tls-key
PEM --tls-port 0] [--backlog 100]``; prints ``listening on HOST:PORT`` (then ``tls listening on
HOST:PORT``) when ready and runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from _support import run_server

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


def main() -> None:
    run_server(answer_calls, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
