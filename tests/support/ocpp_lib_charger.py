"""A charge point built on the third-party PyPI ``ocpp`` library, for end-to-end tests.

Its ``call`` validates our CALLRESULTs against the official 1.6 schemas, so every answer of
ChargeDeck that reaches a test has passed an independent validator. It answers every Core
command and records what it received.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import (
    AvailabilityStatus,
    ClearCacheStatus,
    ConfigurationStatus,
    DataTransferStatus,
    RemoteStartStopStatus,
    ResetStatus,
    UnlockStatus,
)


class LibraryCharger(ChargePoint):  # type: ignore[misc]
    """Answers the CSMS's Core commands plausibly and keeps a list of (action, kwargs)."""

    def __init__(self, charge_point_id: str, connection: Any) -> None:
        super().__init__(charge_point_id, connection, response_timeout=10)
        self.received: list[tuple[str, dict[str, Any]]] = []

    @on("ChangeAvailability")
    def on_change_availability(self, **kwargs: Any) -> Any:
        self.received.append(("ChangeAvailability", kwargs))
        return call_result.ChangeAvailability(status=AvailabilityStatus.accepted)

    @on("ChangeConfiguration")
    def on_change_configuration(self, **kwargs: Any) -> Any:
        self.received.append(("ChangeConfiguration", kwargs))
        return call_result.ChangeConfiguration(status=ConfigurationStatus.accepted)

    @on("ClearCache")
    def on_clear_cache(self, **kwargs: Any) -> Any:
        self.received.append(("ClearCache", kwargs))
        return call_result.ClearCache(status=ClearCacheStatus.accepted)

    @on("DataTransfer")
    def on_data_transfer(self, **kwargs: Any) -> Any:
        self.received.append(("DataTransfer", kwargs))
        return call_result.DataTransfer(status=DataTransferStatus.accepted, data="pong")

    @on("GetConfiguration")
    def on_get_configuration(self, **kwargs: Any) -> Any:
        self.received.append(("GetConfiguration", kwargs))
        return call_result.GetConfiguration(
            configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "60"}],
            unknown_key=[],
        )

    @on("RemoteStartTransaction")
    def on_remote_start(self, **kwargs: Any) -> Any:
        self.received.append(("RemoteStartTransaction", kwargs))
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)

    @on("RemoteStopTransaction")
    def on_remote_stop(self, **kwargs: Any) -> Any:
        self.received.append(("RemoteStopTransaction", kwargs))
        return call_result.RemoteStopTransaction(status=RemoteStartStopStatus.accepted)

    @on("Reset")
    def on_reset(self, **kwargs: Any) -> Any:
        self.received.append(("Reset", kwargs))
        return call_result.Reset(status=ResetStatus.accepted)

    @on("UnlockConnector")
    def on_unlock(self, **kwargs: Any) -> Any:
        self.received.append(("UnlockConnector", kwargs))
        return call_result.UnlockConnector(status=UnlockStatus.unlocked)


ChargerT = TypeVar("ChargerT", bound=LibraryCharger)


@asynccontextmanager
async def library_charger(
    ocpp_url: str,
    charge_point_id: str,
    charger_class: type[ChargerT] = LibraryCharger,  # type: ignore[assignment]
    *,
    headers: dict[str, str] | None = None,
    ssl: ssl_module.SSLContext | None = None,
) -> AsyncIterator[ChargerT]:
    """Connect a ``charger_class`` charger to ``ocpp_url/<id>`` (with Basic auth ``headers`` or
    an SSL context for wss://, as a charger of security profile 1-3) and run its message loop."""
    async with websockets.connect(
        f"{ocpp_url}/{charge_point_id}",
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        compression=None,
        additional_headers=headers,
        ssl=ssl,
    ) as connection:
        charger = charger_class(charge_point_id, connection)
        loop_task = asyncio.create_task(charger.start())
        try:
            yield charger
        finally:
            loop_task.cancel()
            await asyncio.gather(loop_task, return_exceptions=True)
