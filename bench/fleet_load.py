"""Fleet modes of the load generator: ``bench/loadgen.py --mode open|ramp|storm|hold``.

The closed loop of loadgen.py keeps one CALL outstanding per charger, so a slow server slows the
generator down with it and its latencies hide the queue (coordinated omission). These modes send
on a timetable instead, whatever the answers do:

* ``open``: ``--chargers`` K connected chargers send ``--rate`` messages/s in total, Poisson
  (``--arrivals poisson``: each send goes to a charger drawn at random, so every charger is its
  own Poisson process) or evenly spaced (``even``: round robin). Each charger walks its own cycle
  of messages (``--mix``, default 70 % MeterValues, 15 % Heartbeat, 10 % StatusNotification,
  5 % StartTransaction + StopTransaction; the MeterValues and the Stop carry the transactionId
  the server answered to the Start). OCPP-J 1.6 §4.1.1 allows one outstanding CALL per charger,
  so a send that falls due while the charger still waits for an answer is queued in the charger
  and leaves when the answer comes; latency is measured from the *scheduled* send time, so the
  wait in that queue counts. After a warm-up, a measured window; then the generator stops sending
  and waits at most ``--drain`` seconds for the outstanding answers.
* ``ramp``: the same fleet through ``--steps`` offered rates, each a warm-up and a window, until
  a step's p99 exceeds ``--p99-bound-ms``, an error appears, a call stays unanswered or the
  achieved rate falls below 90 % of the offered one: the saturation point.
* ``storm``: K chargers connect and boot (Boot + StatusNotification), then all connections are
  dropped at once (TCP reset) and all reconnect immediately with Boot + StatusNotification; a
  failed attempt is retried after ``--retry-s`` seconds until ``--storm-deadline``.
* ``hold``: K chargers connect (Boot + StatusNotification) from ``--source-addresses`` and report
  ``connected``; then commands on stdin: ``go`` holds them for ``--hold`` seconds, each sending a
  Heartbeat and a MeterValues every ``--interval`` seconds (half an interval apart, at a random
  phase), and reports the latencies; ``quit`` closes them. Also used for idle memory (``quit``
  without ``go``).

Every charger is loadgen's ``ProtocolCharger`` (an ``asyncio.Protocol`` on websockets' sans-I/O
``ClientProtocol``, pre-encoded frames): a few kilobytes per charger, no task per charger. Output:
one JSON object per line on stdout. Only ever connects to ``--host`` (127.0.0.1 by default); every
mode ends by itself (bounded counts and times).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import socket
import ssl
import struct
import sys
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import psutil
from websockets.exceptions import InvalidHandshake

from loadgen import (
    _CALL_START,
    _MV_HEAD,
    _MV_MIDDLE,
    _MV_TAIL,
    CONNECT_TIMEOUT_S,
    ChargerState,
    ProtocolCharger,
    Workload,
    _is_reply_to,
    boot_notification_frame,
    emit,
    status_notification_frame,
)
from security_load import CpuWindow, client_tls_context

FLEET_MODES = ("open", "ramp", "storm", "hold")
ID_FORMATS = {"open": "OPEN-%05d", "ramp": "OPEN-%05d", "storm": "STORM-%05d", "hold": "HOLD-%05d"}

BOOT = "BootNotification"
HEARTBEAT = "Heartbeat"
METER_VALUES = "MeterValues"
STATUS = "StatusNotification"
START = "StartTransaction"
STOP = "StopTransaction"

DEFAULT_MIX = "meter=70,heartbeat=15,status=10,transaction=5"
DEFAULT_STEPS = "1000,2000,5000,10000,15000,20000"
ID_TAG_FORMAT = "BENCHTAG%04d"
"""The id tags the chargers present in StartTransaction; bench/fleet.py registers
``--id-tags`` of them in ChargeDeck's store so every Start is Accepted."""

LEAD_S = 0.05
"""Seconds between building a timetable and its first send."""
RAMP_MIN_ACHIEVED = 0.90
"""A ramp step whose achieved rate is below this share of the offered rate is saturated."""
EARLY_NS = 500_000
"""A send due within 0.5 ms leaves now rather than after a timer (which fires in whole ms)."""
DISPATCH_LAG_WARNING_US = 5_000.0
"""A window whose dispatch lag p99 exceeds this was late because of the generator itself."""
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
"""Linux >= 4.2 (ip(7)): bind() to a source address without reserving a port yet; the port is
picked at connect() for the 4-tuple, so ports in TIME_WAIT and other destinations do not
exhaust the ~28,000 ephemeral ports of one source address."""


# --------------------------------------------------------------------------------------------
# The message cycle of a charger


@dataclass(frozen=True)
class Step:
    """One message of a charger's cycle: the action, and the status of a StatusNotification."""

    action: str
    status: str = ""


def parse_mix(text: str) -> dict[str, float]:
    """``meter=70,heartbeat=15,status=10,transaction=5`` -> shares in percent (sum 100)."""
    shares = {"meter": 0.0, "heartbeat": 0.0, "status": 0.0, "transaction": 0.0}
    for item in text.split(","):
        name, _, value = item.partition("=")
        if name.strip() not in shares:
            raise ValueError(f"--mix: {name.strip()!r} is not one of {', '.join(shares)}")
        shares[name.strip()] = float(value)
    if abs(sum(shares.values()) - 100.0) > 0.01:
        raise ValueError(f"--mix: shares add up to {sum(shares.values()):g}, not 100")
    return shares


