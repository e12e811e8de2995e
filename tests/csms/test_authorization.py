"""Who may charge, in process: Authorize and StartTransaction through the handler table over a
real SQLite store, the unknown-tag inbox and its adoption, starts without a card, free vend.

The charger side is a test double of a charger's connection (it records what ChargeDeck sends
and answers RemoteStartTransaction Accepted); everything of ChargeDeck is real.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chargedeck.clock import ManualClock
from chargedeck.config import Settings
from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.dispatch import dispatch
from chargedeck.csms.free_vend import DEFAULT_FREE_VEND_ID_TAG
from chargedeck.csms.handlers.status_notification import handle_status_notification
from chargedeck.csms.id_tag_registry import adopt_unknown_id_tag, block_unknown_id_tag
from chargedeck.csms.stations import Stations
from chargedeck.domain.charge_points import Registration, UnknownChargePointPolicy
from chargedeck.domain.ids import ChargePointId, IdTag, TransactionId
from chargedeck.ocpp.v16.actions import ACTIONS
from chargedeck.ocpp.v16.base import Message
from chargedeck.ocpp.v16.core import (
    AuthorizeRequest,
    AuthorizeResponse,
    BootNotificationRequest,
    RemoteStartTransactionRequest,
    RemoteStartTransactionResponse,
    StartTransactionRequest,
    StartTransactionResponse,
    StatusNotificationRequest,
    StopTransactionRequest,
)
from chargedeck.ocpp.v16.enums import (
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    RemoteStartStopStatus,
)
from chargedeck.ocpp.v16.types import IdTagInfo
from chargedeck.store import open_store
from chargedeck.store.configuration import ReportedKey

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)
WALLBOX = BootNotificationRequest(
    charge_point_vendor="Wall Box Chargers", charge_point_model="PLP1-0-2-4"
)
GENERIC = BootNotificationRequest(charge_point_vendor="Acme", charge_point_model="AC-22")
# A 7-byte card as printed, and as a Wallbox sends it (little-endian, Wallbox setup guide).
PRINTED = "04:A2:2B:1A:5C:3D:80"
CANONICAL = "04A22B1A5C3D80"
LITTLE_ENDIAN = "803D5C1A2BA204"


@dataclass
class ChargerLink:
    """The charger end of a connection: records ChargeDeck's calls (``called`` is set at the
    first), answers RemoteStart Accepted once ``release`` is set."""

    state: ConnectionState
    received: list[Message] = field(default_factory=list)
    called: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def call(self, request: Message, timeout_s: float | None = None) -> Message:
        self.received.append(request)
        self.called.set()
        await self.release.wait()
        return RemoteStartTransactionResponse(status=RemoteStartStopStatus.ACCEPTED)

    async def close(self, code: int, reason: str) -> None:
        return None


@dataclass
class Charger:
    """One connected charger whose CALLs go through dispatch() like the WebSocket edge's."""

    services: CsmsServices
    state: ConnectionState
    link: ChargerLink

    async def send(self, request: Message) -> Message:
        action = ACTIONS[type(request).__name__.removesuffix("Request")]
        return await dispatch(self.services, self.state, action, request)

    async def authorize(self, id_tag: str) -> IdTagInfo:
        answer = await self.send(AuthorizeRequest(id_tag=id_tag))
        assert isinstance(answer, AuthorizeResponse)
        return answer.id_tag_info

    async def start(
        self, id_tag: str, connector_id: int = 1, meter_start: int = 0
    ) -> StartTransactionResponse:
        answer = await self.send(
            StartTransactionRequest(
                connector_id=connector_id, id_tag=id_tag, meter_start=meter_start, timestamp=T0
            )
        )
        assert isinstance(answer, StartTransactionResponse)
        return answer

    async def owner_of(self, transaction_id: int) -> str | None:
        record = await self.services.store.transactions.get_transaction(
            TransactionId(transaction_id)
        )
        assert record is not None
        return record.owner

    async def preparing(self, connector_id: int = 1) -> None:
        await handle_status_notification(
            self.services,
            self.state,
            StatusNotificationRequest(
                connector_id=connector_id,
                error_code=ChargePointErrorCode.NO_ERROR,
                status=ChargePointStatus.PREPARING,
            ),
        )


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[CsmsServices]:
    store = await open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        yield CsmsServices(
            store=store,
            settings=Settings(unknown_charge_points=UnknownChargePointPolicy.ACCEPT),
            clock=ManualClock(T0),
            stations=Stations(),
        )
    finally:
        await store.close()


