"""API handlers the web UI plots and shows (issue 10): a session's power and energy over time,
a site's live load per circuit and phase against its limits, and the effective settings without
secrets. Read-only; routes are rows of ``ROUTES`` in app.py.

The session series comes from the stored MeterValues (OCPP 1.6 §7.33 SampledValue, read with
``domain/meter_values.meter_summary``); the site load from what load control keeps in memory
(``LoadControl.connector_loads``) and the site's stored layout and readings.
"""

from __future__ import annotations

import ast
import functools
import inspect
import itertools
import urllib.parse
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from chargedeck import config
from chargedeck.config import Settings
from chargedeck.domain.ids import TransactionId
from chargedeck.domain.masking import MASK
from chargedeck.domain.meter_values import meter_summary
from chargedeck.server.api.auth import Principal
from chargedeck.server.api.common import (
    JSON_DECODER,
    ApiHandlers,
    ApiProblem,
    id_number,
    json_response,
)
from chargedeck.server.api.views import View
from chargedeck.store import errors as store_errors
from chargedeck.store.records import MeterValueRecord
from chargedeck.store.sites import CircuitRecord, SiteLayout, SiteReadingRecord

PHASE_NAMES = ("L1", "L2", "L3")

DEFAULT_MAX_POINTS = 2000
"""Points of a session series answered by default: a 10 h session sampled every 10 s has 3,600;
2,000 is about one point per pixel of a wide plot."""
MAX_POINTS_LIMIT = 20000

# ---- views ----------------------------------------------------------------------------------


class SeriesPointView(View, frozen=True, kw_only=True):
    """One MeterValue of a session, in SI units; null where the charger did not send it."""

    at: datetime
    power_w: float | None
    power_derived: bool
    """True when the charger sent no Power.Active.Import and ``power_w`` is the energy register's
    rise since the previous point over the time between them."""
    energy_wh: float | None
    """Energy charged since the session started: the register minus meter_start."""
    register_wh: float | None
    """Energy.Active.Import.Register as the charger sent it."""
    current_a: tuple[float | None, float | None, float | None] | None
    """Current.Import per phase L1, L2, L3."""
    soc_percent: float | None


class TransactionSeriesView(View, frozen=True, kw_only=True):
    """A session's power and energy over time, oldest first, for plotting."""

    transaction_id: int
    charge_point_id: str
    connector_id: int
    meter_start: int
    started_at: datetime
    stopped_at: datetime | None
    sampled: int
    """Meter values stored for the session; more than ``len(points)`` when thinned."""
    points: list[SeriesPointView]


class PhaseLoadView(View, frozen=True, kw_only=True):
    """One phase of a circuit: its limit, what load control gave the connectors under it, and
    what they draw (A)."""

    phase: str
    limit_a: float
    allocated_a: float
    measured_a: float


class CircuitLoadView(View, frozen=True, kw_only=True):
    """A circuit with the load of everything under it (its sub-circuits included)."""

    circuit_id: int
    parent_id: int | None
    name: str
    depth: int
    """0 for the grid connection, 1 for a sub-board under it, ..."""
    phases: list[PhaseLoadView]
    charge_point_ids: list[str]
    """Chargers hanging directly on this circuit."""


class ConnectorLoadView(View, frozen=True, kw_only=True):
    """One connector of a charger on the site: its phases on the grid, limit and draw."""

    charge_point_id: str
    connector_id: int
    circuit_id: int
    phases: list[str]
    """The grid phases its charger phases L1, L2, L3 are wired to (placement rotation)."""
    active: bool
    limit_a: float | None
    measured_a: list[float]
    """Current.Import per grid phase of ``phases``; empty when it sent none or is idle."""


class InputReadingView(View, frozen=True, kw_only=True):
    """The latest grid (A per phase, import positive) or solar (W) reading, and whether it is
    too old for load control to use (older than the site's meter_stale_after_s)."""

    kind: str
    l1_a: float | None
    l2_a: float | None
    l3_a: float | None
    power_w: float | None
    source: str
    measured_at: datetime
    stale: bool


class SiteLoadView(View, frozen=True, kw_only=True):
    """A site's live load: per circuit and phase, limit against allocated and measured current."""

    site_id: int
    name: str
    at: datetime
    circuits: list[CircuitLoadView]
    """The tree from the grid connection down, parents before children."""
    connectors: list[ConnectorLoadView]
    grid: InputReadingView | None
    solar: InputReadingView | None


class SettingView(View, frozen=True, kw_only=True):
    """One effective setting: its value (secrets as ***), default and meaning."""

    key: str
    value: Any
    default: Any
    changed: bool
    description: str


class SettingsView(View, frozen=True, kw_only=True):
    items: list[SettingView]


# ---- session series -------------------------------------------------------------------------


