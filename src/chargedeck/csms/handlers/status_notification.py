"""StatusNotification (OCPP 1.6 §4.9): connector 0 and each connector, with history.

Written through the group-commit writer; answered after the commit (DESIGN §6).
"""

from __future__ import annotations

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.domain.ids import ConnectorId
from chargedeck.ocpp.v16.core import StatusNotificationRequest, StatusNotificationResponse
from chargedeck.store.records import StatusRow

_RESPONSE = StatusNotificationResponse()


async def handle_status_notification(
    services: CsmsServices, state: ConnectionState, request: StatusNotificationRequest
) -> StatusNotificationResponse:
    await services.store.writer.write_status(
        StatusRow(
            charge_point_id=state.charge_point_id,
            connector_id=ConnectorId(request.connector_id),
            status=request.status.value,
            error_code=request.error_code.value,
            info=request.info,
            vendor_id=request.vendor_id,
            vendor_error_code=request.vendor_error_code,
            timestamp=request.timestamp,
            received_at=services.clock.now(),
        )
    )
    return _RESPONSE
