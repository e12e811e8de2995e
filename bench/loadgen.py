"""Closed-loop OCPP 1.6J load generator: N chargers, one outstanding CALL each, cheap per message.

Every charger connects to ``ws://HOST:PORT/ocpp/BENCH-%05d`` (subprotocol ocpp1.6, no
permessage-deflate), sends one BootNotification, then keeps exactly one CALL outstanding: the
moment a CALLRESULT arrives the next CALL goes out. The CALLs are MeterValues (one meterValue with
11 sampledValues, as a three-phase 11 kW AC charger reports them), Heartbeat, or a mix.

The generator shares two cores with the server under test, so every microsecond it spends is
taken from the server. It is therefore built for low CPU per message:

* one process, uvloop, no coroutine per charger: each charger is an ``asyncio.Protocol`` that
  drives the `websockets` sans-I/O ``ClientProtocol`` (the library's own framing, masking and
  handshake, without the asyncio connection's tasks, futures and locks);
* frames are pre-encoded templates: per message only the message id, the timestamp (refreshed
  every 10 ms) and the energy register are spliced in as ASCII digits;
* a reply is recognised by a ``bytes.startswith`` on ``[3,"<id>"`` (JSON is parsed only for the
  rare CALL a server sends to the charger, or for an unexpected frame).

``--impl connection`` runs the same workload on the websockets asyncio client instead, to measure
what that cheaper path is worth (see bench/README.md).

Output: one JSON object per line on stdout (``{"event": ...}``), read by bench/run.py.

Modes:
  ``closed``: connect, boot, then for each phase (meter, heartbeat, mix) a warm-up and a measured
  window; the window reports calls/s, p50/p99 latency per action, and the CPU seconds of this
  process and (with ``--server-pid``) of the server process tree during exactly that window.
  ``idle``: open K connections, each sends BootNotification and StatusNotification, report
  ``idle_ready``, hold them until stdin closes (or ``--hold`` seconds), then close them.
  ``open``, ``ramp``, ``storm``, ``hold``: the fleet modes (open loop at a given rate with a
  realistic mix, ramp to saturation, reconnect storm, held fleet from several source
  addresses, ws:// or wss://), in bench/fleet_load.py on the same charger.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import psutil
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidHandshake
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.speedups import apply_mask
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from _support import MAX_FRAME_BYTES, OCPP_SUBPROTOCOL, install_uvloop, raise_open_files_limit

CHARGER_ID_FORMAT = "BENCH-%05d"
CONNECT_TIMEOUT_S = 30.0
CLOSE_TIMEOUT_S = 5.0
TIMESTAMP_REFRESH_NS = 10_000_000
"""The MeterValues timestamp is re-rendered every 10 ms, not per message, to keep CPU low."""

METER_VALUES = "MeterValues"
HEARTBEAT = "Heartbeat"
PHASE_KINDS = ("meter", "heartbeat", "mix")

# --------------------------------------------------------------------------------------------
# Frame templates


def _sampled_value(value: str, measurand: str, unit: str, **extra: str) -> dict[str, str]:
    return {"value": value, "context": "Sample.Periodic", "measurand": measurand, "unit": unit} | (
        extra
    )


_TS_MARK = "@@TIMESTAMP@@"
_WH_MARK = "@@WH@@"

METER_VALUES_PAYLOAD: dict[str, Any] = {
    "connectorId": 1,
    "meterValue": [
        {
            "timestamp": _TS_MARK,
            "sampledValue": [
                _sampled_value(
                    _WH_MARK,
                    "Energy.Active.Import.Register",
                    "Wh",
                    format="Raw",
                    location="Outlet",
                ),
                _sampled_value("11040", "Power.Active.Import", "W", location="Outlet"),
                _sampled_value("16.0", "Current.Import", "A", phase="L1", location="Outlet"),
                _sampled_value("15.9", "Current.Import", "A", phase="L2", location="Outlet"),
                _sampled_value("16.1", "Current.Import", "A", phase="L3", location="Outlet"),
                _sampled_value("230.4", "Voltage", "V", phase="L1-N", location="Outlet"),
                _sampled_value("229.8", "Voltage", "V", phase="L2-N", location="Outlet"),
                _sampled_value("231.1", "Voltage", "V", phase="L3-N", location="Outlet"),
                _sampled_value("16", "Current.Offered", "A"),
                _sampled_value("11040", "Power.Offered", "W"),
                _sampled_value("34.5", "Temperature", "Celsius", location="Body"),
            ],
        }
    ],
}
"""One meterValue with 11 sampledValues (OCPP 1.6 §7.31/§7.45); values are strings per the
schema. The timestamp and the energy register change per message; the rest is fixed."""


def _split_template() -> tuple[bytes, bytes, bytes]:
    text = json.dumps(METER_VALUES_PAYLOAD, separators=(",", ":"))
    head, rest = text.split(_TS_MARK)
    middle, tail = rest.split(_WH_MARK)
    return head.encode(), middle.encode(), tail.encode()


_MV_HEAD, _MV_MIDDLE, _MV_TAIL = _split_template()
_MV_PREFIX = b'","MeterValues",' + _MV_HEAD
_HB_SUFFIX = b'","Heartbeat",{}]'
_CALL_START = b'[2,"'
_RESULT_START = b'[3,"'


def _utc_timestamp() -> bytes:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3].encode() + b"Z"


def _json_frame(message: list[Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def boot_notification_frame(message_id: str, charger_id: str) -> bytes:
    return _json_frame(
        [
            2,
            message_id,
            "BootNotification",
            {
                "chargePointVendor": "ChargeDeck",
                "chargePointModel": "Bench-11kW",
                "chargePointSerialNumber": charger_id,
                "firmwareVersion": "1.0.0",
            },
        ]
    )


def status_notification_frame(message_id: str) -> bytes:
    return _json_frame(
        [
            2,
            message_id,
            "StatusNotification",
            {
                "connectorId": 1,
                "errorCode": "NoError",
                "status": "Available",
                "timestamp": _utc_timestamp().decode(),
            },
        ]
    )


def answer_server_call(frame: bytes) -> bytes:
    """Answer a CALL the server sends to the charger (OCPP-J 1.6 §4.2): the bench chargers accept
    configuration changes, reject triggers, report no keys and do not support anything else."""
    message = json.loads(frame)
    message_id, action = message[1], message[2]
    results: dict[str, dict[str, Any]] = {
        "ChangeConfiguration": {"status": "Accepted"},
        "GetConfiguration": {"configurationKey": [], "unknownKey": []},
        "TriggerMessage": {"status": "Rejected"},
        "ChangeAvailability": {"status": "Accepted"},
        "SetChargingProfile": {"status": "Rejected"},
        "ClearChargingProfile": {"status": "Unknown"},
        "GetLocalListVersion": {"listVersion": 0},
    }
    if action in results:
        return _json_frame([3, message_id, results[action]])
    return _json_frame([4, message_id, "NotSupported", f"bench charger has no {action}", {}])


# --------------------------------------------------------------------------------------------
# Shared run state


@dataclass
class ActionStats:
    calls: int = 0
    latencies_ns: list[int] = field(default_factory=list)


class Workload:
    """What the chargers send next, and what was measured; shared by all chargers of a run."""

    def __init__(self, heartbeat_every: int) -> None:
        self.kind = "meter"
        self.heartbeat_every = heartbeat_every
        self.recording = False
        self.sending = True
        self.stats: dict[str, ActionStats] = {METER_VALUES: ActionStats(), HEARTBEAT: ActionStats()}
        self.errors = 0
        self.errors_seen: list[str] = []
        self.closed_connections = 0
        self.raw_framing = False
        self._timestamp = _utc_timestamp()
        self._timestamp_until_ns = 0

    def timestamp(self, now_ns: int) -> bytes:
        if now_ns >= self._timestamp_until_ns:
            self._timestamp = _utc_timestamp()
            self._timestamp_until_ns = now_ns + TIMESTAMP_REFRESH_NS
        return self._timestamp

    def reset_stats(self) -> None:
        self.stats = {METER_VALUES: ActionStats(), HEARTBEAT: ActionStats()}
        self.errors = 0

    def record_error(self, what: str) -> None:
        self.errors += 1
        if len(self.errors_seen) < 5:
            self.errors_seen.append(what[:300])


@dataclass
class ChargerState:
    """Per-charger counters used to build the next CALL."""

    index: int
    charger_id: str
    next_message_id: int = 1
    energy_wh: int = 0
    calls_sent: int = 0

    def take_message_id(self) -> bytes:
        message_id = b"%d" % self.next_message_id
        self.next_message_id += 1
        return message_id


def build_next_call(workload: Workload, state: ChargerState, now_ns: int) -> tuple[bytes, str]:
    """The next CALL frame of a charger and its action name (message id spliced into a template)."""
    state.calls_sent += 1
    kind = workload.kind
    if kind == "heartbeat" or (kind == "mix" and state.calls_sent % workload.heartbeat_every == 0):
        return _CALL_START + state.take_message_id() + _HB_SUFFIX, HEARTBEAT
    state.energy_wh += 3
    return (
        b"".join(
            (
                _CALL_START,
                state.take_message_id(),
                _MV_PREFIX,
                workload.timestamp(now_ns),
                _MV_MIDDLE,
                b"%d" % state.energy_wh,
                _MV_TAIL,
                b"]",
            )
        ),
        METER_VALUES,
    )


def _is_reply_to(frame: bytes, message_id: bytes) -> bool:
    """True for ``[3,"<id>",...]``; tolerant of whitespace only through the slow JSON path."""
    head = len(_RESULT_START)
    if frame.startswith(_RESULT_START) and frame[head : head + len(message_id) + 1] == (
        message_id + b'"'
    ):
        return True
    try:
        message = json.loads(frame)
    except ValueError:
        return False
    return (
        isinstance(message, list)
        and len(message) >= 3
        and message[0] == 3
        and message[1] == message_id.decode()
    )


def _registration_refused(frame: bytes) -> bool:
    """A BootNotification answer with a status other than Accepted (the echo server's ``{}``
    has no status and passes)."""
    return b'"status":' in frame and b'"Accepted"' not in frame


# --------------------------------------------------------------------------------------------
# Charger on the websockets sans-I/O protocol


class ProtocolCharger(asyncio.Protocol):
    """One charger as an asyncio.Protocol driving websockets' ClientProtocol: no task per charger;
    the next CALL is written from inside data_received."""

    def __init__(self, workload: Workload, state: ChargerState, uri: str) -> None:
        self.workload = workload
        self.state = state
        self.websocket = ClientProtocol(
            parse_uri(uri),
            subprotocols=[Subprotocol(OCPP_SUBPROTOCOL)],
            max_size=MAX_FRAME_BYTES,
        )
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.connection_lost_future: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.pending_id = b""
        self.pending_action = ""
        self.pending_since_ns = 0
        self.reply_waiter: asyncio.Future[bytes] | None = None
        self.in_loop = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self.websocket.send_request(self.websocket.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.websocket.receive_data(data)
        for event in self.websocket.events_received():
            if isinstance(event, Frame):
                if event.opcode is Opcode.TEXT:
                    self._receive_text(bytes(event.data))
            elif isinstance(event, Response) and not self.opened.done():
                if self.websocket.handshake_exc is not None:
                    self.opened.set_exception(self.websocket.handshake_exc)
                else:
                    self.opened.set_result(None)
        self._flush()

    def eof_received(self) -> bool | None:
        self.websocket.receive_eof()
        self._flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during handshake"))
        if self.reply_waiter is not None and not self.reply_waiter.done():
            self.reply_waiter.set_exception(exc or ConnectionError("connection closed"))
        if self.in_loop and self.workload.sending:
            self.workload.closed_connections += 1
        if not self.connection_lost_future.done():
            self.connection_lost_future.set_result(None)

    # sending

    def _flush(self) -> None:
        transport = self.transport
        if transport is None:
            return
        for chunk in self.websocket.data_to_send():
            if chunk:
                transport.write(chunk)
            elif transport.can_write_eof():
                transport.write_eof()
        if self.websocket.close_expected():
            asyncio.get_running_loop().call_later(CLOSE_TIMEOUT_S, transport.close)

    def _send_text(self, frame: bytes) -> None:
        self.websocket.send_text(frame)

    def _send_call(self, frame: bytes, message_id_end: int, action: str) -> None:
        self.pending_id = frame[len(_CALL_START) : message_id_end]
        self.pending_action = action
        self.pending_since_ns = time.perf_counter_ns()
        self._send_text(frame)

    def _send_next_call(self) -> None:
        now_ns = time.perf_counter_ns()
        frame, action = build_next_call(self.workload, self.state, now_ns)
        self.pending_id = frame[len(_CALL_START) : frame.index(b'"', len(_CALL_START))]
        self.pending_action = action
        self.pending_since_ns = now_ns
        self._send_text(frame)

    # receiving

    def _receive_text(self, frame: bytes) -> None:
        if frame.startswith(_CALL_START):
            self._send_text(answer_server_call(frame))
            return
        now_ns = time.perf_counter_ns()
        workload = self.workload
        if not self.pending_id or not _is_reply_to(frame, self.pending_id):
            workload.record_error(f"{self.state.charger_id}: unexpected frame {frame[:200]!r}")
            if not self.pending_id:
                return
            if frame.startswith(b'[4,"' + self.pending_id + b'"'):
                self.pending_id = b""
                self._next(frame)
            return
        self.pending_id = b""
        if workload.recording:
            stats = workload.stats[self.pending_action]
            stats.calls += 1
            stats.latencies_ns.append(now_ns - self.pending_since_ns)
        self._next(frame)

    def _next(self, frame: bytes) -> None:
        if self.reply_waiter is not None:
            waiter, self.reply_waiter = self.reply_waiter, None
            if not waiter.done():
                waiter.set_result(frame)
            return
        if self.in_loop and self.workload.sending:
            self._send_next_call()

    # coroutine API for the set-up steps

    async def call(self, frame: bytes) -> bytes:
        """Send one CALL built outside the loop (Boot, Status) and wait for its reply."""
        self.reply_waiter = asyncio.get_running_loop().create_future()
        self._send_call(frame, frame.index(b'"', len(_CALL_START)), "setup")
        self._flush()
        return await asyncio.wait_for(self.reply_waiter, CONNECT_TIMEOUT_S)

    def start_loop(self) -> None:
        self.in_loop = True
        self._send_next_call()
        self._flush()

    async def close(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.websocket.send_close(1000)
        self._flush()
        try:
            await asyncio.wait_for(asyncio.shield(self.connection_lost_future), CLOSE_TIMEOUT_S)
        except TimeoutError:
            self.transport.abort()


class RawFramingCharger(ProtocolCharger):
    """After websockets' opening handshake, frames messages by hand (RFC 6455 §5.2): a masked
    text frame out, an unmasked frame in, without the sans-I/O parser's generators and objects.
    Experimental (``--impl raw``): it measures what the protocol layer of the generator costs."""

    def __init__(self, workload: Workload, state: ChargerState, uri: str) -> None:
        super().__init__(workload, state, uri)
        self.raw = False
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        if not self.raw:
            super().data_received(data)
            self.raw = self.opened.done() and self.opened.exception() is None
            return
        buffer = self.buffer
        buffer += data
        while len(buffer) >= 2:
            length = buffer[1] & 0x7F
            start = 2
            if length == 126:
                if len(buffer) < 4:
                    break
                length = int.from_bytes(buffer[2:4])
                start = 4
            elif length == 127:
                if len(buffer) < 10:
                    break
                length = int.from_bytes(buffer[2:10])
                start = 10
            end = start + length
            if len(buffer) < end:
                break
            opcode = buffer[0] & 0x0F
            payload = bytes(buffer[start:end])
            del buffer[:end]
            if opcode == Opcode.TEXT:
                self._receive_text(payload)
            elif opcode == Opcode.PING:
                self._write_frame(0x8A, payload)
            elif opcode == Opcode.CLOSE:
                self._write_frame(0x88, payload[:2])
                if self.transport is not None:
                    self.transport.close()
                return

    def _write_frame(self, first_byte: int, payload: bytes) -> None:
        length = len(payload)
        mask = random.randbytes(4)
        if length < 126:
            header = bytes((first_byte, 0x80 | length))
        else:
            header = bytes((first_byte, 0x80 | 126)) + length.to_bytes(2)
        if self.transport is not None:
            self.transport.write(header + mask + apply_mask(payload, mask))

    def _send_text(self, frame: bytes) -> None:
        if self.raw:
            self._write_frame(0x81, frame)
        else:
            self.websocket.send_text(frame)

    async def close(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if self.raw:
            self._write_frame(0x88, (1000).to_bytes(2))
            self.transport.close()
            return
        await super().close()


async def open_protocol_charger(
    workload: Workload,
    host: str,
    port: int,
    index: int,
    boot_then_status: bool,
    charger_class: type[ProtocolCharger] | None = None,
) -> ProtocolCharger:
    """Connect and boot one charger (``charger_class``: another workload's subclass)."""
    charger_id = CHARGER_ID_FORMAT % index
    state = ChargerState(index=index, charger_id=charger_id, energy_wh=1_000_000 + 1_000 * index)
    uri = f"ws://{host}:{port}/ocpp/{charger_id}"
    loop = asyncio.get_running_loop()
    if charger_class is None:
        charger_class = RawFramingCharger if workload.raw_framing else ProtocolCharger
    _, charger = await asyncio.wait_for(
        loop.create_connection(lambda: charger_class(workload, state, uri), host, port),
        CONNECT_TIMEOUT_S,
    )
    await asyncio.wait_for(charger.opened, CONNECT_TIMEOUT_S)
    reply = await charger.call(boot_notification_frame("boot", charger_id))
    if _registration_refused(reply):
        raise RuntimeError(f"{charger_id}: BootNotification not accepted: {reply[:200]!r}")
    if boot_then_status:
        await charger.call(status_notification_frame("status"))
    return charger


# --------------------------------------------------------------------------------------------
# Charger on the websockets asyncio client (for comparison: --impl connection)


async def run_connection_charger(
    workload: Workload,
    *,
    host: str,
    port: int,
    index: int,
    ready: Callable[[], None],
    go: asyncio.Event,
) -> None:
    from websockets.asyncio.client import connect

    charger_id = CHARGER_ID_FORMAT % index
    state = ChargerState(index=index, charger_id=charger_id, energy_wh=1_000_000 + 1_000 * index)
    async with connect(
        f"ws://{host}:{port}/ocpp/{charger_id}",
        subprotocols=[Subprotocol(OCPP_SUBPROTOCOL)],
        compression=None,
        max_size=MAX_FRAME_BYTES,
        open_timeout=CONNECT_TIMEOUT_S,
    ) as connection:
        await connection.send(boot_notification_frame("boot", charger_id), text=True)
        reply = await connection.recv(decode=False)
        assert isinstance(reply, bytes)
        if _registration_refused(reply):
            raise RuntimeError(f"{charger_id}: BootNotification not accepted: {reply[:200]!r}")
        ready()
        await go.wait()
        while workload.sending:
            sent_ns = time.perf_counter_ns()
            frame, action = build_next_call(workload, state, sent_ns)
            message_id = frame[len(_CALL_START) : frame.index(b'"', len(_CALL_START))]
            await connection.send(frame, text=True)
            while True:
                reply = await connection.recv(decode=False)
                assert isinstance(reply, bytes)
                if reply.startswith(_CALL_START):
                    await connection.send(answer_server_call(reply), text=True)
                    continue
                break
            now_ns = time.perf_counter_ns()
            if not _is_reply_to(reply, message_id):
                workload.record_error(f"{charger_id}: unexpected frame {reply[:200]!r}")
                continue
            if workload.recording:
                stats = workload.stats[action]
                stats.calls += 1
                stats.latencies_ns.append(now_ns - sent_ns)


# --------------------------------------------------------------------------------------------
# Measurement


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def process_tree_cpu_s(process: psutil.Process) -> tuple[float, float]:
    """(user, system) CPU seconds of a process and its live descendants; threads included."""
    user = system = 0.0
    for member in [process, *process.children(recursive=True)]:
        try:
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        user += times.user
        system += times.system
    return user, system


def machine_cpu_s() -> tuple[float, float]:
    """(process time, interrupt + steal time) of all cores, in CPU seconds.

    Process time (user, nice, system) is what the server, the generator and any other process
    ran; softirq time is mostly the loopback TCP delivery of our own traffic, which the kernel
    charges to no process, and steal is time the hypervisor gave to other guests."""
    times = psutil.cpu_times()
    processes = times.user + times.nice + times.system
    interrupts = getattr(times, "irq", 0.0) + getattr(times, "softirq", 0.0)
    steal: float = getattr(times, "steal", 0.0)
    return processes, interrupts + steal


def percentile_us(sorted_ns: list[int], fraction: float) -> float | None:
    if not sorted_ns:
        return None
    return sorted_ns[min(len(sorted_ns) - 1, int(fraction * len(sorted_ns)))] / 1000.0


async def measure_phase(
    workload: Workload,
    kind: str,
    warmup_s: float,
    duration_s: float,
    server: psutil.Process | None,
) -> dict[str, Any]:
    workload.kind = kind
    await asyncio.sleep(warmup_s)
    me = psutil.Process()
    workload.reset_stats()
    closed_before = workload.closed_connections
    server_start = process_tree_cpu_s(server) if server is not None else (0.0, 0.0)
    own_start = process_tree_cpu_s(me)
    machine_start = machine_cpu_s()
    started = time.perf_counter()
    workload.recording = True
    await asyncio.sleep(duration_s)
    workload.recording = False
    elapsed = time.perf_counter() - started
    own_end = process_tree_cpu_s(me)
    server_end = process_tree_cpu_s(server) if server is not None else server_start
    machine_end = machine_cpu_s()
    machine_cpu = machine_end[0] - machine_start[0]
    interrupt_and_steal = machine_end[1] - machine_start[1]
    own_cpu = sum(own_end) - sum(own_start)
    server_system = server_end[1] - server_start[1]
    server_cpu = sum(server_end) - sum(server_start) if server is not None else None
    other_cpu = machine_cpu - own_cpu - (server_cpu or 0.0)
    calls = sum(stats.calls for stats in workload.stats.values())
    by_action: dict[str, Any] = {}
    for action, stats in workload.stats.items():
        if not stats.calls:
            continue
        latencies = sorted(stats.latencies_ns)
        by_action[action] = {
            "calls": stats.calls,
            "calls_per_s": stats.calls / elapsed,
            "p50_us": percentile_us(latencies, 0.50),
            "p99_us": percentile_us(latencies, 0.99),
        }
    return {
        "phase": kind,
        "calls": calls,
        "elapsed_s": elapsed,
        "calls_per_s": calls / elapsed,
        "by_action": by_action,
        "server_cpu_s": server_cpu,
        "server_cpu_us_per_call": (server_cpu * 1e6 / calls) if calls and server_cpu else None,
        "server_cores": server_cpu / elapsed if server_cpu is not None else None,
        "server_cpu_system_share": server_system / server_cpu if server_cpu else None,
        "generator_cpu_s": own_cpu,
        "generator_cores": own_cpu / elapsed,
        "generator_cpu_system_share": (own_end[1] - own_start[1]) / own_cpu if own_cpu else None,
        "generator_cpu_us_per_call": own_cpu * 1e6 / calls if calls else None,
        "other_cpu_cores": max(0.0, other_cpu) / elapsed,
        "interrupt_and_steal_cores": interrupt_and_steal / elapsed,
        "errors": workload.errors,
        "error_samples": list(workload.errors_seen),
        "connections_lost": workload.closed_connections - closed_before,
    }


async def open_all(
    workload: Workload, arguments: argparse.Namespace, *, with_status: bool
) -> list[ProtocolCharger]:
    """Open --chargers connections, at most --concurrency handshakes at a time."""
    limiter = asyncio.Semaphore(arguments.concurrency)

    async def open_one(index: int) -> ProtocolCharger:
        async with limiter:
            return await open_protocol_charger(
                workload, arguments.host, arguments.port, index, with_status
            )

    indexes = range(1, arguments.chargers + 1)
    return list(await asyncio.gather(*(open_one(index) for index in indexes)))


async def close_all(chargers: list[ProtocolCharger]) -> None:
    await asyncio.gather(*(charger.close() for charger in chargers), return_exceptions=True)


async def run_closed_loop(arguments: argparse.Namespace) -> None:
    workload = Workload(arguments.heartbeat_every)
    server = psutil.Process(arguments.server_pid) if arguments.server_pid else None
    phases = [phase.strip() for phase in arguments.phases.split(",") if phase.strip()]
    started = time.perf_counter()
    workload.raw_framing = arguments.impl == "raw"
    if arguments.impl in {"protocol", "raw"}:
        chargers = await open_all(workload, arguments, with_status=False)
        emit("connected", chargers=len(chargers), seconds=time.perf_counter() - started)
        for charger in chargers:
            charger.start_loop()
        for kind in phases:
            result = await measure_phase(
                workload, kind, arguments.warmup, arguments.duration, server
            )
            emit("phase", impl=arguments.impl, chargers=arguments.chargers, **result)
        workload.sending = False
        await close_all(chargers)
    else:
        go = asyncio.Event()
        ready_count = 0
        all_ready = asyncio.get_running_loop().create_future()

        def ready() -> None:
            nonlocal ready_count
            ready_count += 1
            if ready_count == arguments.chargers and not all_ready.done():
                all_ready.set_result(None)

        tasks = [
            asyncio.create_task(
                run_connection_charger(
                    workload,
                    host=arguments.host,
                    port=arguments.port,
                    index=index,
                    ready=ready,
                    go=go,
                )
            )
            for index in range(1, arguments.chargers + 1)
        ]
        await asyncio.wait_for(all_ready, CONNECT_TIMEOUT_S * 2)
        emit("connected", chargers=arguments.chargers, seconds=time.perf_counter() - started)
        go.set()
        for kind in phases:
            result = await measure_phase(
                workload, kind, arguments.warmup, arguments.duration, server
            )
            emit("phase", impl=arguments.impl, chargers=arguments.chargers, **result)
        workload.sending = False
        await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT_S)
    emit("done")


