"""Remote trigger (OCPP 1.6 §5.17) in process: a charger in memory behind two real OCPP sessions,
a real SQLite store, the real BootNotification handler."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chargedeck.csms import reconciliation, triggers
from chargedeck.csms.commands import CommandNotAllowed, send_command
from chargedeck.csms.dispatch import dispatch
from chargedeck.csms.triggers import InvalidTrigger, TriggerResult, trigger, trigger_bulk
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId
from chargedeck.ocpp.v16.actions import ACTIONS
from chargedeck.ocpp.v16.core import BootNotificationRequest, ResetRequest
from chargedeck.ocpp.v16.enums import MessageTrigger, ResetType, TriggerMessageStatus
from chargedeck.ocpp.v16.remote_trigger import TriggerMessageRequest
from tests.support.memory_charger import MemoryLink, MemorySite, memory_site

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)
BOOT = BootNotificationRequest(charge_point_vendor="Wall Box Chargers", charge_point_model="PPR1")


@pytest.mark.parametrize("answer", list(TriggerMessageStatus))
async def test_the_chargers_answer_is_reported_as_such(
    tmp_path: Path, answer: TriggerMessageStatus
) -> None:
    async with memory_site(tmp_path, T0) as site:
        site.charger.trigger_message_answer = answer
        status = await trigger(site.services, "CP1", MessageTrigger.HEARTBEAT)
        assert status is answer
        assert site.sent(TriggerMessageRequest) == [
            TriggerMessageRequest(requested_message=MessageTrigger.HEARTBEAT)
        ]


async def test_a_connector_is_sent_for_status_notification(tmp_path: Path) -> None:
    async with memory_site(tmp_path, T0) as site:
        await trigger(site.services, "CP1", MessageTrigger.STATUS_NOTIFICATION, 2)
        assert site.sent(TriggerMessageRequest) == [
            TriggerMessageRequest(
                requested_message=MessageTrigger.STATUS_NOTIFICATION, connector_id=2
            )
        ]


async def test_a_connector_for_a_message_about_the_charge_point_is_refused_before_sending(
    tmp_path: Path,
) -> None:
    async with memory_site(tmp_path, T0) as site:
        with pytest.raises(InvalidTrigger, match="only for StatusNotification and MeterValues"):
            await trigger(site.services, "CP1", MessageTrigger.HEARTBEAT, 1)
        assert site.charger.received == []


async def test_connector_zero_is_refused_leave_it_out_instead(tmp_path: Path) -> None:
    async with memory_site(tmp_path, T0) as site:
        with pytest.raises(InvalidTrigger, match="connector_id 0 is not a connector number"):
            await trigger(site.services, "CP1", MessageTrigger.METER_VALUES, 0)


async def test_a_command_before_the_boot_is_answered_is_refused(tmp_path: Path) -> None:
    async with memory_site(tmp_path, T0) as site:
        _link(site).state.boot_status = None
        with pytest.raises(
            CommandNotAllowed, match="'CP1' has not sent BootNotification on this connection yet"
        ):
            await send_command(site.services, "CP1", ResetRequest(type=ResetType.SOFT))
        assert site.charger.received == []


async def test_the_boot_trigger_is_the_one_request_sent_before_the_boot(tmp_path: Path) -> None:
    async with memory_site(tmp_path, T0) as site:
        state = _link(site).state
        state.boot_status = None
        with pytest.raises(CommandNotAllowed, match="has not sent BootNotification"):
            await trigger(site.services, "CP1", MessageTrigger.STATUS_NOTIFICATION)
        status = await trigger(site.services, "CP1", MessageTrigger.BOOT_NOTIFICATION)
        assert status is TriggerMessageStatus.ACCEPTED
        assert state.boot_triggered_at == T0


async def test_a_refused_boot_trigger_does_not_mark_the_next_boot_as_triggered(
    tmp_path: Path,
) -> None:
    async with memory_site(tmp_path, T0) as site:
        site.charger.trigger_message_answer = TriggerMessageStatus.REJECTED
        await trigger(site.services, "CP1", MessageTrigger.BOOT_NOTIFICATION)
        assert _link(site).state.boot_triggered_at is None


async def test_bulk_reports_every_charger_also_those_not_asked(tmp_path: Path) -> None:
    async with memory_site(tmp_path, T0) as site:
        await site.services.store.charge_points.add_charge_point(
            ChargePointId("CP2"), Registration.REGISTERED, T0
        )
        results = await trigger_bulk(
            site.services, ["CP1", "CP2", "NOBODY", "CP1"], MessageTrigger.HEARTBEAT
        )
        assert [(r.charge_point_id, r.status) for r in results] == [
            ("CP1", "Accepted"),
            ("CP2", "NotConnected"),
            ("NOBODY", "UnknownChargePoint"),
        ]
        assert results[1] == TriggerResult(
            "CP2", "NotConnected", "charge point 'CP2' is not connected"
        )


async def test_bulk_with_a_wrong_connector_asks_nobody(tmp_path: Path) -> None:
    async with memory_site(tmp_path, T0) as site:
        with pytest.raises(InvalidTrigger):
            await trigger_bulk(site.services, ["CP1"], MessageTrigger.HEARTBEAT, 1)
        assert site.charger.received == []


async def test_a_silent_connection_is_asked_for_its_boot_then_for_every_status(
    tmp_path: Path,
) -> None:
    async with memory_site(tmp_path, T0) as site:
        state = _link(site).state
        state.boot_status = None
        asking = asyncio.create_task(
            triggers.ask_for_boot(site.services, state, boot_wait_s=0, answer_wait_s=2)
        )
        for _ in range(200):  # the trigger is on its way at once
            if site.sent(TriggerMessageRequest):
                break
            await asyncio.sleep(0.01)
        await dispatch(site.services, state, ACTIONS["BootNotification"], BOOT)  # as asked
        assert await asking
        assert site.sent(TriggerMessageRequest) == [
            TriggerMessageRequest(requested_message=MessageTrigger.BOOT_NOTIFICATION),
            TriggerMessageRequest(requested_message=MessageTrigger.STATUS_NOTIFICATION),
        ]
        await asyncio.gather(*reconciliation.background_tasks())


async def test_a_connection_that_booted_is_not_asked(tmp_path: Path) -> None:
    async with memory_site(tmp_path, T0) as site:
        state = _link(site).state  # its boot was answered Accepted
        assert not await triggers.ask_for_boot(site.services, state, boot_wait_s=0)
        assert site.charger.received == []


async def test_a_charger_that_refuses_the_boot_trigger_is_asked_nothing_more(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with memory_site(tmp_path, T0) as site:
        state = _link(site).state
        state.boot_status = None
        site.charger.trigger_message_answer = TriggerMessageStatus.NOT_IMPLEMENTED
        assert not await triggers.ask_for_boot(site.services, state, boot_wait_s=0)
        assert len(site.sent(TriggerMessageRequest)) == 1
        assert "answered TriggerMessage(BootNotification) after connecting with NotImplemented" in (
            caplog.text
        )


def _link(site: MemorySite) -> MemoryLink:
    link = site.services.stations.get("CP1")
    assert isinstance(link, MemoryLink)
    return link
