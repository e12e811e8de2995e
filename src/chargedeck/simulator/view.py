"""What ``chargedeck simulate`` shows while it runs: one of three views of the chargers' events.

- :class:`LiveTable` (stdout is a terminal): a Rich table of the chargers, redrawn twice a
  second: connection state as the Wallbox app shows it, connector status, limit, power, energy
  and the last thing that happened.
- :class:`JsonLines` (``--json``): one JSON object per event on stdout, then the summary.
- :class:`LogLines` (neither): a line per state change, e.g.
  ``SIM-0001: Connection Rejected (401: wrong password)``.

A view gets every event (``receive_event``), each step that failed (``receive_failure``), a
``tick`` about twice a second, the summary at the end (``finish``), and ``close``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC
from typing import IO, TYPE_CHECKING, Any, Protocol

import msgspec
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from chargedeck.simulator.events import ConnectionState, EventKind, SimEvent

if TYPE_CHECKING:
    from chargedeck.simulator.fleet import FleetSummary

REFRESH_S = 0.5
"""The live table is redrawn twice a second: smooth enough to watch meter values change, cheap
enough for thousands of rows."""

_CONNECTION_STYLES: dict[str, str] = {
    ConnectionState.CONNECTED.value: "green",
    ConnectionState.CONNECTING.value: "yellow",
    ConnectionState.REJECTED.value: "bold red",
    ConnectionState.CERTIFICATE_FAILED.value: "bold red",
    ConnectionState.DISCONNECTED.value: "dim",
}


class FleetView(Protocol):
    def receive_event(self, event: SimEvent) -> None: ...

    def receive_failure(self, sentence: str) -> None: ...

    def tick(self, elapsed_s: float) -> None: ...

    def finish(self, summary: FleetSummary) -> None: ...

    def close(self) -> None:
        """End the view (also after an error); idempotent."""


def choose_view(
    charge_point_ids: list[str], duration_s: float | None, as_json: bool, out: IO[str]
) -> FleetView:
    """JSON lines with ``--json``, the live table on a terminal, else log lines."""
    if as_json:
        return JsonLines(out)
    if out.isatty():
        return LiveTable(charge_point_ids, duration_s, Console(file=out, highlight=False))
    return LogLines(out)


# ---- sentences -------------------------------------------------------------------------------


def event_sentence(event: SimEvent) -> str:
    """What happened, in the words of the log lines and the live table's last column."""
    d = event.detail
    connector = "charger" if d.get("connector_id") == 0 else f"connector {d.get('connector_id')}"
    if event.kind is EventKind.CONNECTION:
        reason = d.get("reason")
        return f"{d.get('state')}" + (f" ({reason})" if reason else "")
    if event.kind is EventKind.REGISTRATION:
        interval = d.get("interval")
        suffix = "" if interval is None else f" (interval {interval} s)"
        return f"BootNotification {d.get('status')}{suffix}"
    if event.kind is EventKind.STATUS:
        error_code = d.get("error_code")
        error = "" if error_code in (None, "NoError") else f" ({error_code})"
        return f"{connector} {d.get('status')}{error}"
    if event.kind is EventKind.TRANSACTION:
        return _transaction_sentence(d, connector)
    if event.kind is EventKind.LIMIT:
        limit = d.get("limit_a")
        return f"{connector} limit " + ("none" if limit is None else f"{limit:g} A")
    if event.kind is EventKind.METER:
        return f"{connector} {_kw(d.get('power_w'))} kW, {_kwh(d.get('energy_wh'))} kWh" + (
            "" if d.get("soc") is None else f", SoC {float(d['soc']):.0%}"
        )
    if event.kind is EventKind.COMMAND:
        return f"answered {d.get('action')}: {d.get('status')}"
    if event.kind is EventKind.FILE_TRANSFER:
        return f"{d.get('kind')} {d.get('status')}"
    if event.kind is EventKind.QUEUED:
        done = "replayed" if d.get("replayed") else "kept for later"
        return f"{d.get('action')} {done} ({d.get('queued')} waiting)"
    return f"{event.kind}: {d}"


def _transaction_sentence(d: dict[str, Any], connector: str) -> str:
    action = d.get("action")
    number = d.get("transaction_id")
    text = f"transaction {'' if number is None else f'{number} '}{action} on {connector}"
    facts = [
        f"{name} {d[key]}"
        for key, name in (("id_tag", "id tag"), ("meter_wh", "meter Wh"), ("reason", "reason"))
        if d.get(key) is not None
    ]
    return text + (f" ({', '.join(facts)})" if facts else "")


