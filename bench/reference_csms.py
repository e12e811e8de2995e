"""Reference CSMS built on the PyPI `ocpp` library (mobilityhouse), with handlers that do nothing.

It is what a developer gets by following that library's documentation: one
``ocpp.v16.ChargePoint`` per connection, ``@on`` handlers for BootNotification, Heartbeat,
MeterValues, StatusNotification, StartTransaction and StopTransaction that only return a valid
result (a Start gets the next number of a process-wide counter as its transactionId), the
library's default schema validation of every CALL and CALLRESULT (run in the default thread
pool, as the library does), no storage. The transport is the one the echo server and ChargeDeck
use: websockets new asyncio API, no permessage-deflate, 64 KiB max frame, 60 s pings,
subprotocol ocpp1.6, uvloop.

Usage: ``python bench/reference_csms.py [--host 127.0.0.1] [--port 0] [--tls-cert PEM --tls-key
PEM --tls-port 0]``; chargers connect to ``ws://HOST:PORT/ocpp/<id>`` (and wss:// on the TLS
port); prints ``listening on HOST:PORT`` (then ``tls listening on HOST:PORT``) when ready; runs
until SIGTERM.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from _support import run_server

OCPP_PATH_PREFIX = "/ocpp/"
HEARTBEAT_INTERVAL_S = 300
TRANSACTION_IDS = itertools.count(1)


def utc_now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DoNothingChargePoint(ChargePoint):  # type: ignore[misc]  # the library ships no types
    """Answers the six actions of the benchmarks with valid, empty-handed results."""

    @on(Action.boot_notification)  # type: ignore[untyped-decorator]
    def on_boot_notification(self, **_payload: Any) -> call_result.BootNotification:
        return call_result.BootNotification(
            current_time=utc_now_text(),
            interval=HEARTBEAT_INTERVAL_S,
            status=RegistrationStatus.accepted,
        )

    @on(Action.heartbeat)  # type: ignore[untyped-decorator]
    def on_heartbeat(self, **_payload: Any) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=utc_now_text())

    @on(Action.meter_values)  # type: ignore[untyped-decorator]
    def on_meter_values(self, **_payload: Any) -> call_result.MeterValues:
        return call_result.MeterValues()

    @on(Action.status_notification)  # type: ignore[untyped-decorator]
    def on_status_notification(self, **_payload: Any) -> call_result.StatusNotification:
        return call_result.StatusNotification()

    @on(Action.start_transaction)  # type: ignore[untyped-decorator]
    def on_start_transaction(self, **_payload: Any) -> call_result.StartTransaction:
        return call_result.StartTransaction(
            transaction_id=next(TRANSACTION_IDS),
            id_tag_info=IdTagInfo(status=AuthorizationStatus.accepted),
        )

    @on(Action.stop_transaction)  # type: ignore[untyped-decorator]
    def on_stop_transaction(self, **_payload: Any) -> call_result.StopTransaction:
        return call_result.StopTransaction()


async def serve_charge_point(connection: ServerConnection) -> None:
    """Run one library ChargePoint on the connection until the charger disconnects."""
    path = connection.request.path if connection.request is not None else ""
    if not path.startswith(OCPP_PATH_PREFIX):
        await connection.close(code=1008, reason="path must be /ocpp/<id>")
        return
    charge_point = DoNothingChargePoint(path[len(OCPP_PATH_PREFIX) :], connection)
    try:
        await charge_point.start()
    except ConnectionClosed:
        return


def main() -> None:
    run_server(serve_charge_point, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
