"""A minimal third-party CSMS on the PyPI ``ocpp`` library (mobilityhouse): it answers what a
charger sends (Accepted throughout, or the boot answers it is given) and keeps every message, and
the library checks every CALL it receives and every answer to its own CALLs against the official
OCPP 1.6 JSON schemas (facts §2.1). Served with websockets on 127.0.0.1, port 0."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import AuthorizationStatus, RegistrationStatus


class ThirdPartyCsms(ChargePoint):  # type: ignore[misc]
    """Answers what a charger sends, Accepted throughout (StartTransaction with
    ``start_status``), and keeps (action, payload)."""

    def __init__(
        self,
        charge_point_id: str,
        connection: Any,
        boot_answers: list[tuple[RegistrationStatus, int]],
    ) -> None:
        super().__init__(charge_point_id, connection, response_timeout=10)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._transaction_ids = itertools.count(101)
        self._boot_answers = boot_answers
        self.start_status = AuthorizationStatus.accepted
        """The idTagInfo status of StartTransaction answers."""

    def of(self, action: str) -> list[dict[str, Any]]:
        return [payload for name, payload in self.received if name == action]

    @staticmethod
    def _now() -> str:
        return datetime.now(UTC).isoformat()

    @on("BootNotification")
    def on_boot_notification(self, **payload: Any) -> Any:
        self.received.append(("BootNotification", payload))
        status, interval = (
            self._boot_answers.pop(0) if self._boot_answers else (RegistrationStatus.accepted, 60)
        )
        return call_result.BootNotification(
            current_time=self._now(), interval=interval, status=status
        )

    @on("Heartbeat")
    def on_heartbeat(self, **payload: Any) -> Any:
        self.received.append(("Heartbeat", payload))
        return call_result.Heartbeat(current_time=self._now())

    @on("StatusNotification")
    def on_status_notification(self, **payload: Any) -> Any:
        self.received.append(("StatusNotification", payload))
        return call_result.StatusNotification()

    @on("Authorize")
    def on_authorize(self, **payload: Any) -> Any:
        self.received.append(("Authorize", payload))
        return call_result.Authorize(id_tag_info={"status": AuthorizationStatus.accepted})

    @on("StartTransaction")
    def on_start_transaction(self, **payload: Any) -> Any:
        self.received.append(("StartTransaction", payload))
        return call_result.StartTransaction(
            transaction_id=next(self._transaction_ids),
            id_tag_info={"status": self.start_status},
        )

    @on("StopTransaction")
    def on_stop_transaction(self, **payload: Any) -> Any:
        self.received.append(("StopTransaction", payload))
        return call_result.StopTransaction()

    @on("MeterValues")
    def on_meter_values(self, **payload: Any) -> Any:
        self.received.append(("MeterValues", payload))
        return call_result.MeterValues()


@asynccontextmanager
async def third_party_csms(
    boot_answers: Iterable[tuple[RegistrationStatus, int]] = (),
) -> AsyncIterator[tuple[str, list[ThirdPartyCsms]]]:
    """A CSMS on 127.0.0.1, port 0, subprotocol ocpp1.6; yields its URL and its connections
    (one per WebSocket, newest last). ``boot_answers``: (status, interval) for the first
    BootNotifications, shared by its connections; Accepted with 60 s after them."""
    connections: list[ThirdPartyCsms] = []
    answers = list(boot_answers)

    async def serve(ws: Any) -> None:
        csms = ThirdPartyCsms(ws.request.path.rsplit("/", 1)[-1], ws, answers)
        connections.append(csms)
        try:
            await csms.start()
        except websockets.ConnectionClosed:
            return

    async with websockets.serve(serve, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/steve/websocket/CentralSystemService", connections
