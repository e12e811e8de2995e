"""The ``chargedeck`` command line as an owner runs it: a process, exit codes, stdout, stderr.

Store commands run against a fresh SQLite file per test (``CHARGEDECK_DATABASE_URL``, the
working directory is the test's folder); ``command`` and ``transactions`` run against one
``chargedeck serve`` shared by the module, on the same database as the CLI. ``command`` sends an
API token (``--token`` or ``CHARGEDECK_API_TOKEN``) made with ``chargedeck tokens create``.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ocpp.v16 import call
from ocpp.v16.enums import RegistrationStatus

from chargedeck.store import migrations
from tests.support.ocpp_lib_charger import LibraryCharger, library_charger
from tests.support.server import ServerProcess, running_server

CLI_TIMEOUT_S = 60.0  # a CLI start imports SQLAlchemy and alembic: ~1 s, more on a loaded box
# What a terminal would change in rich's output; a pipe without them is what scripts see.
TERMINAL_VARIABLES = ("COLUMNS", "LINES", "FORCE_COLOR")


def chargedeck(
    *args: str,
    cwd: Path,
    database_url: str | None = None,
    stdin: str | None = None,
    env_extra: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m chargedeck ARGS`` with only CHARGEDECK_DATABASE_URL set of our variables
    (and ``env_extra``); ``stdin`` is its input (none if None)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CHARGEDECK_") and k not in TERMINAL_VARIABLES
    }
    env["CHARGEDECK_DATABASE_URL"] = database_url or f"sqlite:///{cwd / 'x.db'}"
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "chargedeck", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def sentence(text: str) -> str:
    """stderr as one line: the error's words, whatever the console wrapped."""
    return " ".join(text.split())


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (just released by the kernel)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# ---- store commands --------------------------------------------------------------------------