async def connect(
    services: CsmsServices, charge_point_id: str, boot: BootNotificationRequest = WALLBOX
) -> Charger:
    """A charger that connected and booted (registered on its first boot: policy accept)."""
    state = ConnectionState(
        charge_point_id=ChargePointId(charge_point_id),
        remote_address="memory",
        connected_at=T0,
        registration=None,
    )
    link = ChargerLink(state)
    services.stations.attach(link)
    charger = Charger(services, state, link)
    await charger.send(boot)
    return charger


async def free_vend_starts_done() -> None:
    """Wait for the free-vend starts in flight (tasks named by csms/free_vend.py)."""
    tasks = [t for t in asyncio.all_tasks() if t.get_name().startswith("free vend start")]
    await asyncio.gather(*tasks)


# ---- cards, as printed and as sent ---------------------------------------------------------


async def test_a_card_registered_by_printed_uid_is_accepted_in_little_endian_from_a_wallbox(
    services: CsmsServices,
) -> None:
    await services.store.id_tags.add_id_tag(
        IdTag(CANONICAL), now=T0, card_uid=CANONICAL, owner="Ana"
    )
    charger = await connect(services, "WB1")
    authorized = await charger.authorize(LITTLE_ENDIAN)
    started = await charger.start(LITTLE_ENDIAN)
    assert authorized.status is AuthorizationStatus.ACCEPTED
    assert started.id_tag_info.status is AuthorizationStatus.ACCEPTED
    assert await charger.owner_of(started.transaction_id) == "Ana"


async def test_authorize_and_start_answer_blocked_alike(services: CsmsServices) -> None:
    await services.store.id_tags.add_id_tag(IdTag("LOST"), now=T0, blocked=True)
    charger = await connect(services, "BL1")
    assert (await charger.authorize("LOST")).status is AuthorizationStatus.BLOCKED
    assert (await charger.start("lost")).id_tag_info.status is AuthorizationStatus.BLOCKED


async def test_an_expired_tag_is_expired_with_its_expiry_date(services: CsmsServices) -> None:
    expiry = T0 - timedelta(days=1)
    await services.store.id_tags.add_id_tag(IdTag("OLD"), now=T0, expiry_date=expiry)
    charger = await connect(services, "EX1")
    authorized = await charger.authorize("OLD")
    started = await charger.start("OLD")
    assert (authorized.status, authorized.expiry_date) == (AuthorizationStatus.EXPIRED, expiry)
    assert started.id_tag_info == authorized


async def test_an_accepted_tag_carries_its_parent_and_the_earlier_expiry_of_tag_and_group(
    services: CsmsServices,
) -> None:
    group_expiry = T0 + timedelta(days=2)
    await services.store.id_tags.add_id_tag(IdTag("FLEET"), now=T0, expiry_date=group_expiry)
    await services.store.id_tags.add_id_tag(
        IdTag("CAR"), now=T0, parent_id_tag=IdTag("FLEET"), expiry_date=T0 + timedelta(days=9)
    )
    charger = await connect(services, "GR1")
    assert await charger.authorize("CAR") == IdTagInfo(
        status=AuthorizationStatus.ACCEPTED, expiry_date=group_expiry, parent_id_tag="FLEET"
    )


async def test_a_member_of_a_blocked_group_is_blocked(services: CsmsServices) -> None:
    await services.store.id_tags.add_id_tag(IdTag("FLEET2"), now=T0, blocked=True)
    await services.store.id_tags.add_id_tag(IdTag("CAR2"), now=T0, parent_id_tag=IdTag("FLEET2"))
    charger = await connect(services, "GR2")
    assert (await charger.authorize("CAR2")).status is AuthorizationStatus.BLOCKED


# ---- ConcurrentTx ----------------------------------------------------------------------------


