"""Run a simulated charger for the length of a test and keep the events it reports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from chargedeck.simulator.ev import EvModel
from chargedeck.simulator.events import EventKind, SimEvent
from chargedeck.simulator.models import SimulatedModel
from chargedeck.simulator.station import ChargerOptions, SimulatedCharger


@dataclass
class Run:
    """A running charger and what it reported so far."""

    charger: SimulatedCharger
    events: list[SimEvent] = field(default_factory=list)

    def of(self, kind: EventKind, /, **match: Any) -> list[dict[str, Any]]:
        """The details of the events of ``kind`` whose fields equal ``match``."""
        return [
            event.detail
            for event in self.events
            if event.kind is kind and all(event.detail.get(k) == v for k, v in match.items())
        ]


@asynccontextmanager
async def running(
    options: ChargerOptions, model: SimulatedModel, ev: EvModel | None = None
) -> AsyncIterator[Run]:
    """The charger runs in a task; leaving the block stops it, and run() must end promptly."""
    run: Run | None = None

    def keep(event: SimEvent) -> None:
        assert run is not None
        run.events.append(event)

    charger = SimulatedCharger(options, model, ev, on_event=keep)
    run = Run(charger)
    task = asyncio.create_task(charger.run())
    try:
        yield run
    finally:
        await charger.stop()
        await asyncio.wait_for(task, timeout=5)