def _spread(counts: dict[Step, int]) -> list[Step]:
    """Interleave the steps evenly: step kind k with count c sits at positions (j + 0.5) / c."""
    placed = [
        ((j + 0.5) / count, order, step)
        for order, (step, count) in enumerate(counts.items())
        for j in range(count)
    ]
    return [step for _, _, step in sorted(placed, key=lambda item: (item[0], item[1]))]


def build_cycle(mix: dict[str, float]) -> list[Step]:
    """A charger's repeating cycle of messages with the shares of ``mix``.

    With transactions, the cycle is one charging session as a charger reports it (OCPP 1.6
    §4.9 StatusNotification states): Preparing, StartTransaction, Charging, the MeterValues and
    Heartbeats, StopTransaction, Finishing, Available; a Start + Stop pair is ``transaction``
    percent of the messages, so the cycle is 200 / transaction messages long (40 by default)."""
    transaction = mix["transaction"]
    length = round(200 / transaction) if transaction > 0 else 20
    heartbeats = round(length * mix["heartbeat"] / 100)
    statuses = round(length * mix["status"] / 100)
    pairs = 2 if transaction > 0 else 0
    meters = length - heartbeats - statuses - pairs
    if meters < 0:
        raise ValueError("--mix: the shares do not fit a cycle")
    if not pairs:
        return _spread(
            {
                Step(METER_VALUES): meters,
                Step(HEARTBEAT): heartbeats,
                Step(STATUS, "Available"): statuses,
            }
        )
    around = ["Preparing", "Charging", "Finishing", "Available"][:statuses]
    body_statuses = statuses - len(around)
    body = _spread(
        {
            Step(METER_VALUES): meters,
            Step(HEARTBEAT): heartbeats,
            Step(STATUS, "SuspendedEV"): body_statuses,
        }
    )
    before = [Step(STATUS, status) for status in around if status == "Preparing"]
    after_start = [Step(STATUS, status) for status in around if status == "Charging"]
    after_stop = [Step(STATUS, status) for status in around if status in {"Finishing", "Available"}]
    return [*before, Step(START), *after_start, *body, Step(STOP), *after_stop]


def in_transaction(cycle: list[Step], position: int) -> bool:
    """True if a charger starting its cycle at ``position`` is inside a session (after a
    StartTransaction and up to its StopTransaction)."""
    actions = [step.action for step in cycle]
    if START not in actions:
        return False
    return actions.index(START) < position <= actions.index(STOP)


# --------------------------------------------------------------------------------------------
# Frames (pre-encoded, only ids, timestamps, registers and the transactionId spliced in)

_MV_AFTER_CONNECTOR = _MV_HEAD[len(b'{"connectorId":1,') :]
_MV_PREFIX_NO_TX = b'","MeterValues",' + _MV_HEAD
_MV_PREFIX_TX = b'","MeterValues",{"connectorId":1,"transactionId":'


def heartbeat_frame(message_id: bytes) -> bytes:
    return _CALL_START + message_id + b'","Heartbeat",{}]'


def status_frame(message_id: bytes, status: str, timestamp: bytes) -> bytes:
    return b"".join(
        (
            _CALL_START,
            message_id,
            b'","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"',
            status.encode(),
            b'","timestamp":"',
            timestamp,
            b'"}]',
        )
    )


def meter_values_frame(
    message_id: bytes, timestamp: bytes, energy_wh: int, transaction_id: int | None
) -> bytes:
    """MeterValues with loadgen's 11 sampledValues (OCPP 1.6 §4.7), with the session's
    transactionId when the charger is in one."""
    if transaction_id is None:
        head = (_CALL_START, message_id, _MV_PREFIX_NO_TX)
    else:
        head = (
            _CALL_START,
            message_id,
            _MV_PREFIX_TX,
            b"%d," % transaction_id,
            _MV_AFTER_CONNECTOR,
        )
    return b"".join((*head, timestamp, _MV_MIDDLE, b"%d" % energy_wh, _MV_TAIL, b"]"))


def start_transaction_frame(
    message_id: bytes, id_tag: bytes, energy_wh: int, timestamp: bytes
) -> bytes:
    return b"".join(
        (
            _CALL_START,
            message_id,
            b'","StartTransaction",{"connectorId":1,"idTag":"',
            id_tag,
            b'","meterStart":%d,"timestamp":"' % energy_wh,
            timestamp,
            b'"}]',
        )
    )


def stop_transaction_frame(
    message_id: bytes, transaction_id: int, id_tag: bytes, energy_wh: int, timestamp: bytes
) -> bytes:
    return b"".join(
        (
            _CALL_START,
            message_id,
            b'","StopTransaction",{"transactionId":%d,"idTag":"' % transaction_id,
            id_tag,
            b'","meterStop":%d,"timestamp":"' % energy_wh,
            timestamp,
            b'","reason":"EVDisconnected"}]',
        )
    )


# --------------------------------------------------------------------------------------------
# Run state shared by the chargers of one process


