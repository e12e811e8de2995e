"""Security profiles 1-3 over real sockets: what the Wallbox guide asks of the owner works on the
first try, and every refusal is recorded with its reason (Security Whitepaper ed.3; issue 4).

Chargers are the PyPI ``ocpp`` library's ChargePoint over websockets, with HTTP Basic auth and
an SSL context; certificates are made by the tests with ChargeDeck's own CA functions.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import ConfigurationStatus, RegistrationStatus
from websockets.exceptions import InvalidMessage, InvalidStatus

from chargedeck.domain.certificates import (
    CertificateAuthority,
    certificate_to_pem,
    create_certificate_authority,
    issue_charge_point_certificate,
    issue_server_certificate,
    private_key_to_pem,
)
from tests.support.ocpp_lib_charger import LibraryCharger, library_charger
from tests.support.server import ServerProcess, running_server

PASSWORD = "Wallbox-S3cret-1234"
NO_BACKOFF = ("--auth-failures-before-backoff", "1000")


@dataclass(frozen=True)
class Pki:
    """A CA, a server certificate for 127.0.0.1 and files for the server settings."""

    authority: CertificateAuthority
    ca_file: Path
    cert_file: Path
    key_file: Path
    folder: Path

    def server_args(self) -> tuple[str, ...]:
        return (
            "--tls-cert",
            str(self.cert_file),
            "--tls-key",
            str(self.key_file),
            "--tls-ca",
            str(self.ca_file),
            "--ocpp-tls-port",
            "0",
        )

    def client_certificate(self, charge_point_id: str, *, now: datetime | None = None) -> Path:
        """Cert + key of ``charge_point_id`` in one PEM file, for ``load_cert_chain``."""
        issued = issue_charge_point_certificate(
            self.authority, charge_point_id, "Test CPO", now or datetime.now(UTC)
        )
        path = self.folder / f"{charge_point_id}-{issued.serial_number}.pem"
        path.write_bytes(issued.chain_pem() + issued.private_key_pem())
        return path


def make_pki(folder: Path, name: str = "ChargeDeck Test CA") -> Pki:
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    authority = create_certificate_authority(name, "Test CPO", now)
    server = issue_server_certificate(authority, ["127.0.0.1", "localhost"], now, "rsa")
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(certificate_to_pem(authority.certificate))
    cert_file.write_bytes(server.chain_pem())
    key_file.write_bytes(private_key_to_pem(server.private_key))
    return Pki(authority, ca_file, cert_file, key_file, folder)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def add_charge_point(server_db: str, charge_point_id: str, *args: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "chargedeck",
            "charge-points",
            "add",
            charge_point_id,
            *args,
        ],
        capture_output=True,
        text=True,
        env={"CHARGEDECK_DATABASE_URL": server_db, "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stderr


def tls_port(server: ServerProcess) -> int:
    line = server.wait_for_log(r"ocpp tls listening on \S+:\d+")
    match = re.search(r"ocpp tls listening on \S+:(\d+)", line)
    assert match is not None
    return int(match.group(1))


def basic(user: str, password: bytes) -> dict[str, str]:
    token = base64.b64encode(user.encode() + b":" + password).decode()
    return {"Authorization": f"Basic {token}"}


def client_context(ca_file: Path | None, certificate: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if certificate is not None:
        context.load_cert_chain(str(certificate))
    return context


def charger(
    url: str,
    charge_point_id: str,
    headers: dict[str, str] | None = None,
    context: ssl.SSLContext | None = None,
) -> AbstractAsyncContextManager[LibraryCharger]:
    return library_charger(url, charge_point_id, headers=headers, ssl=context)


@asynccontextmanager
async def booted_charger(
    url: str,
    charge_point_id: str,
    headers: dict[str, str] | None = None,
    charger_class: type[LibraryCharger] = LibraryCharger,
) -> AsyncIterator[LibraryCharger]:
    """A connected charger whose BootNotification was accepted: commands may be sent to it
    (nothing is sent to a charger before its Boot is answered)."""
    async with library_charger(url, charge_point_id, charger_class, headers=headers) as peer:
        answer = await peer.call(
            call.BootNotification(
                charge_point_model="PLP1", charge_point_vendor="Wall Box Chargers"
            )
        )
        assert answer.status == RegistrationStatus.accepted
        yield peer


async def boots(url: str, charge_point_id: str, **kwargs: Any) -> str:
    async with charger(url, charge_point_id, **kwargs) as peer:
        answer = await peer.call(
            call.BootNotification(
                charge_point_model="PLP1", charge_point_vendor="Wall Box Chargers"
            )
        )
        return str(answer.status)


async def refused_status(url: str, charge_point_id: str, **kwargs: Any) -> int:
    with pytest.raises(InvalidStatus) as refused:
        await boots(url, charge_point_id, **kwargs)
    return refused.value.response.status_code


def rejections(server: ServerProcess, charge_point_id: str | None = None) -> list[dict[str, Any]]:
    """The refusals recorded in the store (the guard writes them within a second)."""
    args = [sys.executable, "-m", "chargedeck", "charge-points", "rejections", "--json"]
    if charge_point_id is not None:
        args.insert(-1, charge_point_id)
    result = subprocess.run(
        args,
        capture_output=True,
        text=True,
        env={"CHARGEDECK_DATABASE_URL": server.database_url, "PATH": "/usr/bin:/bin"},
        check=True,
    )
    return list(json.loads(result.stdout))


def wait_for_rejection(
    server: ServerProcess, charge_point_id: str, reason: str, timeout_s: float = 10.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = [r for r in rejections(server, charge_point_id) if r["reason"] == reason]
        if found:
            return found[0]
        assert time.monotonic() < deadline, rejections(server)
        time.sleep(0.2)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'security.db'}"


@pytest.fixture
def tls_server(database_url: str, pki: Pki) -> Iterator[ServerProcess]:
    with running_server(database_url, (*pki.server_args(), *NO_BACKOFF)) as server:
        yield server


# ---- profile 1: HTTP Basic auth over ws:// ----------------------------------------------------


async def test_profile_1_accepts_the_password_as_typed_and_in_its_hex_form(
    database_url: str,
) -> None:
    add_charge_point(database_url, "WB-1", "--password", PASSWORD)
    with running_server(database_url, NO_BACKOFF) as server:
        assert await boots(server.ocpp_url, "WB-1", headers=basic("WB-1", PASSWORD.encode())) == (
            RegistrationStatus.accepted
        )
        # What a charger sends after ChangeConfiguration(AuthorizationKey=<hex>) taken literally.
        as_hex = PASSWORD.encode().hex().encode()
        assert await boots(server.ocpp_url, "WB-1", headers=basic("WB-1", as_hex)) == (
            RegistrationStatus.accepted
        )
    assert PASSWORD not in server.log_text()


async def test_profile_1_refusals_are_401_and_recorded_with_their_reason(
    database_url: str,
) -> None:
    add_charge_point(database_url, "WB-1", "--password", PASSWORD)
    with running_server(database_url, NO_BACKOFF) as server:
        url = server.ocpp_url
        assert await refused_status(url, "WB-1", headers=basic("WB-1", b"not-the-password!")) == 401
        assert await refused_status(url, "WB-1") == 401
        assert await refused_status(url, "WB-1", headers=basic("WB-9", PASSWORD.encode())) == 401
        wrong = wait_for_rejection(server, "WB-1", "wrong_password")
        assert wrong["remote_host"] == "127.0.0.1"
        assert wait_for_rejection(server, "WB-1", "missing_credentials")["count"] == 1
        mismatch = wait_for_rejection(server, "WB-1", "username_mismatch")
        assert "'WB-9' is not the charge point id 'WB-1'" in mismatch["detail"]
        assert "connection refused: charge point 'WB-1' from 127.0.0.1: wrong_password" in (
            server.log_text()
        )
    assert PASSWORD not in server.log_text()


async def test_a_password_set_on_a_profile_0_charger_is_checked_when_the_charger_sends_one(
    database_url: str,
) -> None:
    add_charge_point(database_url, "WB-0")
    with running_server(database_url, NO_BACKOFF) as server:
        async with server.async_api_client() as api:
            answer = await api.put("/charge-points/WB-0/password", json={"password": PASSWORD})
            assert answer.status_code == 200, answer.text
        url = server.ocpp_url
        assert await refused_status(url, "WB-0", headers=basic("WB-0", b"not-the-password!")) == 401
        assert wait_for_rejection(server, "WB-0", "wrong_password")["count"] == 1
        assert await boots(url, "WB-0", headers=basic("WB-0", PASSWORD.encode())) == (
            RegistrationStatus.accepted
        )
        # Profile 0 still lets in a charger that sends nothing (not yet given the password).
        assert await boots(url, "WB-0") == RegistrationStatus.accepted


async def test_repeated_failures_are_rate_limited_with_429(database_url: str) -> None:
    add_charge_point(database_url, "WB-1", "--password", PASSWORD)
    args = ("--auth-failures-before-backoff", "3")
    with running_server(database_url, args) as server:
        statuses = [
            await refused_status(server.ocpp_url, "WB-1", headers=basic("WB-1", b"guess-%d" % i))
            for i in range(5)
        ]
        assert statuses[:3] == [401, 401, 401]
        assert statuses[3:] == [429, 429]
        limited = wait_for_rejection(server, "WB-1", "rate_limited")
        assert "try again in" in limited["detail"]


# ---- profile 2: TLS + Basic auth ---------------------------------------------------------------


async def test_profile_2_connects_over_tls_with_the_ca_root_and_its_password(
    database_url: str, pki: Pki
) -> None:
    add_charge_point(database_url, "WB-2", "--password", PASSWORD, "--security-profile", "2")
    with running_server(database_url, (*pki.server_args(), *NO_BACKOFF)) as server:
        url = f"wss://127.0.0.1:{tls_port(server)}/ocpp"
        status = await boots(
            url,
            "WB-2",
            headers=basic("WB-2", PASSWORD.encode()),
            context=client_context(pki.ca_file),
        )
        assert status == RegistrationStatus.accepted
        # Plain ws for a profile 2 charger: refused, and the owner learns why.
        assert (
            await refused_status(server.ocpp_url, "WB-2", headers=basic("WB-2", PASSWORD.encode()))
            == 403
        )
        plain = wait_for_rejection(server, "WB-2", "profile_requires_tls")
        assert "requires TLS (wss://)" in plain["detail"]


async def test_a_charger_without_the_ca_root_fails_tls_and_the_server_says_why(
    tls_server: ServerProcess, tmp_path: Path
) -> None:
    other = make_pki(tmp_path / "other", "Someone Else's CA")
    url = f"wss://127.0.0.1:{tls_port(tls_server)}/ocpp"
    with pytest.raises(ssl.SSLCertVerificationError):
        await boots(url, "WB-2", context=client_context(other.ca_file))
    failure = wait_for_rejection(tls_server, "", "tls_handshake_failed")
    assert failure["remote_host"] == "127.0.0.1"
    assert "CA root" in failure["detail"]


# ---- profile 3: TLS client certificates ---------------------------------------------------


async def test_profile_3_admits_a_certificate_of_the_ca_whose_cn_is_the_id(
    database_url: str, pki: Pki
) -> None:
    add_charge_point(database_url, "WB-3", "--security-profile", "3")
    with running_server(database_url, (*pki.server_args(), *NO_BACKOFF)) as server:
        url = f"wss://127.0.0.1:{tls_port(server)}/ocpp"
        context = client_context(pki.ca_file, pki.client_certificate("WB-3"))
        assert await boots(url, "WB-3", context=context) == RegistrationStatus.accepted


@pytest.mark.parametrize(
    ("certificate_for", "issued_days_ago", "reason"),
    [
        ("WB-OTHER", 0, "client_certificate_cn_mismatch"),
        ("WB-3", 800, "client_certificate_expired"),
        (None, 0, "client_certificate_missing"),
    ],
)
async def test_profile_3_refuses_a_wrong_expired_or_missing_certificate(
    database_url: str,
    pki: Pki,
    certificate_for: str | None,
    issued_days_ago: int,
    reason: str,
) -> None:
    add_charge_point(database_url, "WB-3", "--security-profile", "3")
    certificate = None
    if certificate_for is not None:
        issued_at = datetime.now(UTC) - timedelta(days=issued_days_ago)
        certificate = pki.client_certificate(certificate_for, now=issued_at)
    with running_server(database_url, (*pki.server_args(), *NO_BACKOFF)) as server:
        url = f"wss://127.0.0.1:{tls_port(server)}/ocpp"
        context = client_context(pki.ca_file, certificate)
        assert await refused_status(url, "WB-3", context=context) == 403
        recorded = wait_for_rejection(server, "WB-3", reason)
        assert recorded["count"] == 1


async def test_profile_3_refuses_a_certificate_of_another_ca_during_tls(
    tls_server: ServerProcess, pki: Pki, tmp_path: Path
) -> None:
    other = make_pki(tmp_path / "other", "Rogue CA")
    url = f"wss://127.0.0.1:{tls_port(tls_server)}/ocpp"
    context = client_context(pki.ca_file, other.client_certificate("WB-3"))
    # TLS 1.3: the client learns of the refusal only when it reads the HTTP answer.
    with pytest.raises((ssl.SSLError, OSError, InvalidMessage)):
        await boots(url, "WB-3", context=context)
    untrusted = wait_for_rejection(tls_server, "", "client_certificate_untrusted")
    assert "does not chain to the CA" in untrusted["detail"]


# ---- certificate hot reload ------------------------------------------------------------------


def server_certificate_serial(peer: LibraryCharger) -> int:
    from cryptography import x509

    ssl_object = peer._connection.transport.get_extra_info("ssl_object")
    return x509.load_der_x509_certificate(ssl_object.getpeercert(binary_form=True)).serial_number


async def test_renewed_certificate_files_are_served_without_dropping_connected_chargers(
    database_url: str, tmp_path: Path
) -> None:
    pki = make_pki(tmp_path / "pki")
    for charge_point_id in ("WB-2", "WB-2B"):
        add_charge_point(
            database_url, charge_point_id, "--password", PASSWORD, "--security-profile", "2"
        )
    args = (*pki.server_args(), *NO_BACKOFF, "--tls-reload-interval-s", "0.2")
    headers = basic("WB-2", PASSWORD.encode())
    with running_server(database_url, args) as server:
        url = f"wss://127.0.0.1:{tls_port(server)}/ocpp"
        async with charger(
            url, "WB-2", headers=headers, context=client_context(pki.ca_file)
        ) as old:
            before = server_certificate_serial(old)
            renewed = issue_server_certificate(
                pki.authority, ["127.0.0.1"], datetime.now(UTC), "rsa"
            )
            pki.key_file.write_bytes(private_key_to_pem(renewed.private_key))
            pki.cert_file.write_bytes(renewed.chain_pem())
            server.wait_for_log("TLS certificates reloaded")
            async with charger(
                url,
                "WB-2B",
                headers=basic("WB-2B", PASSWORD.encode()),
                context=client_context(pki.ca_file),
            ) as new:
                assert server_certificate_serial(new) == renewed.certificate.serial_number
                assert server_certificate_serial(new) != before
                await new.call(call.Heartbeat())
            # The charger connected before the reload is still connected, on the old session.
            await old.call(call.Heartbeat())
            assert server_certificate_serial(old) == before


# ---- changing how a charger authenticates, through the API -----------------------------------

NEW_PASSWORD = "Rotated-Passw0rd-567"


class RefusingCharger(LibraryCharger):
    """A charger that answers Rejected to every ChangeConfiguration."""

    @on("ChangeConfiguration")
    def on_change_configuration(self, **kwargs: Any) -> Any:
        self.received.append(("ChangeConfiguration", kwargs))
        return call_result.ChangeConfiguration(status=ConfigurationStatus.rejected)


async def test_a_connected_charger_gets_its_new_password_first_and_only_then_it_changes(
    database_url: str,
) -> None:
    add_charge_point(database_url, "WB-R", "--password", PASSWORD)
    with running_server(database_url, NO_BACKOFF) as server:
        url = server.ocpp_url
        async with (
            booted_charger(url, "WB-R", headers=basic("WB-R", PASSWORD.encode())) as peer,
            server.async_api_client() as api,
        ):
            answer = await api.put("/charge-points/WB-R/password", json={"password": NEW_PASSWORD})
            assert answer.status_code == 200, answer.text
            assert answer.json()["outcome"] == "accepted_by_charger"
            assert answer.json()["charge_point"]["has_password"] is True
            # 20 bytes: sent as their hex (Security Whitepaper: up to 40 hex digits).
            assert (
                "ChangeConfiguration",
                {"key": "AuthorizationKey", "value": NEW_PASSWORD.encode().hex()},
            ) in peer.received
        assert await refused_status(url, "WB-R", headers=basic("WB-R", PASSWORD.encode())) == 401
        assert await boots(url, "WB-R", headers=basic("WB-R", NEW_PASSWORD.encode())) == (
            RegistrationStatus.accepted
        )
    assert PASSWORD not in server.log_text()
    assert NEW_PASSWORD not in server.log_text()


async def test_a_charger_that_refuses_the_new_password_keeps_the_old_one(
    database_url: str,
) -> None:
    add_charge_point(database_url, "WB-R", "--password", PASSWORD)
    with running_server(database_url, NO_BACKOFF) as server:
        url = server.ocpp_url
        async with (
            booted_charger(
                url, "WB-R", headers=basic("WB-R", PASSWORD.encode()), charger_class=RefusingCharger
            ),
            server.async_api_client() as api,
        ):
            answer = await api.put("/charge-points/WB-R/password", json={"password": NEW_PASSWORD})
        assert answer.json()["outcome"] == "refused_by_charger"
        assert answer.json()["charger_status"] == "Rejected"
        assert await boots(url, "WB-R", headers=basic("WB-R", PASSWORD.encode())) == (
            RegistrationStatus.accepted
        )
        assert (
            await refused_status(url, "WB-R", headers=basic("WB-R", NEW_PASSWORD.encode())) == 401
        )


async def test_raising_the_profile_never_locks_the_charger_out(database_url: str, pki: Pki) -> None:
    add_charge_point(database_url, "WB-UP", "--password", PASSWORD)
    headers = basic("WB-UP", PASSWORD.encode())
    with running_server(database_url, (*pki.server_args(), *NO_BACKOFF)) as server:
        wss_url = f"wss://127.0.0.1:{tls_port(server)}/ocpp"
        async with (
            booted_charger(server.ocpp_url, "WB-UP", headers=headers) as peer,
            server.async_api_client() as api,
        ):
            answer = await api.put(
                "/charge-points/WB-UP/security-profile", json={"security_profile": 2}
            )
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["outcome"] == "accepted_by_charger"
            assert (
                body["charge_point"]["security_profile"],
                body["charge_point"]["pending_security_profile"],
            ) == (1, 2)
            assert (
                "ChangeConfiguration",
                {"key": "SecurityProfile", "value": "2"},
            ) in peer.received
        # Until it has come back over TLS, the old way still works...
        assert await boots(server.ocpp_url, "WB-UP", headers=headers) == RegistrationStatus.accepted
        # ...then it connects with profile 2, which becomes its only profile.
        context = client_context(pki.ca_file)
        assert await boots(wss_url, "WB-UP", headers=headers, context=context) == (
            RegistrationStatus.accepted
        )
        assert await refused_status(server.ocpp_url, "WB-UP", headers=headers) == 403
        async with server.async_api_client() as api:
            now = (await api.get("/charge-points/WB-UP")).json()
            refusals = (await api.get("/charge-points/WB-UP/rejections")).json()["items"]
        assert (now["security_profile"], now["pending_security_profile"]) == (2, None)
        assert [r["reason"] for r in refusals] == ["profile_requires_tls"]
        assert refusals[0]["charger_shows"] == "Connection Rejected"
        assert "wss://" in refusals[0]["remedy"]


async def test_the_ca_root_to_upload_is_downloadable_as_pem_and_der(
    tls_server: ServerProcess, pki: Pki
) -> None:
    from cryptography import x509

    async with tls_server.async_api_client() as api:
        pem = await api.get("/tls/ca.pem")
        der = await api.get("/tls/ca.der")
    assert pem.status_code == 200
    assert pem.headers["content-type"] == "application/x-pem-file"
    assert pem.content == pki.ca_file.read_bytes()
    assert der.headers["content-type"] == "application/pkix-cert"
    assert x509.load_der_x509_certificate(der.content) == pki.authority.certificate


async def test_a_revoked_client_certificate_is_refused_at_the_next_connection(
    database_url: str, pki: Pki
) -> None:
    add_charge_point(database_url, "WB-3", "--security-profile", "3")
    bundle = pki.client_certificate("WB-3")
    serial = bundle.stem.rsplit("-", 1)[1]
    with running_server(database_url, (*pki.server_args(), *NO_BACKOFF)) as server:
        url = f"wss://127.0.0.1:{tls_port(server)}/ocpp"
        context = client_context(pki.ca_file, bundle)
        assert await boots(url, "WB-3", context=context) == RegistrationStatus.accepted
        async with server.async_api_client() as api:
            revoked = await api.post(
                "/certificates/revoked",
                json={"serial_number": serial, "charge_point_id": "WB-3", "reason": "stolen"},
            )
            assert revoked.status_code == 201, revoked.text
        assert await refused_status(url, "WB-3", context=context) == 403
        async with server.async_api_client() as api:
            refusals = (await api.get("/rejections", params={"charge_point_id": "WB-3"})).json()
        assert [r["reason"] for r in refusals["items"]] == ["client_certificate_revoked"]