async def run_idle(arguments: argparse.Namespace) -> None:
    workload = Workload(arguments.heartbeat_every)
    started = time.perf_counter()
    chargers = await open_all(workload, arguments, with_status=True)
    emit("idle_ready", connections=len(chargers), seconds=time.perf_counter() - started)
    loop = asyncio.get_running_loop()
    released = loop.create_future()

    def on_stdin() -> None:
        # Any line or end of file on stdin releases the connections.
        if not released.done():
            released.set_result(None)

    # A regular file such as /dev/null cannot be watched: then only --hold ends the wait.
    with contextlib.suppress(PermissionError):
        loop.add_reader(sys.stdin.fileno(), on_stdin)
    try:
        await asyncio.wait_for(released, arguments.hold)
    except TimeoutError:
        pass
    finally:
        loop.remove_reader(sys.stdin.fileno())
    alive = sum(1 for charger in chargers if not charger.connection_lost_future.done())
    await close_all(chargers)
    emit("done", still_open_at_release=alive)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    from fleet_load import FLEET_MODES, add_fleet_arguments

    parser.add_argument("--mode", choices=("closed", "idle", *FLEET_MODES), default="closed")
    parser.add_argument("--chargers", type=int, default=100, help="connections to open")
    parser.add_argument(
        "--phases",
        default="meter,heartbeat",
        help=f"comma-separated measured phases, each of {', '.join(PHASE_KINDS)}",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds per phase")
    parser.add_argument(
        "--heartbeat-every", type=int, default=2, help="mix phase: every Nth CALL is a Heartbeat"
    )
    parser.add_argument("--server-pid", type=int, default=0, help="measure this process's CPU")
    parser.add_argument("--concurrency", type=int, default=50, help="connections opened at once")
    parser.add_argument(
        "--hold",
        type=float,
        default=120.0,
        help="idle mode: longest hold before closing; hold mode: seconds of the hold",
    )
    parser.add_argument(
        "--impl",
        choices=("protocol", "connection", "raw"),
        default="protocol",
        help="protocol: websockets sans-I/O on asyncio.Protocol (cheap); "
        "connection: websockets asyncio client; raw: hand framing after the handshake",
    )
    add_fleet_arguments(parser)
    arguments = parser.parse_args(argv)
    for phase in arguments.phases.split(","):
        if phase.strip() and phase.strip() not in PHASE_KINDS:
            parser.error(f"--phases: {phase!r} is not one of {', '.join(PHASE_KINDS)}")
    if arguments.mode == "idle" and arguments.impl == "connection":
        arguments.impl = "protocol"  # idle connections need no per-message speed
    return arguments


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    raise_open_files_limit()
    install_uvloop()
    try:
        if arguments.mode == "closed":
            asyncio.run(run_closed_loop(arguments))
        elif arguments.mode == "idle":
            asyncio.run(run_idle(arguments))
        else:
            from fleet_load import run_fleet_mode

            run_fleet_mode(arguments)
    except (OSError, RuntimeError, TimeoutError, InvalidHandshake) as error:
        # One readable line for bench/run.py instead of a traceback (e.g. "HTTP 500").
        emit("error", message=f"{type(error).__name__}: {error}")
        sys.exit(1)


if __name__ == "__main__":
    main()
