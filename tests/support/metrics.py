"""Scraping a running server's ``GET /metrics`` as Prometheus would, read with prometheus_client's
own text-format parser (shared by the metrics and the webhook tests)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.server import ServerProcess

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def metrics_url(server: ServerProcess) -> str:
    return f"http://127.0.0.1:{server.http_port}/metrics"


def scrape(server: ServerProcess, headers: dict[str, str] | None = None) -> Samples:
    """Every sample of the document, by (name, labels), parsed by prometheus_client."""
    answer = httpx.get(metrics_url(server), headers=headers or server.auth_headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def wait_until(server: ServerProcess, check: Callable[[Samples], bool]) -> Samples:
    """Scrape until ``check`` holds (events and the message log are counted in the background)."""
    deadline = time.monotonic() + 5.0
    while True:
        samples = scrape(server)
        if check(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.05)
