"""Load management benchmark: time of one site allocation, beside a flat-split baseline.

Issue 6 ("recompute time for one site with 1,000 chargers in a 3-level tree, target < 5 ms").
One site: a grid connection, ``--boards`` boards under it, ``--sub-boards`` sub-boards spread
over the boards; ``--sizes`` connectors (10, 100, 1,000, 5,000 by default) hang on the
sub-boards, a third three-phase (L1L2L3, L2L3L1 or L3L1L2), the rest single-phase on L1, L2 or
L3; maxima 16 or 32 A or an operator limit of 10 A; floors 6 A; whole amps or 0.1 A steps;
priorities 0-2; some paused, some charging for hours. The limits are drawn so that each level
binds somewhere: about half the sub-boards are tight, the boards and the grid connection are
below the sum of what hangs on them, and the household takes some of the grid connection.
``--limit-scale 0.25`` shrinks every limit: most cars paused (the admission path under load).

For each size and strategy, ``domain.load_management.allocate`` runs ``--repeats`` times (fewer
when ``--budget`` seconds are spent) and its median and p99 are printed beside the baseline run
on the same demands: the cheapest pass that still yields an allocation per connector (a flat
equal split of the grid connection ignoring the tree, rounded down, one ConnectorAllocation
each). The ratio reads as "how many flat passes one real allocation costs". ``safe_limits`` is
timed too. Results: a table on stdout and bench/results/load_management-latest.json.
A run takes about 15 s with the defaults.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from chargedeck.domain.load_management import (
    CircuitNode,
    ConnectorAllocation,
    ConnectorDemand,
    ConnectorKey,
    Reduction,
    Strategy,
    allocate,
    safe_limits,
)
from run import environment

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_FILE = BENCH_DIR / "results" / "load_management-latest.json"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
WIRINGS = ((0, 1, 2), (1, 2, 0), (2, 0, 1), (0,), (1,), (2,), (0,), (1,), (2,))
MAXIMA = ((16.0, "model maximum 16 A"), (32.0, "model maximum 32 A"), (10.0, "operator limit 10 A"))
TARGET_MS = 5.0
"""Issue 6's target for 1,000 connectors."""


# --------------------------------------------------------------------------------------------
# The site


def build_site(
    connectors: int, boards: int, sub_boards: int, seed: int, scale: float = 1.0
) -> tuple[list[CircuitNode], list[ConnectorDemand], dict[int, Reduction]]:
    """A 3-level tree and its demands, drawn from ``seed``; limits follow the load, times
    ``scale``."""
    rng = random.Random(seed)
    demands: list[ConnectorDemand] = []
    load = [[0.0, 0.0, 0.0] for _ in range(sub_boards)]
    for index in range(connectors):
        sub_board = rng.randrange(sub_boards)
        wiring = rng.choice(WIRINGS)
        maximum, reason = rng.choice(MAXIMA)
        for phase in wiring:
            load[sub_board][phase] += maximum
        paused = rng.random() < 0.1
        demands.append(
            ConnectorDemand(
                key=ConnectorKey(f"CP-{index:05d}", 1),
                circuit_id=100 + sub_board,
                grid_phases=wiring,
                min_current_a=6.0,
                max_current_a=maximum,
                max_reason=reason,
                step_a=1.0 if rng.random() < 0.5 else 0.1,
                priority=rng.randrange(3),
                arrived_at=NOW - timedelta(seconds=rng.randrange(60, 36_000)),
                paused_since=NOW - timedelta(seconds=rng.randrange(0, 3_600)) if paused else None,
                charging_since=None if paused else NOW - timedelta(seconds=rng.randrange(0, 9_000)),
            )
        )

    def tight(amps: Sequence[float], share: float) -> tuple[float, float, float]:
        most = max(16.0, *amps)
        limit = float(max(16, math.floor(most * share * scale)))
        return (limit, limit, limit)

    circuits: list[CircuitNode] = []
    board_load = [[0.0, 0.0, 0.0] for _ in range(boards)]
    for sub_board in range(sub_boards):
        board = sub_board % boards
        share = 0.6 if rng.random() < 0.5 else 1.5
        limit = tight(load[sub_board], share)
        circuits.append(CircuitNode(100 + sub_board, f"sub-board {sub_board}", 10 + board, limit))
        for phase in range(3):
            board_load[board][phase] += min(limit[phase], load[sub_board][phase])
    for board in range(boards):
        circuits.append(CircuitNode(10 + board, f"board {board}", 1, tight(board_load[board], 0.8)))
    root_load = [sum(board[phase] for board in board_load) for phase in range(3)]
    circuits.append(CircuitNode(1, "main", None, tight(root_load, 0.7)))
    household = max(root_load) * 0.05
    return circuits, demands, {1: Reduction((household, household * 0.8, 0.0), "household")}


