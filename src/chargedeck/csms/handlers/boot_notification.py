"""BootNotification (OCPP 1.6 §4.2): register the boot, answer Accepted or Pending.

The boot record is committed before the answer (DESIGN §6), through the group commit so a
reconnect storm shares commits. A charger the operator has not adopted is answered Pending with
a retry interval and listed in the adoption inbox; under the ``accept`` policy an unknown charger
is registered on its first boot. Transactions the charger left open when it rebooted are closed
in the background once the boot is recorded (csms/reconciliation.py).
"""

from __future__ import annotations

import logging

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.events import ChargerBooted
from chargedeck.csms.firmware import receive_boot_firmware
from chargedeck.csms.reconciliation import on_boot
from chargedeck.domain.charge_points import Registration, UnknownChargePointPolicy
from chargedeck.ocpp.v16.core import BootNotificationRequest, BootNotificationResponse
from chargedeck.ocpp.v16.enums import RegistrationStatus
from chargedeck.store.records import BootRecord, BootRow

log = logging.getLogger(__name__)


async def handle_boot_notification(
    services: CsmsServices, state: ConnectionState, request: BootNotificationRequest
) -> BootNotificationResponse:
    now = services.clock.now()
    charge_point_id = state.charge_point_id
    accept_unknown = services.settings.unknown_charge_points is UnknownChargePointPolicy.ACCEPT
    new_registration = Registration.REGISTERED if accept_unknown else Registration.PENDING
    if state.registration is Registration.PENDING:
        # Re-read: the operator may have adopted it since its last boot.
        known = await services.store.charge_points.get_charge_point(charge_point_id)
        if known is not None:
            state.registration = known.registration
    elif state.registration is None:
        # Unknown when it connected a moment ago (the handshake read the store): no second read.
        # Should the operator add it in between, the insert below keeps the operator's row.
        log.info(
            "charge point %s %s",
            charge_point_id,
            "registered on first boot (policy accept)"
            if accept_unknown
            else "is waiting for adoption in the inbox",
        )
        state.registration = new_registration
    if state.registration is Registration.REGISTERED:
        status = RegistrationStatus.ACCEPTED
        interval = services.settings.heartbeat_interval_s
    else:
        status = RegistrationStatus.PENDING
        interval = services.settings.boot_pending_interval_s
    await services.store.writer.write_boot(
        BootRow(
            charge_point_id=charge_point_id,
            boot=BootRecord(
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
            status=status.value,
            received_at=now,
            register_as=new_registration,
        )
    )
    state.boot_status = status.value
    services.events.publish(
        ChargerBooted(
            charge_point_id=charge_point_id,
            vendor=request.charge_point_vendor,
            model=request.charge_point_model,
            firmware_version=request.firmware_version,
            status=status.value,
        )
    )
    on_boot(services, state, now)
    # Every accepted boot gets its fail-safe limit again (field notes Q3, csms/load_control.py).
    services.load_control.on_boot(state)
    # The firmware version the charger boots with confirms or refutes its update (csms/firmware.py).
    await receive_boot_firmware(services, charge_point_id, request.firmware_version)
    return BootNotificationResponse(status=status, current_time=now, interval=interval)
