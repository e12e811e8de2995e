"""``chargedeck charge-points add|set-password|set-security-profile|rejections``: the owner's
side of charger security from the command line (issue 4)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from ocpp.v16.enums import RegistrationStatus

from tests.e2e.test_security_profiles import (
    NO_BACKOFF,
    PASSWORD,
    basic,
    booted_charger,
    boots,
    refused_status,
)
from tests.support.server import running_server


def cli(
    database_url: str, *args: str, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEDECK_")}
    env["CHARGEDECK_DATABASE_URL"] = database_url
    if token is not None:
        env["CHARGEDECK_API_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "chargedeck", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_adding_a_charger_with_a_generated_password_prints_it_once(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'cli.db'}"
    added = cli(database_url, "charge-points", "add", "WB-G", "--generate-password", "--json")
    assert added.returncode == 0, added.stderr
    body = json.loads(added.stdout)
    assert len(body["password"]) == 20
    assert body["charge_point"]["security_profile"] == 1
    listed = cli(database_url, "charge-points", "list", "--json")
    assert body["password"] not in listed.stdout


def test_bad_passwords_and_profiles_are_refused_with_a_sentence(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'cli.db'}"
    short = cli(database_url, "charge-points", "add", "WB-S", "--password", "short")
    assert short.returncode == 2
    assert "16-40 characters" in short.stderr
    no_password = cli(database_url, "charge-points", "add", "WB-S", "--security-profile", "2")
    assert no_password.returncode == 2
    assert "needs --password" in no_password.stderr
    assert cli(database_url, "charge-points", "add", "WB-S", "--password", PASSWORD).returncode == 0
    no_tls = cli(database_url, "charge-points", "set-security-profile", "WB-S", "2", "--offline")
    assert no_tls.returncode == 2
    assert "tls_cert is not set" in no_tls.stderr


async def test_set_password_goes_through_the_server_to_a_connected_charger(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert cli(database_url, "charge-points", "add", "WB-C", "--password", PASSWORD).returncode == 0
    new_password = "Via-The-CLI-pass-99"
    with running_server(database_url, NO_BACKOFF) as server:
        api = f"http://127.0.0.1:{server.http_port}"
        async with booted_charger(
            server.ocpp_url, "WB-C", headers=basic("WB-C", PASSWORD.encode())
        ) as peer:
            changed = await run_cli(
                database_url,
                "charge-points",
                "set-password",
                "WB-C",
                "--password",
                new_password,
                "--api",
                api,
                token=server.token,
            )
            assert changed.returncode == 0, changed.stderr
            assert "the charger accepted its new password" in changed.stdout
            assert peer.received[-1][1]["key"] == "AuthorizationKey"
        assert await boots(
            server.ocpp_url, "WB-C", headers=basic("WB-C", new_password.encode())
        ) == (RegistrationStatus.accepted)
        assert (
            await refused_status(server.ocpp_url, "WB-C", headers=basic("WB-C", PASSWORD.encode()))
            == 401
        )
        without_token = await run_cli(
            database_url,
            "charge-points",
            "set-password",
            "WB-C",
            "--password",
            PASSWORD,
            "--api",
            api,
        )
        assert without_token.returncode == 2
        assert "401" in without_token.stderr
        assert "--token" in without_token.stderr
        listed = await run_cli(database_url, "charge-points", "rejections", "WB-C", "--json")
        assert [r["reason"] for r in json.loads(listed.stdout)] == ["wrong_password"]


async def run_cli(
    database_url: str, *args: str, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(cli, database_url, *args, token=token)
