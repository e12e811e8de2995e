"""``chargedeck sites ...`` and ``charge-points place|unplace|limit``: site load management on the
store directly (DESIGN §7, §10), so an owner can script a set-up before the first ``serve``.

A site is a tree of circuits from its grid connection ("grid") down, each with a current limit
per phase; chargers hang on circuits with their phase wiring. A running server picks changes
made here up at its next recomputation of the site; changes through the API
(``/api/v1/sites``) take effect at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table
from rich.tree import Tree

from chargedeck.cli._support import (
    ConfigOption,
    JsonOption,
    checked_charge_point_id,
    console,
    fail,
    now,
    print_json,
    report,
    run_store,
)
from chargedeck.domain.ids import ChargePointId
from chargedeck.domain.sites import (
    DEFAULT_PHASE_ROTATION,
    GRID_CONNECTION_NAME,
    check_household_reserve,
    check_mode,
    check_name,
    check_phase_rotation,
    check_strategy,
    parse_operator_limit,
    phase_limits,
)
from chargedeck.store import errors as store_errors
from chargedeck.store.sites import (
    ChargerLimitRecord,
    CircuitRecord,
    PlacementRecord,
    SiteLayout,
    SiteRecord,
)

T = TypeVar("T")

app = typer.Typer(
    no_args_is_help=True,
    help="Sites: the grid connection's fuse, sub-boards and the chargers on them (in the store)",
)

PhasesOption = Annotated[
    int, typer.Option("--phases", help="1 (the limit on L1 only) or 3 (on every phase)")
]


def _checked(rule: Callable[[], T]) -> T:
    """``rule()`` (a check of domain/sites.py), or exit 2 with its sentence."""
    try:
        return rule()
    except ValueError as exc:
        raise fail(str(exc)) from None


def phase_text(limits: tuple[float, float, float]) -> str:
    """``32 A on L1, L2, L3``, ``40 A on L1`` or ``L1 25 A, L2 20 A``."""
    used = [(f"L{i + 1}", amps) for i, amps in enumerate(limits) if amps > 0]
    if len({amps for _, amps in used}) == 1:
        return f"{used[0][1]:g} A on {', '.join(phase for phase, _ in used)}"
    return ", ".join(f"{phase} {amps:g} A" for phase, amps in used)


def _limits(record: CircuitRecord) -> tuple[float, float, float]:
    return (record.limit_l1_a, record.limit_l2_a, record.limit_l3_a)


def limit_text(record: ChargerLimitRecord) -> str:
    return f"{record.value:g} {record.unit}" + (" per phase" if record.unit == "A" else "")


async def layout_by_name(store: Any, name: str) -> SiteLayout:
    """The site named ``name`` and its tree, or exit 2 saying there is none."""
    try:
        site: SiteRecord = await store.sites.site_by_name(name)
        layout: SiteLayout = await store.sites.layout(site.id)
    except store_errors.NotFound as exc:
        raise fail(str(exc)) from None
    return layout


async def grid_connection(store: Any, site_name: str) -> CircuitRecord:
    """The grid connection of the site named ``site_name``, or exit 2 saying there is none."""
    layout = await layout_by_name(store, site_name)
    return next(circuit for circuit in layout.circuits if circuit.parent_id is None)


def circuit_named(layout: SiteLayout, name: str) -> CircuitRecord:
    for circuit in layout.circuits:
        if circuit.name == name:
            return circuit
    known = ", ".join(c.name for c in layout.circuits)
    raise fail(f"site {layout.site.name!r} has no circuit named {name!r} (it has: {known})")


async def place(
    store: Any,
    charge_point_id: ChargePointId,
    circuit: CircuitRecord,
    *,
    phase_rotation: str = DEFAULT_PHASE_ROTATION,
    priority: int = 0,
    mode: str = "fast",
) -> PlacementRecord:
    """Hang a charger on ``circuit``, or exit 2 when the store refuses."""
    try:
        record: PlacementRecord = await store.sites.place_charger(
            charge_point_id,
            circuit_id=circuit.id,
            phase_rotation=phase_rotation,
            priority=priority,
            mode=mode,
            now=now(),
        )
    except store_errors.NotFound as exc:
        raise fail(str(exc)) from None
    return record


# ---- chargedeck sites ...----------------------------------------------------------------------


@app.command("add", help="Add a site with the limit of its grid connection (main fuse).")
def add(
    name: str,
    limit: Annotated[float, typer.Option("--limit", help="Main fuse in A per phase")],
    phases: PhasesOption = 3,
    strategy: Annotated[
        str, typer.Option("--strategy", help="How chargers share: equal, priority, first_come")
    ] = "equal",
    household_reserve: Annotated[
        float,
        typer.Option(
            "--household-reserve",
            help="A per phase kept for the household when no grid meter reading is fresh",
        ),
    ] = 0.0,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    site_name = _checked(lambda: check_name(name, "site name"))
    chosen = _checked(lambda: check_strategy(strategy))
    reserve = _checked(lambda: check_household_reserve(household_reserve))
    limits = _checked(lambda: phase_limits(limit, phases))

    async def work(store: Any) -> tuple[SiteRecord, CircuitRecord]:
        try:
            added: tuple[SiteRecord, CircuitRecord] = await store.sites.add_site(
                site_name,
                strategy=chosen.value,
                limit_a=limits,
                household_reserve_a=reserve,
                now=now(),
            )
        except store_errors.Conflict as exc:
            raise fail(str(exc)) from None
        return added

    site, grid = run_store(config, work)
    sentence = (
        f"added site {site.name} (id {site.id}): grid connection {phase_text(_limits(grid))}, "
        f"shared {site.strategy.replace('_', '-')}"
    )
    if site.household_reserve_a:
        sentence += f", {site.household_reserve_a:g} A per phase kept for the household"
    report({"site": site, "grid": grid}, as_json, sentence)


@app.command("list", help="List sites with their grid connection's limit.")
def list_sites(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    async def work(store: Any) -> tuple[list[SiteRecord], dict[int, CircuitRecord]]:
        return await store.sites.list_sites(), await store.sites.grid_connections()

    sites, grids = run_store(config, work)
    if as_json:
        print_json([{"site": site, "grid": grids[site.id]} for site in sites])
        return
    table = Table("name", "id", "grid connection", "strategy", "household reserve")
    for site in sites:
        table.add_row(
            site.name,
            str(site.id),
            phase_text(_limits(grids[site.id])),
            site.strategy,
            f"{site.household_reserve_a:g} A",
        )
    console.print(table)


@app.command("show", help="Show a site's circuit tree with the chargers on each circuit.")
def show(name: str, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    async def work(store: Any) -> SiteLayout:
        return await layout_by_name(store, name)

    layout = run_store(config, work)
    if as_json:
        print_json(layout)
        return
    site = layout.site
    limits = {limit.charge_point_id: limit for limit in layout.limits}
    root = Tree(
        f"site {site.name} (id {site.id}; shared {site.strategy}; household reserve "
        f"{site.household_reserve_a:g} A)"
    )
    nodes: dict[int, Tree] = {}
    below: dict[int | None, list[CircuitRecord]] = {}
    for circuit in layout.circuits:
        below.setdefault(circuit.parent_id, []).append(circuit)
    stack: list[tuple[Tree, int | None]] = [(root, None)]
    while stack:  # from the grid connection down, whatever the ids' order after a move
        parent_node, parent_id = stack.pop()
        for circuit in below.get(parent_id, []):
            nodes[circuit.id] = parent_node.add(f"{circuit.name} ({phase_text(_limits(circuit))})")
            stack.append((nodes[circuit.id], circuit.id))
    for placement in layout.placements:
        limit = limits.get(placement.charge_point_id)
        nodes[placement.circuit_id].add(
            f"charger {placement.charge_point_id}: {placement.phase_rotation}, priority "
            f"{placement.priority}, mode {placement.mode}"
            + ("" if limit is None else f", limit {limit_text(limit)}")
        )
    console.print(root)
    for reading in layout.readings:
        values = (
            f"{reading.power_w:g} W"
            if reading.kind == "solar"
            else f"L1 {reading.l1_a:g} A, L2 {reading.l2_a:g} A, L3 {reading.l3_a:g} A"
        )
        console.print(
            f"latest {reading.kind} reading: {values} at "
            f"{reading.measured_at.isoformat(timespec='seconds')} ({reading.source})"
        )


@app.command("delete", help="Delete a site with its circuits; its chargers stay, unplaced.")
def delete(name: str, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    async def work(store: Any) -> SiteLayout:
        layout = await layout_by_name(store, name)
        await store.sites.delete_site(layout.site.id)
        return layout

    layout = run_store(config, work)
    sentence = f"deleted site {layout.site.name} and its {len(layout.circuits)} circuit(s)"
    if layout.placements:
        unplaced = ", ".join(p.charge_point_id for p in layout.placements)
        sentence += f"; no longer placed: {unplaced}"
    report(layout.site, as_json, sentence)


@app.command("add-circuit", help="Add a sub-board to a site, under the grid connection or PARENT.")
def add_circuit(
    site: str,
    name: str,
    limit: Annotated[float, typer.Option("--limit", help="Its fuse in A per phase")],
    parent: Annotated[
        str, typer.Option("--parent", help="The circuit it hangs from")
    ] = GRID_CONNECTION_NAME,
    phases: PhasesOption = 3,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    circuit_name = _checked(lambda: check_name(name, "circuit name"))
    limits = _checked(lambda: phase_limits(limit, phases))

    async def work(store: Any) -> tuple[CircuitRecord, SiteLayout]:
        layout = await layout_by_name(store, site)
        parent_circuit = circuit_named(layout, parent)
        try:
            record: CircuitRecord = await store.sites.add_circuit(
                layout.site.id,
                name=circuit_name,
                parent_id=parent_circuit.id,
                limit_a=limits,
                now=now(),
            )
        except store_errors.Conflict as exc:
            raise fail(str(exc)) from None
        return record, layout

    record, layout = run_store(config, work)
    report(
        record,
        as_json,
        f"added circuit {record.name} (id {record.id}) to site {layout.site.name} under "
        f"{parent}: {phase_text(_limits(record))}",
    )


# ---- chargedeck charge-points place|unplace|limit -------------------------------------------


def charge_points_place(
    charge_point_id: str,
    site: Annotated[str, typer.Option("--site", help="The site it is on")],
    circuit: Annotated[
        str, typer.Option("--circuit", help="The circuit it hangs on")
    ] = GRID_CONNECTION_NAME,
    phases: Annotated[
        str,
        typer.Option(
            "--phases",
            help="Wiring: L1L2L3, L2L3L1, L3L1L2 (rotated three-phase) or L1, L2, L3 "
            "(single-phase)",
        ),
    ] = DEFAULT_PHASE_ROTATION,
    priority: Annotated[
        int, typer.Option("--priority", min=-1000, max=1000, help="Higher is served first")
    ] = 0,
    mode: Annotated[str, typer.Option("--mode", help="fast, min_solar or solar")] = "fast",
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    checked = checked_charge_point_id(charge_point_id)
    rotation = _checked(lambda: check_phase_rotation(phases))
    chosen_mode = _checked(lambda: check_mode(mode))

    async def work(store: Any) -> PlacementRecord:
        layout = await layout_by_name(store, site)
        return await place(
            store,
            checked,
            circuit_named(layout, circuit),
            phase_rotation=rotation,
            priority=priority,
            mode=chosen_mode.value,
        )

    record = run_store(config, work)
    report(
        record,
        as_json,
        f"placed {record.charge_point_id} on site {site}, circuit {circuit} "
        f"({record.phase_rotation}, priority {record.priority}, mode {record.mode})",
    )


def charge_points_unplace(
    charge_point_id: str, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    checked = checked_charge_point_id(charge_point_id)

    async def work(store: Any) -> PlacementRecord | None:
        record: PlacementRecord | None = await store.sites.unplace_charger(checked)
        return record

    record = run_store(config, work)
    if record is None:
        raise fail(f"charge point {checked!r} is not placed on a site")
    report(record, as_json, f"{checked} is no longer placed on a site")


def charge_points_limit(
    charge_point_id: str,
    limit: Annotated[
        str, typer.Argument(help="16A (per phase, steps of 0.1), 11kW, or none to remove it")
    ],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    checked = checked_charge_point_id(charge_point_id)
    parsed = _checked(lambda: parse_operator_limit(limit))

    async def work(store: Any) -> ChargerLimitRecord | None:
        try:
            if parsed is None:
                if await store.charge_points.get_charge_point(checked) is None:
                    raise store_errors.NotFound(
                        f"charge point {checked!r} is not known to this CSMS"
                    )
                cleared: ChargerLimitRecord | None = await store.sites.clear_charger_limit(checked)
                return cleared
            record: ChargerLimitRecord = await store.sites.set_charger_limit(
                checked, parsed[0], parsed[1], now()
            )
        except store_errors.NotFound as exc:
            raise fail(str(exc)) from None
        return record

    record = run_store(config, work)
    if parsed is not None and record is not None:
        report(record, as_json, f"{checked}: operator limit {limit_text(record)}")
    elif as_json:
        print_json(None)
    else:
        was = "" if record is None else f" (was {limit_text(record)})"
        console.print(f"{checked}: no operator limit{was}")


def add_charge_point_commands(charge_points_app: typer.Typer) -> None:
    """Mount the placement and limit commands on ``chargedeck charge-points``."""
    charge_points_app.command(
        "place",
        help="Hang a charger on a site's circuit (default: its grid connection) with its "
        "phase wiring, priority and charging mode.",
    )(charge_points_place)
    charge_points_app.command("unplace", help="Take a charger off its site.")(charge_points_unplace)
    charge_points_app.command(
        "limit", help="Cap a charger (16A per phase, 11kW) or remove its cap (none)."
    )(charge_points_limit)
