"""Reservations (OCPP 1.6 §5.13 ReserveNow, §5.1 CancelReservation, §4.8 StartTransaction) over a
real SQLite store, to a charger in memory behind two real OCPP sessions."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chargedeck.csms.commands import ChargePointNotConnected, CommandNotAllowed, send_command
from chargedeck.csms.dispatch import dispatch
from chargedeck.csms.reservations import (
    NothingToCancel,
    UnknownReservation,
    cancel_reservation,
    get_reservation,
    list_reservations,
    reserve,
)
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId, IdTag
from chargedeck.domain.reservations import ReservationRefused
from chargedeck.ocpp.v16.actions import ACTIONS
from chargedeck.ocpp.v16.core import (
    GetConfigurationRequest,
    StartTransactionRequest,
    StartTransactionResponse,
)
from chargedeck.ocpp.v16.enums import ReservationStatus
from chargedeck.ocpp.v16.reservation import CancelReservationRequest, ReserveNowRequest
from chargedeck.store.reservations import ReservationRecordStatus
from tests.support.memory_charger import MemorySite, memory_site, memory_state

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)
CP = ChargePointId("CP1")
IN_30_MIN = T0 + timedelta(minutes=30)


async def start_transaction(
    site: MemorySite, connector_id: int, id_tag: str, reservation_id: int | None
) -> StartTransactionResponse:
    """The charger starts a transaction now (the real StartTransaction handler answers)."""
    answer = await dispatch(
        site.services,
        memory_state(CP, T0),
        ACTIONS["StartTransaction"],
        StartTransactionRequest(
            connector_id=connector_id,
            id_tag=id_tag,
            meter_start=0,
            reservation_id=reservation_id,
            timestamp=site.clock.now(),
        ),
    )
    assert isinstance(answer, StartTransactionResponse)
    return answer


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[MemorySite]:
    async with memory_site(tmp_path, T0) as opened:
        id_tags = opened.services.store.id_tags
        await id_tags.add_id_tag(IdTag("FLEET"), now=T0)
        await id_tags.add_id_tag(IdTag("ANA"), now=T0, parent_id_tag=IdTag("FLEET"))
        await id_tags.add_id_tag(IdTag("BEA"), now=T0)
        yield opened


async def test_an_accepted_reservation_is_active_and_sent_with_its_id(site: MemorySite) -> None:
    outcome = await reserve(site.services, CP, 1, "ana", IN_30_MIN)
    record = outcome.reservation
    assert (outcome.charger_status, record.status) == ("Accepted", ReservationRecordStatus.ACTIVE)
    [sent] = site.sent(ReserveNowRequest)
    assert sent == ReserveNowRequest(
        connector_id=1,
        expiry_date=IN_30_MIN,
        id_tag="ANA",
        parent_id_tag="FLEET",
        reservation_id=record.id,
    )


async def test_a_refusal_by_the_charger_is_recorded(site: MemorySite) -> None:
    site.charger.reserve_now_answer = ReservationStatus.OCCUPIED
    outcome = await reserve(site.services, CP, 1, "ANA", IN_30_MIN)
    assert outcome.charger_status == "Occupied"
    assert outcome.reservation.status is ReservationRecordStatus.OCCUPIED


async def test_connector_0_is_refused_for_a_charger_that_does_not_support_it(
    site: MemorySite,
) -> None:
    with pytest.raises(ReservationRefused, match="does not take reservations for connector 0"):
        await reserve(site.services, CP, 0, "ANA", IN_30_MIN)
    assert site.sent(ReserveNowRequest) == []
    assert await list_reservations(site.services) == []


async def test_connector_0_is_reserved_where_the_charger_reports_it_supports_it(
    site: MemorySite,
) -> None:
    site.charger.configuration["ReserveConnectorZeroSupported"] = "true"
    outcome = await reserve(site.services, CP, 0, "ANA", IN_30_MIN)
    assert outcome.reservation.status is ReservationRecordStatus.ACTIVE


async def test_the_charger_capabilities_are_read_once_and_kept(site: MemorySite) -> None:
    await reserve(site.services, CP, 1, "ANA", IN_30_MIN)
    await reserve(site.services, CP, 2, "BEA", IN_30_MIN)
    assert len(site.sent(GetConfigurationRequest)) == 1


async def test_a_connector_the_charger_does_not_have_is_refused(site: MemorySite) -> None:
    with pytest.raises(ReservationRefused, match="the charger has 2 \\(NumberOfConnectors\\)"):
        await reserve(site.services, CP, 3, "ANA", IN_30_MIN)


async def test_a_reserved_connector_cannot_be_reserved_again_until_it_expires(
    site: MemorySite,
) -> None:
    first = await reserve(site.services, CP, 1, "ANA", IN_30_MIN)
    with pytest.raises(
        ReservationRefused, match=f"already reserved by reservation {first.reservation.id}"
    ):
        await reserve(site.services, CP, 1, "BEA", IN_30_MIN)
    site.clock.advance(30 * 60)
    second = await reserve(site.services, CP, 1, "BEA", T0 + timedelta(hours=1))
    assert second.reservation.status is ReservationRecordStatus.ACTIVE


async def test_a_reservation_expires_at_its_expiry_date(site: MemorySite) -> None:
    record = (await reserve(site.services, CP, 1, "ANA", IN_30_MIN)).reservation
    site.clock.advance(30 * 60 - 1)
    assert (
        await get_reservation(site.services, record.id)
    ).status is ReservationRecordStatus.ACTIVE
    site.clock.advance(1)
    assert (
        await get_reservation(site.services, record.id)
    ).status is ReservationRecordStatus.EXPIRED


async def test_an_expiry_that_is_not_in_the_future_is_refused(site: MemorySite) -> None:
    with pytest.raises(ReservationRefused, match="which is not after now"):
        await reserve(site.services, CP, 1, "ANA", T0)


async def test_an_unknown_or_blocked_tag_cannot_reserve(site: MemorySite) -> None:
    await site.services.store.id_tags.add_id_tag(IdTag("GONE"), now=T0, blocked=True)
    with pytest.raises(ReservationRefused, match="'NOBODY' is not registered"):
        await reserve(site.services, CP, 1, "NOBODY", IN_30_MIN)
    with pytest.raises(ReservationRefused, match="'GONE' is Blocked now"):
        await reserve(site.services, CP, 1, "GONE", IN_30_MIN)
    assert site.charger.received == []


async def test_a_charger_that_is_not_connected_is_not_reserved(site: MemorySite) -> None:
    await site.services.store.charge_points.add_charge_point(
        ChargePointId("CP2"), Registration.REGISTERED, T0
    )
    with pytest.raises(ChargePointNotConnected):
        await reserve(site.services, ChargePointId("CP2"), 1, "ANA", IN_30_MIN)
    assert await list_reservations(site.services) == []


async def test_cancelling_sends_cancel_reservation_and_ends_it(site: MemorySite) -> None:
    record = (await reserve(site.services, CP, 1, "ANA", IN_30_MIN)).reservation
    outcome = await cancel_reservation(site.services, record.id)
    assert (outcome.charger_status, outcome.reservation.status) == (
        "Accepted",
        ReservationRecordStatus.CANCELLED,
    )
    assert site.sent(CancelReservationRequest) == [
        CancelReservationRequest(reservation_id=record.id)
    ]
    with pytest.raises(NothingToCancel, match="is cancelled: there is nothing to cancel"):
        await cancel_reservation(site.services, record.id)


async def test_a_reservation_the_charger_no_longer_holds_is_cancelled_anyway(
    site: MemorySite, caplog: pytest.LogCaptureFixture
) -> None:
    record = (await reserve(site.services, CP, 1, "ANA", IN_30_MIN)).reservation
    site.charger.reservations.clear()  # ended on the charger (say, a connector fault)
    outcome = await cancel_reservation(site.services, record.id)
    assert (outcome.charger_status, outcome.reservation.status) == (
        "Rejected",
        ReservationRecordStatus.CANCELLED,
    )
    assert "holds no such reservation" in caplog.text


async def test_cancelling_an_unknown_reservation_raises(site: MemorySite) -> None:
    with pytest.raises(UnknownReservation, match="there is no reservation 404"):
        await cancel_reservation(site.services, 404)


async def test_a_start_with_the_reservation_id_uses_it(site: MemorySite) -> None:
    record = (await reserve(site.services, CP, 1, "ANA", IN_30_MIN)).reservation
    site.clock.advance(60)
    answer = await start_transaction(site, 1, "ANA", record.id)
    used = await get_reservation(site.services, record.id)
    assert (used.status, used.transaction_id) == (
        ReservationRecordStatus.USED,
        answer.transaction_id,
    )


async def test_a_start_that_does_not_fit_the_reservation_is_answered_and_logged(
    site: MemorySite, caplog: pytest.LogCaptureFixture
) -> None:
    record = (await reserve(site.services, CP, 1, "ANA", IN_30_MIN)).reservation
    answer = await start_transaction(site, 2, "BEA", record.id)
    assert answer.id_tag_info.status.value == "Accepted"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        f"names reservation {record.id}" in w
        and "is for connector 1, the transaction started on connector 2" in w
        and "is for id tag 'ANA' or its group 'FLEET'" in w
        for w in warnings
    ), warnings
    assert (await get_reservation(site.services, record.id)).status is ReservationRecordStatus.USED


async def test_a_group_member_may_use_the_groups_reservation(
    site: MemorySite, caplog: pytest.LogCaptureFixture
) -> None:
    await site.services.store.id_tags.add_id_tag(
        IdTag("CARLOS"), now=T0, parent_id_tag=IdTag("FLEET")
    )
    record = (await reserve(site.services, CP, 1, "ANA", IN_30_MIN)).reservation
    await start_transaction(site, 1, "CARLOS", record.id)
    assert "names reservation" not in caplog.text
    assert (await get_reservation(site.services, record.id)).status is ReservationRecordStatus.USED


async def test_a_repeated_start_changes_nothing(
    site: MemorySite, caplog: pytest.LogCaptureFixture
) -> None:
    record = (await reserve(site.services, CP, 1, "ANA", IN_30_MIN)).reservation
    first = await start_transaction(site, 1, "ANA", record.id)
    again = await start_transaction(site, 1, "ANA", record.id)
    assert again.transaction_id == first.transaction_id
    assert "names reservation" not in caplog.text


async def test_a_start_without_a_reservation_id_ends_the_reservation_of_its_tag(
    site: MemorySite,
) -> None:
    record = (await reserve(site.services, CP, 1, "ANA", IN_30_MIN)).reservation
    answer = await start_transaction(site, 1, "ana", None)
    used = await get_reservation(site.services, record.id)
    assert (used.status, used.transaction_id) == (
        ReservationRecordStatus.USED,
        answer.transaction_id,
    )


async def test_a_start_with_an_unknown_reservation_is_answered_and_logged(
    site: MemorySite, caplog: pytest.LogCaptureFixture
) -> None:
    answer = await start_transaction(site, 1, "ANA", 777)
    assert answer.transaction_id >= 1
    assert "reservation 777 is not known on this charger" in caplog.text


async def test_a_reserve_now_by_hand_must_expire_in_the_future(site: MemorySite) -> None:
    request = ReserveNowRequest(connector_id=1, expiry_date=T0, id_tag="ANA", reservation_id=1)
    with pytest.raises(CommandNotAllowed, match="is not after now"):
        await send_command(site.services, CP, request)
    assert site.charger.received == []


async def test_a_reserve_now_by_hand_names_a_connector_and_a_valid_id(site: MemorySite) -> None:
    with pytest.raises(CommandNotAllowed, match="connector -1 does not exist"):
        await send_command(
            site.services,
            CP,
            ReserveNowRequest(connector_id=-1, expiry_date=IN_30_MIN, id_tag="A", reservation_id=1),
        )
    with pytest.raises(CommandNotAllowed, match="a reservationId is 1 to 2147483647, got 0"):
        await send_command(site.services, CP, CancelReservationRequest(reservation_id=0))