class Fleet:
    """The measured window and what was measured in it; shared by all chargers of a run.

    A call belongs to the window when its *scheduled* time lies in it (its latency counts);
    the achieved rate counts answers that *arrive* in the window."""

    def __init__(self) -> None:
        self.workload = Workload(heartbeat_every=1)  # loadgen's: timestamps, set-up errors
        self.window_start_ns = 0
        self.window_end_ns = 0
        self.latencies_ns: dict[str, list[int]] = {}
        self.send_lag_ns: list[int] = []
        self.dispatch_lag_ns: list[int] = []
        self.scheduled = 0
        self.answered = 0
        self.answered_in_window = 0
        self.errors: Counter[str] = Counter()
        self.error_samples: list[str] = []
        self.outstanding = 0
        self.local_transaction_ids = itertools.count(1_000_000_000)
        self.starts_without_transaction_id = 0
        self.starts_not_accepted = 0
        self.connections_lost = 0
        self.settled: asyncio.Event | None = None
        self.worst_ns_by_second: dict[int, int] = {}

    def finished_one(self) -> None:
        """One offered call is over (answered, refused or lost)."""
        self.outstanding -= 1
        if self.outstanding <= 0 and self.settled is not None:
            self.settled.set()

    def open_window(self, start_ns: int, end_ns: int) -> None:
        self.window_start_ns, self.window_end_ns = start_ns, end_ns
        self.latencies_ns = {}
        self.send_lag_ns = []
        self.dispatch_lag_ns = []
        self.scheduled = self.answered = self.answered_in_window = 0
        self.errors = Counter()
        self.error_samples = []
        self.starts_without_transaction_id = self.starts_not_accepted = 0
        self.connections_lost = 0
        self.worst_ns_by_second = {}

    def in_window(self, due_ns: int) -> bool:
        return self.window_start_ns <= due_ns < self.window_end_ns

    def record_error(self, due_ns: int, kind: str, sample: str) -> None:
        self.finished_one()
        if self.in_window(due_ns):
            self.errors[kind] += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(sample[:300])


class FleetCharger(ProtocolCharger):
    """loadgen's charger, driven by a timetable: ``offer(due_ns)`` sends the next message of its
    cycle now, or queues it behind the outstanding CALL (OCPP-J 1.6 §4.1.1: one at a time)."""

    def __init__(
        self,
        fleet: Fleet,
        state: ChargerState,
        uri: str,
        cycle: list[Step],
        position: int,
        id_tag: bytes,
    ) -> None:
        super().__init__(fleet.workload, state, uri)
        self.fleet = fleet
        self.cycle = cycle
        self.position = position
        self.id_tag = id_tag
        self.transaction_id: int | None = None
        self.queued_due_ns: deque[int] = deque()
        self.pending_due_ns = 0
        self.lost = False

    # timetable

    def offer(self, due_ns: int) -> None:
        fleet = self.fleet
        fleet.outstanding += 1
        if fleet.in_window(due_ns):
            fleet.scheduled += 1
        if self.lost:
            fleet.record_error(due_ns, "connection lost", f"{self.state.charger_id}: lost")
        elif self.pending_id:
            self.queued_due_ns.append(due_ns)
        else:
            self._send_due(due_ns)
            self._flush()

    def _send_due(self, due_ns: int) -> None:
        now_ns = time.perf_counter_ns()
        step = self.cycle[self.position]
        self.position = (self.position + 1) % len(self.cycle)
        frame = self._build(step, now_ns)
        self.pending_id = frame[len(_CALL_START) : frame.index(b'"', len(_CALL_START))]
        self.pending_action = step.action
        self.pending_due_ns = due_ns
        # Latency runs from the scheduled time, or from the send if the timer fired early.
        self.pending_since_ns = min(now_ns, due_ns)
        if self.fleet.in_window(due_ns):
            self.fleet.send_lag_ns.append(max(0, now_ns - due_ns))
        self._send_text(frame)

    def _build(self, step: Step, now_ns: int) -> bytes:
        state = self.state
        message_id = state.take_message_id()
        action = step.action
        if action == HEARTBEAT:
            return heartbeat_frame(message_id)
        timestamp = self.workload.timestamp(now_ns)
        if action == METER_VALUES:
            state.energy_wh += 3
            return meter_values_frame(message_id, timestamp, state.energy_wh, self.transaction_id)
        if action == STATUS:
            return status_frame(message_id, step.status, timestamp)
        if action == START:
            return start_transaction_frame(message_id, self.id_tag, state.energy_wh, timestamp)
        transaction_id = self.transaction_id
        if transaction_id is None:  # the Start failed: stop a session the server does not know
            transaction_id = next(self.fleet.local_transaction_ids)
        self.transaction_id = None
        return stop_transaction_frame(
            message_id, transaction_id, self.id_tag, state.energy_wh, timestamp
        )

    # answers

    def _receive_text(self, frame: bytes) -> None:
        if self.reply_waiter is not None or frame.startswith(_CALL_START):
            super()._receive_text(frame)  # set-up calls, and CALLs from the server
            return
        now_ns = time.perf_counter_ns()
        fleet = self.fleet
        due_ns = self.pending_due_ns
        if not self.pending_id:
            fleet.errors["unexpected frame"] += 1
            return
        if _is_reply_to(frame, self.pending_id):
            fleet.finished_one()
            fleet.answered += 1
            if self.pending_action == START:
                self._take_transaction_id(frame)
            if fleet.in_window(due_ns):
                latencies = fleet.latencies_ns.get(self.pending_action)
                if latencies is None:
                    latencies = fleet.latencies_ns[self.pending_action] = []
                latency = now_ns - self.pending_since_ns
                latencies.append(latency)
                second = (due_ns - fleet.window_start_ns) // 1_000_000_000
                if latency > fleet.worst_ns_by_second.get(second, 0):
                    fleet.worst_ns_by_second[second] = latency
            if fleet.window_start_ns <= now_ns < fleet.window_end_ns:
                fleet.answered_in_window += 1
        elif frame.startswith(b'[4,"' + self.pending_id + b'"'):
            fleet.record_error(
                due_ns,
                f"CALLERROR to {self.pending_action}",
                f"{self.state.charger_id}: {frame[:200]!r}",
            )
        else:
            fleet.errors["unexpected frame"] += 1
            return
        self.pending_id = b""
        if self.queued_due_ns:
            self._send_due(self.queued_due_ns.popleft())

    def _take_transaction_id(self, frame: bytes) -> None:
        """OCPP 1.6 §4.8: the Start's answer carries the transactionId of the session. A server
        that answers ``{}`` (the echo server) gets a generator-made one instead."""
        fleet = self.fleet
        payload = json.loads(frame)[2]
        transaction_id = payload.get("transactionId") if isinstance(payload, dict) else None
        if isinstance(transaction_id, int):
            self.transaction_id = transaction_id
            status = payload.get("idTagInfo", {}).get("status")
            if status != "Accepted":
                fleet.starts_not_accepted += 1
        else:
            self.transaction_id = next(fleet.local_transaction_ids)
            fleet.starts_without_transaction_id += 1

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.lost:
            return
        self.lost = True
        fleet = self.fleet
        if self.pending_id:
            fleet.connections_lost += 1
            fleet.record_error(self.pending_due_ns, "connection lost", self.state.charger_id)
            self.pending_id = b""
        while self.queued_due_ns:
            fleet.record_error(self.queued_due_ns.popleft(), "connection lost", "queued")

    # set-up

    async def start_session(self) -> None:
        """A charger whose cycle starts inside a session starts it during the set-up."""
        state = self.state
        frame = start_transaction_frame(
            b"setup-start", self.id_tag, state.energy_wh, self.workload.timestamp(0)
        )
        reply = await self.call(frame)
        payload = json.loads(reply)[2] if reply.startswith(b"[3,") else {}
        transaction_id = payload.get("transactionId") if isinstance(payload, dict) else None
        if not isinstance(transaction_id, int):
            transaction_id = next(self.fleet.local_transaction_ids)
        self.transaction_id = transaction_id

    def drop(self) -> None:
        """Lose the connection at once: a TCP reset (SO_LINGER 0), as a router or NAT drops it."""
        transport = self.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()


