"""``chargedeck api``: every row of the route table is a command, and the commands work against a
real ``chargedeck serve`` (one server for the module, one OCPP transport: the CLI never touches
OCPP) and a real PyPI ``ocpp`` charger.

The CLI runs in this process through typer's CliRunner (a CLI process costs ~1 s of imports);
one test runs a real process to prove ``chargedeck --help`` does not import the server.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from ocpp.v16 import call
from ocpp.v16.enums import RegistrationStatus
from typer.testing import CliRunner, Result

from chargedeck.cli import api, app
from chargedeck.cli.api import operation_name, path_parameters
from chargedeck.server.api.app import ROUTES
from tests.support.ocpp_lib_charger import library_charger
from tests.support.server import ServerProcess, create_api_token, running_server

# The variables the commands read; each test passes its own so the caller's shell cannot leak in.
CLEAN_ENV: dict[str, str | None] = {"CHARGEDECK_API_URL": None, "CHARGEDECK_API_TOKEN": None}


def chargedeck(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env={**CLEAN_ENV, **(env or {})})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("api-cli")
    with running_server(
        f"sqlite:///{folder / 'chargedeck.db'}", ["--unknown-charge-points", "accept"], folder
    ) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


def on(server: ServerProcess, *args: str) -> Result:
    """``chargedeck api ARGS`` against ``server`` with its admin token from the environment."""
    return chargedeck(
        "api",
        *args,
        env={"CHARGEDECK_API_URL": server.api_url, "CHARGEDECK_API_TOKEN": server.token},
    )


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# ---- parity with the route table --------------------------------------------------------------


def test_every_route_is_reachable_as_an_api_command() -> None:
    # The api group mounted alone: typer rebuilds the whole chargedeck app on each run (~0.4 s).
    # test_api_list_names_every_operation_once runs it inside `chargedeck`.
    alone = typer.Typer()
    alone.add_typer(api.app, name="api")
    runner = CliRunner()
    for route in ROUTES:
        result = runner.invoke(alone, ["api", operation_name(route), "--help"], env=CLEAN_ENV)
        assert result.exit_code == 0, (route.handler, result.output)
        assert f"{route.method}/api/v1{route.path}" in "".join(result.output.split()), route


def test_api_list_names_every_operation_once() -> None:
    result = chargedeck("api", "list", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [(r["operation"], r["method"], r["path"]) for r in listed] == [
        (operation_name(r), r.method, r.path) for r in ROUTES
    ]
    names = [r["operation"] for r in listed]
    assert len(set(names)) == len(names)
    assert "list" not in names  # the group's own command


def test_path_parameters_are_arguments_in_path_order() -> None:
    route = next(r for r in ROUTES if r.handler == "diff_configuration_snapshot")
    assert path_parameters(route.path) == ["charge_point_id", "snapshot_id"]
    result = chargedeck("api", "diff-configuration-snapshot", "CP1")
    assert result.exit_code == 2
    assert "Missing argument 'snapshot_id'." in result.stderr


def test_chargedeck_help_does_not_import_the_server() -> None:
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from chargedeck.cli import app\n"
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
        "print('chargedeck.server.api.app' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


# ---- against a running server -------------------------------------------------------------------


def test_list_charge_points_as_a_table_and_as_json(server: ServerProcess) -> None:
    added = on(server, "add-charge-point", "--field", "id=API-LIST-1")
    assert added.exit_code == 0, added.output
    table = on(server, "list-charge-points")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[1].split("┃")[1].strip() == "id"
    row = next(line for line in lines if "API-LIST-1" in line)
    assert row.split("│")[1].strip() == "API-LIST-1"
    as_json = on(server, "list-charge-points", "--json")
    assert as_json.exit_code == 0, as_json.output
    items = json.loads(as_json.stdout)["items"]
    assert {"id": "API-LIST-1", "registration": "registered"}.items() <= next(
        i for i in items if i["id"] == "API-LIST-1"
    ).items()


def test_query_parameters_filter(server: ServerProcess) -> None:
    result = on(server, "list-charge-points", "--param", "registration=pending", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"items": [], "next_cursor": None}


def test_an_id_tag_is_created_with_typed_fields_and_read_back(server: ServerProcess) -> None:
    created = on(
        server,
        "add-id-tag",
        "--field",
        "id_tag=API-TAG-1",
        "--field",
        "owner=Anna",
        "--field",
        "max_active_transactions=2",
        "--field",
        "blocked=true",
        "--json",
    )
    assert created.exit_code == 0, created.output
    shown = on(server, "get-id-tag", "API-TAG-1")
    assert shown.exit_code == 0, shown.output
    rows = {
        cells[0]: cells[1]
        for line in shown.stdout.splitlines()
        if (cells := [c.strip() for c in line.strip("│").split("│")]) and len(cells) == 2
    }
    assert rows["id_tag"] == "API-TAG-1"
    assert rows["owner"] == "Anna"
    assert rows["max_active_transactions"] == "2"
    assert rows["blocked"] == "true"


def test_a_wrong_field_type_exits_2_naming_the_field_without_calling(server: ServerProcess) -> None:
    result = on(server, "add-id-tag", "--field", "id_tag=API-TAG-2", "--field", "blocked=maybe")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "error: --field blocked='maybe': Expected `bool`, got `str`\n"


def test_a_404_problem_exits_1_with_its_title_and_detail(server: ServerProcess) -> None:
    result = on(server, "get-id-tag", "NO-SUCH-TAG")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: Not Found: ")
    assert "NO-SUCH-TAG" in result.stderr


def test_without_a_token_it_exits_1_saying_how_to_get_one_and_never_prints_a_token(
    server: ServerProcess,
) -> None:
    anonymous = chargedeck("api", "list-users", "--server", server.api_url)
    assert anonymous.exit_code == 1
    assert anonymous.stderr.startswith("error: Unauthorized: ")
    assert "chargedeck tokens create NAME --scope admin" in anonymous.stderr
    reader = create_api_token(server.database_url, "read", name="api-cli-reader")
    forbidden = chargedeck(
        "api", "list-users", "--server", server.api_url, env={"CHARGEDECK_API_TOKEN": reader}
    )
    assert forbidden.exit_code == 1
    assert "needs a token with scope admin or higher" in forbidden.stderr
    helped = chargedeck("api", "list-users", "--help", env={"CHARGEDECK_API_TOKEN": reader})
    for result in (forbidden, helped):
        assert reader not in result.output
        assert reader not in result.stderr


def test_an_unreachable_server_exits_2_naming_it() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = chargedeck("api", "list-charge-points", "--server", url, "--token", "cdk_x")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot reach the ChargeDeck API at {url}: ")
    assert "Connection refused" in result.stderr


def test_a_server_that_is_not_a_url_exits_2() -> None:
    result = chargedeck("api", "me", "--server", "localhost:8000")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --server must be an http:// or https:// URL, got 'localhost:8000'\n"
    )


async def test_a_command_returns_the_chargers_answer(server: ServerProcess) -> None:
    async with library_charger(server.ocpp_url, "API-CMD-1") as charger:
        booted = await charger.call(
            call.BootNotification(
                charge_point_vendor="Wall Box Chargers", charge_point_model="PLP1"
            )
        )
        assert booted.status == RegistrationStatus.accepted
        result = await asyncio.to_thread(
            on,
            server,
            "send-command",
            "API-CMD-1",
            "RemoteStartTransaction",
            "--field",
            "idTag=0042",
            "--field",
            "connectorId=1",
            "--json",
        )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "charge_point_id": "API-CMD-1",
        "action": "RemoteStartTransaction",
        "response": {"status": "Accepted"},
    }
    assert charger.received == [("RemoteStartTransaction", {"id_tag": "0042", "connector_id": 1})]


def test_a_download_is_written_to_out(server: ServerProcess, tmp_path: Path) -> None:
    out = tmp_path / "sessions.csv"
    result = on(server, "report-sessions", "--param", "format=csv", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["media_type"] == "text/csv"
    assert answer["bytes"] == out.stat().st_size > 0
    assert out.read_text(encoding="utf-8").splitlines()[0].startswith("transaction_id,")
    assert not (tmp_path / "sessions.csv.part").exists()


def test_a_declared_download_without_tls_is_a_problem(
    server: ServerProcess, tmp_path: Path
) -> None:
    out = tmp_path / "ca.pem"
    result = on(server, "ca-certificate-pem", "--out", str(out))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert not out.exists()


def test_an_upload_sends_the_file_as_the_body(server: ServerProcess, tmp_path: Path) -> None:
    firmware = tmp_path / "fw-api-1.bin"
    firmware.write_bytes(bytes(range(256)) * 40)
    result = on(
        server,
        "upload-firmware",
        "--param",
        "name=fw-api-1.bin",
        "--upload",
        str(firmware),
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert {"name": "fw-api-1.bin", "size": 10240}.items() <= json.loads(result.stdout).items()


def test_a_body_on_a_route_without_one_exits_2(server: ServerProcess) -> None:
    result = on(server, "list-charge-points", "--field", "id=X")
    assert result.exit_code == 2
    assert result.stderr == "error: list-charge-points takes no JSON body (no --body or --field)\n"


def test_api_list_filters_by_a_word() -> None:
    result = chargedeck("api", "list", "reservation", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert {"list-reservations", "add-reservation", "cancel-reservation"} <= {
        r["operation"] for r in listed
    }
    assert all("reservation" in (r["operation"] + r["path"] + r["summary"]).lower() for r in listed)
    assert len(listed) < len(ROUTES)


def test_a_file_answer_without_out_goes_to_stdout_as_it_came(server: ServerProcess) -> None:
    result = on(server, "report-sessions", "--param", "format=csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("transaction_id,charge_point_id,")
