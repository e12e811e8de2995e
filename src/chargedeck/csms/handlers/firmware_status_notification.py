"""FirmwareStatusNotification (OCPP 1.6 §4.5): recorded; jobs come with firmware management."""

from __future__ import annotations

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.firmware import receive_firmware_status
from chargedeck.ocpp.v16.firmware import (
    FirmwareStatusNotificationRequest,
    FirmwareStatusNotificationResponse,
)
from chargedeck.store.records import FirmwareStatusRow

_RESPONSE = FirmwareStatusNotificationResponse()


async def handle_firmware_status_notification(
    services: CsmsServices, state: ConnectionState, request: FirmwareStatusNotificationRequest
) -> FirmwareStatusNotificationResponse:
    await services.store.writer.write_firmware_status(
        FirmwareStatusRow(
            charge_point_id=state.charge_point_id,
            status=request.status.value,
            received_at=services.clock.now(),
        )
    )
    await receive_firmware_status(services, state.charge_point_id, request.status)
    return _RESPONSE
