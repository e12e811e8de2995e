"""LogStatusNotification (whitepaper "Improved security for OCPP 1.6-J" ed.3, use case N01):
the progress of the upload a GetLog asked for, stored with its requestId."""

from __future__ import annotations

import logging
from typing import Final

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.diagnostics import receive_diagnostics_status
from chargedeck.ocpp.v16.enums import UploadLogStatus
from chargedeck.ocpp.v16.security import (
    LogStatusNotificationRequest,
    LogStatusNotificationResponse,
)
from chargedeck.store.security_records import RequestStatusRow

log = logging.getLogger(__name__)

_RESPONSE = LogStatusNotificationResponse()

# UploadLogStatusEnumType values that mean the log will not arrive: the operator must act.
_FAILED: Final = frozenset(
    {
        UploadLogStatus.BAD_MESSAGE,
        UploadLogStatus.NOT_SUPPORTED_OPERATION,
        UploadLogStatus.PERMISSION_DENIED,
        UploadLogStatus.UPLOAD_FAILURE,
    }
)


async def handle_log_status_notification(
    services: CsmsServices, state: ConnectionState, request: LogStatusNotificationRequest
) -> LogStatusNotificationResponse:
    await services.store.security_records.add_log_status(
        RequestStatusRow(
            charge_point_id=state.charge_point_id,
            status=request.status.value,
            request_id=request.request_id,
            received_at=services.clock.now(),
        )
    )
    log.log(
        logging.WARNING if request.status in _FAILED else logging.INFO,
        "charge point %s log upload (GetLog requestId %s): %s",
        state.charge_point_id,
        request.request_id,
        request.status.value,
    )
    await receive_diagnostics_status(
        services, state.charge_point_id, request.status, request.request_id
    )
    return _RESPONSE