def _samples(record: MeterValueRecord) -> list[tuple[str | None, str | None, str | None, str]]:
    """The stored sampledValue array (OCPP camelCase, as sent) as (measurand, unit, phase,
    value); entries without a text value are skipped."""
    decoded = JSON_DECODER.decode(record.sampled_values)
    samples: list[tuple[str | None, str | None, str | None, str]] = []
    if not isinstance(decoded, list):
        return samples
    for entry in decoded:
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
            continue
        samples.append(
            (entry.get("measurand"), entry.get("unit"), entry.get("phase"), entry["value"])
        )
    return samples


def series_points(rows: list[MeterValueRecord], meter_start: int) -> list[SeriesPointView]:
    """One point per stored MeterValue, oldest first; a power the charger did not send is
    derived from the energy register's rise (many chargers send only the register)."""
    points: list[SeriesPointView] = []
    previous: tuple[datetime, float] | None = None
    for row in rows:
        power_w, register_wh, current_a, soc = meter_summary(_samples(row))
        derived = False
        if register_wh is not None:
            if power_w is None and previous is not None:
                seconds = (row.timestamp - previous[0]).total_seconds()
                if seconds > 0 and register_wh >= previous[1]:
                    power_w = (register_wh - previous[1]) * 3600.0 / seconds
                    derived = True
            previous = (row.timestamp, register_wh)
        points.append(
            SeriesPointView(
                at=row.timestamp,
                power_w=power_w,
                power_derived=derived,
                energy_wh=None if register_wh is None else register_wh - meter_start,
                register_wh=register_wh,
                current_a=current_a,
                soc_percent=soc,
            )
        )
    return points


def thinned(points: list[SeriesPointView], max_points: int) -> list[SeriesPointView]:
    """At most ``max_points`` evenly spaced points, always keeping the last one."""
    if len(points) <= max_points:
        return points
    step = len(points) / (max_points - 1)
    kept = [points[int(i * step)] for i in range(max_points - 1)]
    kept.append(points[-1])
    return kept


def _max_points(request: Request) -> int:
    text = request.query_params.get("max_points")
    if text is None:
        return DEFAULT_MAX_POINTS
    value = int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else 0
    if not 2 <= value <= MAX_POINTS_LIMIT:
        raise ApiProblem(
            HTTPStatus.BAD_REQUEST,
            "invalid-query",
            f"max_points={text[:16]!r}: expected a number from 2 to {MAX_POINTS_LIMIT}",
        )
    return value


# ---- site load ------------------------------------------------------------------------------


def _limit_triple(circuit: CircuitRecord) -> tuple[float, float, float]:
    return (circuit.limit_l1_a, circuit.limit_l2_a, circuit.limit_l3_a)


def _tree_order(circuits: list[CircuitRecord]) -> list[tuple[CircuitRecord, int]]:
    """Circuits from the grid connection down, parents before children, with their depth."""
    children: dict[int | None, list[CircuitRecord]] = {}
    for circuit in circuits:
        children.setdefault(circuit.parent_id, []).append(circuit)
    ordered: list[tuple[CircuitRecord, int]] = []

    def visit(circuit: CircuitRecord, depth: int) -> None:
        ordered.append((circuit, depth))
        for child in sorted(children.get(circuit.id, []), key=lambda c: (c.name, c.id)):
            visit(child, depth + 1)

    for root in children.get(None, []):
        visit(root, 0)
    return ordered


def _per_grid_phase(grid_phases: tuple[int, ...], amps: tuple[float, ...]) -> list[float]:
    """A connector's figures per charger phase laid on its grid phases: one figure counts on
    every phase it is wired to (OCPP 1.6 §7.31: a value without a phase)."""
    if len(amps) == 1:
        return [amps[0]] * len(grid_phases)
    return [amps[i] if i < len(amps) else 0.0 for i in range(len(grid_phases))]


def _input_view(
    record: SiteReadingRecord | None, now: datetime, stale_after_s: int
) -> InputReadingView | None:
    if record is None:
        return None
    return InputReadingView(
        kind=record.kind,
        l1_a=record.l1_a,
        l2_a=record.l2_a,
        l3_a=record.l3_a,
        power_w=record.power_w,
        source=record.source,
        measured_at=record.measured_at,
        stale=now - record.measured_at > timedelta(seconds=stale_after_s),
    )


# ---- settings -------------------------------------------------------------------------------


@functools.cache
def _setting_descriptions() -> dict[str, str]:
    """Each setting's docstring from config.py (the text under its field), one line."""
    tree = ast.parse(inspect.getsource(Settings))
    found: dict[str, str] = {}
    body = tree.body[0].body if isinstance(tree.body[0], ast.ClassDef) else []
    for node, following in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            found[node.target.id] = " ".join(following.value.value.split())
    return found


def shown_setting(key: str, value: Any) -> Any:
    """A setting as an operator may see it: secret keys masked, and the password of any URL
    (database_url=postgresql://user:PASSWORD@host) replaced by ***."""
    if key in config._SECRET_KEYS and value:
        return MASK
    if isinstance(value, str) and "://" in value:
        parts = urllib.parse.urlsplit(value)
        if parts.password is not None:
            host = parts.netloc.rsplit("@", 1)[1]
            user = parts.username or ""
            return parts._replace(netloc=f"{user}:{MASK}@{host}").geturl()
    return value