def _kw(watts: Any) -> str:
    return "-" if watts is None else f"{float(watts) / 1000:.1f}"


def _kwh(watt_hours: Any) -> str:
    return "-" if watt_hours is None else f"{float(watt_hours) / 1000:.2f}"


def summary_sentences(summary: FleetSummary) -> list[str]:
    """The closing lines of a run (log lines and the live table)."""
    lines = [
        f"{summary.chargers} charger{'s' if summary.chargers != 1 else ''}: "
        f"{summary.connected} connected, {len(summary.rejected)} rejected; transactions "
        f"{summary.transactions_started} started, {summary.transactions_stopped} stopped"
        + (f", {summary.transactions_refused} refused" if summary.transactions_refused else "")
        + f"; {summary.energy_wh / 1000:.2f} kWh; messages queued offline "
        f"{summary.messages_queued}, replayed {summary.messages_replayed}; "
        f"{summary.duration_s:.1f} s"
    ]
    lines.extend(
        f"rejected: {id_list(ids)}: {why}" for why, ids in rejections_by_reason(summary).items()
    )
    if summary.failures:
        lines.append(f"{len(summary.failures)} step(s) not done as planned (see above)")
    return lines


def rejections_by_reason(summary: FleetSummary) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for charge_point_id, why in summary.rejected.items():
        groups.setdefault(why, []).append(charge_point_id)
    return groups


def id_list(ids: list[str], shown: int = 3) -> str:
    """``SIM-0001, SIM-0002 and 8 more``."""
    if len(ids) <= shown:
        return ", ".join(ids)
    return f"{', '.join(ids[:shown])} and {len(ids) - shown} more"


# ---- --json ----------------------------------------------------------------------------------


