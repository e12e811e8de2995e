"""THE handler table: one row per charger-to-CSMS action this CSMS serves (STYLE rule 2).

Every charger-to-CSMS action of 1.6 and of the Security extension has a row. A valid action
missing from it (a CSMS-to-charger action sent by a charger) is answered NotSupported.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.handlers.authorize import handle_authorize
from chargedeck.csms.handlers.boot_notification import handle_boot_notification
from chargedeck.csms.handlers.data_transfer import handle_data_transfer
from chargedeck.csms.handlers.diagnostics_status_notification import (
    handle_diagnostics_status_notification,
)
from chargedeck.csms.handlers.firmware_status_notification import (
    handle_firmware_status_notification,
)
from chargedeck.csms.handlers.heartbeat import handle_heartbeat
from chargedeck.csms.handlers.log_status_notification import handle_log_status_notification
from chargedeck.csms.handlers.meter_values import handle_meter_values
from chargedeck.csms.handlers.security_event_notification import (
    handle_security_event_notification,
)
from chargedeck.csms.handlers.sign_certificate import handle_sign_certificate
from chargedeck.csms.handlers.signed_firmware_status_notification import (
    handle_signed_firmware_status_notification,
)
from chargedeck.csms.handlers.start_transaction import handle_start_transaction
from chargedeck.csms.handlers.status_notification import handle_status_notification
from chargedeck.csms.handlers.stop_transaction import handle_stop_transaction
from chargedeck.domain.charge_points import Registration
from chargedeck.ocpp.errors import ActionNotSupported, InternalError, SecurityError
from chargedeck.ocpp.v16.actions import Action
from chargedeck.ocpp.v16.base import Message
from chargedeck.store.errors import StoreUnavailable

log = logging.getLogger(__name__)

Handler = Callable[[CsmsServices, ConnectionState, Any], Awaitable[Message]]

HANDLERS: Mapping[str, Handler] = {
    "Authorize": handle_authorize,
    "BootNotification": handle_boot_notification,
    "DataTransfer": handle_data_transfer,
    "DiagnosticsStatusNotification": handle_diagnostics_status_notification,
    "FirmwareStatusNotification": handle_firmware_status_notification,
    "Heartbeat": handle_heartbeat,
    "LogStatusNotification": handle_log_status_notification,
    "MeterValues": handle_meter_values,
    "SecurityEventNotification": handle_security_event_notification,
    "SignCertificate": handle_sign_certificate,
    "SignedFirmwareStatusNotification": handle_signed_firmware_status_notification,
    "StartTransaction": handle_start_transaction,
    "StatusNotification": handle_status_notification,
    "StopTransaction": handle_stop_transaction,
}


async def dispatch(
    services: CsmsServices, state: ConnectionState, action: Action, request: Message
) -> Message:
    """Run the handler of a valid CALL and return its answer.

    Raises a CallErrorSent subclass for refusals: SecurityError before adoption (OCPP 1.6
    §4.2.1: only BootNotification until the boot is accepted), ActionNotSupported for actions
    without a handler, InternalError when the store fails (the charger retries later; nothing it
    sent is acknowledged without being stored).
    """
    if action.name != "BootNotification" and state.registration is not Registration.REGISTERED:
        raise SecurityError(
            f"charge point {state.charge_point_id!r} is not accepted yet (waiting for adoption); "
            "only BootNotification is allowed"
        )
    handler = HANDLERS.get(action.name)
    if handler is None:
        raise ActionNotSupported(f"{action.name} is not supported by this CSMS")
    try:
        return await handler(services, state, request)
    except StoreUnavailable as exc:
        log.error("charge point %s: %s not stored: %s", state.charge_point_id, action.name, exc)
        raise InternalError(f"{action.name} could not be stored; retry later") from exc
