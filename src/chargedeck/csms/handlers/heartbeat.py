"""Heartbeat (OCPP 1.6 §4.6): answer the time; the last-seen time is written lazily."""

from __future__ import annotations

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.ocpp.v16.core import HeartbeatRequest, HeartbeatResponse


async def handle_heartbeat(
    services: CsmsServices, state: ConnectionState, request: HeartbeatRequest
) -> HeartbeatResponse:
    now = services.clock.now()
    # Nothing a heartbeat acknowledges needs to be durable: coalesced into the next batch.
    services.store.writer.note_heartbeat(state.charge_point_id, now)
    return HeartbeatResponse(current_time=now)