async def test_a_tag_at_its_cap_of_transactions_gets_concurrent_tx_on_start_only(
    services: CsmsServices,
) -> None:
    await services.store.id_tags.add_id_tag(IdTag("ONE"), now=T0, max_active_transactions=1)
    charger = await connect(services, "CT1")
    first = await charger.start("ONE", connector_id=1)
    second = await charger.start("ONE", connector_id=2)
    assert first.id_tag_info.status is AuthorizationStatus.ACCEPTED
    assert second.id_tag_info.status is AuthorizationStatus.CONCURRENT_TX
    assert (await charger.authorize("ONE")).status is AuthorizationStatus.ACCEPTED


async def test_a_repeated_start_gets_the_same_transaction_and_the_same_answer(
    services: CsmsServices,
) -> None:
    await services.store.id_tags.add_id_tag(IdTag("ONE"), now=T0, max_active_transactions=1)
    charger = await connect(services, "CT2")
    first = await charger.start("ONE", meter_start=7)
    again = await charger.start("ONE", meter_start=7)
    assert again == first


async def test_a_stopped_transaction_frees_the_cap(services: CsmsServices) -> None:
    await services.store.id_tags.add_id_tag(IdTag("ONE"), now=T0, max_active_transactions=1)
    charger = await connect(services, "CT3")
    first = await charger.start("ONE", connector_id=1)
    await charger.send(
        StopTransactionRequest(meter_stop=10, timestamp=T0, transaction_id=first.transaction_id)
    )
    second = await charger.start("ONE", connector_id=2)
    assert second.id_tag_info.status is AuthorizationStatus.ACCEPTED


# ---- the unknown-tag inbox -----------------------------------------------------------------


async def test_an_unknown_tag_is_invalid_and_counted_in_the_inbox(services: CsmsServices) -> None:
    charger = await connect(services, "IN1")
    authorized = await charger.authorize("CAFEBABE")
    started = await charger.start("cafebabe", connector_id=2)
    seen = await services.store.unknown_id_tags.get_unknown_id_tag("CAFEBABE")
    assert authorized.status is AuthorizationStatus.INVALID
    assert started.id_tag_info.status is AuthorizationStatus.INVALID
    assert seen is not None
    assert (seen.count, seen.last_charge_point_id, seen.last_connector_id, seen.last_action) == (
        2,
        "IN1",
        2,
        "StartTransaction",
    )


async def test_an_adopted_tag_from_a_wallbox_is_a_card_accepted_in_both_byte_orders(
    services: CsmsServices,
) -> None:
    wallbox = await connect(services, "IN2")
    generic = await connect(services, "IN3", GENERIC)
    await wallbox.authorize(LITTLE_ENDIAN)
    adopted = await adopt_unknown_id_tag(
        services.store, LITTLE_ENDIAN, owner="Ana", label="blue fob", now=T0
    )
    assert (adopted.id_tag, adopted.card_uid, adopted.owner) == (LITTLE_ENDIAN, CANONICAL, "Ana")
    assert (await wallbox.authorize(LITTLE_ENDIAN)).status is AuthorizationStatus.ACCEPTED
    assert (await generic.authorize(CANONICAL)).status is AuthorizationStatus.ACCEPTED
    assert await services.store.unknown_id_tags.list_unknown_id_tags() == []


async def test_a_tag_adopted_from_a_charger_that_sends_uids_as_printed_has_no_card_uid(
    services: CsmsServices,
) -> None:
    generic = await connect(services, "IN4", GENERIC)
    await generic.authorize(CANONICAL)
    adopted = await adopt_unknown_id_tag(services.store, CANONICAL, owner="Bo", label=None, now=T0)
    assert (adopted.id_tag, adopted.card_uid) == (CANONICAL, None)


async def test_a_blocked_tag_from_the_inbox_is_blocked(services: CsmsServices) -> None:
    charger = await connect(services, "IN5")
    await charger.authorize("STRANGER")
    await block_unknown_id_tag(services.store, "stranger", now=T0)
    assert (await charger.authorize("STRANGER")).status is AuthorizationStatus.BLOCKED


# ---- starts without a card -------------------------------------------------------------------