def test_an_added_charge_point_is_listed_as_registered(tmp_path: Path) -> None:
    added = chargedeck("charge-points", "add", "CP1", cwd=tmp_path)
    listed = chargedeck("charge-points", "list", "--json", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("registered charge point CP1 (security profile 0)\n")
    assert listed.returncode == 0, listed.stderr
    [record] = json.loads(listed.stdout)
    assert record["id"] == "CP1"
    assert record["registration"] == "registered"
    assert record["last_boot_at"] is None


def test_adding_a_charge_point_twice_exits_2_with_a_sentence(tmp_path: Path) -> None:
    chargedeck("charge-points", "add", "CP1", cwd=tmp_path)
    again = chargedeck("charge-points", "add", "CP1", cwd=tmp_path)
    assert again.returncode == 2
    assert again.stdout == ""
    assert sentence(again.stderr) == "error: charge point 'CP1' is already registered"


def test_an_added_id_tag_is_listed_with_its_owner(tmp_path: Path) -> None:
    added = chargedeck("id-tags", "add", "04A2B3C4", "--owner", "Ana", cwd=tmp_path)
    listed = chargedeck("id-tags", "list", "--json", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert added.stdout == "added id tag 04A2B3C4\n"
    [record] = json.loads(listed.stdout)
    assert {k: record[k] for k in ("id_tag", "owner", "blocked", "expiry_date")} == {
        "id_tag": "04A2B3C4",
        "owner": "Ana",
        "blocked": False,
        "expiry_date": None,
    }


def test_an_id_tag_of_21_characters_exits_2_with_the_reason(tmp_path: Path) -> None:
    result = chargedeck("id-tags", "add", "A" * 21, cwd=tmp_path)
    assert result.returncode == 2
    assert sentence(result.stderr) == (
        "error: id tag must be 1 to 20 characters (OCPP 1.6 IdToken), got 21"
    )


def test_a_parent_id_tag_of_21_characters_exits_2_with_the_reason(tmp_path: Path) -> None:
    result = chargedeck("id-tags", "add", "CHILD", "--parent", "P" * 21, cwd=tmp_path)
    assert result.returncode == 2
    assert sentence(result.stderr) == (
        "error: --parent must be 1 to 20 characters (OCPP 1.6 IdToken), got 21"
    )


def test_an_expiry_without_a_time_zone_exits_2_with_the_reason(tmp_path: Path) -> None:
    result = chargedeck(
        "id-tags", "add", "04A2B3C4", "--expiry", "2027-01-01T00:00:00", cwd=tmp_path
    )
    assert result.returncode == 2
    assert sentence(result.stderr) == (
        "error: --expiry '2027-01-01T00:00:00' needs a time zone offset, e.g. Z or +01:00"
    )


def test_adopting_a_charge_point_that_is_not_in_the_inbox_exits_2(tmp_path: Path) -> None:
    result = chargedeck("charge-points", "adopt", "NOPE", cwd=tmp_path)
    assert result.returncode == 2
    assert sentence(result.stderr) == "error: charge point 'NOPE' is not in the inbox"


def test_migrate_creates_the_schema_at_the_latest_revision(tmp_path: Path) -> None:
    result = chargedeck("migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "database schema is up to date\n"
    with sqlite3.connect(tmp_path / "x.db") as db:
        revisions = db.execute("SELECT version_num FROM alembic_version").fetchall()
    assert revisions == [(migrations.HEAD_REVISION,)]


def test_serve_with_a_bad_port_exits_2_naming_the_key_and_the_value(tmp_path: Path) -> None:
    result = chargedeck("serve", "--ocpp-port", "ninety", cwd=tmp_path)
    assert result.returncode == 2
    assert sentence(result.stderr).startswith(
        "error: --ocpp-port: ocpp_port='ninety' is invalid: "
        "expected a port number 0-65535 (0 = pick a free port)"
    )


def test_serve_with_an_unknown_option_exits_2_naming_it(tmp_path: Path) -> None:
    result = chargedeck("serve", "--no-such-option", "1", cwd=tmp_path)
    assert result.returncode == 2
    assert sentence(result.stderr).startswith("error: unknown option --no-such-option; known: ")
    assert "--ocpp-port" in sentence(result.stderr)


def test_an_error_is_one_line_on_stderr_however_long(tmp_path: Path) -> None:
    result = chargedeck("serve", "--ocpp-port", "ninety", cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_an_error_shows_the_bad_charge_point_id_verbatim(tmp_path: Path) -> None:
    result = chargedeck("charge-points", "adopt", "CP[/x]", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert sentence(result.stderr) == (
        "error: charge point id 'CP[/x]' contains '/' or unprintable characters"
    )


def test_a_typed_charge_point_id_is_taken_literally(tmp_path: Path) -> None:
    result = chargedeck("charge-points", "add", "garage#2", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id"] == "garage#2"


# ---- operator accounts and API tokens --------------------------------------------------------


def test_a_user_added_without_a_password_gets_one_printed_once(tmp_path: Path) -> None:
    added = chargedeck("users", "add", "ana", "--scope", "operate", cwd=tmp_path)
    listed = chargedeck("users", "list", "--json", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    first, second = added.stdout.splitlines()
    assert first == "created user ana (scope operate)"
    assert second.startswith("password, shown this once: ")
    password = second.removeprefix("password, shown this once: ")
    assert len(password) >= 12
    [record] = json.loads(listed.stdout)
    assert (record["username"], record["scope"], record["disabled_at"]) == ("ana", "operate", None)
    assert password not in listed.stdout
    assert "password" not in listed.stdout


def test_a_user_password_can_come_from_stdin_and_is_not_printed(tmp_path: Path) -> None:
    added = chargedeck(
        "users", "add", "ana", "--scope", "read", "--password-stdin",
        cwd=tmp_path, stdin="a long enough password\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert added.stdout == "created user ana (scope read)\n"


def test_a_password_shorter_than_12_characters_exits_2(tmp_path: Path) -> None:
    result = chargedeck(
        "users", "add", "ana", "--scope", "read", "--password-stdin", cwd=tmp_path, stdin="short\n"
    )
    assert result.returncode == 2
    assert sentence(result.stderr) == "error: password must be at least 12 characters, got 5"


def test_an_unknown_scope_exits_2_naming_the_scopes(tmp_path: Path) -> None:
    result = chargedeck("tokens", "create", "ci", "--scope", "root", cwd=tmp_path)
    assert result.returncode == 2
    assert sentence(result.stderr) == (
        "error: --scope 'root' is not a scope; expected read, operate, admin"
    )


def test_a_username_with_capitals_exits_2_with_the_rule(tmp_path: Path) -> None:
    result = chargedeck("users", "add", "Ana", "--scope", "read", cwd=tmp_path)
    assert result.returncode == 2
    assert sentence(result.stderr) == (
        "error: username 'Ana' may contain only lower-case letters a-z, digits, '.', '_' and "
        "'-', and must start with a letter or digit"
    )


def test_a_created_token_is_printed_once_and_listed_by_its_first_characters(
    tmp_path: Path,
) -> None:
    created = chargedeck("tokens", "create", "ci", "--scope", "admin", "--json", cwd=tmp_path)
    listed = chargedeck("tokens", "list", "--json", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    token = json.loads(created.stdout)["token"]
    assert token.startswith("cdk_")
    assert len(token) == 47
    [record] = json.loads(listed.stdout)
    assert (record["name"], record["scope"], record["token_prefix"]) == ("ci", "admin", token[:8])
    assert token not in listed.stdout


def test_a_token_of_a_user_cannot_have_more_scope_than_the_user(tmp_path: Path) -> None:
    chargedeck("users", "add", "viewer", "--scope", "read", cwd=tmp_path)
    result = chargedeck(
        "tokens", "create", "ci", "--scope", "admin", "--user", "viewer", cwd=tmp_path
    )
    assert result.returncode == 2
    assert sentence(result.stderr) == (
        "error: a token of user 'viewer' (scope read) cannot have scope admin"
    )


def test_revoking_an_unknown_token_exits_2(tmp_path: Path) -> None:
    result = chargedeck("tokens", "revoke", "42", cwd=tmp_path)
    assert result.returncode == 2
    assert sentence(result.stderr) == "error: there is no token with id 42"


def test_a_revoked_token_is_listed_as_revoked(tmp_path: Path) -> None:
    chargedeck("tokens", "create", "ci", "--scope", "read", cwd=tmp_path)
    revoked = chargedeck("tokens", "revoke", "1", cwd=tmp_path)
    listed = chargedeck("tokens", "list", "--json", cwd=tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout == "revoked token 'ci' (id 1)\n"
    [record] = json.loads(listed.stdout)
    assert record["revoked_at"] is not None


def test_disabling_the_last_enabled_admin_exits_2(tmp_path: Path) -> None:
    chargedeck("users", "add", "boss", "--scope", "admin", cwd=tmp_path)
    result = chargedeck("users", "disable", "boss", cwd=tmp_path)
    assert result.returncode == 2
    assert sentence(result.stderr) == (
        "error: cannot disable 'boss': it is the last enabled admin account; "
        "create another admin first"
    )


def test_a_disabled_user_is_listed_with_the_time(tmp_path: Path) -> None:
    chargedeck("users", "add", "ana", "--scope", "read", cwd=tmp_path)
    disabled = chargedeck("users", "disable", "ana", cwd=tmp_path)
    listed = chargedeck("users", "list", "--json", cwd=tmp_path)
    assert disabled.returncode == 0, disabled.stderr
    assert disabled.stdout == "disabled user ana\n"
    [record] = json.loads(listed.stdout)
    assert record["disabled_at"] is not None


# ---- against a running server ----------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with the default inbox policy; the CLI shares its database and folder."""
    folder = tmp_path_factory.mktemp("cli")
    with running_server(f"sqlite:///{folder / 'x.db'}", cwd=folder) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


def server_cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in the server's folder, on the server's database."""
    folder = Path(server.database_url.removeprefix("sqlite:///")).parent
    return chargedeck(*args, cwd=folder, database_url=server.database_url)


def api_base(server: ServerProcess) -> str:
    return server.api_url.removesuffix("/api/v1")


async def boot(charger: LibraryCharger) -> None:
    answer = await charger.call(
        call.BootNotification(charge_point_vendor="Wall Box Chargers", charge_point_model="PLP1")
    )
    assert answer.status == RegistrationStatus.accepted


async def register(server: ServerProcess, charge_point_id: str) -> None:
    async with server.async_api_client() as client:
        created = await client.post("/charge-points", json={"id": charge_point_id})
    assert created.status_code == 201, created.text


async def test_command_prints_the_charger_answer(cli_server: ServerProcess) -> None:
    added = server_cli(cli_server, "charge-points", "add", "CLI-CP")
    assert added.returncode == 0, added.stderr
    async with library_charger(cli_server.ocpp_url, "CLI-CP") as charger:
        await boot(charger)
        result = await asyncio.to_thread(
            server_cli,
            cli_server,
            "command",
            "CLI-CP",
            "Reset",
            '{"type":"Soft"}',
            "--api",
            api_base(cli_server),
            "--token",
            cli_server.token,
            "--json",
        )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "charge_point_id": "CLI-CP",
        "action": "Reset",
        "response": {"status": "Accepted"},
    }
    assert charger.received == [("Reset", {"type": "Soft"})]


async def test_command_to_a_charger_that_is_not_connected_exits_2_with_409(
    cli_server: ServerProcess,
) -> None:
    await register(cli_server, "CLI-OFF")
    result = await asyncio.to_thread(
        server_cli,
        cli_server,
        "command",
        "CLI-OFF",
        "Reset",
        '{"type":"Soft"}',
        "--api",
        api_base(cli_server),
        "--token",
        cli_server.token,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert sentence(result.stderr) == "error: 409: charge point 'CLI-OFF' is not connected"


def cli_token(server: ServerProcess, name: str, scope: str) -> str:
    """A token made with ``chargedeck tokens create`` on the server's database."""
    created = server_cli(server, "tokens", "create", name, "--scope", scope, "--json")
    assert created.returncode == 0, created.stderr
    token: str = json.loads(created.stdout)["token"]
    return token


async def test_command_without_a_token_exits_2_saying_how_to_get_one(
    cli_server: ServerProcess,
) -> None:
    result = await asyncio.to_thread(
        server_cli, cli_server, "command", "CLI-OFF", "Reset", "--api", api_base(cli_server)
    )
    assert result.returncode == 2
    assert sentence(result.stderr) == (
        "error: 401: no credentials: send Authorization: Bearer <token> or Basic; pass --token "
        "or set CHARGEDECK_API_TOKEN (chargedeck tokens create NAME --scope operate)"
    )


async def test_command_with_a_read_token_exits_2_with_403(cli_server: ServerProcess) -> None:
    token = await asyncio.to_thread(cli_token, cli_server, "viewer", "read")
    result = await asyncio.to_thread(
        server_cli,
        cli_server,
        "command",
        "CLI-OFF",
        "Reset",
        "--api",
        api_base(cli_server),
        "--token",
        token,
    )
    assert result.returncode == 2
    assert sentence(result.stderr).startswith(
        "error: 403: POST /api/v1/charge-points/{charge_point_id}/commands/{action} needs scope "
        "operate; token 'viewer' (id "
    )
    assert sentence(result.stderr).endswith(
        "has scope read; this needs a token with scope operate or higher"
    )


async def test_command_takes_the_token_from_chargedeck_api_token(
    cli_server: ServerProcess,
) -> None:
    await register(cli_server, "CLI-ENV")
    token = await asyncio.to_thread(cli_token, cli_server, "scripts", "operate")
    folder = Path(cli_server.database_url.removeprefix("sqlite:///")).parent
    result = await asyncio.to_thread(
        chargedeck,
        "command",
        "CLI-ENV",
        "Reset",
        '{"type":"Soft"}',
        "--api",
        api_base(cli_server),
        cwd=folder,
        database_url=cli_server.database_url,
        env_extra={"CHARGEDECK_API_TOKEN": token},
    )
    assert result.returncode == 2
    assert sentence(result.stderr) == "error: 409: charge point 'CLI-ENV' is not connected"


async def test_a_password_set_with_the_cli_works_on_the_running_server_at_once(
    cli_server: ServerProcess,
) -> None:
    chosen = "battery staple horse"
    added = await asyncio.to_thread(
        server_cli, cli_server, "users", "add", "cli-ana", "--scope", "read", "--json"
    )
    assert added.returncode == 0, added.stderr
    first = json.loads(added.stdout)["password"]
    async with httpx.AsyncClient(base_url=cli_server.api_url, timeout=30) as client:
        before = await client.get("/me", auth=("cli-ana", first))
        folder = Path(cli_server.database_url.removeprefix("sqlite:///")).parent
        changed = await asyncio.to_thread(
            chargedeck,
            "users",
            "set-password",
            "cli-ana",
            "--password-stdin",
            cwd=folder,
            database_url=cli_server.database_url,
            stdin=chosen + "\n",
        )
        old = await client.get("/me", auth=("cli-ana", first))
        new = await client.get("/me", auth=("cli-ana", chosen))
    assert before.status_code == 200, before.text
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout == "password of cli-ana changed\n"
    assert old.status_code == 401
    assert new.status_code == 200, new.text
    assert new.json()["username"] == "cli-ana"


def test_command_to_an_api_that_cannot_be_reached_exits_2(tmp_path: Path) -> None:
    api = f"http://127.0.0.1:{closed_port()}"
    result = chargedeck("command", "CP1", "Reset", '{"type":"Soft"}', "--api", api, cwd=tmp_path)
    assert result.returncode == 2
    assert sentence(result.stderr).startswith(f"error: cannot reach the ChargeDeck API at {api}: ")


async def test_transactions_list_shows_a_session_recorded_from_a_charger(
    cli_server: ServerProcess,
) -> None:
    await register(cli_server, "CLI-TX")
    async with library_charger(cli_server.ocpp_url, "CLI-TX") as charger:
        await boot(charger)
        started = await charger.call(
            call.StartTransaction(
                connector_id=1, id_tag="04A2B3C4", meter_start=100, timestamp="2026-03-01T10:00:00Z"
            )
        )
        await charger.call(
            call.StopTransaction(
                meter_stop=7600,
                timestamp="2026-03-01T11:00:00Z",
                transaction_id=started.transaction_id,
                reason="EVDisconnected",
            )
        )
    result = await asyncio.to_thread(server_cli, cli_server, "transactions", "list", "--json")
    assert result.returncode == 0, result.stderr
    records: list[dict[str, Any]] = json.loads(result.stdout)
    [record] = [r for r in records if r["charge_point_id"] == "CLI-TX"]
    assert record["id"] == started.transaction_id
    assert (record["connector_id"], record["id_tag"]) == (1, "04A2B3C4")
    assert (record["meter_start"], record["meter_stop"]) == (100, 7600)
    assert record["started_at"] == "2026-03-01T10:00:00Z"
    assert record["stopped_at"] == "2026-03-01T11:00:00Z"
    assert record["stop_reason"] == "EVDisconnected"


def test_serve_on_a_port_in_use_exits_2_naming_the_setting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = chargedeck(
            "serve",
            "--ocpp-host",
            "127.0.0.1",
            "--ocpp-port",
            str(port),
            "--http-port",
            "0",
            cwd=tmp_path,
        )
    assert result.returncode == 2, result.stderr
    assert sentence(result.stderr).endswith(
        f"error: cannot listen for chargers on 127.0.0.1:{port}: Address already in use; "
        "change ocpp_host/ocpp_port"
    ), result.stderr
