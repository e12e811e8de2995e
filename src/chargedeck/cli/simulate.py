"""``chargedeck simulate``: simulated chargers against a CSMS (DESIGN §9, issue 8), from flags or
a scenario file (simulator/scenario.py).

Exit codes: 0 the run ended as planned (its duration, or Ctrl-C); 1 it ran but not as planned
(no charger connected, a step could not be done); 2 bad input (URL, scenario file, flags);
3 every charger was rejected (the reasons are printed).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from chargedeck.cli._support import JsonOption, fail

if TYPE_CHECKING:
    from chargedeck.simulator.fleet import FleetSummary
    from chargedeck.simulator.scenario import Scenario
    from chargedeck.simulator.view import FleetView

app = typer.Typer(no_args_is_help=False)

EXIT_NOT_AS_PLANNED = 1
EXIT_ALL_REJECTED = 3


@app.command(
    "simulate",
    help="Run simulated OCPP 1.6J chargers (Wallbox or generic) against a CSMS: they connect, "
    "boot, heartbeat, and with --plug-in / --tap (or a --scenario file) charge. A live table "
    "on a terminal, log lines otherwise, JSON lines with --json. Exit 3 when every charger "
    "was rejected.",
)
def simulate(
    csms_url: Annotated[
        str | None,
        typer.Argument(
            help="The CSMS URL as typed into the charger; the charge point id is appended "
            "(default ws://127.0.0.1:9000/ocpp, or the scenario's csms_url)",
            show_default=False,
        ),
    ] = None,
    count: Annotated[
        int | None, typer.Option("--count", help="How many chargers (default 1)")
    ] = None,
    id_pattern: Annotated[
        str | None,
        typer.Option("--id-pattern", help="Charge point ids, n = 1..count (default SIM-{n:04d})"),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="wallbox or generic (default wallbox)")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option("--password", help="Security profile 1/2: the chargers' password"),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option("--ca-file", help="wss://: the CA that signed the server's certificate"),
    ] = None,
    scenario_file: Annotated[
        Path | None,
        typer.Option("--scenario", help="A scenario file (TOML); the flags above override it"),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option("--duration", help="Stop after this many seconds (default at Ctrl-C)"),
    ] = None,
    ramp_s: Annotated[
        float | None,
        typer.Option("--ramp-s", help="Start the chargers spread over this many seconds"),
    ] = None,
    plug_in: Annotated[
        bool, typer.Option("--plug-in", help="Once Available, plug a car into connector 1")
    ] = False,
    tap: Annotated[
        str | None,
        typer.Option(
            "--tap", help='Once Available, present this card (UID as printed, "04:A2:..")'
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    from chargedeck.simulator.view import choose_view, rejections_by_reason

    scenario = _scenario(
        scenario_file,
        plug_in=plug_in,
        tap=tap,
        csms_url=csms_url,
        count=count,
        id_pattern=id_pattern,
        model=model,
        password=password,
        ca_file=None if ca_file is None else str(ca_file),
        duration_s=_positive(duration, "--duration"),
        ramp_s=_positive(ramp_s, "--ramp-s", zero_ok=True),
    )
    view = choose_view(
        scenario.fleet.charge_point_ids, scenario.fleet.duration_s, as_json, sys.stdout
    )
    try:
        summary = asyncio.run(_run(scenario, view))
        view.finish(summary)
    finally:
        view.close()
    if summary.all_rejected:
        reasons = "; ".join(
            f"{why} ({len(ids)} charger{'s' if len(ids) > 1 else ''})"
            for why, ids in rejections_by_reason(summary).items()
        )
        sys.stderr.write(
            f"error: every charger was rejected by {scenario.fleet.csms_url}: {reasons}\n"
        )
        raise typer.Exit(code=EXIT_ALL_REJECTED)
    if summary.connected == 0:
        why = summary.last_connection_problem or "is a CSMS listening there?"
        sys.stderr.write(
            f"error: no charger connected to {scenario.fleet.csms_url} in "
            f"{summary.duration_s:.0f} s: {why}\n"
        )
        raise typer.Exit(code=EXIT_NOT_AS_PLANNED)
    if summary.failures:
        sys.stderr.write(
            f"error: {len(summary.failures)} step(s) not done as planned: {summary.failures[0]}\n"
        )
        raise typer.Exit(code=EXIT_NOT_AS_PLANNED)


def _positive(value: float | None, flag: str, *, zero_ok: bool = False) -> float | None:
    if value is not None and (value < 0 or (value == 0 and not zero_ok)):
        least = "0 or more" if zero_ok else "more than 0"
        raise fail(f"{flag} {value:g}: give a number of seconds, {least}")
    return value


def _scenario(
    scenario_file: Path | None, *, plug_in: bool, tap: str | None, **flags: Any
) -> Scenario:
    """The scenario file with the flags over it, or the scenario of the flags alone; a checked
    CA file. Exits 2 with the sentence of what is wrong."""
    from chargedeck.simulator.scenario import (
        FleetSpec,
        ScenarioError,
        load_scenario,
        scenario_from_flags,
        with_overrides,
    )

    try:
        if scenario_file is None:
            given = {key: value for key, value in flags.items() if value is not None}
            scenario = scenario_from_flags(FleetSpec(**given), plug_in=plug_in, tap_card=tap)
        elif plug_in or tap is not None:
            raise fail(
                "--plug-in and --tap make the steps of a run without a scenario file; with "
                "--scenario, put them in the file's [[steps]]"
            )
        else:
            scenario = with_overrides(load_scenario(scenario_file), **flags)
    except ScenarioError as exc:
        raise fail(str(exc)) from None
    fleet = scenario.fleet
    if fleet.ca_file is not None:
        where = scenario.fleet_field("ca_file")
        if not fleet.csms_url.startswith("wss://"):
            raise fail(f"{where}: a CA file is for wss:// URLs; {fleet.csms_url} is not one")
        if not os.access(fleet.ca_file, os.R_OK) or not Path(fleet.ca_file).is_file():
            raise fail(f"{where}: cannot read {fleet.ca_file}")
    return scenario


async def _run(scenario: Scenario, view: FleetView) -> FleetSummary:
    """Run the fleet until its duration or Ctrl-C (or SIGTERM); a second Ctrl-C interrupts at
    once."""
    from chargedeck.simulator.fleet import Fleet
    from chargedeck.simulator.view import REFRESH_S

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def stop_on_signal(signum: int) -> None:
        stop.set()
        loop.remove_signal_handler(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        # Windows has no add_signal_handler: there Ctrl-C raises KeyboardInterrupt.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop_on_signal, signum)

    started = loop.time()

    async def refresh() -> None:
        while True:
            view.tick(loop.time() - started)
            await asyncio.sleep(REFRESH_S)

    fleet = Fleet(scenario, view.receive_event, view.receive_failure)
    ticker = asyncio.create_task(refresh())
    try:
        return await fleet.run(stop)
    finally:
        ticker.cancel()
