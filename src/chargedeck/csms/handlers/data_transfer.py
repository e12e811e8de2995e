"""DataTransfer from a charger (OCPP 1.6 §4.3): recorded, answered per the vendor table.

ChargeDeck understands no vendor messages yet, so the vendor table is the operator's list
``accepted_data_transfer_vendors``: those vendorIds are recorded and answered Accepted, every
other vendorId gets UnknownVendorId (the enum spelling of the 1.6 schema, not the prose's
"UnknownVendor"). Every message is recorded either way, for the charger's support case.
"""

from __future__ import annotations

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.ocpp.v16.core import DataTransferRequest, DataTransferResponse
from chargedeck.ocpp.v16.enums import DataTransferStatus
from chargedeck.store.records import DataTransferDirection, DataTransferRow


async def handle_data_transfer(
    services: CsmsServices, state: ConnectionState, request: DataTransferRequest
) -> DataTransferResponse:
    if request.vendor_id in services.settings.accepted_data_transfer_vendors:
        status = DataTransferStatus.ACCEPTED
    else:
        status = DataTransferStatus.UNKNOWN_VENDOR_ID
    await services.store.notifications.record_data_transfer(
        DataTransferRow(
            charge_point_id=state.charge_point_id,
            direction=DataTransferDirection.FROM_CHARGE_POINT,
            vendor_id=request.vendor_id,
            message_id=request.message_id,
            data=request.data,
            status=status.value,
            received_at=services.clock.now(),
        )
    )
    return DataTransferResponse(status=status)