def settings_view(settings: Settings) -> SettingsView:
    descriptions = _setting_descriptions()
    defaults = Settings()
    items = []
    for field in msgspec.structs.fields(Settings):
        value = msgspec.to_builtins(getattr(settings, field.name))
        default = msgspec.to_builtins(getattr(defaults, field.name))
        items.append(
            SettingView(
                key=field.name,
                value=shown_setting(field.name, value),
                default=shown_setting(field.name, default),
                changed=value != default,
                description=descriptions.get(field.name, ""),
            )
        )
    return SettingsView(items=items)


# ---- handlers -------------------------------------------------------------------------------


class UiDataHandlers(ApiHandlers):
    """Session series, site load and settings for the web UI's plots and pages."""

    async def transaction_series(self, request: Request, caller: Principal) -> Response:
        text: str = request.path_params["transaction_id"]
        transaction_id = TransactionId(id_number(text, "transaction-id", ""))
        max_points = _max_points(request)
        store = self.services.store.transactions
        record = await store.get_transaction(transaction_id)
        if record is None:
            raise ApiProblem(HTTPStatus.NOT_FOUND, "unknown-transaction", f"no transaction {text}")
        rows = [
            row
            for row in await store.meter_values_for_transaction(record.id)
            if row.charge_point_id == record.charge_point_id
        ]
        points = series_points(rows, record.meter_start)
        return json_response(
            TransactionSeriesView(
                transaction_id=record.id,
                charge_point_id=record.charge_point_id,
                connector_id=record.connector_id,
                meter_start=record.meter_start,
                started_at=record.started_at,
                stopped_at=record.stopped_at,
                sampled=len(points),
                points=thinned(points, max_points),
            )
        )

    async def site_load(self, request: Request, caller: Principal) -> Response:
        text: str = request.path_params["site_id"]
        site_id = id_number(text, "site-id", "")
        try:
            layout: SiteLayout = await self.services.store.sites.layout(site_id)
        except store_errors.NotFound as exc:
            raise ApiProblem(HTTPStatus.NOT_FOUND, "unknown-site", str(exc)) from None
        now = self.services.clock.now()
        ordered = _tree_order(layout.circuits)
        parent = {c.id: c.parent_id for c in layout.circuits}
        allocated = {c.id: [0.0, 0.0, 0.0] for c in layout.circuits}
        measured = {c.id: [0.0, 0.0, 0.0] for c in layout.circuits}
        connectors: list[ConnectorLoadView] = []
        load_control = self.services.load_control
        placements = sorted(layout.placements, key=lambda p: p.charge_point_id)
        for placement in placements:
            for load in load_control.connector_loads(placement.charge_point_id):
                # The placement is the stored truth; load control may not have reloaded yet.
                circuit_id = placement.circuit_id
                grid_phases = load.grid_phases
                draw = _per_grid_phase(grid_phases, load.import_a) if load.import_a else []
                given = load.limit_a or 0.0
                ancestor: int | None = circuit_id
                while ancestor is not None and ancestor in allocated:
                    for i, phase in enumerate(grid_phases):
                        allocated[ancestor][phase] += given
                        if draw:
                            measured[ancestor][phase] += draw[i]
                    ancestor = parent[ancestor]
                connectors.append(
                    ConnectorLoadView(
                        charge_point_id=placement.charge_point_id,
                        connector_id=load.connector_id,
                        circuit_id=circuit_id,
                        phases=[PHASE_NAMES[p] for p in grid_phases],
                        active=load.active,
                        limit_a=load.limit_a,
                        measured_a=draw,
                    )
                )
        on_circuit: dict[int, list[str]] = {}
        for placement in placements:
            on_circuit.setdefault(placement.circuit_id, []).append(placement.charge_point_id)
        circuits = [
            CircuitLoadView(
                circuit_id=circuit.id,
                parent_id=circuit.parent_id,
                name=circuit.name,
                depth=depth,
                phases=[
                    PhaseLoadView(
                        phase=PHASE_NAMES[i],
                        limit_a=_limit_triple(circuit)[i],
                        allocated_a=round(allocated[circuit.id][i], 2),
                        measured_a=round(measured[circuit.id][i], 2),
                    )
                    for i in range(3)
                ],
                charge_point_ids=on_circuit.get(circuit.id, []),
            )
            for circuit, depth in ordered
        ]
        readings = {r.kind: r for r in layout.readings}
        stale_after = layout.site.meter_stale_after_s
        return json_response(
            SiteLoadView(
                site_id=layout.site.id,
                name=layout.site.name,
                at=now,
                circuits=circuits,
                connectors=connectors,
                grid=_input_view(readings.get("grid"), now, stale_after),
                solar=_input_view(readings.get("solar"), now, stale_after),
            )
        )

    async def effective_settings(self, request: Request, caller: Principal) -> Response:
        return json_response(settings_view(self.services.settings))
