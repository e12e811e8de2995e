"""The third-party ``test-ocpp`` CLI (PyPI) checks ChargeDeck's handshakes for security profiles
1-3: accepted with the right credentials, refused with the HTTP status it names otherwise
(shared/reference/ocpp16-facts-and-peers.md §2.3)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_security_profiles import (
    NO_BACKOFF,
    PASSWORD,
    Pki,
    add_charge_point,
    make_pki,
    tls_port,
)
from tests.support.server import ServerProcess, running_server

TEST_OCPP = shutil.which("test-ocpp", path=str(Path(sys.executable).parent))


def run_test_ocpp(*args: str) -> subprocess.CompletedProcess[str]:
    assert TEST_OCPP is not None, "test-ocpp is a test dependency (pyproject.toml)"
    return subprocess.run(
        [TEST_OCPP, *args, "--timeout", "10"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[ServerProcess]:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'chargedeck.db'}"
    add_charge_point(database_url, "SP1", "--password", PASSWORD)
    add_charge_point(database_url, "SP2", "--password", PASSWORD, "--security-profile", "2")
    add_charge_point(database_url, "SP3", "--security-profile", "3")
    with running_server(database_url, (*pki.server_args(), *NO_BACKOFF)) as running:
        yield running


def wss(server: ServerProcess) -> str:
    return f"wss://127.0.0.1:{tls_port(server)}/ocpp"


def test_profile_1_basic_auth_succeeds_and_a_wrong_password_is_401(server: ServerProcess) -> None:
    good = run_test_ocpp(server.ocpp_url, "SP1", "--password", PASSWORD)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = run_test_ocpp(server.ocpp_url, "SP1", "--password", "wrong-password-123")
    assert bad.returncode == 1
    assert "401" in bad.stdout + bad.stderr


def test_an_unknown_charge_point_is_404_when_unknown_chargers_are_refused(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'reject.db'}"
    with running_server(database_url, ("--unknown-charge-points", "reject")) as refusing:
        result = run_test_ocpp(refusing.ocpp_url, "NOBODY")
    assert result.returncode == 1
    assert "404" in result.stdout + result.stderr


def test_profile_2_tls_with_the_ca_and_password_succeeds(server: ServerProcess, pki: Pki) -> None:
    result = run_test_ocpp(wss(server), "SP2", "--password", PASSWORD, "--ca", str(pki.ca_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "TLS" in result.stdout


def test_profile_3_client_certificate_succeeds(server: ServerProcess, pki: Pki) -> None:
    bundle = pki.client_certificate("SP3")
    result = run_test_ocpp(
        wss(server), "SP3", "--cert", str(bundle), "--key", str(bundle), "--ca", str(pki.ca_file)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_profile_2_over_plain_ws_is_refused(server: ServerProcess) -> None:
    result = run_test_ocpp(server.ocpp_url, "SP2", "--password", PASSWORD)
    assert result.returncode == 1
    assert "403" in result.stdout + result.stderr
