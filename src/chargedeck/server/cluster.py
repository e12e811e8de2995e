"""Several nodes, one fleet: presence, command routing and events over NATS (DESIGN §1, issue 9).

The only module that imports ``nats``. Every node shares one PostgreSQL store and one NATS
server (with JetStream); what the nodes must agree on lives in NATS, never in a home-made
protocol:

- **Liveness**: each node puts its name into the key-value bucket ``PREFIX_nodes`` every
  ``cluster_presence_ttl_s / 3``; the bucket's TTL is ``cluster_presence_ttl_s``. A node is alive
  while its newest heartbeat is younger than the TTL (compared with the heartbeat's JetStream
  timestamp: nodes on several machines need NTP, as PostgreSQL replication does).
- **Presence**: ``PREFIX_chargers`` maps a charge point id (base64url: key-value keys cannot hold
  every character an id may have) to the node holding its connection. Each node mirrors the
  bucket with a watch. A charger is online iff its presence node is alive; a crashed node's
  chargers show offline once its heartbeat is older than the TTL, and their reconnections
  elsewhere simply overwrite the key.
- **Take-over**: a charger connecting to node B while node A holds it: B writes the key; A sees a
  newer revision by another node in its watch and closes its connection with 1000 ("taken over
  by node B"), the code ChargeDeck already uses when a newer connection replaces an older one on
  one node (server/ocpp_ws.py): the charger did nothing wrong. A clean disconnect deletes the key
  only if the revision is still ours (compare-and-delete), so it never erases a take-over.
- **Command routing**: :meth:`Stations.get` returns a :class:`RemoteStationLink` for a charger on
  another live node; its calls are NATS requests to ``PREFIX.node.NAME.call``. The holding node
  runs the call on its connection (operator commands through ``send_command`` with its checks)
  and answers with the typed response's JSON or the error's kind, raised again here as the same
  exception a local call raises. No responder or a broken connection: :class:`NodeUnreachable`
  (503); no answer in time: :class:`NodeTimeout` (504).
- **Events**: every event published on this node (a ``local_only`` subscription) goes to
  ``PREFIX.events``; every other node's event comes in through ``EventBus.receive_remote``: SSE
  on any node shows the whole fleet, webhooks and MQTT (``local_only``) act once.

- **Load management once per site**: a lease per site in ``PREFIX_sites`` (create-if-absent,
  renewed every TTL/3, the bucket's TTL expires a dead holder's lease). Only the holder
  recomputes the site and sends its profiles (through the routing above to chargers on other
  nodes); it learns of other nodes' chargers from the relayed events (status, transactions,
  boots, disconnections, the currents of meter values), and reads the rest from the shared
  store, as on one node. An unplaced charger's operator limit is sent by the node holding its
  connection. An operator's change (site, placement, limit, reading) made through one node is
  sent to the others on ``PREFIX.load-changes``, so the node computing it acts at once.
- **Id tag changes**: the node that changed one publishes its name on ``PREFIX.id-tags-changed``;
  every other node resyncs the local lists of the chargers it holds (csms/local_lists.py).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NoReturn

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import KeyValueConfig
from nats.js.kv import KeyValue

from chargedeck.config import Settings
from chargedeck.csms.commands import (
    ChargePointNotConnected,
    CommandError,
    CommandNotAllowed,
    UnknownChargePoint,
    send_command,
)
from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.events import (
    ChargerBooted,
    ChargerDisconnected,
    MeterValuesReceived,
    Published,
    StatusChanged,
    Subscription,
    TransactionStarted,
    TransactionStopped,
    decode_published,
    encode_published,
)
from chargedeck.csms.load_control import LoadChange
from chargedeck.csms.local_lists import resync_chargers_held_here
from chargedeck.csms.stations import (
    ChargePointDisconnected,
    NodeTimeout,
    NodeUnreachable,
    RemoteStationLink,
    StationLink,
)
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId
from chargedeck.domain.security import SecurityProfile
from chargedeck.ocpp.codec import decode_request, decode_response, encode_message
from chargedeck.ocpp.errors import CallErrorReceived, CallTimeout, InvalidResponse
from chargedeck.ocpp.v16.actions import ACTION_BY_REQUEST_TYPE, ACTIONS
from chargedeck.ocpp.v16.base import Message
from chargedeck.server.ocpp_ws import ChargePointConnection
from chargedeck.store.errors import StoreError

log = logging.getLogger(__name__)

TAKEN_OVER = 1000
"""RFC 6455 §7.4.1 normal closure: as for a newer connection on the same node; the charger is
not at fault and reconnects (to the node that now holds it, or any other)."""

CONNECT_TIMEOUT_S = 5.0
"""Time for the first connection to NATS at start: a node that cannot reach its broker says so
instead of serving chargers it could not share."""

SYNC_TIMEOUT_S = 10.0
"""Time to read the presence buckets at start (one message per charger: 10,000 take ~1 s)."""

ROUTE_MARGIN_S = 5.0
"""Added to twice the call time-out when waiting for the holding node: its own time-out answers
first; this covers the charger's one-call-at-a-time queue there and the broker round trip."""


