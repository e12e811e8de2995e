"""BootNotification (OCPP 1.6 §4.2): register the boot, answer Accepted or Pending.

The boot record is committed before the answer (DESIGN §6). A charger the operator has not
adopted is answered Pending with a retry interval and listed in the adoption inbox; under the
``accept`` policy an unknown charger is registered on its first boot.
"""

from __future__ import annotations

import logging

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.domain.charge_points import Registration, UnknownChargePointPolicy
from chargedeck.ocpp.v16.core import BootNotificationRequest, BootNotificationResponse
from chargedeck.ocpp.v16.enums import RegistrationStatus
from chargedeck.store.records import BootRecord

log = logging.getLogger(__name__)


async def handle_boot_notification(
    services: CsmsServices, state: ConnectionState, request: BootNotificationRequest
) -> BootNotificationResponse:
    store = services.store
    now = services.clock.now()
    charge_point_id = state.charge_point_id
    if state.registration is not Registration.REGISTERED:
        # Re-read: the operator may have adopted it since its last boot.
        known = await store.charge_points.get_charge_point(charge_point_id)
        state.registration = None if known is None else known.registration
    if state.registration is None:
        if services.settings.unknown_charge_points is UnknownChargePointPolicy.ACCEPT:
            await store.charge_points.add_charge_point(
                charge_point_id, Registration.REGISTERED, now
            )
            state.registration = Registration.REGISTERED
            log.info("charge point %s registered on first boot (policy accept)", charge_point_id)
        else:
            await store.charge_points.ensure_pending_charge_point(charge_point_id, now)
            state.registration = Registration.PENDING
            log.info("charge point %s is waiting for adoption in the inbox", charge_point_id)
    if state.registration is Registration.REGISTERED:
        status = RegistrationStatus.ACCEPTED
        interval = services.settings.heartbeat_interval_s
    else:
        status = RegistrationStatus.PENDING
        interval = services.settings.boot_pending_interval_s
    await store.charge_points.record_boot(
        charge_point_id,
        BootRecord(
            charge_point_vendor=request.charge_point_vendor,
            charge_point_model=request.charge_point_model,
            charge_point_serial_number=request.charge_point_serial_number,
            charge_box_serial_number=request.charge_box_serial_number,
            firmware_version=request.firmware_version,
            iccid=request.iccid,
            imsi=request.imsi,
            meter_type=request.meter_type,
            meter_serial_number=request.meter_serial_number,
        ),
        status.value,
        now,
    )
    state.boot_status = status.value
    return BootNotificationResponse(status=status, current_time=now, interval=interval)
