"""schemathesis against a live ``chargedeck serve``: every operation of the served OpenAPI
document, fed generated valid and invalid requests (path, query and body), never answers 5xx,
never answers outside its documented status codes, content types and schemas, refuses what its
schema refuses, answers 405 with Allow, 401 without credentials, and keeps what was created or
deleted (the stateful phase follows the links schemathesis infers between operations).

Two passes, each one run of schemathesis' own runner (``st run``) over every operation:

- *any path values*: path parameters generated too, so unknown ids, bad ids and odd characters
  meet the 400/404 paths of every handler;
- *known resources*: path parameters fixed to a registered, connected charger (a PyPI ``ocpp``
  charger that answers the Core commands), its transaction, a site and a template, so the
  generated bodies and queries reach the handlers' logic and the charger.

Deterministic (``--generation-deterministic``) and bounded (``--max-examples``) to stay well
under three minutes on two cores. Excluded: text/event-stream operations (an endless answer is
not a case for a request/response fuzzer). 502 and 504 are honest answers of operations that
ask the charger (``common.charger_errors``: the charger answered a CALLERROR or nothing), so they
count as expected; any other 5xx fails.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from ocpp.v16 import call

from tests.support.ocpp_lib_charger import library_charger
from tests.support.server import ServerProcess, running_server

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",  # a request outside the schema is a 4xx, never a 2xx
        "unsupported_method",  # 405 with Allow (RFC 9110 §15.5.6)
        "ignored_auth",  # no operation answers without credentials
        "use_after_free",  # a deleted resource stays gone
        "ensure_resource_availability",  # a created resource can be read
    )
)
CHARGER_ID = "CONTRACT-CP1"
RUN_TIMEOUT_S = 150.0


def _config(parameters: dict[str, str]) -> str:
    """schemathesis.toml: 502/504 expected (the charger's failures, see the module docstring),
    and the fixed path values of the second pass."""
    lines = [
        "[checks.not_a_server_error]",
        'expected-statuses = ["2xx", "3xx", "4xx", "502", "504"]',
        "",
        "[parameters]",
        *(f'"path.{name}" = "{value}"' for name, value in parameters.items()),
    ]
    return "\n".join(lines) + "\n"


def _write_config(folder: Path, parameters: dict[str, str]) -> Path:
    config = folder / "schemathesis.toml"
    config.write_text(_config(parameters))
    return config


async def _schemathesis(
    server: ServerProcess, folder: Path, parameters: dict[str, str], max_examples: int
) -> tuple[int, str, float]:
    """One ``st run`` over every operation; (exit code, its output, seconds)."""
    config = _write_config(folder, parameters)
    st = Path(sys.executable).with_name("st")
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        str(st),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{server.api_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {server.token}",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--exclude-path-regex",
        "^/api/v1/events",
        "--max-examples",
        str(max_examples),
        "--generation-deterministic",
        "--workers",
        "2",
        "--request-timeout",
        "40",
        "--output-truncate",
        "false",
        cwd=folder,  # schemathesis keeps its cache in ./.schemathesis
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"schemathesis ran longer than {RUN_TIMEOUT_S} s") from None
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace"), time.monotonic() - started


def _assert_every_operation_passed(code: int, output: str) -> None:
    """Exit 0, every selected operation tested, and every generated case passed (a run that
    tested nothing must not pass)."""
    assert code == 0, output
    selected = re.search(r"Selected: (\d+)/\d+", output)
    tested = re.search(r"Tested: (\d+)", output)
    cases = re.search(r"(\d+) generated, (\d+) passed", output)
    assert selected, output
    assert tested, output
    assert cases, output
    assert tested.group(1) == selected.group(1), output
    assert cases.group(1) == cases.group(2), output
    assert int(tested.group(1)) >= 90, output
    assert int(cases.group(1)) >= 1000, output


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("contract")
    with running_server(
        f"sqlite:///{folder / 'chargedeck.db'}", ["--unknown-charge-points", "accept"], folder
    ) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


async def test_no_operation_answers_5xx_or_outside_its_schema_for_any_path_value(
    server: ServerProcess, tmp_path: Path
) -> None:
    code, output, seconds = await _schemathesis(server, tmp_path, {}, max_examples=10)
    _assert_every_operation_passed(code, output)
    print(f"schemathesis, any path values: {seconds:.1f} s")


# The PyPI charger logs an ERROR in this process for each command it does not implement (it
# answers NotImplemented); the server's own ERROR lines are checked by the fixture.
@pytest.mark.expect_error_log
async def test_no_operation_answers_5xx_or_outside_its_schema_on_a_connected_charger(
    server: ServerProcess, tmp_path: Path
) -> None:
    async with library_charger(server.ocpp_url, CHARGER_ID) as charger:
        await charger.call(
            call.BootNotification(charge_point_vendor="Contract", charge_point_model="Fuzz")
        )
        started = await charger.call(
            call.StartTransaction(
                connector_id=1,
                id_tag="CONTRACT-TAG",
                meter_start=1000,
                timestamp="2026-03-01T10:00:00Z",
            )
        )
        async with httpx.AsyncClient(
            base_url=server.api_url, headers=server.auth_headers, timeout=30
        ) as client:
            site = await client.post("/sites", json={"name": "contract-site", "limit_a": 32})
            assert site.status_code == 201, site.text
            template = await client.post(
                "/configuration-templates",
                json={"name": "contract-template", "keys": {"HeartbeatInterval": "300"}},
            )
            assert template.status_code == 201, template.text
        parameters = {
            "charge_point_id": CHARGER_ID,
            "transaction_id": str(started.transaction_id),
            "site_id": str(site.json()["id"]),
            "name": "contract-template",
        }
        code, output, seconds = await _schemathesis(server, tmp_path, parameters, max_examples=8)
    _assert_every_operation_passed(code, output)
    print(f"schemathesis, known resources: {seconds:.1f} s")
