"""Remote Trigger profile messages (OCPP 1.6 §3.3, §5.17)."""

from __future__ import annotations

from chargedeck.ocpp.v16.base import Message
from chargedeck.ocpp.v16.enums import MessageTrigger, TriggerMessageStatus


class TriggerMessageRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.51: ask the charger to send one message now."""

    requested_message: MessageTrigger
    connector_id: int | None = None


class TriggerMessageResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.52."""

    status: TriggerMessageStatus
