"""The TriggerMessage row of the command table (csms/commands/remote_trigger.py): what the generic
command path (``send_command``, behind ``POST /charge-points/{id}/commands/TriggerMessage``)
refuses before anything reaches the charger. OCPP 1.6 §6.51: connectorId, when given, is > 0."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from chargedeck.csms.commands import CommandNotAllowed, send_command
from chargedeck.ocpp.v16.enums import MessageTrigger, TriggerMessageStatus
from chargedeck.ocpp.v16.remote_trigger import TriggerMessageRequest, TriggerMessageResponse
from tests.support.memory_charger import memory_site

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "message", [MessageTrigger.STATUS_NOTIFICATION, MessageTrigger.METER_VALUES]
)
async def test_connector_zero_is_refused_before_sending(
    tmp_path: Path, message: MessageTrigger
) -> None:
    async with memory_site(tmp_path, T0) as site:
        request = TriggerMessageRequest(requested_message=message, connector_id=0)
        with pytest.raises(CommandNotAllowed, match="connector_id 0 is not a connector number"):
            await send_command(site.services, "CP1", request)
        assert site.charger.received == []


async def test_a_negative_connector_is_refused_before_sending(tmp_path: Path) -> None:
    async with memory_site(tmp_path, T0) as site:
        request = TriggerMessageRequest(
            requested_message=MessageTrigger.STATUS_NOTIFICATION, connector_id=-1
        )
        with pytest.raises(CommandNotAllowed, match="connector_id -1 is not a connector number"):
            await send_command(site.services, "CP1", request)
        assert site.charger.received == []


@pytest.mark.parametrize("connector_id", [None, 1])
async def test_a_connector_number_or_none_is_sent(tmp_path: Path, connector_id: int | None) -> None:
    async with memory_site(tmp_path, T0) as site:
        request = TriggerMessageRequest(
            requested_message=MessageTrigger.STATUS_NOTIFICATION, connector_id=connector_id
        )
        answer = await send_command(site.services, "CP1", request)
        assert answer == TriggerMessageResponse(status=TriggerMessageStatus.ACCEPTED)
        assert site.charger.received == [request]


@pytest.mark.parametrize(
    ("answer", "marked"),
    [(TriggerMessageStatus.ACCEPTED, True), (TriggerMessageStatus.REJECTED, False)],
)
async def test_a_boot_asked_for_through_any_path_is_marked_as_triggered(
    tmp_path: Path, answer: TriggerMessageStatus, marked: bool
) -> None:
    """The Boot a TriggerMessage brings is not a reboot (csms/reconciliation.py): the generic
    command path marks the connection too, and unmarks it when no Boot is coming."""
    async with memory_site(tmp_path, T0) as site:
        site.charger.trigger_message_answer = answer
        request = TriggerMessageRequest(requested_message=MessageTrigger.BOOT_NOTIFICATION)
        await send_command(site.services, "CP1", request)
        link = site.services.stations.get("CP1")
        assert link is not None
        assert (link.state.boot_triggered_at is not None) is marked
