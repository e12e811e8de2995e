"""One simulated charge point on ChargeDeck's own protocol core (ocpp/session.py, CHARGE_POINT).

It behaves like a real charger: it connects (Basic auth, TLS with a CA file), boots and retries
as told, heartbeats, walks its connectors through the OCPP 1.6 status transitions, starts and stops
transactions for a card tap, a plug-in or a remote start, sends MeterValues that follow the limit
in force and the EV's charging curve, queues transaction messages while offline and replays them,
reconnects with back-off, and answers every CSMS command. The charger model (models.py) decides
the quirks: Wallbox sends card UIDs little-endian, honours whole amps above a 6 A floor, puts its
placeholder idTag in StartTransaction when AuthEnabled is false.

The asyncio edge is short, as in server/ocpp_ws.py: each received text message is fed to the
session, each CALL goes to THE command table (commands.py), and what the session has to send is
written under one lock, so frames leave in the order the session made them. Every message the
charger sends goes through one ordered outbox (one CALL outstanding, OCPP-J 1.6 §4.1.1):
transaction-related messages stay in it while the charger is offline and are replayed in order
(OCPP 1.6 §4.7, facts §1.6 "Transaction-related messages"); status notifications are dropped
while offline and the current status is sent after the reconnect instead (facts §1.5 "After
offline periods the charger sends its current status"). Schedules run on the event loop clock;
timestamps come from the injected ``now``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from chargedeck.domain.card_uids import ByteOrder, InvalidCardUid, id_tag_for, parse_printed_uid
from chargedeck.domain.charging_profiles import (
    CAPABILITY_KEYS,
    ChargerCapabilities,
    capabilities_from_configuration,
)
from chargedeck.ocpp.errors import (
    CallErrorReceived,
    CallErrorSent,
    CallTimeout,
    InvalidResponse,
)
from chargedeck.ocpp.session import (
    CallFailed,
    CallReceived,
    CallRefused,
    Event,
    FrameIgnored,
    OcppSession,
    OutgoingCall,
    ResultReceived,
    Role,
)
from chargedeck.ocpp.v16.base import Message
from chargedeck.ocpp.v16.core import (
    AuthorizeRequest,
    AuthorizeResponse,
    BootNotificationRequest,
    BootNotificationResponse,
    HeartbeatRequest,
    MeterValuesRequest,
    StartTransactionRequest,
    StartTransactionResponse,
    StatusNotificationRequest,
    StopTransactionRequest,
    StopTransactionResponse,
)
from chargedeck.ocpp.v16.enums import (
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    DiagnosticsStatus,
    FirmwareStatus,
    MessageTrigger,
    ReadingContext,
    Reason,
    RegistrationStatus,
)
from chargedeck.ocpp.v16.firmware import (
    DiagnosticsStatusNotificationRequest,
    FirmwareStatusNotificationRequest,
    GetDiagnosticsRequest,
    UpdateFirmwareRequest,
)
from chargedeck.ocpp.v16.types import ChargingProfile, IdTagInfo, MeterValue
from chargedeck.simulator import transfers
from chargedeck.simulator.authorization import LocalAuthorization, is_valid, same_tag
from chargedeck.simulator.commands import handle_command
from chargedeck.simulator.configuration import ConfigurationKeys
from chargedeck.simulator.ev import EvModel
from chargedeck.simulator.events import ConnectionState, EventKind, SimEvent
from chargedeck.simulator.link import (
    CertificateFailed,
    ConnectFailed,
    HandshakeRejected,
    LinkSettings,
    open_link,
)
from chargedeck.simulator.metering import Reading, meter_value, whole_seconds
from chargedeck.simulator.models import SimulatedModel
from chargedeck.simulator.smart_charging import (
    ChargingProfiles,
    TransactionContext,
    applied_amps,
)

log = logging.getLogger(__name__)

CALL_TIMEOUT_S: Final = 30.0
"""How long one of the charger's CALLs waits for its answer: the PyPI ``ocpp`` library's default
``response_timeout`` (facts §1.1 "Synchronicity and timeouts")."""

RECONNECT_BASE_S: Final = 1.0
"""First reconnect delay; it doubles with each failed attempt (with jitter) up to the cap."""

RECONNECT_CAP_S: Final = 60.0
"""Longest reconnect delay: a charger keeps trying at least once a minute."""

RECONNECT_JITTER: Final = 0.25
"""Each delay is drawn within +-25 %, so a fleet that lost its CSMS does not return in step."""

REBOOT_DELAY_S: Final = 1.0
"""How long a simulated reboot (Reset, firmware install) keeps the charger away."""

BOOT_RETRY_S: Final = 30.0
"""BootNotification retry when the CSMS gave interval 0 ("the charger chooses", OCPP 1.6
§6.4) or did not answer."""

INSTALL_S: Final = 0.5
"""How long a simulated firmware installation takes."""

SOFT_RESET_DRAIN_S: Final = 5.0
"""A soft reset waits this long for its StopTransactions to be answered before it reboots
(facts §1.5 Reset: "stop transactions gracefully, sending StopTransaction for each")."""

MAX_QUEUED_MESSAGES: Final = 1000
"""Transaction messages kept while offline; beyond it the oldest MeterValues are dropped
(StartTransaction and StopTransaction never are): a real charger's flash is finite too."""

RECENT_LINES: Final = 32
"""Event lines kept for GetDiagnostics uploads: few, a fleet holds 50,000 chargers."""

WAIT_POLL_S: Final = 0.1
"""wait_for also checks its condition this often: a test may wait on what a CSMS received."""

DEFAULT_AUTH_DISABLED_ID_TAG: Final = "NoAuthorization"
"""Wallbox's factory AuthDisabledIdTag (field notes §2.2, Q10)."""

MAX_ID_TAG_CHARS: Final = 20
"""OCPP 1.6 §7.15 IdToken = CiString20."""

_VERSION_IN_NAME: Final = re.compile(r"\d+(?:\.\d+)+")


class NotConnected(Exception):
    """A CALL of the charger could not be made or answered: the connection is not there."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ChargerOptions:
    """How one simulated charger reaches its CSMS."""

    csms_url: str
    """``ws(s)://host:port/path``; the charge point id is appended (as a real charger does)."""
    charge_point_id: str
    password: str | None = None
    """Security profile 1/2: HTTP Basic auth with the charge point id as user name."""
    ca_file: str | None = None
    """PEM CA bundle that must have signed the server's certificate (wss://)."""
    client_cert_file: str | None = None
    client_key_file: str | None = None
    """Security profile 3: the charger's client certificate and key (PEM)."""
    connectors: int = 1
    meter_interval_s: float | None = None
    """Overrides MeterValueSampleInterval from the model's configuration."""
    call_timeout_s: float = CALL_TIMEOUT_S
    """How long each of the charger's CALLs waits for the CSMS's answer."""
    reconnect_base_s: float = RECONNECT_BASE_S
    """First delay before a reconnect; doubles per failure up to ``reconnect_cap_s``."""
    reconnect_cap_s: float = RECONNECT_CAP_S
    reboot_delay_s: float = REBOOT_DELAY_S
    """How long a Reset or a firmware installation keeps the charger away."""


@dataclass(eq=False)
class _Transaction:
    connector_id: int
    id_tag: str
    meter_start: int
    started_at: datetime
    reservation_id: int | None = None
    transaction_id: int | None = None
    """Given by the CSMS in StartTransaction.conf; None until then (e.g. started offline)."""
    parent_id_tag: str | None = None
    deauthorized: bool = False
    """The CSMS refused the idTag and StopTransactionOnInvalidId is false: energy is suspended
    (facts §1.6 "Unknown offline authorisation")."""


