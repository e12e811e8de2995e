"""SignedFirmwareStatusNotification (whitepaper "Improved security for OCPP 1.6-J" ed.3, use case
L01): the progress of a SignedUpdateFirmware, stored with its requestId."""

from __future__ import annotations

import logging
from typing import Final

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.firmware import receive_firmware_status
from chargedeck.ocpp.v16.enums import SignedFirmwareStatus
from chargedeck.ocpp.v16.security import (
    SignedFirmwareStatusNotificationRequest,
    SignedFirmwareStatusNotificationResponse,
)
from chargedeck.store.security_records import RequestStatusRow

log = logging.getLogger(__name__)

_RESPONSE = SignedFirmwareStatusNotificationResponse()

# FirmwareStatusEnumType values that end the update without new firmware; InvalidSignature and
# InstallVerificationFailed may also mean a tampered image (the charger raises the
# InvalidFirmwareSignature security event for the former).
_FAILED: Final = frozenset(
    {
        SignedFirmwareStatus.DOWNLOAD_FAILED,
        SignedFirmwareStatus.INSTALLATION_FAILED,
        SignedFirmwareStatus.INSTALL_VERIFICATION_FAILED,
        SignedFirmwareStatus.INVALID_SIGNATURE,
    }
)


async def handle_signed_firmware_status_notification(
    services: CsmsServices,
    state: ConnectionState,
    request: SignedFirmwareStatusNotificationRequest,
) -> SignedFirmwareStatusNotificationResponse:
    await services.store.security_records.add_signed_firmware_status(
        RequestStatusRow(
            charge_point_id=state.charge_point_id,
            status=request.status.value,
            request_id=request.request_id,
            received_at=services.clock.now(),
        )
    )
    log.log(
        logging.WARNING if request.status in _FAILED else logging.INFO,
        "charge point %s signed firmware update (SignedUpdateFirmware requestId %s): %s",
        state.charge_point_id,
        request.request_id,
        request.status.value,
    )
    await receive_firmware_status(
        services, state.charge_point_id, request.status, request.request_id
    )
    return _RESPONSE
