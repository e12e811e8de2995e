"""StatusNotification (OCPP 1.6 §4.9): connector 0 and each connector, with history.

Written through the group-commit writer; answered after the commit (DESIGN §6). A connector
going Preparing may start a free-vend transaction (csms/free_vend.py), in the background; one
going Available with a transaction still open gets it closed after a grace period
(csms/reconciliation.py).
"""

from __future__ import annotations

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.events import AlertRaised, StatusChanged
from chargedeck.csms.free_vend import on_connector_preparing
from chargedeck.csms.reconciliation import on_connector_available
from chargedeck.domain.ids import ConnectorId
from chargedeck.ocpp.v16.core import StatusNotificationRequest, StatusNotificationResponse
from chargedeck.ocpp.v16.enums import ChargePointStatus
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
    services.events.publish(
        StatusChanged(
            charge_point_id=state.charge_point_id,
            connector_id=request.connector_id,
            status=request.status.value,
            error_code=request.error_code.value,
            info=request.info,
            vendor_error_code=request.vendor_error_code,
        )
    )
    if request.status is ChargePointStatus.FAULTED:
        services.events.publish(
            AlertRaised(
                charge_point_id=state.charge_point_id,
                connector_id=request.connector_id,
                kind="fault",
                message=f"connector {request.connector_id} is Faulted: {request.error_code.value}"
                + (f" ({request.info})" if request.info else "")
                + (
                    f", vendor code {request.vendor_error_code}"
                    if request.vendor_error_code
                    else ""
                ),
            )
        )
    services.load_control.on_status(
        state.charge_point_id, request.connector_id, request.status.value
    )
    if request.status is ChargePointStatus.PREPARING and request.connector_id > 0:
        on_connector_preparing(services, state, ConnectorId(request.connector_id))
    if request.status is ChargePointStatus.AVAILABLE and request.connector_id > 0:
        reported_at = request.timestamp or services.clock.now()
        on_connector_available(services, state, ConnectorId(request.connector_id), reported_at)
    return _RESPONSE
