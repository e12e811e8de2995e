"""Suite-wide rules: a test fails on an unexpected ERROR log line (STYLE rule 8)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "expect_error_log: the test provokes an ERROR log line on purpose"
    )


@pytest.fixture(autouse=True)
def _fail_on_unexpected_error_log(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    caplog.set_level(logging.INFO)
    yield
    if request.node.get_closest_marker("expect_error_log"):
        return
    errors = [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.get_records("call")
        if r.levelno >= logging.ERROR
    ]
    assert errors == [], "unexpected ERROR log lines"