# --------------------------------------------------------------------------------------------
# Connecting


@dataclass(frozen=True)
class FleetTarget:
    """Where the chargers connect: 127.0.0.1:port over ws://, or wss:// trusting ``tls``'s CA,
    from ``sources`` (local addresses in 127.0.0.0/8) at most ``per_source`` chargers each."""

    host: str
    port: int
    tls: ssl.SSLContext | None
    sources: tuple[str, ...]
    per_source: int

    def uri(self, charger_id: str) -> str:
        scheme = "wss" if self.tls is not None else "ws"
        return f"{scheme}://{self.host}:{self.port}/ocpp/{charger_id}"

    def source_for(self, slot: int) -> str | None:
        """The source address of the ``slot``-th charger of this process (None: the kernel's)."""
        if not self.sources:
            return None
        return self.sources[min(slot // self.per_source, len(self.sources) - 1)]

    async def connect(self, factory: Any, slot: int) -> FleetCharger:
        loop = asyncio.get_running_loop()
        tls: dict[str, Any] = (
            {}
            if self.tls is None
            else {
                "ssl": self.tls,
                "server_hostname": self.host,
                "ssl_handshake_timeout": CONNECT_TIMEOUT_S,
            }
        )
        source = self.source_for(slot)
        if source is None:
            _, protocol = await loop.create_connection(factory, self.host, self.port, **tls)
            return protocol  # type: ignore[no-any-return]
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((source, 0))
            await loop.sock_connect(sock, (self.host, self.port))
            _, protocol = await loop.create_connection(factory, sock=sock, **tls)
        except BaseException:
            sock.close()
            raise
        return protocol  # type: ignore[no-any-return]


def parse_sources(text: str) -> tuple[str, ...]:
    """``127.0.0.2-127.0.0.4`` or ``127.0.0.2,127.0.0.3``; loopback (127.0.0.0/8) only."""
    if not text:
        return ()
    addresses: list[str] = []
    for item in text.split(","):
        first, _, last = item.strip().partition("-")
        if not last:
            addresses.append(first)
            continue
        head, first_octet = first.rsplit(".", 1)
        last_head, last_octet = last.rsplit(".", 1)
        if head != last_head:
            raise ValueError(f"--source-addresses: {item!r} must differ in the last octet only")
        addresses.extend(f"{head}.{n}" for n in range(int(first_octet), int(last_octet) + 1))
    for address in addresses:
        if not address.startswith("127."):
            raise ValueError(f"--source-addresses: {address} is not a loopback address")
    return tuple(addresses)


def _error_kind(error: BaseException) -> str:
    text = str(error).split("\n", 1)[0][:100]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@dataclass
class Connected:
    chargers: list[FleetCharger]
    seconds: float
    failures: Counter[str]


async def connect_fleet(
    fleet: Fleet,
    target: FleetTarget,
    arguments: argparse.Namespace,
    cycle: list[Step],
    *,
    with_status: bool,
    random_positions: bool,
) -> Connected:
    """Connect and boot ``--chargers`` chargers (``--first-index`` on), ``--concurrency`` at a
    time; with ``with_status`` each also sends a StatusNotification. Failures are counted."""
    limiter = asyncio.Semaphore(arguments.concurrency)
    rng = random.Random(arguments.seed)
    positions = [
        rng.randrange(len(cycle)) if random_positions else 0 for _ in range(arguments.chargers)
    ]

    async def open_one(slot: int) -> FleetCharger:
        index = arguments.first_index + slot
        async with limiter:
            charger = await open_fleet_charger(
                fleet, target, slot, index, arguments, cycle, positions[slot]
            )
            if with_status:
                await charger.call(status_notification_frame("status"))
            if in_transaction(cycle, positions[slot]):
                await charger.start_session()
            return charger

    started = time.perf_counter()
    outcomes = await asyncio.gather(
        *(open_one(slot) for slot in range(arguments.chargers)), return_exceptions=True
    )
    chargers = [outcome for outcome in outcomes if isinstance(outcome, FleetCharger)]
    failures = Counter(_error_kind(o) for o in outcomes if isinstance(o, BaseException))
    return Connected(chargers, time.perf_counter() - started, failures)


async def open_fleet_charger(
    fleet: Fleet,
    target: FleetTarget,
    slot: int,
    index: int,
    arguments: argparse.Namespace,
    cycle: list[Step],
    position: int,
) -> FleetCharger:
    """TCP (and TLS), WebSocket upgrade, BootNotification answered Accepted; raises otherwise."""
    charger_id = arguments.id_format % index
    state = ChargerState(index=index, charger_id=charger_id, energy_wh=1_000_000 + 1_000 * index)
    id_tag = (ID_TAG_FORMAT % (index % arguments.id_tags + 1)).encode()
    stage = "TCP connect" if target.tls is None else "TCP connect and TLS handshake"
    try:
        charger = await asyncio.wait_for(
            target.connect(
                lambda: FleetCharger(fleet, state, target.uri(charger_id), cycle, position, id_tag),
                slot,
            ),
            CONNECT_TIMEOUT_S,
        )
    except TimeoutError:
        raise TimeoutError(f"{stage} took over {CONNECT_TIMEOUT_S:g} s") from None
    try:
        stage = "WebSocket upgrade"
        await asyncio.wait_for(charger.opened, CONNECT_TIMEOUT_S)
        stage = "BootNotification answer"
        reply = await charger.call(boot_notification_frame("boot", charger_id))
    except TimeoutError:
        charger.drop()
        raise TimeoutError(f"{stage} took over {CONNECT_TIMEOUT_S:g} s") from None
    except BaseException:
        charger.drop()
        raise
    if not boot_accepted(reply):
        charger.drop()
        raise RuntimeError(f"{charger_id}: BootNotification not accepted: {reply[:200]!r}")
    return charger


def boot_accepted(reply: bytes) -> bool:
    """A CALLRESULT whose status is Accepted (OCPP 1.6 §4.2); the echo server's ``{}`` has no
    status and passes, so the storm's loss check is meaningful for CSMSs only."""
    if not reply.startswith(b"[3,"):
        return False
    return b'"status":' not in reply or b'"Accepted"' in reply


async def close_fleet(chargers: Iterable[FleetCharger]) -> None:
    await asyncio.gather(*(charger.close() for charger in chargers), return_exceptions=True)


# --------------------------------------------------------------------------------------------
# Timetables and windows


def poisson_times(
    rate: float, start_ns: int, end_ns: int, chargers: int, rng: random.Random
) -> Iterator[tuple[int, int]]:
    """Sends of a Poisson process of ``rate``/s, each to a charger drawn at random (so each
    charger is a Poisson process of rate/chargers)."""
    due = float(start_ns)
    while True:
        due += rng.expovariate(rate) * 1e9
        if due >= end_ns:
            return
        yield int(due), rng.randrange(chargers)


def even_times(
    rate: float, start_ns: int, end_ns: int, chargers: int, rng: random.Random
) -> Iterator[tuple[int, int]]:
    """Sends every 1/rate seconds, round robin over the chargers in a shuffled order."""
    order = list(range(chargers))
    rng.shuffle(order)
    gap = 1e9 / rate
    for number in itertools.count():
        due = start_ns + int(number * gap)
        if due >= end_ns:
            return
        yield due, order[number % chargers]


async def dispatch(
    fleet: Fleet, chargers: list[FleetCharger], times: Iterable[tuple[int, int]]
) -> None:
    """Offer each send at its time, whatever the answers do (open loop).

    uvloop's timers have millisecond resolution and may fire up to a millisecond early, so sends
    leave in batches: one due within ``EARLY_NS`` is sent at once and its latency measured from
    the send; a late one's from its scheduled time. The dispatch lag (how late the generator was,
    part of every latency) is reported apart."""
    clock = time.perf_counter_ns
    sleep = asyncio.sleep
    for due_ns, index in times:
        now_ns = clock()
        if due_ns - now_ns > EARLY_NS:
            await sleep((due_ns - now_ns) / 1e9)
            now_ns = clock()
        if fleet.window_start_ns <= due_ns < fleet.window_end_ns:
            fleet.dispatch_lag_ns.append(max(0, now_ns - due_ns))
        chargers[index].offer(due_ns)


async def drain(fleet: Fleet, timeout_s: float) -> float:
    """Wait until every offered call is answered (or lost), at most ``timeout_s``; returns the
    seconds waited."""
    started = time.perf_counter()
    if fleet.outstanding > 0:
        fleet.settled = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fleet.settled.wait(), timeout_s)
        fleet.settled = None
    return time.perf_counter() - started


def _quantiles_us(values_ns: list[int]) -> dict[str, float | None]:
    if not values_ns:
        return {"p50_us": None, "p99_us": None, "max_us": None}
    ordered = sorted(values_ns)
    return {
        "p50_us": ordered[min(len(ordered) - 1, int(0.50 * len(ordered)))] / 1000,
        "p99_us": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] / 1000,
        "max_us": ordered[-1] / 1000,
    }