def flat_split(
    circuits: Sequence[CircuitNode],
    demands: Sequence[ConnectorDemand],
    reductions: dict[int, Reduction],
) -> dict[ConnectorKey, ConnectorAllocation]:
    """The baseline: the grid connection's smallest phase budget split equally, tree ignored."""
    root = next(node for node in circuits if node.parent_id is None)
    household = reductions.get(root.circuit_id)
    budget = min(
        root.limit_a[phase] - (household.amps[phase] if household else 0.0) for phase in range(3)
    )
    share = max(0.0, budget) / max(1, len(demands))
    steps = ("flat split",)
    return {
        demand.key: ConnectorAllocation(
            demand.key, float(math.floor(min(share, demand.max_current_a))), steps
        )
        for demand in demands
    }


# --------------------------------------------------------------------------------------------
# Timing


def time_calls(call: Callable[[], object], repeats: int, budget_s: float) -> list[float]:
    """Milliseconds per call, ``repeats`` times or until ``budget_s`` is spent (at least 5)."""
    call()  # warm the caches of the interpreter
    timings: list[float] = []
    deadline = time.perf_counter() + budget_s
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            started = time.perf_counter_ns()
            call()
            timings.append((time.perf_counter_ns() - started) / 1e6)
            if len(timings) >= 5 and time.perf_counter() > deadline:
                break
            if len(timings) % 50 == 0:
                gc.collect()
    finally:
        if gc_was_enabled:
            gc.enable()
    return timings


def p99(timings: Sequence[float]) -> float:
    ordered = sorted(timings)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


def measure(arguments: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for size in arguments.sizes:
        circuits, demands, reductions = build_site(
            size, arguments.boards, arguments.sub_boards, arguments.seed, arguments.limit_scale
        )
        baseline = time_calls(
            partial(flat_split, circuits, demands, reductions), arguments.repeats, arguments.budget
        )
        base_median = statistics.median(baseline)
        rows.append(row(size, "flat split (baseline)", baseline, base_median, None))
        for strategy in Strategy:
            call = partial(allocate, circuits, demands, strategy, NOW, reductions=reductions)
            paused = sum(1 for allocation in call().values() if allocation.paused)
            timings = time_calls(call, arguments.repeats, arguments.budget)
            rows.append(row(size, f"allocate {strategy.value}", timings, base_median, paused))
        fail_safe = partial(safe_limits, circuits, demands, reductions=reductions)
        paused = sum(1 for allocation in fail_safe().values() if allocation.paused)
        timings = time_calls(fail_safe, arguments.repeats, arguments.budget)
        rows.append(row(size, "safe_limits", timings, base_median, paused))
    return rows


def row(
    size: int, what: str, timings: Sequence[float], base_median: float, paused: int | None
) -> dict[str, Any]:
    median = statistics.median(timings)
    return {
        "connectors": size,
        "what": what,
        "runs": len(timings),
        "median_ms": median,
        "p99_ms": p99(timings),
        "x_baseline": median / base_median if base_median > 0 else None,
        "paused": paused,
    }


def print_report(rows: Sequence[dict[str, Any]]) -> None:
    print()
    header = (
        f"{'connectors':>10}  {'what':<24}{'runs':>6}{'median ms':>11}{'p99 ms':>9}"
        f"{'x flat':>9}{'paused':>8}"
    )
    print(header)
    print("-" * len(header))
    for item in rows:
        ratio = f"{item['x_baseline']:.1f}" if item["x_baseline"] is not None else "-"
        paused = "" if item["paused"] is None else str(item["paused"])
        print(
            f"{item['connectors']:>10,}  {item['what']:<24}{item['runs']:>6}"
            f"{item['median_ms']:>11.3f}{item['p99_ms']:>9.3f}{ratio:>9}{paused:>8}"
        )
    at_target = [
        item for item in rows if item["connectors"] == 1000 and item["what"].startswith("allocate")
    ]
    if at_target:
        worst = max(item["median_ms"] for item in at_target)
        verdict = "met" if worst < TARGET_MS else "MISSED"
        print(
            f"\n1,000 connectors: slowest strategy median {worst:.2f} ms "
            f"(target < {TARGET_MS:g} ms: {verdict})"
        )


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[10, 100, 1_000, 5_000],
        help="connector counts, comma-separated",
    )
    parser.add_argument("--boards", type=int, default=10, help="boards under the grid connection")
    parser.add_argument("--sub-boards", type=int, default=100, help="sub-boards under the boards")
    parser.add_argument("--repeats", type=int, default=200, help="timed calls per figure at most")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per figure at most")
    parser.add_argument("--seed", type=int, default=6, help="seed of the drawn site")
    parser.add_argument(
        "--limit-scale",
        type=float,
        default=1.0,
        help="multiply every circuit limit (0.25: a site where most cars are paused)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    rows = measure(arguments)
    print_report(rows)
    results = {
        "settings": {key: value for key, value in vars(arguments).items() if key != "json"},
        "environment": environment(),
        "rows": rows,
    }
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    for path in [RESULTS_FILE, *([arguments.json] if arguments.json else [])]:
        path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nresults written to {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
