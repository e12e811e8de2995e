"""A charger in memory behind a real StationLink, for the application layer's tests.

The CSMS side's ``call`` goes through a CSMS OcppSession, the frames through a charger
OcppSession (both encode and decode for real, as on a socket), and a small charger model answers:
its configuration keys, its Local Authorization List (version and entries, Full and
Differential applied as §5.15 says), and its reservations. A test may make it answer a given
status once, or stay silent (the call then times out under the session's own timer).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from chargedeck.clock import ManualClock
from chargedeck.config import Settings
from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.local_lists import wait_for_resyncs
from chargedeck.csms.stations import Stations
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId
from chargedeck.ocpp.session import CallFailed, CallReceived, ResultReceived
from chargedeck.ocpp.v16.base import Message
from chargedeck.ocpp.v16.core import (
    ClearCacheRequest,
    ClearCacheResponse,
    GetConfigurationRequest,
    GetConfigurationResponse,
)
from chargedeck.ocpp.v16.enums import (
    CancelReservationStatus,
    ClearCacheStatus,
    ReservationStatus,
    TriggerMessageStatus,
    UpdateStatus,
    UpdateType,
)
from chargedeck.ocpp.v16.local_auth import (
    GetLocalListVersionRequest,
    GetLocalListVersionResponse,
    SendLocalListRequest,
    SendLocalListResponse,
)
from chargedeck.ocpp.v16.remote_trigger import TriggerMessageRequest, TriggerMessageResponse
from chargedeck.ocpp.v16.reservation import (
    CancelReservationRequest,
    CancelReservationResponse,
    ReserveNowRequest,
    ReserveNowResponse,
)
from chargedeck.ocpp.v16.types import IdTagInfo, KeyValue
from chargedeck.store import open_store
from tests.support.pair import SessionPair

# A charger with a Local Authorization List (OCPP 1.6 §9.4 keys) and the Core offline keys; no
# ReserveConnectorZeroSupported key: it takes no connector 0 reservations (§9.5).
CHARGER_CONFIGURATION = {
    "LocalAuthListEnabled": "true",
    "LocalAuthListMaxLength": "1000",
    "SendLocalListMaxLength": "100",
    "LocalAuthorizeOffline": "true",
    "LocalPreAuthorize": "false",
    "AllowOfflineTxForUnknownId": "false",
    "NumberOfConnectors": "2",
}


@dataclass
class MemoryCharger:
    """What the charger holds and how it answers."""

    configuration: dict[str, str] = field(default_factory=lambda: dict(CHARGER_CONFIGURATION))
    list_version: int = 0
    """What GetLocalListVersion answers (-1: no list support)."""
    entries: dict[str, IdTagInfo] = field(default_factory=dict)
    reservations: dict[int, ReserveNowRequest] = field(default_factory=dict)
    send_local_list_answers: list[UpdateStatus] = field(default_factory=list)
    """Statuses to answer to the next SendLocalLists instead of applying them, first first."""
    reserve_now_answer: ReservationStatus = ReservationStatus.ACCEPTED
    trigger_message_answer: TriggerMessageStatus = TriggerMessageStatus.ACCEPTED
    """What TriggerMessage answers (the triggered message itself is not sent)."""
    silent_on: set[type[Message]] = field(default_factory=set)
    """Requests of these types get no answer (the CSMS's call times out)."""
    received: list[Message] = field(default_factory=list)

    def answer(self, request: Message) -> Message:
        self.received.append(request)
        if isinstance(request, GetConfigurationRequest):
            wanted = request.key or list(self.configuration)
            known = {key.lower(): key for key in self.configuration}
            return GetConfigurationResponse(
                configuration_key=[
                    KeyValue(
                        key=known[key.lower()],
                        read_only=True,
                        value=self.configuration[known[key.lower()]],
                    )
                    for key in wanted
                    if key.lower() in known
                ],
                unknown_key=[key for key in wanted if key.lower() not in known],
            )
        if isinstance(request, GetLocalListVersionRequest):
            return GetLocalListVersionResponse(list_version=self.list_version)
        if isinstance(request, SendLocalListRequest):
            return SendLocalListResponse(status=self._send_local_list(request))
        if isinstance(request, ReserveNowRequest):
            if self.reserve_now_answer is ReservationStatus.ACCEPTED:
                self.reservations[request.reservation_id] = request
            return ReserveNowResponse(status=self.reserve_now_answer)
        if isinstance(request, CancelReservationRequest):
            held = self.reservations.pop(request.reservation_id, None)
            return CancelReservationResponse(
                status=CancelReservationStatus.REJECTED
                if held is None
                else CancelReservationStatus.ACCEPTED
            )
        if isinstance(request, ClearCacheRequest):
            return ClearCacheResponse(status=ClearCacheStatus.ACCEPTED)
        if isinstance(request, TriggerMessageRequest):
            return TriggerMessageResponse(status=self.trigger_message_answer)
        raise AssertionError(f"the memory charger does not answer {type(request).__name__}")

    def _send_local_list(self, request: SendLocalListRequest) -> UpdateStatus:
        if self.send_local_list_answers:
            return self.send_local_list_answers.pop(0)
        if self.list_version < 0:
            return UpdateStatus.NOT_SUPPORTED
        entries = request.local_authorization_list or []
        if request.update_type is UpdateType.FULL:
            self.entries = {}
        elif request.list_version <= self.list_version:
            return UpdateStatus.VERSION_MISMATCH
        for entry in entries:
            for held in [tag for tag in self.entries if tag.lower() == entry.id_tag.lower()]:
                del self.entries[held]
            if entry.id_tag_info is not None:
                self.entries[entry.id_tag] = entry.id_tag_info
        self.list_version = request.list_version
        return UpdateStatus.ACCEPTED

    @property
    def sent_lists(self) -> list[SendLocalListRequest]:
        return [r for r in self.received if isinstance(r, SendLocalListRequest)]


class MemoryLink:
    """A StationLink to a :class:`MemoryCharger` through two real OCPP sessions."""

    def __init__(
        self, state: ConnectionState, charger: MemoryCharger, *, call_timeout_s: float = 30
    ) -> None:
        self.state = state
        self.charger = charger
        self.pair = SessionPair()
        self.call_timeout_s = call_timeout_s
        self.closed = False

    async def call(self, request: Message, timeout_s: float | None = None) -> Message:
        await asyncio.sleep(0)  # let other tasks run, as a socket would
        self.pair.csms.send_call(request, self.pair.now, timeout_s or self.call_timeout_s)
        for event in self.pair.to_charger():
            assert isinstance(event, CallReceived), event
            if type(event.request) in self.charger.silent_on:
                self.charger.received.append(event.request)
                csms_events, _ = self.pair.advance(timeout_s or self.call_timeout_s)
                [failed] = csms_events
                assert isinstance(failed, CallFailed)
                raise failed.error
            self.pair.charger.send_call_result(event.message_id, self.charger.answer(event.request))
        [received] = self.pair.to_csms()
        if isinstance(received, ResultReceived):
            return received.response
        assert isinstance(received, CallFailed), received
        raise received.error

    async def close(self, code: int, reason: str) -> None:
        self.closed = True


def memory_state(charge_point_id: str, now: datetime) -> ConnectionState:
    """The connection state of a registered charger that connected at ``now`` and whose
    BootNotification was answered Accepted (nothing is sent to it before, OCPP 1.6 §4.2.1)."""
    return ConnectionState(
        charge_point_id=ChargePointId(charge_point_id),
        remote_address="memory",
        connected_at=now,
        registration=Registration.REGISTERED,
        boot_status="Accepted",
    )


@dataclass
class MemorySite:
    """A CSMS over a real SQLite store, under a manual clock, with one registered charger
    connected in memory."""

    services: CsmsServices
    clock: ManualClock
    charger: MemoryCharger
    charge_point_id: ChargePointId

    def sent(self, kind: type[Message]) -> list[Message]:
        """The requests of type ``kind`` the charger received, in order."""
        return [r for r in self.charger.received if isinstance(r, kind)]


@asynccontextmanager
async def memory_site(
    folder: Path, now: datetime, charge_point_id: str = "CP1"
) -> AsyncIterator[MemorySite]:
    """Open the store in ``folder``, register and connect the charger; on exit wait for the
    background local list resyncs, then close the store."""
    store = await open_store(f"sqlite:///{folder / 'db.sqlite'}")
    clock = ManualClock(now)
    services = CsmsServices(store=store, settings=Settings(), clock=clock, stations=Stations())
    try:
        cp = ChargePointId(charge_point_id)
        await store.charge_points.add_charge_point(cp, Registration.REGISTERED, now)
        charger = MemoryCharger()
        services.stations.attach(MemoryLink(memory_state(cp, now), charger))
        yield MemorySite(services, clock, charger, cp)
        await wait_for_resyncs(services)
    finally:
        await store.close()
