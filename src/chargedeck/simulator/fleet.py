"""Run a fleet of simulated chargers through a scenario (``chargedeck simulate``, issue 8).

The fleet starts its chargers spread over ``ramp_s`` (a real site powers up in a few seconds,
not in one instant), plays the scenario's steps in file order at their times, stops at
``duration_s`` or when asked (Ctrl-C), stops every charger (socket closed, tasks ended), and
returns what happened as a :class:`FleetSummary`. It learns what happened from the chargers'
events (``on_event``), which it also hands on to whoever shows them (view.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from chargedeck.simulator.events import ConnectionState, EventKind, SimEvent
from chargedeck.simulator.models import MODELS
from chargedeck.simulator.scenario import (
    CONNECTION_STATES,
    REGISTRATION_STATES,
    Action,
    Scenario,
    Step,
)
from chargedeck.simulator.station import ChargerOptions, SimulatedCharger

STOP_TIMEOUT_S = 5.0
"""How long a charger may take to close its connection when the run ends (a WebSocket close
handshake on loopback takes milliseconds; a CSMS that does not answer the close frame is given
the few seconds websockets' own close_timeout allows) before its task is cancelled."""

REFUSED_STATES = frozenset({ConnectionState.REJECTED, ConnectionState.CERTIFICATE_FAILED})


@dataclass(frozen=True)
class FleetSummary:
    """What a run did, for the last line of ``--json`` and the closing sentence."""

    chargers: int
    connected: int
    """Chargers that reached Connected at least once."""
    rejected: dict[str, str]
    """Chargers refused at their last attempt and never Accepted: id -> why, as the charger
    shows it ("Connection Rejected (HTTP 401 Unauthorized: ...)", "BootNotification
    Rejected")."""
    transactions_started: int
    transactions_stopped: int
    transactions_refused: int
    energy_wh: int
    """Energy the fleet's meters registered during the run, all connectors."""
    messages_queued: int
    messages_replayed: int
    failures: tuple[str, ...]
    """Steps that could not be done as planned (a wait that timed out, a charger that failed)."""
    duration_s: float
    last_connection_problem: str | None = None
    """Why the last failed connection attempt of any charger failed ("cannot reach ...")."""

    @property
    def all_rejected(self) -> bool:
        return self.chargers > 0 and len(self.rejected) == self.chargers

    def as_dict(self) -> dict[str, Any]:
        return {
            "chargers": self.chargers,
            "connected": self.connected,
            "rejected": self.rejected,
            "transactions_started": self.transactions_started,
            "transactions_stopped": self.transactions_stopped,
            "transactions_refused": self.transactions_refused,
            "energy_wh": self.energy_wh,
            "messages_queued": self.messages_queued,
            "messages_replayed": self.messages_replayed,
            "failures": list(self.failures),
            "duration_s": round(self.duration_s, 3),
            "last_connection_problem": self.last_connection_problem,
        }


@dataclass
class _Tally:
    """Counts kept from the chargers' events."""

    connected: set[str] = field(default_factory=set)
    accepted: set[str] = field(default_factory=set)
    registration: dict[str, str] = field(default_factory=dict)
    """The answer to each charger's last BootNotification."""
    refusal: dict[str, str] = field(default_factory=dict)
    transactions: dict[str, int] = field(default_factory=dict)
    queued: int = 0
    replayed: int = 0
    last_reason: str | None = None
    """Why the last failed connection attempt of any charger failed."""

    def receive(self, event: SimEvent) -> None:
        detail, charge_point_id = event.detail, event.charge_point_id
        if event.kind is EventKind.CONNECTION:
            state = detail.get("state")
            if state == ConnectionState.CONNECTED:
                self.connected.add(charge_point_id)
                self.refusal.pop(charge_point_id, None)
            elif state in REFUSED_STATES:
                reason = detail.get("reason")
                self.refusal[charge_point_id] = f"{state}" + (f" ({reason})" if reason else "")
            if detail.get("reason") and state != ConnectionState.DISCONNECTED:
                self.last_reason = str(detail["reason"])
        elif event.kind is EventKind.REGISTRATION:
            self.registration[charge_point_id] = str(detail.get("status"))
            if detail.get("status") == "Accepted":
                self.accepted.add(charge_point_id)
            elif detail.get("status") == "Rejected":
                self.refusal[charge_point_id] = "BootNotification Rejected"
        elif event.kind is EventKind.TRANSACTION:
            action = str(detail.get("action"))
            self.transactions[action] = self.transactions.get(action, 0) + 1
        elif event.kind is EventKind.QUEUED:
            if is_replay(detail):
                self.replayed += 1
            else:
                self.queued += 1


def is_replay(detail: dict[str, Any]) -> bool:
    """A QUEUED event about a message sent after reconnecting (``replayed`` true), not one
    kept for later."""
    return bool(detail.get("replayed"))


class Fleet:
    """The chargers of one scenario run. ``on_event`` gets every charger's events;
    ``on_failure`` a sentence for each step that could not be done as planned."""

    def __init__(
        self,
        scenario: Scenario,
        on_event: Callable[[SimEvent], None],
        on_failure: Callable[[str], None],
    ) -> None:
        self.scenario = scenario
        self._on_event = on_event
        self._on_failure = on_failure
        self._tally = _Tally()
        self._failures: list[str] = []
        spec = scenario.fleet
        model = MODELS[spec.model]
        self.chargers: dict[int, SimulatedCharger] = {
            n: SimulatedCharger(
                ChargerOptions(
                    csms_url=spec.csms_url,
                    charge_point_id=spec.charge_point_id(n),
                    password=spec.password,
                    ca_file=spec.ca_file,
                    connectors=spec.connectors,
                    meter_interval_s=spec.meter_interval_s,
                ),
                model,
                spec.ev,
                on_event=self._receive,
            )
            for n in range(1, spec.count + 1)
        }
        self._running: dict[int, asyncio.Task[None]] = {}
        self._started: dict[int, asyncio.Event] = {n: asyncio.Event() for n in self.chargers}
        self._tasks: set[asyncio.Task[None]] = set()
        self._start_time = 0.0

    # ---- the run -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> FleetSummary:
        """Start, play the steps, and stop everything at ``duration_s`` or when ``stop`` is set
        (whichever comes first); the summary of the run."""
        loop = asyncio.get_running_loop()
        self._start_time = loop.time()
        energy_before = self._energy_wh()
        self._spawn(self._start_all())
        self._spawn(self._play())
        try:
            await asyncio.wait_for(stop.wait(), timeout=self.scenario.fleet.duration_s)
        except TimeoutError:
            pass  # the planned end of the run
        finally:
            await self._stop_all()
        return self._summary(loop.time() - self._start_time, self._energy_wh() - energy_before)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start_all(self) -> None:
        """Start charger n at (n - 1) / count of ``ramp_s``."""
        spec = self.scenario.fleet
        for n, charger in self.chargers.items():
            await self._sleep_until(spec.ramp_s * (n - 1) / spec.count)
            task = asyncio.create_task(charger.run(), name=spec.charge_point_id(n))
            task.add_done_callback(self._charger_ended)
            self._running[n] = task
            self._started[n].set()

    def _charger_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._fail(f"{task.get_name()} stopped running: {task.exception()!r}")

    async def _stop_all(self) -> None:
        """Cancel the steps, stop every charger that runs (its stop() closes the socket), and
        cancel what has not ended after STOP_TIMEOUT_S; a charger that fails to stop is a
        failure in the summary, not a traceback."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        running = {n: task for n, task in self._running.items() if not task.done()}
        results = await asyncio.gather(
            *(asyncio.wait_for(self.chargers[n].stop(), STOP_TIMEOUT_S) for n in running),
            return_exceptions=True,
        )
        for n, result in zip(running, results, strict=True):
            charge_point_id = self.scenario.fleet.charge_point_id(n)
            if isinstance(result, TimeoutError):
                self._fail(f"{charge_point_id} did not stop within {STOP_TIMEOUT_S:g} s")
            elif isinstance(result, BaseException):
                self._fail(f"{charge_point_id} did not stop: {result!r}")
        left = [task for task in running.values() if not task.done()]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)

    # ---- steps -------------------------------------------------------------------------------

    async def _play(self) -> None:
        """The steps in file order, each at its time; a repeating step goes on in the
        background, a wait holds the steps after it."""
        for step in self.scenario.steps:
            await self._sleep_until(step.at_s)
            if step.every_s is None:
                await self._apply(step)
            else:
                self._spawn(self._repeat(step, step.every_s))

    async def _repeat(self, step: Step, every_s: float) -> None:
        at_s = step.at_s
        while step.until_s is None or at_s <= step.until_s:
            await self._sleep_until(at_s)
            await self._apply(step)
            at_s += every_s

    async def _apply(self, step: Step) -> None:
        numbers = step.charger_numbers(self.scenario.fleet.count)
        await asyncio.gather(*(self._act(step, n) for n in numbers))

    async def _act(self, step: Step, n: int) -> None:
        await self._started[n].wait()
        charger = self.chargers[n]
        connector_id = step.connector_id
        charge_point_id = self.scenario.fleet.charge_point_id(n)
        try:
            if step.action is Action.PLUG_IN:
                await charger.plug_in(connector_id)
            elif step.action is Action.TAP:
                assert step.card is not None  # scenario.py requires it
                await charger.tap(step.card, connector_id)
            elif step.action is Action.UNPLUG:
                await charger.unplug(connector_id)
            elif step.action is Action.GO_OFFLINE:
                await charger.go_offline()
            elif step.action is Action.GO_ONLINE:
                await charger.go_online()
            elif step.action is Action.FAULT:
                await charger.fault(connector_id, step.error_code)
            elif step.action is Action.WAIT:
                await self._wait(step, charger, charge_point_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - one charger's failure is reported; the others go on
            self._fail(f"{step.describe()}: {charge_point_id} failed: {exc!r}")

    async def _wait(self, step: Step, charger: SimulatedCharger, charge_point_id: str) -> None:
        def state() -> str:
            """What the step waits on (scenario.WAIT_STATES): the connection state, the last
            BootNotification answer, or the connector's status."""
            if step.state in CONNECTION_STATES:
                return str(charger.connection_state)
            if step.state in REGISTRATION_STATES:
                return self._tally.registration.get(charge_point_id, "not booted")
            return charger.status(step.connector_id)

        if state() == step.state:
            return
        try:
            await charger.wait_for(lambda: state() == step.state, timeout_s=step.timeout_s)
        except TimeoutError:
            self._fail(
                f"{step.describe()}: {charge_point_id} did not reach {step.state} within "
                f"{step.timeout_s:g} s (it is {state()})"
            )

    # ---- events and the summary ----------------------------------------------------------------

    def _receive(self, event: SimEvent) -> None:
        self._tally.receive(event)
        self._on_event(event)

    def _fail(self, sentence: str) -> None:
        self._failures.append(sentence)
        self._on_failure(sentence)

    async def _sleep_until(self, at_s: float) -> None:
        delay = self._start_time + at_s - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)

    def _energy_wh(self) -> int:
        connectors = range(1, self.scenario.fleet.connectors + 1)
        return sum(charger.energy_wh(c) for charger in self.chargers.values() for c in connectors)

    def _summary(self, duration_s: float, energy_wh: int) -> FleetSummary:
        tally = self._tally
        rejected = {
            charge_point_id: why
            for charge_point_id, why in sorted(tally.refusal.items())
            if charge_point_id not in tally.accepted
        }
        return FleetSummary(
            chargers=len(self.chargers),
            connected=len(tally.connected),
            rejected=rejected,
            transactions_started=tally.transactions.get("started", 0),
            transactions_stopped=tally.transactions.get("stopped", 0),
            transactions_refused=tally.transactions.get("refused", 0),
            energy_wh=energy_wh,
            messages_queued=tally.queued,
            messages_replayed=tally.replayed,
            failures=tuple(self._failures),
            duration_s=duration_s,
            last_connection_problem=tally.last_reason,
        )