_NODE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ClusterError(Exception):
    """The node cannot join the cluster; the sentence names the setting to check."""


def cluster_settings_problem(settings: Settings) -> str | None:
    """Why these settings cannot run a cluster node, as a sentence; None when they can."""
    if not settings.database_url.startswith("postgresql"):
        return (
            f"cluster_url is set but database_url is {settings.database_url.split(':', 1)[0]}:…; "
            "the nodes of a cluster share one PostgreSQL database (postgresql://…)"
        )
    node = settings.node_name or default_node_name()
    if not _NODE_NAME.match(node):
        return (
            f"node_name={node!r}: expected 1-64 letters, digits, '-' or '_' "
            "(it is part of NATS subject names)"
        )
    return None


def default_node_name() -> str:
    """HOSTNAME-PID with the characters NATS subjects cannot carry replaced by ``-``."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"{socket.gethostname()}-{os.getpid()}")[:64]


def presence_key(charge_point_id: str) -> str:
    """The key-value key of a charge point id: base64url without padding (keys allow only
    ``[-/_=.a-zA-Z0-9]`` while an id may hold any printable character)."""
    return base64.urlsafe_b64encode(charge_point_id.encode()).decode().rstrip("=")


def parse_presence_key(key: str) -> ChargePointId:
    """Inverse of :func:`presence_key`; ValueError for a key no node wrote."""
    try:
        raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
        return ChargePointId(raw.decode())
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"presence key {key!r} is not a base64url charge point id") from exc


class Presence(msgspec.Struct, frozen=True, kw_only=True):
    """The value of a presence key: who holds the connection and what it looked like."""

    node: str
    remote_address: str
    connected_at: datetime
    security_profile: int
    registration: str | None
    boot_status: str | None


class Heartbeat(msgspec.Struct, frozen=True, kw_only=True):
    pid: int
    started_at: datetime


class RouteRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A call for a charger on another node: ``payload`` is the request's OCPP JSON."""

    charge_point_id: str
    kind: Literal["call", "command", "close"]
    action: str = ""
    payload: msgspec.Raw = msgspec.Raw(b"null")
    timeout_s: float | None = None
    close_code: int = 0
    reason: str = ""


class LoadChangeMessage(msgspec.Struct, frozen=True, kw_only=True):
    """An operator's load control change made on ``node`` (csms/load_control.py)."""

    node: str
    change: LoadChange