@dataclass(eq=False)
class _Reservation:
    reservation_id: int
    id_tag: str
    parent_id_tag: str | None
    expiry_date: datetime
    timer: asyncio.TimerHandle | None = None


@dataclass(eq=False)
class _Connector:
    connector_id: int
    soc: float
    energy_wh: float = 0.0
    plugged: bool = False
    finishing: bool = False
    fault: ChargePointErrorCode | None = None
    inoperative: bool = False
    scheduled_inoperative: bool | None = None
    """ChangeAvailability answered Scheduled: applied when the transaction ends (§5.2)."""
    transaction: _Transaction | None = None
    pending_id_tag: str | None = None
    """Authorized (card or remote start) before the car was plugged in: starts on plug-in
    within ConnectionTimeOut (§9.1)."""
    pending_parent_id_tag: str | None = None
    pending_profile: ChargingProfile | None = None
    pending_timer: asyncio.TimerHandle | None = None
    reservation: _Reservation | None = None
    limit_a: float | None = None
    offered_a: float = 0.0
    current_a: float = 0.0
    power_w: float = 0.0
    status: ChargePointStatus = ChargePointStatus.AVAILABLE
    error_code: ChargePointErrorCode = ChargePointErrorCode.NO_ERROR
    advanced_at: float | None = None


@dataclass(eq=False)
class _Outgoing:
    """One message in the outbox; ``build`` makes the request when it is its turn (a
    transaction started offline has its id only once its StartTransaction is answered)."""

    action: str
    build: Callable[[], Message | None]
    transactional: bool
    on_answer: Callable[[Message], None] | None = None
    meter: bool = False
    queued_offline: bool = False
    attempts: int = 0


