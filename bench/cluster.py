"""Cluster benchmark (issue 9): 1, 2 and 3 nodes behind HAProxy on one PostgreSQL and NATS.

For each node count, on a fresh PostgreSQL database and fresh NATS names:

1. *open loop*: bench/loadgen.py --mode open through HAProxy (the same fleet and rate for every
   node count): throughput, p50/p99, and the CPU of each node over exactly the measured window
   (psutil), as µs per message of the whole fleet (sum over nodes) and per node;
2. with 2+ nodes, *command routing*: one charger connected straight to the last node, then
   ``--commands`` ChangeAvailability commands through the first node's API (routed over NATS)
   and as many through the last node's own API (local): p50/p99 of each, measured by the client;
3. with 2+ nodes, *node death*: ``--roamers`` chargers through HAProxy that reconnect 0.1 s after
   losing their connection; the last node is SIGKILLed; the time until every charger it held
   has reconnected (through HAProxy, to the others) and had its BootNotification answered.

On a 2-core machine the nodes compete for the same cores (and with PostgreSQL, NATS, HAProxy
and the generator): throughput cannot grow with the node count here; the CPU µs per message per
node shows what each node costs, which is what separate machines would scale on.

    .venv/bin/python bench/cluster.py                      # ~2 min
    .venv/bin/python bench/cluster.py --nodes 1,3 --chargers 500 --rate 1000

Every child is started and stopped by its pid; databases and NATS buckets are removed after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import websockets

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))  # tests.support and tests.cluster: the same helpers

from tests.cluster.conftest import Cluster, Haproxy  # noqa: E402

from fleet import Children as _Children  # noqa: E402
from fleet import Generator, register_id_tags  # noqa: E402

ID_TAGS = 100


def cpu_s(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def open_loop(
    children: _Children, port: int, node_pids: list[int], arguments: argparse.Namespace
) -> dict[str, Any]:
    argv = [
        "--mode", "open", "--port", str(port), "--chargers", str(arguments.chargers),
        "--rate", str(arguments.rate), "--warmup", str(arguments.warmup),
        "--duration", str(arguments.duration), "--id-tags", str(ID_TAGS),
        "--concurrency", "50",
    ]  # fmt: skip
    generator = Generator(
        children, argv, arguments.chargers / 20 + arguments.warmup + arguments.duration + 60
    )
    try:
        generator.expect("connected")
        generator.expect("window")
        before = [cpu_s(pid) for pid in node_pids]
        result = generator.expect("open")
        after = [cpu_s(pid) for pid in node_pids]
        generator.expect("done")
    finally:
        generator.finish()
    answered = result["answered_in_window"]
    per_node_cpu = [a - b for a, b in zip(after, before, strict=True)]
    return {
        "msgs_per_s": result["achieved_per_s"],
        "p50_ms": result["overall"]["p50_us"] / 1000,
        "p99_ms": result["overall"]["p99_us"] / 1000,
        "errors": result["errors"],
        "unanswered": result["unanswered"],
        "cpu_us_per_msg_all_nodes": sum(per_node_cpu) * 1e6 / answered if answered else None,
        # HAProxy spreads the chargers evenly: each node handles answered / nodes messages.
        "cpu_us_per_msg_per_node": [
            c * 1e6 * len(node_pids) / answered if answered else None for c in per_node_cpu
        ],
        "node_core_percent": [c * 100 / arguments.duration for c in per_node_cpu],
    }


async def answer_calls(ws: Any) -> None:
    """A charger that accepts whatever it is asked (ChangeAvailability here)."""
    async for frame in ws:
        message = json.loads(frame)
        if message[0] == 2:
            await ws.send(json.dumps([3, message[1], {"status": "Accepted"}]))


async def boot(ws: Any) -> None:
    payload = {"chargePointVendor": "B", "chargePointModel": "C"}
    await ws.send(json.dumps([2, "b", "BootNotification", payload]))
    while json.loads(await ws.recv())[1] != "b":
        pass


async def command_latency(
    ocpp_url: str, asking: list[Any], commands: int
) -> dict[str, dict[str, float]]:
    """``commands`` ChangeAvailability through each asking node's API to one charger."""
    figures: dict[str, dict[str, float]] = {}
    async with websockets.connect(f"{ocpp_url}/ROUTED-1", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        await boot(ws)
        responder = asyncio.create_task(answer_calls(ws))
        await asyncio.sleep(0.5)  # presence written and mirrored
        clients = {
            label: httpx.AsyncClient(base_url=node.api_url, headers=node.auth_headers, timeout=30)
            for label, node in asking
        }
        samples: dict[str, list[float]] = {label: [] for label in clients}
        try:
            for _ in range(commands):  # interleaved: the machine's noise hits both alike
                for label, http in clients.items():
                    started = time.perf_counter()
                    answer = await http.post(
                        "/charge-points/ROUTED-1/commands/ChangeAvailability",
                        json={"connectorId": 0, "type": "Operative"},
                    )
                    samples[label].append((time.perf_counter() - started) * 1000)
                    if answer.status_code != 200:
                        raise RuntimeError(f"{label}: {answer.status_code} {answer.text}")
            for label, values in samples.items():
                figures[label] = {
                    "p50_ms": statistics.median(values),
                    "p99_ms": quantile(values, 0.99),
                }
        finally:
            for http in clients.values():
                await http.aclose()
            responder.cancel()
    return figures


async def node_death(proxy: Haproxy, victim: Any, roamers: int) -> dict[str, Any]:
    """Chargers through HAProxy; kill ``victim``; time until its chargers are back elsewhere."""
    lost_at: dict[str, float] = {}
    back_after: dict[str, float] = {}
    connected: set[str] = set()

    async def roam(charge_point_id: str) -> None:
        while True:
            try:
                async with websockets.connect(
                    f"{proxy.ocpp_url}/{charge_point_id}",
                    subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                ) as ws:
                    await boot(ws)
                    connected.add(charge_point_id)
                    if charge_point_id in lost_at:
                        back_after[charge_point_id] = time.perf_counter() - lost_at[charge_point_id]
                    await answer_calls(ws)
            except (OSError, websockets.exceptions.WebSocketException):
                pass
            connected.discard(charge_point_id)
            lost_at.setdefault(charge_point_id, time.perf_counter())
            await asyncio.sleep(0.1)

    tasks = [asyncio.create_task(roam(f"ROAM-{i:05d}")) for i in range(roamers)]
    try:
        deadline = time.monotonic() + 60
        while len(connected) < roamers and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        killed_at = time.perf_counter()
        victim.kill()
        await asyncio.sleep(0.5)
        moved = set(lost_at)
        deadline = time.monotonic() + 60
        while set(back_after) != moved and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        last_back = max((lost_at[c] + back_after[c] for c in back_after), default=killed_at)
        return {
            "chargers_on_killed_node": len(moved),
            "all_back_after_s": last_back - killed_at,
            "not_back": len(moved - set(back_after)),
        }
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def measure(count: int, arguments: argparse.Namespace, folder: Path) -> dict[str, Any]:
    cluster = Cluster()
    children = _Children()
    proxy: Haproxy | None = None
    try:
        register_id_tags(cluster.database_url, ID_TAGS)
        nodes = [cluster.start(f"n{i + 1}") for i in range(count)]
        proxy = Haproxy(folder, {f"n{i + 1}": node.ocpp_port for i, node in enumerate(nodes)})
        figures: dict[str, Any] = {
            "open": open_loop(children, proxy.port, [n.process.pid for n in nodes], arguments)
        }
        if count >= 2:
            figures["commands"] = asyncio.run(
                command_latency(
                    nodes[-1].ocpp_url,
                    [("remote", nodes[0]), ("local", nodes[-1])],
                    arguments.commands,
                )
            )
            figures["death"] = asyncio.run(node_death(proxy, nodes[-1], arguments.roamers))
        return figures
    finally:
        if proxy is not None:
            proxy.stop()
        children.stop_all()
        with contextlib.suppress(AssertionError):  # a bench reports, the tests assert
            cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="1,2,3", help="node counts to measure")
    parser.add_argument("--chargers", type=int, default=300)
    parser.add_argument("--rate", type=float, default=600.0, help="msgs/s offered in total")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--commands", type=int, default=100, help="per node, routing latency")
    parser.add_argument("--roamers", type=int, default=90, help="chargers for the node death")
    parser.add_argument("--json", default="", help="also write the figures to this file")
    arguments = parser.parse_args()
    results: dict[str, Any] = {}
    folder = Path(subprocess.check_output(["mktemp", "-d"], text=True).strip())
    for count in (int(n) for n in arguments.nodes.split(",")):
        print(f"--- {count} node(s)", flush=True)
        results[str(count)] = figures = measure(count, arguments, folder)
        print(json.dumps(figures, indent=1), flush=True)
    print()
    print("nodes  msgs/s  p50 ms  p99 ms  CPU µs/msg (all nodes)  µs/msg per node  core % per node")
    for count, figures in results.items():
        o = figures["open"]
        cores = ", ".join(f"{c:.0f}" for c in o["node_core_percent"])
        each = ", ".join(f"{c or 0:.0f}" for c in o["cpu_us_per_msg_per_node"])
        print(
            f"{count:>5}  {o['msgs_per_s']:6.0f}  {o['p50_ms']:6.1f}  {o['p99_ms']:6.1f}  "
            f"{o['cpu_us_per_msg_all_nodes'] or 0:22.0f}  {each:>15}  {cores}"
        )
    for count, figures in results.items():
        if "commands" in figures:
            c, d = figures["commands"], figures["death"]
            print(
                f"{count} nodes: command p50/p99 remote {c['remote']['p50_ms']:.1f}/"
                f"{c['remote']['p99_ms']:.1f} ms, local {c['local']['p50_ms']:.1f}/"
                f"{c['local']['p99_ms']:.1f} ms; node death: {d['chargers_on_killed_node']} "
                f"chargers all back after {d['all_back_after_s']:.2f} s ({d['not_back']} not back)"
            )
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