class RouteReply(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The holding node's answer: ``payload`` (response JSON) when ``error`` is None, else the
    error's kind with the fields needed to raise the same exception here."""

    payload: msgspec.Raw = msgspec.Raw(b"null")
    error: str | None = None
    message: str = ""
    code: str = ""
    description: str = ""
    details: Any = None
    message_id: str = ""
    timeout_s: float = 0.0


_PRESENCE = msgspec.json.Decoder(Presence)
_REQUEST = msgspec.json.Decoder(RouteRequest)
_REPLY = msgspec.json.Decoder(RouteReply)
_LOAD_CHANGE = msgspec.json.Decoder(LoadChangeMessage)
_ENCODER = msgspec.json.Encoder()


def reply_for_error(exc: Exception) -> RouteReply:
    """What the holding node answers when its local call raised ``exc`` (the typed errors a
    StationLink or send_command raise; anything else is a failure of that node)."""
    if isinstance(exc, UnknownChargePoint):
        return RouteReply(error="unknown-charge-point", message=str(exc))
    if isinstance(exc, ChargePointNotConnected):
        return RouteReply(error="not-connected", message=str(exc))
    if isinstance(exc, CommandError):  # CommandNotAllowed and any other refusal before sending
        return RouteReply(error="not-allowed", message=str(exc))
    if isinstance(exc, ChargePointDisconnected):
        return RouteReply(error="disconnected", message=str(exc))
    if isinstance(exc, CallTimeout):
        return RouteReply(
            error="timeout", message_id=exc.message_id, timeout_s=exc.timeout_s, message=str(exc)
        )
    if isinstance(exc, CallErrorReceived):
        return RouteReply(
            error="call-error",
            code=exc.code,
            description=exc.description,
            details=exc.details,
            message=str(exc),
        )
    if isinstance(exc, InvalidResponse):
        return RouteReply(error="invalid-response", description=exc.description, message=str(exc))
    return RouteReply(error="failed", message=f"{type(exc).__name__}: {exc}")


def raise_reply_error(reply: RouteReply, charge_point_id: str, node: str, action: str) -> NoReturn:
    """Raise, on the asking node, the exception the holding node's call raised."""
    match reply.error:
        case "unknown-charge-point":
            raise UnknownChargePoint(charge_point_id)
        case "not-connected" | "disconnected":
            raise ChargePointDisconnected(charge_point_id)
        case "not-allowed":
            raise CommandNotAllowed(reply.message)
        case "timeout":
            raise CallTimeout(action, reply.message_id, reply.timeout_s)
        case "call-error":
            raise CallErrorReceived(action, reply.code, reply.description, reply.details)
        case "invalid-response":
            raise InvalidResponse(action, reply.description)
        case _:
            raise NodeUnreachable(
                charge_point_id, node, f"it failed handling {action} ({reply.message})"
            )


@dataclass(slots=True)
class _Held:
    """One mirrored presence key."""

    presence: Presence
    revision: int


class _RemoteLink(RemoteStationLink):
    """A charger on another node, reached through NATS request/reply."""

    def __init__(self, cluster: Cluster, node: str, state: ConnectionState) -> None:
        self._cluster = cluster
        self.node = node
        self.state = state

    async def call(self, request: Message, timeout_s: float | None = None) -> Message:
        return await self._cluster.route(self, "call", request, timeout_s)

    async def send_command(self, request: Message, timeout_s: float | None = None) -> Message:
        return await self._cluster.route(self, "command", request, timeout_s)

    async def close(self, code: int, reason: str) -> None:
        await self._cluster.route_close(self, code, reason)


class Cluster:
    """This node's membership: heartbeat, presence, routing, event relay (module docstring)."""

    def __init__(self, services: CsmsServices) -> None:
        settings = services.settings
        self.services = services
        self.node = settings.node_name or default_node_name()  # checked by
        # cluster_settings_problem before the start
        self.ttl_s = settings.cluster_presence_ttl_s
        prefix = settings.cluster_prefix
        self.nodes_bucket = f"{prefix}_nodes"
        self.chargers_bucket = f"{prefix}_chargers"
        self.sites_bucket = f"{prefix}_sites"
        self.events_subject = f"{prefix}.events"
        self.id_tags_subject = f"{prefix}.id-tags-changed"
        self.load_changes_subject = f"{prefix}.load-changes"
        self._call_prefix = f"{prefix}.node."
        services.events.node = self.node  # event ids are NODE-SEQUENCE: unique in the cluster
        self._nc: NatsClient | None = None
        self._nodes_kv: KeyValue | None = None
        self._chargers_kv: KeyValue | None = None
        self._sites_kv: KeyValue | None = None
        self._leases: dict[int, tuple[int, float]] = {}
        """Site id -> (revision, loop time of the renewal) of the leases this node holds."""
        self._heartbeats: dict[str, datetime] = {}
        self._presence: dict[ChargePointId, _Held] = {}
        self._own_revision: dict[ChargePointId, int | None] = {}
        """Charger held here -> revision of our newest presence write (None: being written)."""
        self._writes: asyncio.Queue[tuple[str, ChargePointId]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._handlers: set[asyncio.Task[None]] = set()
        self._relay: Subscription | None = None
        self._relay_task: asyncio.Task[None] | None = None
        self._closing = False
        self._synced: dict[str, asyncio.Event] = {}
        self.events_relayed_out = 0
        self.events_relayed_in = 0
        self.events_not_relayed = 0
        """Events lost while NATS was unreachable (its client buffer full)."""

    # ---- start / stop ------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, create or open the buckets, read presence, then take part. Raises
        ClusterError with a sentence when NATS cannot be reached or JetStream is off."""
        url = self.services.settings.cluster_url
        try:
            # max_reconnect_attempts=-1 retries for ever after the start, and also at the first
            # connection: the time-out bounds that one.
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                self._nc = await nats.connect(
                    url,
                    name=f"chargedeck {self.node}",
                    connect_timeout=CONNECT_TIMEOUT_S,
                    max_reconnect_attempts=-1,
                    reconnected_cb=self._reconnected,
                    disconnected_cb=self._disconnected,
                    error_cb=self._error,
                )
        except (OSError, nats.errors.Error, TimeoutError) as exc:
            reason = str(exc) or f"no connection within {CONNECT_TIMEOUT_S:g} s"
            raise ClusterError(
                f"cannot connect to NATS at cluster_url ({_safe_url(url)}): {reason}"
            ) from None
        js = self._nc.jetstream()
        try:
            self._nodes_kv = await js.create_key_value(
                KeyValueConfig(bucket=self.nodes_bucket, ttl=self.ttl_s, history=1)
            )
            self._chargers_kv = await js.create_key_value(
                KeyValueConfig(bucket=self.chargers_bucket, history=1)
            )
            self._sites_kv = await js.create_key_value(
                KeyValueConfig(bucket=self.sites_bucket, ttl=self.ttl_s, history=1)
            )
            await self._heartbeat_once()
        except (nats.errors.Error, TimeoutError) as exc:
            await self._nc.close()
            raise ClusterError(
                f"cannot open the key-value buckets {self.nodes_bucket}, "
                f"{self.chargers_bucket} and {self.sites_bucket} on NATS ({_safe_url(url)}): "
                f"{exc}; NATS must run with JetStream (-js), and every node must use the same "
                "cluster_presence_ttl_s"
            ) from None
        loop = asyncio.get_running_loop()
        for bucket, kv, handle, known in (
            (self.nodes_bucket, self._nodes_kv, self._on_node_entry, self._heartbeat_keys),
            (self.chargers_bucket, self._chargers_kv, self._on_presence_entry, self._presence_keys),
        ):
            self._synced[bucket] = asyncio.Event()
            self._tasks.append(loop.create_task(self._watch(bucket, kv, handle, known)))
        try:
            async with asyncio.timeout(SYNC_TIMEOUT_S):
                for event in self._synced.values():
                    await event.wait()
        except TimeoutError:
            await self.close()
            raise ClusterError(
                f"could not read presence from NATS ({_safe_url(url)}) within {SYNC_TIMEOUT_S:g} s"
            ) from None
        await self._forget_previous_life()
        await self._nc.subscribe(f"{self._call_prefix}{self.node}.call", cb=self._on_route)
        await self._nc.subscribe(self.events_subject, cb=self._on_remote_event)
        await self._nc.subscribe(self.id_tags_subject, cb=self._on_id_tags_changed)
        await self._nc.subscribe(self.load_changes_subject, cb=self._on_load_change)
        self._relay = self.services.events.subscribe(local_only=True)
        self._tasks.append(loop.create_task(self._heartbeat()))
        self._tasks.append(loop.create_task(self._hold_leases()))
        self.services.load_control.computes = self.computes
        self.services.load_control.tell_other_nodes = self.load_changed
        self._tasks.append(loop.create_task(self._write_presence()))
        self._relay_task = loop.create_task(self._relay_events())
        self._tasks.append(self._relay_task)
        self.services.stations.cluster = self
        log.info(
            "cluster: node %s joined via %s (%d live nodes, %d chargers present)",
            self.node,
            _safe_url(url),
            len(self.live_nodes()),
            sum(1 for held in self._presence.values() if self.is_alive(held.presence.node)),
        )

    async def close(self, flush_timeout_s: float = 5.0) -> None:
        """Leave: after the OCPP server closed its connections, write their presence deletes,
        remove our heartbeat (others see us gone at once, not after the TTL), disconnect."""
        if self.services.stations.cluster is self:
            self.services.stations.cluster = None
        if self.services.load_control.computes == self.computes:
            self.services.load_control.computes = None
        if self.services.load_control.tell_other_nodes == self.load_changed:
            self.services.load_control.tell_other_nodes = None
        if self._nc is None:
            return
        self._closing = True
        if self._relay is not None:
            self._relay.close()  # its iterator ends once the last events are relayed
        try:
            async with asyncio.timeout(flush_timeout_s):
                await self._writes.join()
                if self._relay_task is not None:
                    await self._relay_task
        except TimeoutError:
            log.warning("cluster: %d presence writes not done at shutdown", self._writes.qsize())
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._nodes_kv is not None and self._nc.is_connected:
            try:
                await self._release_leases()
                await self._nodes_kv.delete(self.node)
            except (nats.errors.Error, TimeoutError) as exc:
                log.warning("cluster: could not remove node %s's heartbeat: %s", self.node, exc)
        try:
            await self._nc.drain()
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning("cluster: NATS drain failed: %s", exc)
        self._nc = None
        log.info("cluster: node %s left", self.node)

    # ---- liveness ------------------------------------------------------------------------------

    def is_alive(self, node: str) -> bool:
        if node == self.node:
            return True
        beat = self._heartbeats.get(node)
        return beat is not None and (datetime.now(UTC) - beat).total_seconds() < self.ttl_s

    def live_nodes(self) -> list[str]:
        return sorted({self.node, *(n for n in self._heartbeats if self.is_alive(n))})

    async def _heartbeat_once(self) -> None:
        assert self._nodes_kv is not None
        beat = Heartbeat(pid=os.getpid(), started_at=datetime.now(UTC))
        await self._nodes_kv.put(self.node, _ENCODER.encode(beat))

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_s / 3)
            try:
                await self._heartbeat_once()
            except (nats.errors.Error, TimeoutError) as exc:
                log.warning(
                    "cluster: heartbeat of node %s not written (%s): after %g s other nodes "
                    "take its chargers' reconnections",
                    self.node,
                    exc,
                    self.ttl_s,
                )

    def _on_node_entry(self, key: str, value: bytes | None, revision: int, at: datetime) -> None:
        if value is None:
            self._heartbeats.pop(key, None)
            return
        if key not in self._heartbeats and key != self.node:
            log.info("cluster: node %s is alive", key)
        self._heartbeats[key] = at

    # ---- presence ------------------------------------------------------------------------------

    def attached(self, link: StationLink) -> None:
        charge_point_id = link.state.charge_point_id
        self._own_revision[charge_point_id] = None
        self._writes.put_nowait(("put", charge_point_id))

    def detached(self, link: StationLink) -> None:
        self._writes.put_nowait(("delete", link.state.charge_point_id))

    def remote_link(self, charge_point_id: ChargePointId) -> RemoteStationLink | None:
        held = self._presence.get(charge_point_id)
        if held is None:
            return None
        presence = held.presence
        if presence.node == self.node or not self.is_alive(presence.node):
            return None  # ours but not here (left from before a restart), or its node is dead
        state = ConnectionState(
            charge_point_id=charge_point_id,
            remote_address=presence.remote_address,
            connected_at=presence.connected_at,
            registration=(
                None if presence.registration is None else Registration(presence.registration)
            ),
            security_profile=SecurityProfile(presence.security_profile),
            boot_status=presence.boot_status,
        )
        return _RemoteLink(self, presence.node, state)

    def _presence_of(self, link: StationLink) -> bytes:
        state = link.state
        return _ENCODER.encode(
            Presence(
                node=self.node,
                remote_address=state.remote_address,
                connected_at=state.connected_at,
                security_profile=int(state.security_profile),
                registration=None if state.registration is None else state.registration.value,
                boot_status=state.boot_status,
            )
        )

    async def _write_presence(self) -> None:
        """One writer, in order: a put for a connection is never overtaken by its delete."""
        while True:
            op, charge_point_id = await self._writes.get()
            try:
                if op == "put":
                    await self._put_presence(charge_point_id)
                elif op == "update":
                    await self._update_presence(charge_point_id)
                else:
                    await self._delete_presence(charge_point_id)
            except (nats.errors.Error, TimeoutError) as exc:
                log.warning(
                    "cluster: presence of %s not written (%s); rewritten when NATS is back",
                    charge_point_id,
                    exc,
                )
            except Exception:  # logged; the writer must go on for the other chargers
                log.exception("cluster: presence of %s not written", charge_point_id)
            finally:
                self._writes.task_done()

    async def _put_presence(self, charge_point_id: ChargePointId) -> None:
        assert self._chargers_kv is not None
        link = self.services.stations.get_local(charge_point_id)
        if link is None:
            return  # gone again before its write: the queued delete follows
        revision = await self._chargers_kv.put(
            presence_key(charge_point_id), self._presence_of(link)
        )
        self._own_revision[charge_point_id] = revision
        held = self._presence.get(charge_point_id)
        if held is not None and held.presence.node != self.node and held.revision > revision:
            # Another node wrote after us while our write was on its way: it holds the charger.
            self._take_over_seen(charge_point_id, held.presence.node)

    async def _update_presence(self, charge_point_id: ChargePointId) -> None:
        """The connection's boot status changed: rewrite its presence if it is still ours."""
        assert self._chargers_kv is not None
        link = self.services.stations.get_local(charge_point_id)
        revision = self._own_revision.get(charge_point_id)
        if link is None or revision is None:
            return
        try:
            self._own_revision[charge_point_id] = await self._chargers_kv.update(
                presence_key(charge_point_id), self._presence_of(link), last=revision
            )
        except nats.js.errors.KeyWrongLastSequenceError:
            return  # another node took the charger over: its watch entry closes ours

    async def _delete_presence(self, charge_point_id: ChargePointId) -> None:
        assert self._chargers_kv is not None
        if self.services.stations.get_local(charge_point_id) is not None:
            return  # connected again meanwhile: its put is queued after this
        revision = self._own_revision.pop(charge_point_id, None)
        if revision is None:
            return  # never written, or taken over by another node
        try:
            await self._chargers_kv.delete(presence_key(charge_point_id), last=revision)
        except nats.js.errors.APIError as exc:
            if not _wrong_last_revision(exc):
                raise
            # another node holds it now: its key stays

    async def _forget_previous_life(self) -> None:
        """Keys naming this node that no connection here backs (the node was killed and started
        again under its name): delete them, each only if unchanged."""
        assert self._chargers_kv is not None
        stale = [
            (cp, held.revision)
            for cp, held in self._presence.items()
            if held.presence.node == self.node and self.services.stations.get_local(cp) is None
        ]
        for charge_point_id, revision in stale:
            try:
                await self._chargers_kv.delete(presence_key(charge_point_id), last=revision)
            except nats.js.errors.APIError as exc:
                if not _wrong_last_revision(exc):
                    raise
        if stale:
            log.info(
                "cluster: %d presence keys of a previous run of %s removed", len(stale), self.node
            )

    def _on_presence_entry(
        self, key: str, value: bytes | None, revision: int, at: datetime
    ) -> None:
        try:
            charge_point_id = parse_presence_key(key)
            presence = None if value is None else _PRESENCE.decode(value)
        except (ValueError, msgspec.DecodeError) as exc:
            log.warning("cluster: presence key %r ignored: %s", key, exc)
            return
        if presence is None:
            self._presence.pop(charge_point_id, None)
            return
        self._presence[charge_point_id] = _Held(presence, revision)
        if presence.node == self.node:
            return
        own = self._own_revision.get(charge_point_id)
        if own is not None and revision > own:
            self._take_over_seen(charge_point_id, presence.node)

    def _heartbeat_keys(self) -> set[str]:
        return set(self._heartbeats)

    def _presence_keys(self) -> set[str]:
        return {presence_key(charge_point_id) for charge_point_id in self._presence}

    def _take_over_seen(self, charge_point_id: ChargePointId, node: str) -> None:
        """Another node holds the charger now: close our connection (our key is theirs)."""
        self._own_revision.pop(charge_point_id, None)
        link = self.services.stations.get_local(charge_point_id)
        if link is None:
            return
        log.info(
            "charge point %s connected to node %s: closing its connection here with %d",
            charge_point_id,
            node,
            TAKEN_OVER,
        )
        if isinstance(link, ChargePointConnection):
            link.taken_over = True  # online on ``node``: its close publishes no disconnect
        self._spawn(link.close(TAKEN_OVER, f"taken over by node {node}"))

    async def _watch(
        self,
        bucket: str,
        kv: KeyValue,
        handle: Callable[[str, bytes | None, int, datetime], None],
        known_keys: Callable[[], set[str]],
    ) -> None:
        """Mirror ``bucket``; if the watch fails, watch again and forget the keys that the new
        watch's initial values no longer hold (deleted meanwhile)."""
        while True:
            seen: set[str] | None = set()
            try:
                watcher = await kv.watchall()
                try:
                    async for entry in watcher:
                        if entry is None:  # the initial values have all been delivered
                            for key in known_keys() - (seen or set()):
                                handle(key, None, 0, datetime.now(UTC))
                            seen = None
                            self._synced[bucket].set()
                            continue
                        if seen is not None:
                            seen.add(entry.key)
                        deleted = entry.operation in ("DEL", "PURGE")
                        handle(
                            entry.key,
                            None if deleted else entry.value,
                            entry.revision or 0,
                            entry.created or datetime.now(UTC),
                        )
                finally:
                    await watcher.stop()  # type: ignore[no-untyped-call]
            except (nats.errors.Error, TimeoutError) as exc:
                log.warning("cluster: watch of %s failed (%s); watching again", bucket, exc)
            await asyncio.sleep(1.0)

    # ---- load management leases -------------------------------------------------------------

    def computes(self, scope: int | str) -> bool:
        """LoadControl.computes: a site while our lease is fresh (renewed within the TTL: a node
        cut off from NATS stops before another takes over); an unplaced charger while its
        connection is here."""
        if isinstance(scope, str):
            return self.services.stations.get_local(scope) is not None
        lease = self._leases.get(scope)
        loop = asyncio.get_running_loop()
        return lease is not None and loop.time() - lease[1] < self.ttl_s

    async def _hold_leases(self) -> None:
        while True:
            try:
                await self._renew_leases()
            except (nats.errors.Error, TimeoutError, StoreError) as exc:
                log.warning("cluster: load management leases not renewed: %s", exc)
            except Exception:  # logged; the task goes on: renewed again at the next round
                log.exception("cluster: load management leases not renewed")
            await asyncio.sleep(self.ttl_s / 3)

    async def _renew_leases(self) -> None:
        """Renew the leases held, try to take each site nobody holds, let deleted sites go."""
        assert self._sites_kv is not None
        sites = {site.id for site in await self.services.store.sites.list_sites()}
        loop = asyncio.get_running_loop()
        value = self.node.encode()
        for site_id in sorted(sites | set(self._leases)):
            key = f"site-{site_id}"
            held = self._leases.get(site_id)
            try:
                if site_id not in sites and held is not None:
                    del self._leases[site_id]
                    await self._sites_kv.delete(key, last=held[0])
                elif held is not None:
                    revision = await self._sites_kv.update(key, value, last=held[0])
                    self._leases[site_id] = (revision, loop.time())
                else:
                    revision = await self._sites_kv.create(key, value)
                    self._leases[site_id] = (revision, loop.time())
                    log.info("cluster: node %s runs load management of site %d", self.node, site_id)
                    # resend from its view
                    self.services.load_control.site_changed(site_id, tell_other_nodes=False)
            except nats.js.errors.KeyWrongLastSequenceError:
                if held is not None:
                    self._leases.pop(site_id, None)
                    log.warning(
                        "cluster: node %s lost the load management lease of site %d (it was "
                        "not renewed in time and another node took it)",
                        self.node,
                        site_id,
                    )
            except nats.js.errors.APIError as exc:
                if not _wrong_last_revision(exc):
                    raise

    async def _release_leases(self) -> None:
        """At shutdown: another node takes the sites at its next renewal, not after the TTL."""
        assert self._sites_kv is not None
        for site_id, (revision, _) in list(self._leases.items()):
            del self._leases[site_id]
            try:
                await self._sites_kv.delete(f"site-{site_id}", last=revision)
            except nats.js.errors.APIError as exc:
                if not _wrong_last_revision(exc):
                    raise

    def _feed_load_control(self, published: Published) -> None:
        """Another node's event, as its handler told that node's load control: the lease holder
        of the charger's site acts on it (the others' recomputations are gated off)."""
        load_control = self.services.load_control
        event = published.event
        charge_point_id = event.charge_point_id
        if isinstance(event, StatusChanged):
            load_control.on_status(charge_point_id, event.connector_id, event.status)
        elif isinstance(event, TransactionStarted):
            load_control.on_transaction_started(
                charge_point_id, event.connector_id, event.transaction_id, event.started_at
            )
        elif isinstance(event, TransactionStopped):
            load_control.on_transaction_stopped(charge_point_id, event.transaction_id)
        elif isinstance(event, MeterValuesReceived):
            # What the charger draws: the holder's household/surplus figures and its "limit
            # not honoured" check. The event's per-phase list has None for a phase not sent.
            load_control.on_currents(
                charge_point_id,
                event.connector_id,
                tuple(amps for amps in event.current_a or () if amps is not None),
                event.current_offered_a,
                event.sampled_at,
                power_w=event.power_w,
            )
        elif isinstance(event, ChargerBooted):
            # on_boot reads the id and the boot status of the connection only.
            load_control.on_boot(
                ConnectionState(
                    charge_point_id=ChargePointId(charge_point_id),
                    remote_address="",
                    connected_at=published.at,
                    registration=None,
                    boot_status=event.status,
                )
            )
        elif isinstance(event, ChargerDisconnected) and not self._moved(
            charge_point_id, published.node
        ):
            load_control.on_disconnected(charge_point_id)

    def _moved(self, charge_point_id: str, from_node: str) -> bool:
        """Whether a charger whose connection on ``from_node`` ended is online elsewhere: here,
        or on a live node other than ``from_node`` per presence. Presence may still name
        ``from_node`` when its disconnect event arrives first: that charger is gone."""
        if self.services.stations.get_local(charge_point_id) is not None:
            return True
        held = self._presence.get(ChargePointId(charge_point_id))
        return (
            held is not None
            and held.presence.node not in (from_node, self.node)
            and self.is_alive(held.presence.node)
        )

    # ---- routing -----------------------------------------------------------------------------

    async def route(
        self,
        link: _RemoteLink,
        kind: Literal["call", "command"],
        request: Message,
        timeout_s: float | None,
    ) -> Message:
        """Send ``request`` to the charger through the node holding it; raise what a local call
        raises, or NodeUnreachable / NodeTimeout."""
        action = ACTION_BY_REQUEST_TYPE[type(request)]
        body = RouteRequest(
            charge_point_id=link.state.charge_point_id,
            kind=kind,
            action=action.name,
            payload=msgspec.Raw(encode_message(request)),
            timeout_s=timeout_s,
        )
        call_timeout_s = timeout_s or self.services.settings.call_timeout_s
        reply = await self._request(link, _ENCODER.encode(body), action.name, call_timeout_s)
        if reply.error is not None:
            raise_reply_error(reply, link.state.charge_point_id, link.node, action.name)
        return decode_response(action, bytes(reply.payload))

    async def route_close(self, link: _RemoteLink, code: int, reason: str) -> None:
        body = RouteRequest(
            charge_point_id=link.state.charge_point_id, kind="close", close_code=code, reason=reason
        )
        reply = await self._request(
            link, _ENCODER.encode(body), "close", self.services.settings.close_timeout_s
        )
        if reply.error is not None and reply.error != "disconnected":
            raise_reply_error(reply, link.state.charge_point_id, link.node, "close")

    async def _request(
        self, link: _RemoteLink, body: bytes, action: str, call_timeout_s: float
    ) -> RouteReply:
        charge_point_id = link.state.charge_point_id
        if self._nc is None or not self._nc.is_connected:
            raise NodeUnreachable(charge_point_id, link.node, "this node is not connected to NATS")
        wait_s = 2 * call_timeout_s + ROUTE_MARGIN_S
        try:
            msg = await self._nc.request(
                f"{self._call_prefix}{link.node}.call", body, timeout=wait_s
            )
        except nats.errors.NoRespondersError:
            raise NodeUnreachable(charge_point_id, link.node, "it is not running") from None
        except nats.errors.TimeoutError:
            raise NodeTimeout(charge_point_id, link.node, action, wait_s) from None
        except (nats.errors.Error, OSError) as exc:
            raise NodeUnreachable(charge_point_id, link.node, f"NATS: {exc}") from None
        try:
            return _REPLY.decode(msg.data)
        except msgspec.DecodeError as exc:
            raise NodeUnreachable(
                charge_point_id, link.node, f"its answer is not a route reply: {exc}"
            ) from None

    async def _on_route(self, msg: Msg) -> None:
        """A call for a charger this node holds: run it in its own task (the subscription's
        callback runs one message at a time; a charger's answer takes up to the time-out)."""
        self._spawn(self._serve_route(msg))

    async def _serve_route(self, msg: Msg) -> None:
        try:
            request = _REQUEST.decode(msg.data)
        except msgspec.DecodeError as exc:
            log.warning("cluster: route request ignored: %s", exc)
            return
        try:
            reply = await self._run_route(request)
        except (
            CommandError,
            ChargePointDisconnected,
            CallTimeout,
            CallErrorReceived,
            InvalidResponse,
        ) as exc:
            reply = reply_for_error(exc)
        except Exception as exc:  # answered as a failure of this node, and logged here
            log.exception(
                "cluster: %s for %s from another node failed",
                request.action or request.kind,
                request.charge_point_id,
            )
            reply = reply_for_error(exc)
        try:
            await msg.respond(_ENCODER.encode(reply))
        except (nats.errors.Error, OSError) as exc:
            log.warning("cluster: answer to %s not sent: %s", request.charge_point_id, exc)

    async def _run_route(self, request: RouteRequest) -> RouteReply:
        link = self.services.stations.get_local(request.charge_point_id)
        if request.kind == "close":
            if link is None:
                return RouteReply(error="disconnected")
            await link.close(request.close_code, request.reason)
            return RouteReply()
        action = ACTIONS.get(request.action)
        if action is None:
            return RouteReply(error="failed", message=f"unknown action {request.action!r}")
        message = decode_request(action, bytes(request.payload))
        if link is None:
            # Not here (any more): answered as disconnected, never forwarded on, so a command
            # cannot bounce between nodes while the charger moves.
            raise ChargePointDisconnected(request.charge_point_id)
        if request.kind == "command":
            response = await send_command(
                self.services, request.charge_point_id, message, request.timeout_s
            )
        else:
            response = await link.call(message, request.timeout_s)
        return RouteReply(payload=msgspec.Raw(encode_message(response)))

    # ---- events ------------------------------------------------------------------------------

    async def _relay_events(self) -> None:
        assert self._relay is not None
        assert self._nc is not None
        async for delivered in self._relay:
            event = delivered.published.event
            if isinstance(event, ChargerBooted):
                # The boot status is part of presence, written before the event leaves: the
                # lease holder's load control reads it when the event arrives.
                try:
                    await self._update_presence(ChargePointId(event.charge_point_id))
                except (nats.errors.Error, TimeoutError) as exc:
                    log.warning(
                        "cluster: boot status of %s not written to presence: %s",
                        event.charge_point_id,
                        exc,
                    )
            try:
                await self._nc.publish(self.events_subject, encode_published(delivered.published))
                self.events_relayed_out += 1
            except (nats.errors.Error, OSError) as exc:
                self.events_not_relayed += 1
                if self.events_not_relayed == 1 or self.events_not_relayed % 1000 == 0:
                    log.warning(
                        "cluster: events not relayed to other nodes (%d so far): %s",
                        self.events_not_relayed,
                        exc,
                    )

    async def _on_remote_event(self, msg: Msg) -> None:
        try:
            published = decode_published(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("cluster: event from another node ignored: %s", exc)
            return
        if published.node != self.node:
            self.events_relayed_in += 1
            self.services.events.receive_remote(published)
            self._feed_load_control(published)

    # ---- operator changes the other nodes act on ---------------------------------------------

    def load_changed(self, change: LoadChange) -> None:
        """LoadControl.tell_other_nodes: an operator changed a site, placement, limit or reading
        through this node; the node holding the site's lease (or the charger) acts on it at once
        rather than at its next store read. At most once, as for id tag changes: a lost message
        is made good later (that store read every ``STORE_WATCH_INTERVAL_S``, the site's next
        recomputation, or the next change)."""
        body = _ENCODER.encode(LoadChangeMessage(node=self.node, change=change))
        self._spawn(self._publish(self.load_changes_subject, body, "a load control change"))

    async def _on_load_change(self, msg: Msg) -> None:
        try:
            message = _LOAD_CHANGE.decode(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("cluster: load control change from another node ignored: %s", exc)
            return
        if message.node != self.node:
            self.services.load_control.receive_change(message.change)

    def id_tags_changed(self) -> None:
        """StationsCluster.id_tags_changed: a plain NATS message naming this node; every other
        node resyncs the local lists of the chargers it holds. At most once: while NATS is
        unreachable the others are not told (logged), as with a charger offline at the time of a
        change, the next change (or the operator's sync) brings their lists up to date."""
        self._spawn(self._publish(self.id_tags_subject, self.node.encode(), "an id tag change"))

    async def _publish(self, subject: str, body: bytes, what: str) -> None:
        """Tell the other nodes of a change (core NATS, at most once); a warning if it fails."""
        reason = "not connected to NATS"
        if self._nc is not None and self._nc.is_connected:
            try:
                await self._nc.publish(subject, body)
                return
            except (nats.errors.Error, OSError) as exc:
                reason = str(exc) or type(exc).__name__
        log.warning("cluster: other nodes not told of %s (%s)", what, reason)

    async def _on_id_tags_changed(self, msg: Msg) -> None:
        if msg.data.decode(errors="replace") != self.node:
            await resync_chargers_held_here(self.services)

    # ---- NATS connection ---------------------------------------------------------------------

    async def _disconnected(self) -> None:
        if self._closing:
            return
        log.warning(
            "cluster: NATS connection lost; commands to other nodes fail and this node's "
            "heartbeat lapses after %g s until it is back",
            self.ttl_s,
        )

    async def _reconnected(self) -> None:
        """Back on NATS: rewrite the presence of every connection held here (writes may have
        failed meanwhile, and other nodes may have dropped us)."""
        log.info(
            "cluster: NATS connection back: rewriting presence of %d chargers",
            len(self.services.stations),
        )
        for link in self.services.stations:
            charge_point_id = link.state.charge_point_id
            # Written before: only if still ours (a take-over elsewhere wins); never written
            # (NATS was down at its connection): written now.
            known = self._own_revision.get(charge_point_id) is not None
            self._writes.put_nowait(("update" if known else "put", charge_point_id))

    async def _error(self, exc: Exception) -> None:
        log.warning("cluster: NATS: %s", exc)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)


def _wrong_last_revision(exc: nats.js.errors.APIError) -> bool:
    """JetStream refused a compare-and-write: the key changed since (10071, 10164:
    JSStreamWrongLastSequenceErr)."""
    return exc.err_code in (10071, 10164)


def _safe_url(url: str) -> str:
    """The URL without USER:PASSWORD@ (cluster_url is a secret key in config.py)."""
    return re.sub(r"//[^@/]*@", "//***@", url)
