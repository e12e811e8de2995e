"""DiagnosticsStatusNotification (OCPP 1.6 §4.4): recorded; jobs come with diagnostics uploads."""

from __future__ import annotations

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.diagnostics import receive_diagnostics_status
from chargedeck.ocpp.v16.firmware import (
    DiagnosticsStatusNotificationRequest,
    DiagnosticsStatusNotificationResponse,
)
from chargedeck.store.records import DiagnosticsStatusRow

_RESPONSE = DiagnosticsStatusNotificationResponse()


async def handle_diagnostics_status_notification(
    services: CsmsServices, state: ConnectionState, request: DiagnosticsStatusNotificationRequest
) -> DiagnosticsStatusNotificationResponse:
    await services.store.writer.write_diagnostics_status(
        DiagnosticsStatusRow(
            charge_point_id=state.charge_point_id,
            status=request.status.value,
            received_at=services.clock.now(),
        )
    )
    await receive_diagnostics_status(services, state.charge_point_id, request.status)
    return _RESPONSE