def event_json(event: SimEvent) -> dict[str, Any]:
    """``charge_point_id``, ``kind``, ``at`` (ISO 8601, UTC) and the event's detail fields."""
    at = event.at if event.at.tzinfo is not None else event.at.replace(tzinfo=UTC)
    record: dict[str, Any] = {
        "charge_point_id": event.charge_point_id,
        "kind": event.kind.value,
        "at": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
    for key, value in event.detail.items():
        # FILE_TRANSFER has a detail ``kind`` (firmware / diagnostics): kept as detail_kind.
        record[f"detail_{key}" if key in ("charge_point_id", "kind", "at") else key] = value
    return record


def _encode(value: Any) -> str:
    return msgspec.json.encode(value, enc_hook=str).decode()


class _Lines:
    """A view that writes lines to ``out``; a step that failed goes to stderr as a warning,
    so that ``out`` holds only what the view is for."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out

    def write(self, line: str) -> None:
        self._out.write(line + "\n")
        self._out.flush()

    def receive_failure(self, sentence: str) -> None:
        sys.stderr.write(f"warning: {sentence}\n")

    def tick(self, elapsed_s: float) -> None:
        pass

    def close(self) -> None:
        pass


class JsonLines(_Lines):
    """One JSON object per event, then ``{"kind": "summary", ...}``."""

    def receive_event(self, event: SimEvent) -> None:
        self.write(_encode(event_json(event)))

    def finish(self, summary: FleetSummary) -> None:
        self.write(_encode({"kind": "summary", **summary.as_dict()}))


# ---- log lines -------------------------------------------------------------------------------


_RETRYING_FROM = frozenset(
    {ConnectionState.CONNECTING, ConnectionState.REJECTED, ConnectionState.CERTIFICATE_FAILED}
)


class LogLines(_Lines):
    """A line per state change. Meter values are not state changes: they are left out. Nor is
    a retry that ends as the last one did: a charger refused every 30 s says so once, until
    something changes, as the Wallbox app keeps showing Connection Rejected."""

    def __init__(self, out: IO[str]) -> None:
        super().__init__(out)
        self._shown: dict[str, tuple[str, str | None]] = {}

    def _is_news(self, event: SimEvent) -> bool:
        if event.kind is EventKind.METER:
            return False
        if event.kind is not EventKind.CONNECTION:
            return True
        state, reason = str(event.detail.get("state")), event.detail.get("reason")
        last = self._shown.get(event.charge_point_id)
        retrying = last is not None and last[0] in _RETRYING_FROM
        if state == ConnectionState.CONNECTING and not reason and retrying:
            return False  # a new attempt: shown when it ends
        if last == (state, reason):
            return False
        self._shown[event.charge_point_id] = (state, reason)
        return True

    def receive_event(self, event: SimEvent) -> None:
        if self._is_news(event):
            self.write(f"{event.charge_point_id}: {event_sentence(event)}")

    def finish(self, summary: FleetSummary) -> None:
        for line in summary_sentences(summary):
            self.write(line)


# ---- the live table --------------------------------------------------------------------------


@dataclass
class ChargerRow:
    """What the table shows of one charger, kept from its events."""

    connection: str = "-"
    statuses: dict[int, str] = field(default_factory=dict)
    limits: dict[int, float | None] = field(default_factory=dict)
    power_w: dict[int, float] = field(default_factory=dict)
    energy_wh: dict[int, float] = field(default_factory=dict)
    last: str = ""

    def receive(self, event: SimEvent) -> None:
        d = event.detail
        connector_id = int(d.get("connector_id", 1) or 0)
        if event.kind is EventKind.CONNECTION:
            self.connection = str(d.get("state"))
        elif event.kind is EventKind.STATUS and connector_id > 0:
            self.statuses[connector_id] = str(d.get("status"))
        elif event.kind is EventKind.LIMIT:
            limit = d.get("limit_a")
            self.limits[connector_id] = None if limit is None else float(limit)
        elif event.kind is EventKind.METER:
            if d.get("power_w") is not None:
                self.power_w[connector_id] = float(d["power_w"])
            if d.get("energy_wh") is not None:
                self.energy_wh[connector_id] = float(d["energy_wh"])
        if event.kind is not EventKind.METER:
            self.last = event_sentence(event)

    @property
    def charging(self) -> bool:
        return "Charging" in self.statuses.values()


def _per_connector(values: dict[int, str]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return next(iter(values.values()))
    return " / ".join(f"{c}: {v}" for c, v in sorted(values.items()))


class LiveTable:
    """The chargers as a table, redrawn on each ``tick`` (rows past the terminal's height are
    counted, not drawn)."""

    def __init__(
        self, charge_point_ids: list[str], duration_s: float | None, console: Console
    ) -> None:
        self._rows = {charge_point_id: ChargerRow() for charge_point_id in charge_point_ids}
        self._duration_s = duration_s
        self._console = console
        self._elapsed_s = 0.0
        self._live = Live(
            self._render(), console=console, auto_refresh=False, redirect_stderr=False
        )
        self._live.start()

    def receive_event(self, event: SimEvent) -> None:
        row = self._rows.get(event.charge_point_id)
        if row is not None:
            row.receive(event)

    def receive_failure(self, sentence: str) -> None:
        self._live.console.print(Text(f"warning: {sentence}", style="yellow"))

    def tick(self, elapsed_s: float) -> None:
        self._elapsed_s = elapsed_s
        self._live.update(self._render(), refresh=True)

    def finish(self, summary: FleetSummary) -> None:
        self._live.update(self._render(), refresh=True)
        self._live.stop()
        for line in summary_sentences(summary):
            self._console.print(Text(line))

    def close(self) -> None:
        if self._live.is_started:
            self._live.stop()

    def _render(self) -> Group:
        table = Table(
            "charger", "connection", "connector", "limit A", "power kW", "energy kWh", "last event"
        )
        room = max(self._console.size.height - 8, 3)
        rows = list(self._rows.items())
        for charge_point_id, row in rows[:room]:
            table.add_row(
                charge_point_id,
                Text(row.connection, style=_CONNECTION_STYLES.get(row.connection, "")),
                _per_connector(row.statuses),
                _per_connector({c: "-" if a is None else f"{a:g}" for c, a in row.limits.items()}),
                _kw(sum(row.power_w.values()) if row.power_w else None),
                _kwh(sum(row.energy_wh.values()) if row.energy_wh else None),
                row.last,
            )
        if len(rows) > room:
            table.add_row(f"... {len(rows) - room} more", "", "", "", "", "", "")
        return Group(table, Text(self._caption(), style="dim"))

    def _caption(self) -> str:
        connected = sum(1 for row in self._rows.values() if row.connection == "Connected")
        charging = sum(1 for row in self._rows.values() if row.charging)
        elapsed = f"{self._elapsed_s:.0f} s"
        if self._duration_s is None:
            elapsed += " (Ctrl-C stops)"
        else:
            elapsed += f" of {self._duration_s:g} s"
        return f"{connected} of {len(self._rows)} connected, {charging} charging; {elapsed}"
