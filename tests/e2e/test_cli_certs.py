"""``chargedeck certs`` as an operator runs it: a process with a fresh data_dir and SQLite file
per test, exit codes, stdout, stderr, and the files it leaves (DESIGN §5)."""

from __future__ import annotations

import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from chargedeck.config import Settings
from chargedeck.server.tls import build_server_context, split_files

CLI_TIMEOUT_S = 60.0  # a CLI start imports SQLAlchemy and alembic: ~1 s, more on a loaded box
TERMINAL_VARIABLES = ("COLUMNS", "LINES", "FORCE_COLOR")


@pytest.fixture(scope="module")
def ocpp_transport() -> str:
    """No server runs here: once is enough (the e2e conftest runs modules once per transport)."""
    return "websockets"


def certs(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m chargedeck certs ARGS`` with a data_dir and database in ``cwd``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CHARGEDECK_") and k not in TERMINAL_VARIABLES
    }
    env["CHARGEDECK_DATABASE_URL"] = f"sqlite:///{cwd / 'x.db'}"
    env["CHARGEDECK_DATA_DIR"] = str(cwd / "data")
    return subprocess.run(
        [sys.executable, "-m", "chargedeck", "certs", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[bytes]) -> str:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def error(result: subprocess.CompletedProcess[bytes]) -> str:
    """stderr as one line: the error's words, whatever the console wrapped."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == b""
    return " ".join(result.stderr.decode().split())


def as_json(result: subprocess.CompletedProcess[bytes]) -> Any:
    return json.loads(ok(result))


def certs_dir(tmp_path: Path) -> Path:
    return (tmp_path / "data" / "certs").resolve()


# ---- init ------------------------------------------------------------------------------------


def test_init_prints_the_settings_that_make_a_working_server_context(tmp_path: Path) -> None:
    out = ok(certs("init", "--host", "csms.example.net", "--ip", "192.168.1.20", cwd=tmp_path))
    folder = certs_dir(tmp_path)
    setting_lines = "\n".join(line for line in out.splitlines() if line.startswith("tls_"))
    settings = Settings(**tomllib.loads(setting_lines))
    assert split_files(settings.tls_cert) == [
        str(folder / "server-rsa.pem"),
        str(folder / "server-ecdsa.pem"),
    ]
    assert split_files(settings.tls_key) == [
        str(folder / "server-rsa.key"),
        str(folder / "server-ecdsa.key"),
    ]
    assert settings.tls_ca == str(folder / "ca.pem")
    context = build_server_context(
        split_files(settings.tls_cert), split_files(settings.tls_key), [settings.tls_ca]
    )
    assert isinstance(context, ssl.SSLContext)
    assert f"Upload the CA root {folder / 'ca.pem'} to the charger" in out
    assert "wss://csms.example.net:9443/ocpp/<ChargePointID>" in out


def test_init_writes_full_chains_for_an_rsa_and_an_ecdsa_key(tmp_path: Path) -> None:
    ok(certs("init", "--host", "csms.example.net", "--ip", "192.168.1.20", cwd=tmp_path))
    folder = certs_dir(tmp_path)
    ca = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
    for name, key_type in (
        ("server-rsa", rsa.RSAPublicKey),
        ("server-ecdsa", ec.EllipticCurvePublicKey),
    ):
        leaf, issuer = x509.load_pem_x509_certificates((folder / f"{name}.pem").read_bytes())
        assert issuer == ca
        assert isinstance(leaf.public_key(), key_type)
        cn = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        assert cn == "csms.example.net"
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sans.get_values_for_type(x509.DNSName) == ["csms.example.net"]
        assert [str(a) for a in sans.get_values_for_type(x509.IPAddress)] == ["192.168.1.20"]


def test_init_writes_private_keys_readable_by_the_owner_only(tmp_path: Path) -> None:
    out = ok(certs("init", "--host", "csms", cwd=tmp_path))
    for name in ("ca.key", "server-rsa.key", "server-ecdsa.key"):
        path = certs_dir(tmp_path) / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert "PRIVATE KEY" not in out


def test_init_without_host_uses_this_machines_host_name(tmp_path: Path) -> None:
    result = as_json(certs("init", "--json", cwd=tmp_path))
    assert result["hosts"][0] == socket.gethostname()
    assert result["settings"]["tls_ca"] == str(certs_dir(tmp_path) / "ca.pem")


def test_init_records_both_server_certificates(tmp_path: Path) -> None:
    created = as_json(certs("init", "--host", "csms", "--json", cwd=tmp_path))
    listed = as_json(certs("list", "--json", cwd=tmp_path))
    assert [c["kind"] for c in listed["issued"]] == ["server", "server"]
    assert {c["serial_number"] for c in listed["issued"]} == {
        c["serial_number"] for c in created["server_certificates"]
    }


def test_init_twice_without_force_is_refused_and_keeps_the_ca(tmp_path: Path) -> None:
    ok(certs("init", "--host", "csms", cwd=tmp_path))
    ca_before = (certs_dir(tmp_path) / "ca.pem").read_bytes()
    message = error(certs("init", "--host", "csms", cwd=tmp_path))
    assert message.startswith("error: a CA exists already in")
    assert "--force" in message
    assert (certs_dir(tmp_path) / "ca.pem").read_bytes() == ca_before


def test_init_with_force_replaces_the_ca(tmp_path: Path) -> None:
    ok(certs("init", "--host", "csms", cwd=tmp_path))
    ca_before = (certs_dir(tmp_path) / "ca.pem").read_bytes()
    ok(certs("init", "--host", "csms", "--force", cwd=tmp_path))
    assert (certs_dir(tmp_path) / "ca.pem").read_bytes() != ca_before


def test_init_with_a_bad_ip_is_refused(tmp_path: Path) -> None:
    message = error(certs("init", "--ip", "192.168.1.300", cwd=tmp_path))
    assert message == "error: --ip '192.168.1.300' is not an IPv4 or IPv6 address"
    assert not certs_dir(tmp_path).exists()


def test_init_with_a_bad_host_name_is_refused(tmp_path: Path) -> None:
    message = error(certs("init", "--host", "csms example", cwd=tmp_path))
    assert message.startswith("error: --host 'csms example' is not a host name")


# ---- charger ---------------------------------------------------------------------------------


def test_a_charger_certificate_is_written_and_recorded(tmp_path: Path) -> None:
    ok(certs("init", "--host", "csms", "--organization", "ACME Charging", cwd=tmp_path))
    out = ok(certs("charger", "CP-1", "--days", "30", cwd=tmp_path))
    folder = certs_dir(tmp_path) / "chargers"
    leaf, issuer = x509.load_pem_x509_certificates((folder / "CP-1.pem").read_bytes())
    assert leaf.subject.rfc4514_string() == "O=ACME Charging,CN=CP-1"
    assert issuer == x509.load_pem_x509_certificate((certs_dir(tmp_path) / "ca.pem").read_bytes())
    assert stat.S_IMODE((folder / "CP-1.key").stat().st_mode) == 0o600
    serial = format(leaf.serial_number, "x")
    assert out.startswith(f"issued a client certificate for CP-1 (serial {serial}")
    assert "PRIVATE KEY" not in out
    [record] = [
        c
        for c in as_json(certs("list", "--json", cwd=tmp_path))["issued"]
        if c["kind"] == "charger"
    ]
    assert record["serial_number"] == serial
    assert record["charge_point_id"] == "CP-1"


def test_a_charger_certificate_goes_to_the_out_folder(tmp_path: Path) -> None:
    ok(certs("init", "--host", "csms", cwd=tmp_path))
    result = as_json(
        certs("charger", "CP-2", "--out", str(tmp_path / "out"), "--json", cwd=tmp_path)
    )
    assert result["certificate_file"] == str((tmp_path / "out" / "CP-2.pem").resolve())
    assert (tmp_path / "out" / "CP-2.key").exists()


def test_a_charger_certificate_before_init_is_refused(tmp_path: Path) -> None:
    message = error(certs("charger", "CP-1", cwd=tmp_path))
    assert message == (
        f"error: there is no CA in {certs_dir(tmp_path)}: run `chargedeck certs init` first"
    )


def test_a_second_charger_certificate_needs_force(tmp_path: Path) -> None:
    ok(certs("init", "--host", "csms", cwd=tmp_path))
    ok(certs("charger", "CP-1", cwd=tmp_path))
    assert "--force" in error(certs("charger", "CP-1", cwd=tmp_path))
    ok(certs("charger", "CP-1", "--force", cwd=tmp_path))


def test_a_charge_point_id_with_a_slash_is_refused(tmp_path: Path) -> None:
    ok(certs("init", "--host", "csms", cwd=tmp_path))
    assert "contains '/'" in error(certs("charger", "a/b", cwd=tmp_path))


# ---- revoke and list -------------------------------------------------------------------------


def test_a_revoked_charger_certificate_is_listed_as_revoked(tmp_path: Path) -> None:
    ok(certs("init", "--host", "csms", cwd=tmp_path))
    issued = as_json(certs("charger", "CP-1", "--json", cwd=tmp_path))["certificate"]
    serial = issued["serial_number"]
    pasted = ":".join(serial[i : i + 2] for i in range(0, len(serial), 2)).upper()
    out = ok(certs("revoke", pasted, "--reason", "charger stolen", cwd=tmp_path))
    assert out.startswith(f"revoked certificate serial {serial} of CP-1 at")
    listed = as_json(certs("list", "--json", cwd=tmp_path))
    [record] = [c for c in listed["issued"] if c["serial_number"] == serial]
    assert record["revoked_at"] is not None
    assert listed["revoked"][0]["reason"] == "charger stolen"
    assert serial in ok(certs("list", cwd=tmp_path))


def test_a_serial_of_another_ca_can_be_revoked(tmp_path: Path) -> None:
    out = ok(certs("revoke", "1A2B", "--charge-point", "CP-9", cwd=tmp_path))
    assert out.startswith("revoked certificate serial 1a2b of CP-9 (not issued by ChargeDeck's CA)")
    [record] = as_json(certs("list", "--json", cwd=tmp_path))["revoked"]
    assert record["charge_point_id"] == "CP-9"


def test_a_serial_that_is_not_hex_is_refused(tmp_path: Path) -> None:
    assert error(certs("revoke", "xyz", cwd=tmp_path)) == (
        "error: serial number 'xyz' is not a hexadecimal number"
    )


# ---- ca --------------------------------------------------------------------------------------


def test_ca_prints_the_ca_root_as_pem(tmp_path: Path) -> None:
    ok(certs("init", "--host", "csms", cwd=tmp_path))
    printed = certs("ca", cwd=tmp_path)
    assert printed.returncode == 0
    assert printed.stdout == (certs_dir(tmp_path) / "ca.pem").read_bytes()


def test_ca_writes_the_ca_root_as_der(tmp_path: Path) -> None:
    ok(certs("init", "--host", "csms", cwd=tmp_path))
    out = ok(certs("ca", "--der", "--out", str(tmp_path / "ca.cer"), cwd=tmp_path))
    ca = x509.load_pem_x509_certificate((certs_dir(tmp_path) / "ca.pem").read_bytes())
    assert x509.load_der_x509_certificate((tmp_path / "ca.cer").read_bytes()) == ca
    assert "as DER" in out


def test_ca_der_to_a_pipe_is_the_der_bytes(tmp_path: Path) -> None:
    ok(certs("init", "--host", "csms", cwd=tmp_path))
    printed = certs("ca", "--der", cwd=tmp_path)
    assert printed.returncode == 0
    ca = x509.load_pem_x509_certificate((certs_dir(tmp_path) / "ca.pem").read_bytes())
    assert x509.load_der_x509_certificate(printed.stdout) == ca


def test_ca_before_init_is_refused(tmp_path: Path) -> None:
    assert "run `chargedeck certs init` first" in error(certs("ca", cwd=tmp_path))