async def measure_window(
    fleet: Fleet,
    chargers: list[FleetCharger],
    arguments: argparse.Namespace,
    rate: float,
    warmup_s: float,
    window_s: float,
    *,
    announce: bool,
) -> dict[str, Any]:
    """One offered rate: warm-up, then the measured window; CPU of the server's process tree
    over exactly the window; then drain. ``announce`` emits ``window`` when it opens."""
    rng = random.Random(arguments.seed + int(rate))
    start_ns = time.perf_counter_ns() + int(LEAD_S * 1e9)
    window_start_ns = start_ns + int(warmup_s * 1e9)
    end_ns = window_start_ns + int(window_s * 1e9)
    fleet.open_window(window_start_ns, end_ns)
    times = (poisson_times if arguments.arrivals == "poisson" else even_times)(
        rate, start_ns, end_ns, len(chargers), rng
    )
    server = psutil.Process(arguments.server_pid) if arguments.server_pid else None
    cpu_box: list[CpuWindow] = []

    async def watch_window() -> dict[str, Any]:
        await asyncio.sleep(max(0.0, (window_start_ns - time.perf_counter_ns()) / 1e9))
        cpu_box.append(CpuWindow(server))
        if announce:
            emit("window", seconds=window_s)
        await asyncio.sleep(max(0.0, (end_ns - time.perf_counter_ns()) / 1e9))
        return cpu_box[0].result()

    watcher = asyncio.create_task(watch_window())
    await dispatch(fleet, chargers, times)
    cpu = await watcher
    drained_s = await drain(fleet, arguments.drain)
    unanswered = fleet.outstanding
    return window_result(fleet, rate, cpu, unanswered, drained_s)


