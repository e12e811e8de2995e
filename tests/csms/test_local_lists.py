"""Local Authorization List sync (OCPP 1.6 §3.5.2, §5.10, §5.15) over a real SQLite store, to a
charger in memory behind two real OCPP sessions (tests/support/memory_charger.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chargedeck.csms.commands import CommandNotAllowed, send_command
from chargedeck.csms.local_lists import (
    LocalListNotAccepted,
    LocalListRefused,
    resync_after_id_tag_change,
    sync_local_list,
    wait_for_resyncs,
)
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId, IdTag
from chargedeck.ocpp.errors import CallTimeout
from chargedeck.ocpp.v16.enums import AuthorizationStatus, UpdateStatus, UpdateType
from chargedeck.ocpp.v16.local_auth import SendLocalListRequest
from chargedeck.ocpp.v16.types import AuthorizationData, IdTagInfo
from chargedeck.store.records import BootRecord, BootRow
from tests.support.memory_charger import MemoryLink, MemorySite, memory_site, memory_state

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)
CP = ChargePointId("CP1")


async def add_tags(site: MemorySite, count: int, prefix: str = "TAG") -> None:
    for number in range(count):
        await site.services.store.id_tags.add_id_tag(IdTag(f"{prefix}{number:04d}"), now=T0)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[MemorySite]:
    async with memory_site(tmp_path, T0) as opened:
        yield opened


async def test_500_tags_go_out_in_5_parts_of_100_with_consecutive_versions(
    site: MemorySite,
) -> None:
    await add_tags(site, 500)
    result = await sync_local_list(site.services, CP)
    sent = site.charger.sent_lists
    assert [(r.list_version, r.update_type) for r in sent] == [
        (1, UpdateType.FULL),
        (2, UpdateType.DIFFERENTIAL),
        (3, UpdateType.DIFFERENTIAL),
        (4, UpdateType.DIFFERENTIAL),
        (5, UpdateType.DIFFERENTIAL),
    ]
    assert all(len(r.local_authorization_list or []) == 100 for r in sent)
    assert len(site.charger.entries) == 500
    assert (result.version, result.entry_count, result.full_resend) == (5, 500, False)
    assert [(s.list_version, s.entry_count, s.status) for s in result.sends] == [
        (version, 100, "Accepted") for version in range(1, 6)
    ]


async def test_what_the_charger_holds_and_sent_is_recorded(site: MemorySite) -> None:
    await add_tags(site, 150)
    await sync_local_list(site.services, CP)
    lists = site.services.store.local_lists
    held = await lists.get_held(CP)
    assert held is not None
    assert (held.version, len(held.entries)) == (2, 150)
    assert [
        (s.list_version, s.update_type.value, s.status) for s in await lists.list_sends(CP, 10)
    ] == [
        (2, "Differential", "Accepted"),
        (1, "Full", "Accepted"),
    ]


async def test_the_limits_and_offline_keys_read_are_stored(site: MemorySite) -> None:
    await sync_local_list(site.services, CP)
    reported = await site.services.store.configuration.values(
        CP, ["SendLocalListMaxLength", "LocalPreAuthorize", "AllowOfflineTxForUnknownId"]
    )
    assert reported == {
        "SendLocalListMaxLength": "100",
        "LocalPreAuthorize": "false",
        "AllowOfflineTxForUnknownId": "false",
    }


async def test_a_second_sync_sends_only_the_difference(site: MemorySite) -> None:
    await add_tags(site, 300)
    await sync_local_list(site.services, CP)
    await site.services.store.id_tags.add_id_tag(IdTag("NEW1"), now=T0)
    result = await sync_local_list(site.services, CP)
    [last] = site.charger.sent_lists[3:]
    assert (last.list_version, last.update_type) == (4, UpdateType.DIFFERENTIAL)
    assert [entry.id_tag for entry in last.local_authorization_list or []] == ["NEW1"]
    assert (result.version, result.entry_count) == (4, 301)


async def test_nothing_is_sent_to_a_charger_that_is_up_to_date(site: MemorySite) -> None:
    await add_tags(site, 3)
    await sync_local_list(site.services, CP)
    result = await sync_local_list(site.services, CP)
    assert len(site.charger.sent_lists) == 1
    assert (result.sends, result.version, result.entry_count) == ((), 1, 3)


async def test_blocked_and_expired_tags_are_listed_with_their_status(site: MemorySite) -> None:
    id_tags = site.services.store.id_tags
    await id_tags.add_id_tag(IdTag("OK1"), now=T0, expiry_date=T0 + timedelta(days=30))
    await id_tags.add_id_tag(IdTag("BLOCKED1"), now=T0, blocked=True)
    await id_tags.add_id_tag(IdTag("OLD1"), now=T0, expiry_date=T0 - timedelta(days=1))
    await sync_local_list(site.services, CP)
    entries = site.charger.entries
    assert {tag: info.status for tag, info in entries.items()} == {
        "OK1": AuthorizationStatus.ACCEPTED,
        "BLOCKED1": AuthorizationStatus.BLOCKED,
        "OLD1": AuthorizationStatus.EXPIRED,
    }
    assert entries["OK1"].expiry_date == T0 + timedelta(days=30)


async def test_a_blocked_group_blocks_its_members_in_the_list(site: MemorySite) -> None:
    id_tags = site.services.store.id_tags
    await id_tags.add_id_tag(IdTag("FLEET"), now=T0, blocked=True)
    await id_tags.add_id_tag(IdTag("DRIVER1"), now=T0, parent_id_tag=IdTag("FLEET"))
    await sync_local_list(site.services, CP)
    driver = site.charger.entries["DRIVER1"]
    assert (driver.status, driver.parent_id_tag) == (AuthorizationStatus.BLOCKED, "FLEET")


async def test_a_card_registered_by_uid_is_listed_also_as_a_wallbox_sends_it(
    site: MemorySite,
) -> None:
    boot = BootRecord(charge_point_vendor="Wall Box Chargers", charge_point_model="PLP1-0-2-4")
    await site.services.store.writer.write_boot(
        BootRow(
            charge_point_id=CP,
            boot=boot,
            status="Accepted",
            received_at=T0,
            register_as=Registration.REGISTERED,
        )
    )
    await site.services.store.id_tags.add_id_tag(
        IdTag("04A22B1A5C3D80"), now=T0, card_uid="04A22B1A5C3D80"
    )
    await sync_local_list(site.services, CP)
    assert set(site.charger.entries) == {"04A22B1A5C3D80", "803D5C1A2BA204"}


async def test_version_mismatch_is_answered_by_one_full_resend(
    site: MemorySite, caplog: pytest.LogCaptureFixture
) -> None:
    await add_tags(site, 5)
    await sync_local_list(site.services, CP)
    await add_tags(site, 2, prefix="NEW")
    site.charger.send_local_list_answers = [UpdateStatus.VERSION_MISMATCH]
    result = await sync_local_list(site.services, CP)
    assert [
        (r.update_type, len(r.local_authorization_list or [])) for r in site.charger.sent_lists[1:]
    ] == [
        (UpdateType.DIFFERENTIAL, 2),
        (UpdateType.FULL, 7),
    ]
    assert result.full_resend is True
    assert [s.status for s in result.sends] == ["VersionMismatch", "Accepted"]
    assert (result.version, len(site.charger.entries)) == (2, 7)
    assert (
        "answered VersionMismatch to a SendLocalList: sending the whole list again" in caplog.text
    )


async def test_failed_twice_is_a_clear_error_and_the_next_sync_is_full(site: MemorySite) -> None:
    await add_tags(site, 5)
    await sync_local_list(site.services, CP)
    await add_tags(site, 1, prefix="NEW")
    site.charger.send_local_list_answers = [UpdateStatus.FAILED, UpdateStatus.FAILED]
    with pytest.raises(
        LocalListNotAccepted, match="answered Failed to the local list sent again in full"
    ):
        await sync_local_list(site.services, CP)
    assert await site.services.store.local_lists.get_held(CP) is None
    await sync_local_list(site.services, CP)
    assert site.charger.sent_lists[-1].update_type is UpdateType.FULL


async def test_not_supported_is_not_retried(site: MemorySite) -> None:
    site.charger.send_local_list_answers = [UpdateStatus.NOT_SUPPORTED]
    with pytest.raises(LocalListNotAccepted, match="does not support a Local Authorization List"):
        await sync_local_list(site.services, CP)
    assert len(site.charger.sent_lists) == 1


async def test_a_list_longer_than_the_charger_holds_is_refused_before_anything_is_sent(
    site: MemorySite,
) -> None:
    site.charger.configuration["LocalAuthListMaxLength"] = "10"
    await add_tags(site, 11)
    with pytest.raises(LocalListRefused, match="11 id tags, more than the 10 the charger holds"):
        await sync_local_list(site.services, CP)
    assert site.charger.sent_lists == []


async def test_a_charger_without_a_local_list_is_refused(site: MemorySite) -> None:
    site.charger.list_version = -1
    with pytest.raises(LocalListRefused, match="GetLocalListVersion answered -1"):
        await sync_local_list(site.services, CP)


async def test_a_charger_with_its_local_list_disabled_is_refused(site: MemorySite) -> None:
    site.charger.configuration["LocalAuthListEnabled"] = "false"
    with pytest.raises(LocalListRefused, match="LocalAuthListEnabled=false"):
        await sync_local_list(site.services, CP)
    assert site.charger.sent_lists == []


async def test_a_charger_that_does_not_report_its_request_limit_is_refused(
    site: MemorySite,
) -> None:
    del site.charger.configuration["SendLocalListMaxLength"]
    with pytest.raises(LocalListRefused, match="does not report SendLocalListMaxLength"):
        await sync_local_list(site.services, CP)


async def test_a_charger_holding_another_version_gets_the_full_list(site: MemorySite) -> None:
    await add_tags(site, 3)
    await sync_local_list(site.services, CP)
    site.charger.list_version = 42  # changed by someone else (a SendLocalList sent by hand)
    await sync_local_list(site.services, CP)
    last = site.charger.sent_lists[-1]
    assert (last.list_version, last.update_type) == (43, UpdateType.FULL)


async def test_a_charger_that_stops_answering_is_then_sent_the_full_list(site: MemorySite) -> None:
    await add_tags(site, 3)
    await sync_local_list(site.services, CP)
    await add_tags(site, 1, prefix="NEW")
    site.charger.silent_on = {SendLocalListRequest}
    with pytest.raises(CallTimeout):
        await sync_local_list(site.services, CP)
    site.charger.silent_on = set()
    sends_before = len(site.charger.sent_lists)
    assert await site.services.store.local_lists.get_held(CP) is None
    [unanswered] = await site.services.store.local_lists.list_sends(CP, 1)
    assert unanswered.status is None
    await sync_local_list(site.services, CP)
    assert len(site.charger.sent_lists) > sends_before
    assert site.charger.sent_lists[-1].update_type is UpdateType.FULL


async def test_two_syncs_of_one_charger_run_one_after_the_other(site: MemorySite) -> None:
    await add_tags(site, 250)
    first, second = await asyncio.gather(
        sync_local_list(site.services, CP), sync_local_list(site.services, CP)
    )
    assert [r.list_version for r in site.charger.sent_lists] == [1, 2, 3]
    assert (len(first.sends), len(second.sends)) == (3, 0)


async def test_an_id_tag_change_resyncs_a_charger_that_keeps_a_list(
    site: MemorySite, caplog: pytest.LogCaptureFixture
) -> None:
    await add_tags(site, 3)
    await sync_local_list(site.services, CP)
    for tag in ("NEW1", "NEW2", "NEW3"):  # a burst of changes: one resync
        await site.services.store.id_tags.add_id_tag(IdTag(tag), now=T0)
        await resync_after_id_tag_change(site.services)
    assert len(site.charger.sent_lists) == 1  # not yet: the caller is not kept waiting
    await wait_for_resyncs(site.services)
    [resync] = site.charger.sent_lists[1:]
    assert resync.update_type is UpdateType.DIFFERENTIAL
    assert [e.id_tag for e in resync.local_authorization_list or []] == ["NEW1", "NEW2", "NEW3"]
    assert "local list resynced after an id tag change" in caplog.text


async def test_a_charger_never_synced_is_not_resynced(site: MemorySite) -> None:
    await add_tags(site, 3)
    await resync_after_id_tag_change(site.services)
    await wait_for_resyncs(site.services)
    assert site.charger.received == []


async def test_a_charger_pending_adoption_is_not_resynced(site: MemorySite) -> None:
    await add_tags(site, 3)
    await sync_local_list(site.services, CP)
    pending = memory_state("CP1", T0)
    pending.registration = Registration.PENDING
    site.services.stations.attach(MemoryLink(pending, site.charger))
    await add_tags(site, 1, prefix="NEW")
    received = len(site.charger.received)
    await resync_after_id_tag_change(site.services)
    await wait_for_resyncs(site.services)
    assert len(site.charger.received) == received


async def test_a_failed_resync_is_a_warning(
    site: MemorySite, caplog: pytest.LogCaptureFixture
) -> None:
    await add_tags(site, 3)
    await sync_local_list(site.services, CP)
    site.charger.configuration["LocalAuthListEnabled"] = "false"  # changed on the charger
    await add_tags(site, 1, prefix="NEW")
    await resync_after_id_tag_change(site.services)
    await wait_for_resyncs(site.services)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("local list not brought up to date after an id tag change" in w for w in warnings)


async def test_a_full_send_local_list_by_hand_needs_id_tag_info_on_every_entry(
    site: MemorySite,
) -> None:
    request = SendLocalListRequest(
        list_version=1,
        update_type=UpdateType.FULL,
        local_authorization_list=[AuthorizationData(id_tag="A")],
    )
    with pytest.raises(CommandNotAllowed, match="every entry of a Full update needs one"):
        await send_command(site.services, CP, request)
    assert site.charger.received == []


async def test_a_send_local_list_by_hand_names_each_id_tag_once(site: MemorySite) -> None:
    info = IdTagInfo(status=AuthorizationStatus.ACCEPTED)
    request = SendLocalListRequest(
        list_version=1,
        update_type=UpdateType.DIFFERENTIAL,
        local_authorization_list=[
            AuthorizationData(id_tag="abc", id_tag_info=info),
            AuthorizationData(id_tag="ABC"),
        ],
    )
    with pytest.raises(CommandNotAllowed, match="'ABC' appears twice"):
        await send_command(site.services, CP, request)


async def test_a_negative_list_version_is_not_sent(site: MemorySite) -> None:
    request = SendLocalListRequest(list_version=-1, update_type=UpdateType.FULL)
    with pytest.raises(CommandNotAllowed, match="listVersion is -1"):
        await send_command(site.services, CP, request)