class _Link:
    """One open WebSocket with its session and the charger's calls waiting for answers."""

    def __init__(self, ws: ClientConnection, session: OcppSession) -> None:
        self.ws = ws
        self.session = session
        self.futures: dict[OutgoingCall, asyncio.Future[Message]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.timer: asyncio.TimerHandle | None = None
        self.send_lock = asyncio.Lock()

    async def flush(self) -> None:
        """Write what the session has to send, in its order (one writer at a time)."""
        async with self.send_lock:
            for frame in self.session.frames_to_send():
                await self.ws.send(frame, text=True)  # OCPP-J §4.1.2: text frames only
        self._arm_timer()

    def _arm_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        deadline = self.session.next_deadline()
        if deadline is not None:
            self.timer = asyncio.get_running_loop().call_at(deadline, self._expire)

    def _expire(self) -> None:
        self.timer = None
        for event in self.session.handle_timers(asyncio.get_running_loop().time()):
            if isinstance(event, CallFailed):
                self.fail(event)
        task = asyncio.get_running_loop().create_task(self._flush_quietly())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _flush_quietly(self) -> None:
        try:
            await self.flush()
        except ConnectionClosed:
            return  # the reader sees the close and ends the connection

    def fail(self, event: CallFailed) -> None:
        future = self.futures.get(event.call)
        if future is not None and not future.done():
            future.set_exception(event.error)

    def fail_all(self) -> None:
        for future in self.futures.values():
            if not future.done():
                future.set_exception(NotConnected("the connection to the CSMS was lost"))
        if self.timer is not None:
            self.timer.cancel()

    def close_description(self) -> str:
        code, reason = self.ws.close_code, self.ws.close_reason
        if code is None:
            return "connection lost"
        return f"closed with code {code}" + (f": {reason}" if reason else "")


class SimulatedCharger:
    """Public API the fleet runner, the CLI and the tests use."""

    def __init__(
        self,
        options: ChargerOptions,
        model: SimulatedModel,
        ev: EvModel | None = None,
        on_event: Callable[[SimEvent], None] | None = None,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        """``now`` gives timestamps (StartTransaction, MeterValues, profile validity); the event
        loop clock paces the charger. Raises ValueError for fewer than one connector."""
        if options.connectors < 1:
            raise ValueError(f"connectors is {options.connectors}, expected 1 or more")
        self.options = options
        self.model = model
        self.ev = ev if ev is not None else EvModel()
        self._on_event = on_event
        self._now = now
        self._config = ConfigurationKeys(model.configuration)
        self._config.set_by_charger("NumberOfConnectors", str(options.connectors))
        # Wallbox reports its connection settings back (field notes §2.2).
        self._config.set_by_charger("WebSocketUrl", options.csms_url)
        self._config.set_by_charger("WebSocketUser", options.charge_point_id)
        self._config.set_by_charger("WebSocketPassword", options.password or "")
        self._password = options.password
        """The Basic auth password of the next connection (AuthorizationKey may change it)."""
        self._config.set_by_charger("SerialNumber", self.serial_number)
        self._auth = LocalAuthorization()
        self._profiles = ChargingProfiles()
        self._connectors = {
            number: _Connector(number, soc=self.ev.start_soc)
            for number in range(1, options.connectors + 1)
        }
        self._charger_inoperative = False
        self._charger_status = ChargePointStatus.AVAILABLE
        self._firmware_version = model.firmware_version
        self._firmware_status = FirmwareStatus.IDLE
        self._diagnostics_status = DiagnosticsStatus.IDLE
        self._state = ConnectionState.DISCONNECTED
        self._state_reason: str | None = None
        self._registration: RegistrationStatus | None = None
        self._outbox: list[_Outgoing] = []
        self._link: _Link | None = None
        self._offline = False
        self._stopping = False
        self._reboot_pending = False
        self._wake = asyncio.Event()
        self._outbox_wake = asyncio.Event()
        self._boot_wake = asyncio.Event()
        self._heartbeat_wake = asyncio.Event()
        self._meter_wake = asyncio.Event()
        self._changed = asyncio.Event()
        self._run_done = asyncio.Event()
        self._running = False
        self._runner: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._limit_timer: asyncio.TimerHandle | None = None
        self._recent: deque[tuple[datetime, str, object]] = deque(maxlen=RECENT_LINES)
        self._random = random.Random()

    # ---- what it shows ---------------------------------------------------------------------

    @property
    def connection_state(self) -> ConnectionState:
        return self._state

    @property
    def registration(self) -> RegistrationStatus | None:
        """The answer to its last BootNotification since it (re)booted; None before one."""
        return self._registration

    @property
    def serial_number(self) -> str:
        """Sent as chargePointSerialNumber and chargeBoxSerialNumber (CiString25)."""
        return self.options.charge_point_id[:25]

    @property
    def firmware_version(self) -> str:
        return self._firmware_version

    def status(self, connector_id: int = 1) -> str:
        """The connector's OCPP status (Available, Preparing, Charging, ...): the one last sent,
        or the one it sends as soon as it is connected; 0 is the charger itself."""
        if connector_id == 0:
            return self._charger_status.value
        return self._connector(connector_id).status.value

    def limit_a(self, connector_id: int = 1) -> float | None:
        """The current limit in force from the profiles it holds (None: no profile), as the
        model applies it (whole amps, 0 below the minimum)."""
        return self._connector(connector_id).limit_a

    def transaction_id(self, connector_id: int = 1) -> int | None:
        transaction = self._connector(connector_id).transaction
        return None if transaction is None else transaction.transaction_id

    def energy_wh(self, connector_id: int = 1) -> int:
        """Its energy register (Energy.Active.Import.Register)."""
        return round(self._connector(connector_id).energy_wh)

    def current_a(self, connector_id: int = 1) -> float:
        """What the car draws per phase now (Current.Import)."""
        return self._connector(connector_id).current_a

    def offered_a(self, connector_id: int = 1) -> float:
        """What the charger offers the car per phase now (Current.Offered; 0 outside a
        transaction)."""
        return self._connector(connector_id).offered_a

    def power_w(self, connector_id: int = 1) -> float:
        return self._connector(connector_id).power_w

    def soc(self, connector_id: int = 1) -> float:
        """The car's state of charge, 0-1."""
        return self._connector(connector_id).soc

    def queued_messages(self) -> int:
        """Transaction messages waiting for the CSMS (offline, or being replayed)."""
        return sum(1 for item in self._outbox if item.transactional)

    def configuration(self) -> dict[str, str]:
        return self._config.values()

    def id_tag_for(self, card_uid: str) -> str:
        """The idTag this model sends for a card with the UID printed on it: Wallbox writes the
        bytes last first, upper-case hex, no separators (setup guide troubleshooting). Text
        that is no 4, 7 or 10-byte UID (a PIN, a token name) is sent as typed. ValueError if
        that is longer than an IdToken (20 characters, §7.15)."""
        try:
            uid = parse_printed_uid(card_uid)
        except InvalidCardUid:
            typed = card_uid.strip()
            if not typed or len(typed) > MAX_ID_TAG_CHARS:
                raise ValueError(
                    f"{card_uid!r} is no card UID and no idTag of 1-20 characters"
                ) from None
            return typed
        order = ByteOrder.REVERSED if self.model.uid_little_endian else ByteOrder.AS_PRINTED
        return id_tag_for(uid, order, "upper")

    # ---- running -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, boot, stay connected (reconnecting with back-off) until :meth:`stop`."""
        if self._running:
            raise RuntimeError(f"{self.options.charge_point_id} is already running")
        self._running = True
        self._stopping = False
        self._run_done.clear()
        meter = asyncio.create_task(self._meter_loop())
        self._runner = asyncio.create_task(self._connection_loop())
        try:
            await self._runner
        except asyncio.CancelledError:
            if not self._stopping:
                raise
        finally:
            meter.cancel()
            for task in self._background:
                task.cancel()
            await asyncio.gather(meter, *self._background, return_exceptions=True)
            self._cancel_timers()
            self._set_state(ConnectionState.DISCONNECTED, reason="stopped")
            self._running = False
            self._run_done.set()

    async def stop(self) -> None:
        """Close the connection and end :meth:`run`."""
        self._stopping = True
        self._wake.set()
        runner = self._runner
        if runner is not None and not runner.done():
            runner.cancel()
        if self._running:
            await self._run_done.wait()

    async def go_offline(self) -> None:
        """Drop the connection and stay away until :meth:`go_online` (queues meanwhile)."""
        self._offline = True
        link = self._link
        if link is not None:
            # A network loss, not a goodbye: no close frame (the CSMS notices the drop).
            link.ws.transport.abort()
        await self.wait_for(lambda: self._link is None)

    async def go_online(self) -> None:
        self._offline = False
        self._wake.set()

    async def wait_for(self, condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
        """Wait until ``condition`` holds (checked after every event, and every
        :data:`WAIT_POLL_S` for conditions on things it does not report); TimeoutError
        otherwise."""
        try:
            async with asyncio.timeout(timeout_s):
                while not condition():
                    await self._sleep_or_wake(self._changed, WAIT_POLL_S)
        except TimeoutError:
            raise TimeoutError(
                f"{self.options.charge_point_id}: the condition did not hold within {timeout_s:g} s"
            ) from None

    # ---- what happens at the charger -------------------------------------------------------

    async def plug_in(self, connector_id: int = 1) -> None:
        """A car is plugged in: Preparing; with AuthEnabled false it starts at once."""
        connector = self._connector(connector_id)
        if connector.plugged:
            return
        connector.plugged = True
        connector.finishing = False
        if connector.transaction is None and self._may_start(connector):
            if connector.pending_id_tag is not None:
                self._start_transaction(
                    connector,
                    connector.pending_id_tag,
                    connector.pending_parent_id_tag,
                    connector.pending_profile,
                )
            elif not self._config.get_bool("AuthEnabled", True) and connector.reservation is None:
                # Wallbox with AuthEnabled=false charges on plug-in, StartTransaction carrying
                # AuthDisabledIdTag (setup guide "AuthEnabled in CSMS"; field notes §2.2, Q10).
                id_tag = self._config.get("AuthDisabledIdTag") or DEFAULT_AUTH_DISABLED_ID_TAG
                self._start_transaction(connector, id_tag)
        self._refresh(connector)

    async def tap(self, card_uid: str, connector_id: int = 1) -> None:
        """A card is presented (the UID as printed: the model decides how it goes on the wire):
        Authorize, then StartTransaction if a car is plugged in, or StopTransaction if this card
        (or its group) runs the connector's transaction."""
        connector = self._connector(connector_id)
        id_tag = self.id_tag_for(card_uid)
        running = connector.transaction
        if running is not None:
            # §4.8 / facts §1.5: the card that started it stops it without an Authorize; another
            # card stops it when the CSMS puts both in one group (same parentIdTag, §3.5.3).
            if same_tag(id_tag, running.id_tag):
                self._stop_transaction(connector, Reason.LOCAL, id_tag)
                return
            info = await self._authorize(id_tag)
            if (
                is_valid(info, self._now())
                and info.parent_id_tag is not None
                and running.parent_id_tag is not None
                and same_tag(info.parent_id_tag, running.parent_id_tag)
                and connector.transaction is running
            ):
                self._stop_transaction(connector, Reason.LOCAL, id_tag)
            else:
                self._refuse(connector, id_tag, "not the card (or group) of the transaction")
            return
        if not self._may_start(connector):
            self._refuse(connector, id_tag, f"connector is {connector.status.value}")
            return
        info = await self._authorize(id_tag)
        if not is_valid(info, self._now()):
            self._refuse(connector, id_tag, info.status.value)
            return
        reservation = connector.reservation
        if reservation is not None and not _admits(reservation, id_tag, info.parent_id_tag):
            self._refuse(connector, id_tag, f"reserved for another idTag ({reservation.id_tag})")
            return
        if connector.transaction is not None:
            return  # started by something else while the CSMS answered
        if connector.plugged:
            self._start_transaction(connector, id_tag, info.parent_id_tag)
        else:
            self._await_plug(connector, id_tag, info.parent_id_tag, None)

    async def unplug(self, connector_id: int = 1) -> None:
        """The car leaves: the transaction stops (EVDisconnected), Finishing, then Available."""
        connector = self._connector(connector_id)
        if not connector.plugged:
            return
        if connector.transaction is not None and self._config.get_bool(
            "StopTransactionOnEVSideDisconnect", True
        ):
            self._stop_transaction(connector, Reason.EV_DISCONNECTED)
        connector.plugged = False
        connector.finishing = False
        self._clear_pending(connector)
        self._refresh(connector)

    async def fault(self, connector_id: int = 1, error_code: str = "GroundFailure") -> None:
        """The connector fails with ``error_code`` (a §7.6 ChargePointErrorCode; ValueError
        otherwise): Faulted, its transaction stops (reason Other) and its reservation ends
        (facts §1.5 Reservation)."""
        connector = self._connector(connector_id)
        connector.fault = ChargePointErrorCode(error_code)
        self._stop_transaction(connector, Reason.OTHER)
        self._end_reservation(connector)
        self._clear_pending(connector)
        self._refresh(connector)

    async def clear_fault(self, connector_id: int = 1) -> None:
        """The fault is gone: the connector returns to the status its car gives it."""
        connector = self._connector(connector_id)
        connector.fault = None
        self._refresh(connector)

    # ---- connection ----------------------------------------------------------------------

    async def _connection_loop(self) -> None:
        failures = 0
        while not self._stopping:
            if self._offline:
                await self._wake.wait()
                self._wake.clear()
                continue
            if self._reboot_pending:
                self._reboot_pending = False
                await asyncio.sleep(self.options.reboot_delay_s)
                continue
            if self._state is not ConnectionState.CONNECTING:
                self._set_state(ConnectionState.CONNECTING)
            try:
                connection = await open_link(self._link_settings())
            except HandshakeRejected as refused:
                self._set_state(
                    ConnectionState.REJECTED, reason=refused.reason, http_status=refused.status
                )
            except CertificateFailed as failed:
                self._set_state(ConnectionState.CERTIFICATE_FAILED, reason=failed.reason)
            except ConnectFailed as failed:
                self._set_state(ConnectionState.CONNECTING, reason=failed.reason)
            else:
                if self._offline:
                    connection.transport.abort()
                    continue
                failures = 0
                reason = await self._serve(connection)
                self._set_state(ConnectionState.DISCONNECTED, reason=reason)
                if self._offline or self._reboot_pending:
                    continue
            failures += 1
            await self._sleep_or_wake(self._wake, self._backoff_s(failures))

    def _backoff_s(self, failures: int) -> float:
        base = self.options.reconnect_base_s * 2.0 ** min(failures - 1, 16)
        jitter = self._random.uniform(1 - RECONNECT_JITTER, 1 + RECONNECT_JITTER)
        return min(self.options.reconnect_cap_s, base * jitter)

    def _link_settings(self) -> LinkSettings:
        ping = self._config.get_int("WebSocketPingInterval", 0)
        return LinkSettings(
            csms_url=self.options.csms_url,
            charge_point_id=self.options.charge_point_id,
            password=self._password,
            ca_file=self.options.ca_file,
            client_cert_file=self.options.client_cert_file,
            client_key_file=self.options.client_key_file,
            ping_interval_s=float(ping) if ping > 0 else None,
        )

    async def _serve(self, connection: ClientConnection) -> str:
        """Run one connection until it closes; returns how it ended."""
        link = _Link(
            connection, OcppSession(Role.CHARGE_POINT, call_timeout_s=self.options.call_timeout_s)
        )
        self._link = link
        self._set_state(ConnectionState.CONNECTED)
        self._spawn_on(link, self._on_connected())
        try:
            await self._read(link)
        finally:
            self._link = None
            link.fail_all()
            for task in link.tasks:
                task.cancel()
            await asyncio.gather(*link.tasks, return_exceptions=True)
            # Statuses are not kept for later: the current ones go after the reconnect.
            self._outbox = [item for item in self._outbox if item.transactional]
            await connection.close()
        return link.close_description()

    async def _read(self, link: _Link) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for message in link.ws:
                if isinstance(message, bytes):
                    self._note("ignored a binary frame (OCPP-J 1.6 §4.1.2: text frames only)")
                    continue
                for event in link.session.receive_message(message, loop.time()):
                    self._receive(link, event)
                await link.flush()
        except ConnectionClosed:
            return

    def _receive(self, link: _Link, event: Event) -> None:
        if isinstance(event, CallReceived):
            self._answer(link, event)
        elif isinstance(event, ResultReceived):
            future = link.futures.get(event.call)
            if future is not None and not future.done():
                future.set_result(event.response)
        elif isinstance(event, CallFailed):
            link.fail(event)
        elif isinstance(event, CallRefused):
            self._note(f"refused a CALL ({event.action_name}): {event.error.description}")
        elif isinstance(event, FrameIgnored):
            self._note(event.reason)

    def _answer(self, link: _Link, event: CallReceived) -> None:
        if self._registration is RegistrationStatus.REJECTED:
            # OCPP 1.6 §4.2.1 / facts §1.5: after Rejected the charger answers nothing until
            # its retry interval has passed.
            self._note(f"{event.action.name} left unanswered: the boot was Rejected")
            return
        try:
            reply = handle_command(self, event.action, event.request)
        except CallErrorSent as error:
            link.session.send_call_error(event.message_id, error)
            self._emit(EventKind.COMMAND, action=event.action.name, status=error.code.value)
            return
        link.session.send_call_result(event.message_id, reply.response)
        status = getattr(reply.response, "status", None)
        self._emit(
            EventKind.COMMAND,
            action=event.action.name,
            status=str(status) if status is not None else "answered",
        )
        if reply.then is not None:
            self._spawn(reply.then)

    async def _on_connected(self) -> None:
        if self._registration is not RegistrationStatus.ACCEPTED:
            await self._boot()
        link = self._link
        if link is None:
            return
        self._spawn_on(link, self._send_outbox())
        self._spawn_on(link, self._heartbeat())
        self._queue_all_statuses()
        self._outbox_wake.set()

    async def _call(self, request: Message, timeout_s: float | None = None) -> Message:
        """Send one CALL and wait for its answer. Raises NotConnected, or the session's
        CallErrorReceived / InvalidResponse / CallTimeout."""
        link = self._link
        if link is None:
            raise NotConnected("not connected to the CSMS")
        loop = asyncio.get_running_loop()
        outgoing = link.session.send_call(request, loop.time(), timeout_s)
        future: asyncio.Future[Message] = loop.create_future()
        link.futures[outgoing] = future
        try:
            await link.flush()
            return await future
        except ConnectionClosed:
            raise NotConnected("the connection to the CSMS closed") from None
        finally:
            link.futures.pop(outgoing, None)
            link.session.cancel_call(outgoing)

    def _can_send(self) -> bool:
        return self._link is not None and self._registration is RegistrationStatus.ACCEPTED

    # ---- boot and heartbeat ------------------------------------------------------------------

    def _boot_request(self) -> BootNotificationRequest:
        blank = "" if self.model.blank_optional_fields else None
        return BootNotificationRequest(
            charge_point_vendor=self.model.vendor,
            charge_point_model=self.model.model,
            charge_point_serial_number=self.serial_number,
            charge_box_serial_number=self.serial_number,
            firmware_version=self._firmware_version,
            iccid=blank,
            imsi=blank,
            meter_type=self.model.meter_type,
            meter_serial_number=blank,
        )

    async def _boot(self) -> None:
        """BootNotification until Accepted (§4.2): after Pending or Rejected again after the
        interval given (sooner when a TriggerMessage asks for it while Pending)."""
        while True:
            self._boot_wake.clear()
            try:
                response = await self._call(self._boot_request())
            except (CallErrorReceived, CallTimeout, InvalidResponse) as error:
                self._note(f"BootNotification failed: {error}")
                await self._sleep_or_wake(self._boot_wake, BOOT_RETRY_S)
                continue
            assert isinstance(response, BootNotificationResponse)
            if self._on_boot_answer(response):
                return
            wait_s = response.interval if response.interval > 0 else BOOT_RETRY_S
            if response.status is RegistrationStatus.REJECTED:
                await asyncio.sleep(wait_s)  # nothing else meanwhile, not even a trigger
            else:
                await self._sleep_or_wake(self._boot_wake, wait_s)

    def _on_boot_answer(self, response: BootNotificationResponse) -> bool:
        self._registration = response.status
        self._emit(EventKind.REGISTRATION, status=response.status.value, interval=response.interval)
        if response.status is not RegistrationStatus.ACCEPTED:
            return False
        if response.interval > 0:
            # §4.2.1: Accepted -> the charger adopts the interval as its heartbeat interval.
            self._config.set_by_charger("HeartbeatInterval", str(response.interval))
            self._heartbeat_wake.set()
        return True

    async def _heartbeat(self) -> None:
        while True:
            interval = self._config.get_int("HeartbeatInterval", 0)
            if interval <= 0:
                await self._heartbeat_wake.wait()
                self._heartbeat_wake.clear()
                continue
            if await self._sleep_or_wake(self._heartbeat_wake, interval):
                continue
            try:
                await self._call(HeartbeatRequest())
            except (CallErrorReceived, CallTimeout, InvalidResponse) as error:
                self._note(f"Heartbeat failed: {error}")

    # ---- the outbox --------------------------------------------------------------------------

    def _enqueue(self, item: _Outgoing) -> None:
        online = self._can_send()
        if not item.transactional and not online:
            return  # §4.9 facts: statuses are not kept; the current one goes after reconnect
        self._outbox.append(item)
        if not online:
            item.queued_offline = True
        if len(self._outbox) > MAX_QUEUED_MESSAGES:
            oldest_meter = next((queued for queued in self._outbox if queued.meter), None)
            if oldest_meter is not None:
                self._outbox.remove(oldest_meter)
                self._note("queue full: dropped the oldest MeterValues")
        if item.queued_offline:
            self._emit(EventKind.QUEUED, action=item.action, queued=self.queued_messages())
        self._outbox_wake.set()

    async def _send_outbox(self) -> None:
        """Send the outbox in order; transaction messages are retried TransactionMessageAttempts
        times, TransactionMessageRetryInterval x n apart, then discarded (§9.1, facts §1.6
        "Retries after failure to process")."""
        while True:
            if not self._outbox:
                self._outbox_wake.clear()
                self._notify()
                await self._outbox_wake.wait()
                continue
            item = self._outbox[0]
            request = item.build()
            if request is None:
                self._outbox.pop(0)
                self._note(f"{item.action} dropped: its transaction never got an id")
                continue
            try:
                response = await self._call(request)
            except (CallErrorReceived, CallTimeout, InvalidResponse) as error:
                self._note(f"{item.action} failed: {error}")
                item.attempts += 1
                attempts = max(self._config.get_int("TransactionMessageAttempts", 3), 1)
                if not item.transactional or item.attempts >= attempts:
                    self._discard(item)
                    continue
                retry_s = self._config.get_int("TransactionMessageRetryInterval", 60)
                await asyncio.sleep(retry_s * item.attempts)
                continue
            self._discard(item)
            if item.queued_offline:
                self._emit(
                    EventKind.QUEUED,
                    action=item.action,
                    replayed=True,
                    queued=self.queued_messages(),
                )
            if item.on_answer is not None:
                item.on_answer(response)

    def _discard(self, item: _Outgoing) -> None:
        if item in self._outbox:
            self._outbox.remove(item)

    # ---- transactions --------------------------------------------------------------------------

    def _may_start(self, connector: _Connector) -> bool:
        return connector.fault is None and not connector.inoperative

    def _start_transaction(
        self,
        connector: _Connector,
        id_tag: str,
        parent_id_tag: str | None = None,
        profile: ChargingProfile | None = None,
    ) -> None:
        self._advance(connector)
        reservation = connector.reservation
        self._end_reservation(connector)
        self._clear_pending(connector)
        now = self._now()
        transaction = _Transaction(
            connector_id=connector.connector_id,
            id_tag=id_tag,
            meter_start=round(connector.energy_wh),
            started_at=now,
            reservation_id=None if reservation is None else reservation.reservation_id,
            parent_id_tag=parent_id_tag,
        )
        connector.transaction = transaction
        connector.finishing = False
        if profile is not None:
            self._profiles.install_for_transaction(profile, connector.connector_id, now)
        request = StartTransactionRequest(
            connector_id=connector.connector_id,
            id_tag=id_tag,
            meter_start=transaction.meter_start,
            reservation_id=transaction.reservation_id,
            timestamp=whole_seconds(now),
        )

        def answered(response: Message) -> None:
            assert isinstance(response, StartTransactionResponse)
            self._on_start_answer(transaction, response)

        self._enqueue(
            _Outgoing("StartTransaction", lambda: request, transactional=True, on_answer=answered)
        )
        self._refresh(connector)

    def _on_start_answer(
        self, transaction: _Transaction, response: StartTransactionResponse
    ) -> None:
        info = response.id_tag_info
        transaction.transaction_id = response.transaction_id
        if info.parent_id_tag is not None:
            transaction.parent_id_tag = info.parent_id_tag
        self._auth.remember(transaction.id_tag, info)
        accepted = info.status is AuthorizationStatus.ACCEPTED
        self._emit(
            EventKind.TRANSACTION,
            action="started" if accepted else "refused",
            connector_id=transaction.connector_id,
            transaction_id=transaction.transaction_id,
            id_tag=transaction.id_tag,
            meter_wh=transaction.meter_start,
            reason=None if accepted else info.status.value,
        )
        connector = self._connectors[transaction.connector_id]
        if connector.transaction is not transaction:
            return
        if not accepted:
            # §9.1 StopTransactionOnInvalidId; otherwise the energy is suspended (facts §1.6).
            if self._config.get_bool("StopTransactionOnInvalidId", True):
                self._stop_transaction(connector, Reason.DE_AUTHORIZED)
                return
            transaction.deauthorized = True
        self._refresh(connector)

    def _stop_transaction(
        self, connector: _Connector, reason: Reason, id_tag: str | None = None
    ) -> None:
        transaction = connector.transaction
        if transaction is None:
            return
        self._advance(connector)
        connector.transaction = None
        connector.finishing = connector.plugged
        meter_stop = round(connector.energy_wh)
        timestamp = whole_seconds(self._now())

        def build() -> Message | None:
            if transaction.transaction_id is None:
                return None
            return StopTransactionRequest(
                id_tag=id_tag,
                meter_stop=meter_stop,
                timestamp=timestamp,
                transaction_id=transaction.transaction_id,
                reason=reason,
            )

        def answered(response: Message) -> None:
            assert isinstance(response, StopTransactionResponse)
            if id_tag is not None:
                self._auth.remember(id_tag, response.id_tag_info)

        self._enqueue(_Outgoing("StopTransaction", build, transactional=True, on_answer=answered))
        self._profiles.end_transaction(connector.connector_id)
        self._emit(
            EventKind.TRANSACTION,
            action="stopped",
            connector_id=connector.connector_id,
            transaction_id=transaction.transaction_id,
            id_tag=transaction.id_tag,
            meter_wh=meter_stop,
            reason=reason.value,
        )
        if connector.scheduled_inoperative is not None:
            connector.inoperative = connector.scheduled_inoperative
            connector.scheduled_inoperative = None
        self._refresh(connector)

    def _refuse(self, connector: _Connector, id_tag: str, reason: str) -> None:
        self._emit(
            EventKind.TRANSACTION,
            action="refused",
            connector_id=connector.connector_id,
            transaction_id=None,
            id_tag=id_tag,
            meter_wh=round(connector.energy_wh),
            reason=reason,
        )

    def _await_plug(
        self,
        connector: _Connector,
        id_tag: str,
        parent_id_tag: str | None,
        profile: ChargingProfile | None,
    ) -> None:
        """Authorized without a car: Preparing until the car comes or ConnectionTimeOut passes
        (§9.1 ConnectionTimeOut, §4.9 Preparing)."""
        self._clear_pending(connector)
        connector.pending_id_tag = id_tag
        connector.pending_parent_id_tag = parent_id_tag
        connector.pending_profile = profile
        timeout_s = self._config.get_int("ConnectionTimeOut", 60)
        connector.pending_timer = asyncio.get_running_loop().call_later(
            timeout_s, self._plug_timed_out, connector
        )
        self._refresh(connector)

    def _plug_timed_out(self, connector: _Connector) -> None:
        connector.pending_timer = None
        self._clear_pending(connector)
        self._refresh(connector)

    def _clear_pending(self, connector: _Connector) -> None:
        if connector.pending_timer is not None:
            connector.pending_timer.cancel()
        connector.pending_timer = None
        connector.pending_id_tag = None
        connector.pending_parent_id_tag = None
        connector.pending_profile = None

    def _connector_for_remote_start(
        self, connector_id: int | None, id_tag: str
    ) -> _Connector | None:
        """The connector a RemoteStartTransaction goes to: the one named, or the first that can
        take it, one with a car first (§5.11: the charger chooses without connectorId)."""
        if connector_id is not None:
            candidates = (
                [self._connectors[connector_id]] if connector_id in self._connectors else []
            )
        else:
            candidates = sorted(self._connectors.values(), key=lambda c: not c.plugged)
        for connector in candidates:
            reservation = connector.reservation
            if (
                connector.transaction is None
                and self._may_start(connector)
                and (reservation is None or _admits(reservation, id_tag, None))
            ):
                return connector
        return None

    async def _remote_start(
        self, connector: _Connector, id_tag: str, profile: ChargingProfile | None
    ) -> None:
        """An accepted RemoteStartTransaction: authorized first when AuthorizeRemoteTxRequests
        is true (facts §1.5), then started, or Preparing until the car comes."""
        parent_id_tag = None
        if self._config.get_bool("AuthorizeRemoteTxRequests", False):
            info = await self._authorize(id_tag)
            if not is_valid(info, self._now()):
                self._refuse(connector, id_tag, info.status.value)
                return
            parent_id_tag = info.parent_id_tag
        if connector.transaction is not None or not self._may_start(connector):
            self._refuse(connector, id_tag, f"connector is {connector.status.value}")
            return
        if connector.plugged:
            self._start_transaction(connector, id_tag, parent_id_tag, profile)
        else:
            self._await_plug(connector, id_tag, parent_id_tag, profile)

    async def _authorize(self, id_tag: str) -> IdTagInfo:
        """May ``id_tag`` charge? Online: the list or cache when LocalPreAuthorize allows, else
        Authorize (§5.2, §3.5). Offline: the list/cache with LocalAuthorizeOffline, unknown tags
        with AllowOfflineTxForUnknownId; tags known as not valid stay refused (facts §1.6)."""
        now = self._now()
        local = self._auth.lookup(
            id_tag,
            use_list=self._config.get_bool("LocalAuthListEnabled", False),
            use_cache=self._config.get_bool("AuthorizationCacheEnabled", False),
        )
        if self._can_send():
            if (
                local is not None
                and is_valid(local, now)
                and self._config.get_bool("LocalPreAuthorize", False)
            ):
                return local
            try:
                response = await self._call(AuthorizeRequest(id_tag=id_tag))
            except (NotConnected, CallErrorReceived, CallTimeout, InvalidResponse) as error:
                self._note(f"Authorize of {id_tag} failed, deciding offline: {error}")
            else:
                assert isinstance(response, AuthorizeResponse)
                self._auth.remember(id_tag, response.id_tag_info)
                return response.id_tag_info
        if local is not None:
            if is_valid(local, now):
                if self._config.get_bool("LocalAuthorizeOffline", True):
                    return local
                return IdTagInfo(status=AuthorizationStatus.INVALID)
            if local.status is AuthorizationStatus.ACCEPTED:
                return IdTagInfo(status=AuthorizationStatus.EXPIRED)
            return local
        if self._config.get_bool("AllowOfflineTxForUnknownId", False):
            return IdTagInfo(status=AuthorizationStatus.ACCEPTED)
        return IdTagInfo(status=AuthorizationStatus.INVALID)

    # ---- reservations ------------------------------------------------------------------------

    def _is_free(self, connector: _Connector) -> bool:
        """Nobody uses or holds the connector: it may be reserved (§5.13 Occupied otherwise)."""
        return (
            connector.transaction is None
            and not connector.plugged
            and not connector.finishing
            and connector.pending_id_tag is None
            and connector.reservation is None
        )

    def _place_reservation(
        self,
        connector: _Connector,
        reservation_id: int,
        id_tag: str,
        parent_id_tag: str | None,
        expiry_date: datetime,
    ) -> None:
        """Hold the connector for ``id_tag`` (or its group) until ``expiry_date``; a reservation
        with the same id elsewhere is replaced (facts §1.5 Reservation)."""
        for other in self._connectors.values():
            held = other.reservation
            if held is not None and held.reservation_id == reservation_id:
                self._end_reservation(other)
                self._refresh(other)
        reservation = _Reservation(reservation_id, id_tag, parent_id_tag, expiry_date)
        delay_s = max((expiry_date - self._now()).total_seconds(), 0.0)
        reservation.timer = asyncio.get_running_loop().call_later(
            delay_s, self._reservation_expired, connector, reservation
        )
        connector.reservation = reservation
        self._refresh(connector)

    def _reservation_expired(self, connector: _Connector, reservation: _Reservation) -> None:
        if connector.reservation is reservation:
            reservation.timer = None
            connector.reservation = None
            self._refresh(connector)  # facts §1.5: on expiry, Available again

    def _end_reservation(self, connector: _Connector) -> None:
        reservation = connector.reservation
        if reservation is not None and reservation.timer is not None:
            reservation.timer.cancel()
        connector.reservation = None

    # ---- metering and limits ---------------------------------------------------------------

    def _transaction_context(self, connector: _Connector) -> TransactionContext | None:
        transaction = connector.transaction
        if transaction is None:
            return None
        return TransactionContext(transaction.transaction_id, transaction.started_at)

    def _capabilities(self) -> tuple[ChargerCapabilities, tuple[str, ...]]:
        return capabilities_from_configuration(
            {key: self._config.get(key) for key in CAPABILITY_KEYS}
        )

    def _advance(self, connector: _Connector) -> None:
        """Integrate energy and SoC at the power drawn since the last advance."""
        now = asyncio.get_running_loop().time()
        before, connector.advanced_at = connector.advanced_at, now
        if before is None or connector.power_w <= 0:
            return
        energy_wh = connector.power_w * (now - before) / 3600.0
        connector.energy_wh += energy_wh
        connector.soc = min(1.0, connector.soc + energy_wh / 1000.0 / self.ev.battery_kwh)

    def _refresh(self, connector: _Connector) -> None:
        """Bring the connector up to date: energy, the limit in force (LIMIT event when it
        changes), what the car draws, its status (sent when it changes)."""
        self._advance(connector)
        raw = self._profiles.limit_a(
            connector.connector_id,
            self._now(),
            self._transaction_context(connector),
            self.model.voltage_v,
        )
        limit = None if raw is None else applied_amps(raw, self.model)
        if limit != connector.limit_a:
            connector.limit_a = limit
            self._emit(EventKind.LIMIT, connector_id=connector.connector_id, limit_a=limit)
        offered = limit if limit is not None else applied_amps(self.model.max_current_a, self.model)
        # Wallbox chargingALimitConn<n> caps every profile (field notes Q7); 0 is read as "no
        # ceiling" (its meaning is unverified, field notes §8).
        ceiling = self._config.get_int(f"chargingALimitConn{connector.connector_id}", 0)
        if ceiling > 0:
            offered = min(offered, applied_amps(float(ceiling), self.model))
        transaction = connector.transaction
        if transaction is None or transaction.deauthorized:
            offered = 0.0
        connector.offered_a = offered
        draws = transaction is not None and connector.plugged and offered > 0
        current = self.ev.current_a(connector.soc, offered) if draws else 0.0
        connector.current_a = current
        connector.power_w = current * min(self.ev.phases, self.model.phases) * self.model.voltage_v
        self._update_status(connector)
        self._watch_limits()

    def _refresh_all(self) -> None:
        for connector in self._connectors.values():
            self._refresh(connector)

    def _watch_limits(self) -> None:
        """Re-evaluate the limits at the next period boundary of the profiles held (§3.13.2)."""
        if self._limit_timer is not None:
            self._limit_timer.cancel()
            self._limit_timer = None
        now = self._now()
        soonest: float | None = None
        for connector in self._connectors.values():
            seconds = self._profiles.seconds_to_next_change(
                connector.connector_id,
                now,
                self._transaction_context(connector),
                self.model.voltage_v,
            )
            if seconds is not None and (soonest is None or seconds < soonest):
                soonest = seconds
        if soonest is not None:
            # A moment after the boundary, so the new period is the one in force.
            self._limit_timer = asyncio.get_running_loop().call_later(
                soonest + 0.05, self._refresh_all
            )

    def _configuration_changed(self, key: str) -> None:
        """A ChangeConfiguration was Accepted: keys that pace or limit the charger act now."""
        folded = key.casefold()
        if folded == "heartbeatinterval":
            self._heartbeat_wake.set()
        elif folded == "metervaluesampleinterval":
            self._meter_wake.set()
        elif folded.startswith("chargingalimitconn"):
            self._refresh_all()

    def _meter_interval_s(self) -> float:
        if self.options.meter_interval_s is not None:
            return self.options.meter_interval_s
        return float(self._config.get_int("MeterValueSampleInterval", 0))

    async def _meter_loop(self) -> None:
        """Every MeterValueSampleInterval (§9.1; 0: none) a sample of each connector with a
        transaction, queued as a transaction-related message."""
        while True:
            interval = self._meter_interval_s()
            if interval <= 0:
                await self._meter_wake.wait()
                self._meter_wake.clear()
                continue
            if await self._sleep_or_wake(self._meter_wake, interval):
                continue
            for connector in self._connectors.values():
                self._refresh(connector)
                transaction = connector.transaction
                if transaction is None:
                    continue
                self._queue_meter_values(connector, transaction)

    def _queue_meter_values(self, connector: _Connector, transaction: _Transaction) -> None:
        sample = self._sample(connector, ReadingContext.SAMPLE_PERIODIC)
        connector_id = connector.connector_id

        def build() -> Message | None:
            if transaction.transaction_id is None:
                return None
            return MeterValuesRequest(
                connector_id=connector_id,
                transaction_id=transaction.transaction_id,
                meter_value=[sample],
            )

        self._enqueue(_Outgoing("MeterValues", build, transactional=True, meter=True))
        self._emit(
            EventKind.METER,
            connector_id=connector_id,
            power_w=round(connector.power_w, 1),
            current_a=round(connector.current_a, 1),
            energy_wh=round(connector.energy_wh),
            soc=round(connector.soc, 3),
            offered_a=connector.offered_a,
        )

    def _sample(self, connector: _Connector, context: ReadingContext) -> MeterValue:
        reading = Reading(
            energy_wh=connector.energy_wh,
            power_w=connector.power_w,
            current_a=connector.current_a,
            offered_a=connector.offered_a,
            soc=connector.soc,
            car_phases=min(self.ev.phases, self.model.phases),
        )
        return meter_value(self.model, reading, context, self._now())

    # ---- statuses --------------------------------------------------------------------------

    def _status_of(self, connector: _Connector) -> tuple[ChargePointStatus, ChargePointErrorCode]:
        """The §4.9 status the connector is in (SuspendedEVSE before SuspendedEV, facts §1.5)."""
        if connector.fault is not None:
            return ChargePointStatus.FAULTED, connector.fault
        no_error = ChargePointErrorCode.NO_ERROR
        transaction = connector.transaction
        if transaction is None and connector.inoperative:
            return ChargePointStatus.UNAVAILABLE, no_error
        if transaction is not None:
            if connector.offered_a <= 0:
                return ChargePointStatus.SUSPENDED_EVSE, no_error
            if connector.current_a <= 0:
                return ChargePointStatus.SUSPENDED_EV, no_error
            return ChargePointStatus.CHARGING, no_error
        if connector.finishing:
            return ChargePointStatus.FINISHING, no_error
        if connector.reservation is not None and connector.pending_id_tag is None:
            return ChargePointStatus.RESERVED, no_error
        if connector.plugged or connector.pending_id_tag is not None:
            return ChargePointStatus.PREPARING, no_error
        return ChargePointStatus.AVAILABLE, no_error

    def _update_status(self, connector: _Connector) -> None:
        status, error_code = self._status_of(connector)
        if (status, error_code) == (connector.status, connector.error_code):
            return
        connector.status, connector.error_code = status, error_code
        self._emit(
            EventKind.STATUS,
            connector_id=connector.connector_id,
            status=status.value,
            error_code=error_code.value,
        )
        self._queue_status(connector.connector_id, status, error_code)

    def _update_charger_status(self) -> None:
        status = (
            ChargePointStatus.UNAVAILABLE
            if self._charger_inoperative
            else ChargePointStatus.AVAILABLE
        )
        if status is self._charger_status:
            return
        self._charger_status = status
        self._emit(EventKind.STATUS, connector_id=0, status=status.value, error_code="NoError")
        self._queue_status(0, status, ChargePointErrorCode.NO_ERROR)

    def _status_request(
        self, connector_id: int, status: ChargePointStatus, error_code: ChargePointErrorCode
    ) -> StatusNotificationRequest:
        blank = "" if self.model.blank_optional_fields else None
        return StatusNotificationRequest(
            connector_id=connector_id,
            error_code=error_code,
            info=blank,
            status=status,
            timestamp=whole_seconds(self._now()),
            vendor_id=self.model.status_vendor_id,
            vendor_error_code=blank,
        )

    def _queue_status(
        self, connector_id: int, status: ChargePointStatus, error_code: ChargePointErrorCode
    ) -> None:
        request = self._status_request(connector_id, status, error_code)
        self._enqueue(_Outgoing("StatusNotification", lambda: request, transactional=False))

    def _queue_all_statuses(self) -> None:
        """After boot (and after a reconnect): connector 0 and every connector (§4.9)."""
        self._queue_status(0, self._charger_status, ChargePointErrorCode.NO_ERROR)
        for connector in self._connectors.values():
            self._queue_status(connector.connector_id, connector.status, connector.error_code)

    # ---- triggered messages, firmware, diagnostics, reboot -----------------------------------

    async def _send_triggered(self, message: MessageTrigger, connector_id: int | None) -> None:
        """The message a TriggerMessage asked for, sent after its answer (§5.17), also while
        Pending (§4.2.1: "unless asked through TriggerMessage")."""
        try:
            if message is MessageTrigger.BOOT_NOTIFICATION:
                if self._registration is RegistrationStatus.ACCEPTED:
                    response = await self._call(self._boot_request())
                    assert isinstance(response, BootNotificationResponse)
                    self._on_boot_answer(response)
                else:
                    self._boot_wake.set()
            elif message is MessageTrigger.HEARTBEAT:
                await self._call(HeartbeatRequest())
            elif message is MessageTrigger.STATUS_NOTIFICATION:
                if connector_id in (None, 0):
                    await self._call(
                        self._status_request(0, self._charger_status, ChargePointErrorCode.NO_ERROR)
                    )
                for connector in self._chosen(connector_id):
                    await self._call(
                        self._status_request(
                            connector.connector_id, connector.status, connector.error_code
                        )
                    )
            elif message is MessageTrigger.METER_VALUES:
                for connector in self._chosen(connector_id):
                    self._refresh(connector)
                    transaction = connector.transaction
                    await self._call(
                        MeterValuesRequest(
                            connector_id=connector.connector_id,
                            transaction_id=None
                            if transaction is None
                            else transaction.transaction_id,
                            meter_value=[self._sample(connector, ReadingContext.TRIGGER)],
                        )
                    )
            elif message is MessageTrigger.FIRMWARE_STATUS_NOTIFICATION:
                await self._call(FirmwareStatusNotificationRequest(status=self._firmware_status))
            elif message is MessageTrigger.DIAGNOSTICS_STATUS_NOTIFICATION:
                await self._call(
                    DiagnosticsStatusNotificationRequest(status=self._diagnostics_status)
                )
        except (NotConnected, CallErrorReceived, CallTimeout, InvalidResponse) as error:
            self._note(f"triggered {message.value} failed: {error}")

    def _chosen(self, connector_id: int | None) -> list[_Connector]:
        if connector_id is None or connector_id == 0:
            return list(self._connectors.values())
        return [self._connectors[connector_id]]

    async def _report_transfer(self, kind: str, status: FirmwareStatus | DiagnosticsStatus) -> None:
        request: Message
        if isinstance(status, FirmwareStatus):
            self._firmware_status = status
            request = FirmwareStatusNotificationRequest(status=status)
        else:
            self._diagnostics_status = status
            request = DiagnosticsStatusNotificationRequest(status=status)
        self._emit(EventKind.FILE_TRANSFER, kind=kind, status=status.value)
        if not self._can_send():
            return
        try:
            await self._call(request)
        except (NotConnected, CallErrorReceived, CallTimeout, InvalidResponse) as error:
            self._note(f"{type(request).__name__} failed: {error}")

    async def _update_firmware(self, request: UpdateFirmwareRequest) -> None:
        """Download at retrieveDate, with the retries asked for, then install (§5.19): the
        FirmwareStatusNotifications Downloading, Downloaded, Installing, Installed (§4.5), and a
        reboot with the new version when the model reboots after an update."""
        delay_s = (request.retrieve_date - self._now()).total_seconds()
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        attempts = 1 + max(request.retries or 0, 0)
        for attempt in range(1, attempts + 1):
            await self._report_transfer("firmware", FirmwareStatus.DOWNLOADING)
            try:
                size = await transfers.download(request.location)
            except transfers.TransferFailed as failed:
                self._note(f"firmware download {attempt}/{attempts}: {failed}")
                if attempt < attempts:
                    await asyncio.sleep(max(request.retry_interval or 0, 0))
                continue
            self._note(f"firmware downloaded: {size} bytes")
            break
        else:
            await self._report_transfer("firmware", FirmwareStatus.DOWNLOAD_FAILED)
            return
        await self._report_transfer("firmware", FirmwareStatus.DOWNLOADED)
        await self._report_transfer("firmware", FirmwareStatus.INSTALLING)
        await asyncio.sleep(INSTALL_S)
        await self._report_transfer("firmware", FirmwareStatus.INSTALLED)
        if self.model.reboot_after_firmware_update:
            name = unquote(urlsplit(request.location).path.rsplit("/", 1)[-1])
            found = _VERSION_IN_NAME.search(name)
            if found is not None:
                self._firmware_version = found.group(0)
            await self._reboot(Reason.REBOOT, soft=True)

    async def _upload_diagnostics(self, request: GetDiagnosticsRequest, file_name: str) -> None:
        """Upload the recent event lines as ``file_name`` (§5.9): Uploading, then Uploaded or,
        after the retries asked for, UploadFailed (§4.4)."""
        lines = [f"{at.isoformat()} {kind} {what}" for at, kind, what in self._recent]
        content = ("\n".join(lines) + "\n").encode()
        attempts = 1 + max(request.retries or 0, 0)
        for attempt in range(1, attempts + 1):
            await self._report_transfer("diagnostics", DiagnosticsStatus.UPLOADING)
            try:
                await transfers.upload(request.location, file_name, content)
            except transfers.TransferFailed as failed:
                self._note(f"diagnostics upload {attempt}/{attempts}: {failed}")
                if attempt < attempts:
                    await asyncio.sleep(max(request.retry_interval or 0, 0))
                continue
            await self._report_transfer("diagnostics", DiagnosticsStatus.UPLOADED)
            return
        await self._report_transfer("diagnostics", DiagnosticsStatus.UPLOAD_FAILED)

    async def _reboot(self, reason: Reason, *, soft: bool) -> None:
        """Reset (§5.14) or a firmware installation: transactions stop with ``reason``; a soft
        reboot waits a moment for their StopTransactions to be answered (a hard one sends them
        after the next boot, facts §1.5); then the connection drops and a new boot follows."""
        for connector in self._connectors.values():
            self._stop_transaction(connector, reason)
            self._clear_pending(connector)
        if soft:
            try:
                await self.wait_for(
                    lambda: self.queued_messages() == 0 or self._link is None,
                    SOFT_RESET_DRAIN_S,
                )
            except TimeoutError:
                self._note("rebooting with StopTransactions still queued")
        self._note(f"rebooting ({reason.value}), firmware {self._firmware_version}")
        self._registration = None
        self._reboot_pending = True
        link = self._link
        if link is not None:
            link.ws.transport.abort()

    # ---- plumbing ----------------------------------------------------------------------------

    def _connector(self, connector_id: int) -> _Connector:
        connector = self._connectors.get(connector_id)
        if connector is None:
            raise ValueError(
                f"connector {connector_id} does not exist: this charger has connectors 1 to "
                f"{len(self._connectors)}"
            )
        return connector

    def _spawn(self, coroutine_function: Callable[[], Coroutine[Any, Any, None]]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine_function())
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "%s: background work failed",
                self.options.charge_point_id,
                exc_info=task.exception(),
            )

    def _spawn_on(self, link: _Link, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        link.tasks.add(task)
        task.add_done_callback(link.tasks.discard)

    async def _sleep_or_wake(self, event: asyncio.Event, timeout_s: float) -> bool:
        """Sleep ``timeout_s`` unless ``event`` is set first; True if it was (and clear it)."""
        try:
            async with asyncio.timeout(timeout_s):
                await event.wait()
        except TimeoutError:
            return False
        event.clear()
        return True

    def _cancel_timers(self) -> None:
        if self._limit_timer is not None:
            self._limit_timer.cancel()
            self._limit_timer = None
        for connector in self._connectors.values():
            if connector.pending_timer is not None:
                connector.pending_timer.cancel()
            if connector.reservation is not None and connector.reservation.timer is not None:
                connector.reservation.timer.cancel()

    def _set_state(self, state: ConnectionState, **detail: Any) -> None:
        reason = detail.get("reason")
        if state is self._state and reason == self._state_reason:
            return
        self._state, self._state_reason = state, reason
        self._emit(EventKind.CONNECTION, state=state, **detail)

    def _emit(self, kind: EventKind, /, **detail: Any) -> None:
        event = SimEvent(self.options.charge_point_id, kind, self._now(), detail)
        self._recent.append((event.at, kind.value, detail))
        if self._on_event is not None:
            self._on_event(event)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _note(self, line: str) -> None:
        """For the diagnostics file and the debug log; not an event."""
        self._recent.append((self._now(), "note", line))
        log.debug("%s: %s", self.options.charge_point_id, line)


def _admits(reservation: _Reservation, id_tag: str, parent_id_tag: str | None) -> bool:
    """A reserved connector takes the reservation's idTag or one of its group (§5.13)."""
    if same_tag(id_tag, reservation.id_tag):
        return True
    return (
        reservation.parent_id_tag is not None
        and parent_id_tag is not None
        and same_tag(parent_id_tag, reservation.parent_id_tag)
    )
