"""SecurityEventNotification (whitepaper "Improved security for OCPP 1.6-J" ed.3, use case A04):
stored, then logged; the operator lists them per charger.

``type`` is a string in the schema, not an enum: a name outside the whitepaper's event list is
stored and logged like any other, never refused (the charger queues critical events with
guaranteed delivery, so a refusal would make it retry forever).
"""

from __future__ import annotations

import logging
from typing import Final

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.ocpp.v16.security import (
    SecurityEventNotificationRequest,
    SecurityEventNotificationResponse,
)
from chargedeck.store.security_records import SecurityEventRow

log = logging.getLogger(__name__)

_RESPONSE = SecurityEventNotificationResponse()

# The whitepaper's events (ed.3, "Security events" list) that tell of an attack, a failed
# authentication or a certificate/signature problem: logged at WARNING. The rest of the list
# (FirmwareUpdated, SettingSystemTime, StartupOfTheDevice, ResetOrReboot,
# ReconfigurationOfSecurityParameters) and unknown names are routine: INFO.
SECURITY_RELEVANT_EVENTS: Final = frozenset(
    {
        "FailedToAuthenticateAtCentralSystem",
        "CentralSystemFailedToAuthenticate",
        "SecurityLogWasCleared",
        "MemoryExhaustion",
        "InvalidMessages",
        "AttemptedReplayAttacks",
        "TamperDetectionActivated",
        "InvalidFirmwareSignature",
        "InvalidFirmwareSigningCertificate",
        "InvalidCentralSystemCertificate",
        "InvalidChargePointCertificate",
        "InvalidTLSVersion",
        "InvalidTLSCipherSuite",
    }
)


async def handle_security_event_notification(
    services: CsmsServices, state: ConnectionState, request: SecurityEventNotificationRequest
) -> SecurityEventNotificationResponse:
    await services.store.security_records.add_security_event(
        SecurityEventRow(
            charge_point_id=state.charge_point_id,
            type=request.type,
            timestamp=request.timestamp,
            tech_info=request.tech_info,
            received_at=services.clock.now(),
        )
    )
    log.log(
        logging.WARNING if request.type in SECURITY_RELEVANT_EVENTS else logging.INFO,
        "charge point %s security event %r at %s%s",
        state.charge_point_id,
        request.type,
        request.timestamp.isoformat(),
        "" if request.tech_info is None else f": {request.tech_info!r}",
    )
    return _RESPONSE