async def test_a_wallbox_placeholder_start_is_accepted_for_the_default_owner(
    services: CsmsServices,
) -> None:
    charger = await connect(services, "NA1")
    await services.store.charge_points.set_authorization_policy(
        ChargePointId("NA1"), default_owner="Household"
    )
    started = await charger.start("NoAuthorization")
    assert started.id_tag_info == IdTagInfo(status=AuthorizationStatus.ACCEPTED)
    assert await charger.owner_of(started.transaction_id) == "Household"
    assert await services.store.unknown_id_tags.list_unknown_id_tags() == []


async def test_the_auth_disabled_id_tag_the_charger_reported_replaces_the_model_default(
    services: CsmsServices,
) -> None:
    charger = await connect(services, "NA2")
    await services.store.configuration.store_reported(
        ChargePointId("NA2"),
        [ReportedKey(key="AuthDisabledIdTag", value="GARAGE", readonly=False)],
        now=T0,
    )
    assert (await charger.authorize("garage")).status is AuthorizationStatus.ACCEPTED
    assert (await charger.authorize("NoAuthorization")).status is AuthorizationStatus.INVALID


async def test_a_placeholder_from_a_model_that_sends_none_is_an_unknown_tag(
    services: CsmsServices,
) -> None:
    charger = await connect(services, "NA3", GENERIC)
    assert (await charger.authorize("NoAuthorization")).status is AuthorizationStatus.INVALID


async def test_the_free_vend_id_tag_is_accepted_for_the_default_owner_only_while_free_vend_is_on(
    services: CsmsServices,
) -> None:
    charger = await connect(services, "FV0", GENERIC)
    before = await charger.start(DEFAULT_FREE_VEND_ID_TAG, connector_id=1)
    await services.store.charge_points.set_authorization_policy(
        ChargePointId("FV0"), default_owner="Shop", free_vend=True
    )
    after = await charger.start(DEFAULT_FREE_VEND_ID_TAG, connector_id=2)
    assert before.id_tag_info.status is AuthorizationStatus.INVALID
    assert after.id_tag_info.status is AuthorizationStatus.ACCEPTED
    assert await charger.owner_of(after.transaction_id) == "Shop"


# ---- free vend -------------------------------------------------------------------------------


async def test_preparing_with_free_vend_on_sends_remote_start_without_holding_the_answer(
    services: CsmsServices,
) -> None:
    charger = await connect(services, "FV1")
    await services.store.charge_points.set_authorization_policy(
        ChargePointId("FV1"), free_vend=True, free_vend_id_tag="HOME"
    )
    # Answered while the charger holds its answer to the RemoteStart: no waiting on it.
    await asyncio.wait_for(charger.preparing(connector_id=1), timeout=5)
    await asyncio.wait_for(charger.link.called.wait(), timeout=5)
    charger.link.release.set()
    await free_vend_starts_done()
    assert charger.link.received == [RemoteStartTransactionRequest(connector_id=1, id_tag="HOME")]


async def test_preparing_with_free_vend_off_sends_nothing(services: CsmsServices) -> None:
    charger = await connect(services, "FV2")
    charger.link.release.set()
    await charger.preparing()
    await free_vend_starts_done()
    assert charger.link.received == []


async def test_preparing_with_a_transaction_open_on_the_connector_sends_nothing(
    services: CsmsServices,
) -> None:
    charger = await connect(services, "FV3")
    await services.store.charge_points.set_authorization_policy(
        ChargePointId("FV3"), free_vend=True
    )
    await charger.start(DEFAULT_FREE_VEND_ID_TAG, connector_id=1)
    charger.link.release.set()
    await charger.preparing(connector_id=1)
    await free_vend_starts_done()
    assert charger.link.received == []


async def test_no_remote_start_is_sent_to_a_charger_pending_adoption(
    services: CsmsServices,
) -> None:
    charger = await connect(services, "FV4")
    await services.store.charge_points.set_authorization_policy(
        ChargePointId("FV4"), free_vend=True
    )
    charger.state.registration = Registration.PENDING
    charger.state.boot_status = "Pending"
    charger.link.release.set()
    await charger.preparing()
    await free_vend_starts_done()
    assert charger.link.received == []