def window_result(
    fleet: Fleet, rate: float, cpu: dict[str, Any], unanswered: int, drained_s: float
) -> dict[str, Any]:
    everything = [value for values in fleet.latencies_ns.values() for value in values]
    answered = len(everything)
    elapsed = cpu["elapsed_s"]
    server_cpu = cpu["server_cpu_s"]
    dispatch_lag = _quantiles_us(fleet.dispatch_lag_ns)
    return {
        "offered_per_s": rate,
        "achieved_per_s": fleet.answered_in_window / elapsed,
        "answered_in_window": fleet.answered_in_window,
        "scheduled": fleet.scheduled,
        "answered": answered,
        "unanswered": unanswered,
        "drain_s": drained_s,
        "errors": sum(fleet.errors.values()),
        "error_kinds": dict(fleet.errors.most_common(5)),
        "error_samples": list(fleet.error_samples),
        "connections_lost": fleet.connections_lost,
        "overall": {"calls": answered, **_quantiles_us(everything)},
        "by_action": {
            action: {"calls": len(values), **_quantiles_us(values)}
            for action, values in sorted(fleet.latencies_ns.items())
        },
        "send_lag": _quantiles_us(fleet.send_lag_ns),
        "worst_ms_by_second": worst_ms_by_second(fleet),
        "dispatch_lag": dispatch_lag,
        "generator_late": (dispatch_lag["p99_us"] or 0.0) > DISPATCH_LAG_WARNING_US,
        "starts_without_transaction_id": fleet.starts_without_transaction_id,
        "starts_not_accepted": fleet.starts_not_accepted,
        "server_cpu_us_per_msg": server_cpu * 1e6 / fleet.answered_in_window
        if server_cpu and fleet.answered_in_window
        else None,
        "server_core_percent": server_cpu * 100 / elapsed if server_cpu is not None else None,
        **cpu,
    }


def worst_ms_by_second(fleet: Fleet) -> list[float]:
    """The longest latency of the calls scheduled in each second of the window, in ms: a stall
    of the server shows as a spike at the seconds it happened."""
    seconds = max(fleet.worst_ns_by_second, default=-1) + 1
    return [round(fleet.worst_ns_by_second.get(s, 0) / 1e6, 2) for s in range(seconds)]


