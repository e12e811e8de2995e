"""PNG plots of bench/fleet.py's results (matplotlib, no display needed).

* ``plot_latency``: the latency distribution of each server in the open-loop window (and of the
  held fleets, when measured), as cumulative share of calls against latency on a log scale;
  the p50 and p99 lines are where each curve crosses 0.5 and 0.99.
* ``plot_throughput``: the ramp: achieved against offered msgs/s per server (the diagonal is
  "everything offered was answered in the window"), and the p99 of each step against the
  bound that stops the ramp.
"""

from __future__ import annotations

from itertools import accumulate
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server or in CI

import matplotlib.pyplot as plt


def _cumulative(histogram: dict[str, Any]) -> tuple[list[float], list[float]]:
    counts = histogram.get("counts", [])
    total = sum(counts)
    if not total:
        return [], []
    lows_ms = [low / 1000 for low in histogram["bucket_lower_us"]]
    shares = [running / total for running in accumulate(counts)]
    return lows_ms, shares


def plot_latency(results: dict[str, Any], path: Path) -> None:
    servers: dict[str, Any] = results.get("servers", {})
    holds = [
        (f"{name} {hold_name[5:]}", result[hold_name])
        for name, result in servers.items()
        for hold_name in ("hold_ws", "hold_wss")
        if result.get(hold_name, {}).get("histogram")
    ]
    panels = 2 if holds else 1
    figure, axes = plt.subplots(1, panels, figsize=(7 * panels, 4.5), squeeze=False)
    settings = results.get("settings", {})
    left = axes[0][0]
    for name, result in servers.items():
        histogram = result.get("open_loop", {}).get("histogram")
        if histogram:
            x, y = _cumulative(histogram)
            left.step(x, y, where="post", label=name)
    left.set_title(
        f"open loop: {settings.get('rate', 0):,.0f} msgs/s offered, "
        f"{settings.get('chargers', 0):,} chargers"
    )
    for axis in (row[0] for row in axes):
        _latency_axes(axis)
    if holds:
        right = axes[0][1]
        for label, hold in holds:
            x, y = _cumulative(hold["histogram"])
            right.step(x, y, where="post", label=f"{label} ({hold['held']:,})")
        right.set_title(
            f"held fleet: Heartbeat + MeterValues every {settings.get('hold_interval_s', 60):g} s"
        )
        _latency_axes(right)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _latency_axes(axis: Any) -> None:
    axis.set_xscale("log")
    axis.set_xlabel("latency from scheduled send to answer (ms)")
    axis.set_ylabel("share of calls answered within")
    axis.set_ylim(0, 1.0)
    for level in (0.5, 0.99):
        axis.axhline(level, color="grey", linewidth=0.6, linestyle=":")
    axis.grid(True, which="both", linewidth=0.3)
    if axis.get_legend_handles_labels()[0]:
        axis.legend(loc="lower right")


def plot_throughput(results: dict[str, Any], path: Path) -> None:
    servers: dict[str, Any] = results.get("servers", {})
    settings = results.get("settings", {})
    figure, (rates, tails) = plt.subplots(1, 2, figsize=(13, 4.5))
    highest = 1.0
    for name, result in servers.items():
        steps = result.get("ramp", {}).get("steps", [])
        if not steps:
            continue
        offered = [step["offered_per_s"] for step in steps]
        achieved = [step["achieved_per_s"] for step in steps]
        p99_ms = [(step["overall"]["p99_us"] or 0) / 1000 for step in steps]
        highest = max(highest, *offered)
        rates.plot(offered, achieved, marker="o", label=name)
        tails.plot(offered, p99_ms, marker="o", label=name)
    rates.plot(
        [0, highest], [0, highest], color="grey", linestyle="--", linewidth=0.8, label="offered"
    )
    rates.set_xlabel("offered msgs/s")
    rates.set_ylabel("achieved msgs/s (answers in the window)")
    rates.set_title("throughput against offered load")
    tails.axhline(
        settings.get("p99_bound_ms", 100), color="red", linestyle=":", linewidth=0.8, label="bound"
    )
    tails.set_yscale("log")
    tails.set_xlabel("offered msgs/s")
    tails.set_ylabel("p99 latency (ms)")
    tails.set_title("p99 against offered load")
    for axis in (rates, tails):
        axis.grid(True, linewidth=0.3)
        axis.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