def latency_samples_us(fleet: Fleet) -> dict[str, list[int]]:
    """The window's latencies in whole microseconds, per action (for the harness's merge and
    plots)."""
    return {action: [v // 1000 for v in values] for action, values in fleet.latencies_ns.items()}


# --------------------------------------------------------------------------------------------
# Modes


def _target(arguments: argparse.Namespace) -> FleetTarget:
    tls = client_tls_context(arguments.tls_ca, arguments.tls_version) if arguments.tls_ca else None
    return FleetTarget(
        host=arguments.host,
        port=arguments.port,
        tls=tls,
        sources=parse_sources(arguments.source_addresses),
        per_source=arguments.per_source,
    )


def _connected_event(connected: Connected, fleet_size: int) -> dict[str, Any]:
    return {
        "connections": len(connected.chargers),
        "requested": fleet_size,
        "seconds": connected.seconds,
        "failures": sum(connected.failures.values()),
        "failure_kinds": dict(connected.failures.most_common(5)),
    }


async def run_open(arguments: argparse.Namespace) -> None:
    fleet = Fleet()
    cycle = build_cycle(parse_mix(arguments.mix))
    connected = await connect_fleet(
        fleet, _target(arguments), arguments, cycle, with_status=False, random_positions=True
    )
    emit("connected", **_connected_event(connected, arguments.chargers))
    try:
        if not connected.chargers:
            raise RuntimeError("no charger connected")
        if connected.failures:
            raise RuntimeError(f"{sum(connected.failures.values())} chargers failed to connect")
        if arguments.mode == "open":
            result = await measure_window(
                fleet,
                connected.chargers,
                arguments,
                arguments.rate,
                arguments.warmup,
                arguments.duration,
                announce=True,
            )
            emit(
                "open",
                chargers=len(connected.chargers),
                arrivals=arguments.arrivals,
                cycle=[step.action + (f":{step.status}" if step.status else "") for step in cycle],
                latencies_us=latency_samples_us(fleet),
                **result,
            )
        else:
            await run_ramp_steps(fleet, connected.chargers, arguments)
    finally:
        await close_fleet(connected.chargers)
    emit("done")


async def run_ramp_steps(
    fleet: Fleet, chargers: list[FleetCharger], arguments: argparse.Namespace
) -> None:
    steps = [float(step) for step in arguments.steps.split(",") if step.strip()]
    saturation: dict[str, Any] | None = None
    last_good: dict[str, Any] | None = None
    for rate in steps:
        result = await measure_window(
            fleet, chargers, arguments, rate, arguments.warmup, arguments.duration, announce=False
        )
        p99 = result["overall"]["p99_us"]
        reasons = []
        if p99 is None or p99 > arguments.p99_bound_ms * 1000:
            reasons.append(f"p99 {p99 / 1000 if p99 else 0:.1f} ms > {arguments.p99_bound_ms:g} ms")
        if result["errors"]:
            reasons.append(f"{result['errors']} errors")
        if result["unanswered"]:
            reasons.append(f"{result['unanswered']} unanswered")
        # Compared with the sends the timetable actually made in the window, not the nominal
        # rate: a short Poisson window may hold 10 % more or fewer sends.
        if result["answered_in_window"] < RAMP_MIN_ACHIEVED * result["scheduled"]:
            reasons.append(
                f"achieved {result['achieved_per_s']:.0f}/s < {RAMP_MIN_ACHIEVED:.0%} of the "
                f"{result['scheduled'] / result['elapsed_s']:.0f}/s sent"
            )
        result["saturated"] = bool(reasons)
        result["saturated_because"] = reasons
        emit("step", **result)
        if reasons:
            saturation = result
            break
        last_good = result
    emit(
        "ramp",
        offered_steps=steps,
        bound_ms=arguments.p99_bound_ms,
        sustained_per_s=last_good["offered_per_s"] if last_good else None,
        sustained_achieved_per_s=last_good["achieved_per_s"] if last_good else None,
        saturated_at_per_s=saturation["offered_per_s"] if saturation else None,
    )


async def run_storm(arguments: argparse.Namespace) -> None:
    fleet = Fleet()
    target = _target(arguments)
    cycle = [Step(HEARTBEAT)]
    connected = await connect_fleet(
        fleet, target, arguments, cycle, with_status=True, random_positions=False
    )
    emit("connected", **_connected_event(connected, arguments.chargers))
    await asyncio.sleep(arguments.settle)
    server = psutil.Process(arguments.server_pid) if arguments.server_pid else None
    slots = {charger.state.index - arguments.first_index: charger for charger in connected.chargers}
    booted: set[int] = set()
    refused = 0
    answered: set[int] = set()
    failures = Counter[str]()
    back_after_ns: list[int] = []
    reconnected: list[FleetCharger] = []
    limiter = asyncio.Semaphore(arguments.storm_concurrency or len(slots) or 1)
    emit("dropping", chargers=len(slots))
    await asyncio.sleep(0.2)  # the harness starts its profiler and reads the kernel counters
    cpu = CpuWindow(server)
    dropped_ns = time.perf_counter_ns()
    deadline_ns = dropped_ns + int(arguments.storm_deadline * 1e9)
    for charger in slots.values():
        charger.drop()

    async def come_back(slot: int) -> None:
        """Reconnect, Boot (Accepted), StatusNotification (answered); retry after a failure, as
        a charger does, until the deadline."""
        nonlocal refused
        index = arguments.first_index + slot
        while time.perf_counter_ns() < deadline_ns:
            charger: FleetCharger | None = None
            try:
                async with limiter:
                    charger = await open_fleet_charger(
                        fleet, target, slot, index, arguments, cycle, 0
                    )
                    booted.add(slot)
                    reply = await charger.call(status_notification_frame("status"))
                if not reply.startswith(b"[3,"):
                    raise RuntimeError(f"StatusNotification answered {reply[:100]!r}")
            except (OSError, RuntimeError, TimeoutError, InvalidHandshake) as error:
                failures[_error_kind(error)] += 1
                if isinstance(error, RuntimeError) and "not accepted" in str(error):
                    refused += 1
                if charger is not None:
                    charger.drop()
                await asyncio.sleep(arguments.retry_s * (0.5 + random.random()))
                continue
            answered.add(slot)
            reconnected.append(charger)
            back_after_ns.append(time.perf_counter_ns() - dropped_ns)
            return

    await asyncio.gather(*(come_back(slot) for slot in slots))
    window = cpu.result()
    back_after_ns.sort()
    emit(
        "storm",
        chargers=len(slots),
        back=len(back_after_ns),
        not_back=len(slots) - len(back_after_ns),
        storm_s=back_after_ns[-1] / 1e9 if back_after_ns else None,
        p50_back_s=back_after_ns[len(back_after_ns) // 2] / 1e9 if back_after_ns else None,
        p99_back_s=back_after_ns[min(len(back_after_ns) - 1, int(0.99 * len(back_after_ns)))] / 1e9
        if back_after_ns
        else None,
        boots_accepted=len(booted),
        boots_refused=refused,
        status_answered=len(answered),
        failed_attempts=sum(failures.values()),
        failure_kinds=dict(failures.most_common(5)),
        nothing_lost=len(booted) == len(slots) == len(answered) == arguments.chargers,
        server_cpu_s=window["server_cpu_s"],
        server_core_percent=window["server_cores"] * 100
        if window["server_cores"] is not None
        else None,
        generator_cores=window["generator_cores"],
        other_cpu_cores=window["other_cpu_cores"],
        initial_connect=_connected_event(connected, arguments.chargers),
    )
    await close_fleet(reconnected)
    emit("done")


def hold_times(
    chargers: int, start_ns: int, end_ns: int, interval_s: float, rng: random.Random
) -> list[tuple[int, int]]:
    """Each charger's Heartbeat and MeterValues once per ``interval_s`` each, half an interval
    apart, from a random phase: the timetable of the hold, sorted."""
    half_ns = int(interval_s * 1e9 / 2)
    times: list[tuple[int, int]] = []
    for index in range(chargers):
        due = start_ns + int(rng.random() * half_ns)
        while due < end_ns:
            times.append((due, index))
            due += half_ns
    times.sort()
    return times


async def run_hold(arguments: argparse.Namespace) -> None:
    fleet = Fleet()
    cycle = [Step(HEARTBEAT), Step(METER_VALUES)]
    connected = await connect_fleet(
        fleet, _target(arguments), arguments, cycle, with_status=True, random_positions=False
    )
    emit("connected", **_connected_event(connected, arguments.chargers))
    chargers = connected.chargers
    server = psutil.Process(arguments.server_pid) if arguments.server_pid else None
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while True:
            try:
                line = await asyncio.wait_for(reader.readline(), arguments.max_wait)
            except TimeoutError:
                emit("note", message=f"no command for {arguments.max_wait:g} s: closing")
                break
            command = line.decode().strip()
            if command in {"", "quit"}:
                break
            if command == "go":
                start_ns = time.perf_counter_ns() + int(LEAD_S * 1e9)
                end_ns = start_ns + int(arguments.hold * 1e9)
                fleet.open_window(start_ns, end_ns)
                times = hold_times(
                    len(chargers),
                    start_ns,
                    end_ns,
                    arguments.interval,
                    random.Random(arguments.seed),
                )
                cpu = CpuWindow(server)
                await dispatch(fleet, chargers, times)
                await asyncio.sleep(max(0.0, (end_ns - time.perf_counter_ns()) / 1e9))
                window = cpu.result()
                drained_s = await drain(fleet, arguments.drain)
                alive = sum(1 for charger in chargers if not charger.lost)
                result = window_result(
                    fleet,
                    len(chargers) * 2 / arguments.interval,
                    window,
                    fleet.outstanding,
                    drained_s,
                )
                emit(
                    "hold", still_connected=alive, latencies_us=latency_samples_us(fleet), **result
                )
    finally:
        alive = sum(1 for charger in chargers if not charger.lost)
        await close_fleet(chargers)
    emit("done", still_connected_at_close=alive)


# --------------------------------------------------------------------------------------------
# Command line (loadgen.py's parser gets these options)


def add_fleet_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("fleet modes (open, ramp, storm, hold)")
    group.add_argument("--rate", type=float, default=5000.0, help="open: msgs/s offered in total")
    group.add_argument("--arrivals", choices=("poisson", "even"), default="poisson")
    group.add_argument("--mix", default=DEFAULT_MIX, help="open/ramp: shares of the messages")
    group.add_argument("--steps", default=DEFAULT_STEPS, help="ramp: offered msgs/s per step")
    group.add_argument("--p99-bound-ms", type=float, default=100.0, help="ramp: stop above this")
    group.add_argument("--drain", type=float, default=5.0, help="seconds to wait for answers")
    group.add_argument("--id-format", default="", help="charge point id pattern (per mode)")
    group.add_argument("--first-index", type=int, default=1, help="number of the first charger")
    group.add_argument("--id-tags", type=int, default=100, help="id tags BENCHTAG0001... used")
    group.add_argument("--seed", type=int, default=8, help="random seed of timetables")
    group.add_argument("--tls-ca", default="", help="connect over wss:// trusting this CA file")
    group.add_argument("--tls-version", choices=("1.2", "1.3"), default="1.2")
    group.add_argument(
        "--source-addresses",
        default="",
        help="local addresses to connect from, e.g. 127.0.0.2-127.0.0.4 (default: the kernel's)",
    )
    group.add_argument("--per-source", type=int, default=25_000, help="chargers per address")
    group.add_argument("--settle", type=float, default=1.0, help="storm: seconds before the drop")
    group.add_argument("--storm-concurrency", type=int, default=0, help="storm: 0 = all at once")
    group.add_argument("--storm-deadline", type=float, default=120.0, help="storm: give up after")
    group.add_argument("--retry-s", type=float, default=1.0, help="storm: pause after a failure")
    group.add_argument("--interval", type=float, default=60.0, help="hold: seconds between sends")
    group.add_argument("--max-wait", type=float, default=900.0, help="hold: longest command wait")


def run_fleet_mode(arguments: argparse.Namespace) -> None:
    """Run one fleet mode (loadgen.main's dispatch)."""
    if not arguments.id_format:
        arguments.id_format = ID_FORMATS[arguments.mode]
    if arguments.host not in {"127.0.0.1", "localhost"}:
        raise RuntimeError("fleet modes only ever load 127.0.0.1")
    runner = {"open": run_open, "ramp": run_open, "storm": run_storm, "hold": run_hold}
    asyncio.run(runner[arguments.mode](arguments))
