"""The wss:// server context on real TLS sockets (127.0.0.1, port 0): the versions and cipher
suites the Security Whitepaper ed.3 requires, profile 3 client certificates, and certificate
reloads that neither drop open connections nor let a broken file take TLS down."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from chargedeck.config import Settings
from chargedeck.domain.certificates import (
    CertificateAuthority,
    IssuedCertificate,
    certificate_to_der,
    certificate_to_pem,
    create_certificate_authority,
    issue_charge_point_certificate,
    issue_server_certificate,
    private_key_to_pem,
)
from chargedeck.server.tls import (
    ServerTls,
    TlsConfigError,
    build_server_context,
    certificates_dir,
)

NOW = datetime.now(UTC)  # real TLS stacks check validity against the real clock
HOST = "127.0.0.1"

# The four suites of Security Whitepaper ed.3 (facts §1.3): IANA name -> OpenSSL name.
WHITEPAPER_SUITES = [
    ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"),
    ("TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"),
    ("TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"),
]


@dataclass(frozen=True)
class Pki:
    """A CA, its RSA and ECDSA server chains and one charger certificate, as files."""

    authority: CertificateAuthority
    folder: Path
    cert_files: list[str]
    key_files: list[str]
    ca_file: str
    charger: IssuedCertificate


def _write(path: Path, data: bytes) -> str:
    """Write as a deployer would: a new file renamed over the old one."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return str(path)


def _write_server_files(folder: Path, authority: CertificateAuthority) -> dict[str, int]:
    """Issue and write the RSA and ECDSA server chains; their serials by key type."""
    serials = {}
    for key_type in ("rsa", "ecdsa"):
        issued = issue_server_certificate(authority, ["localhost", HOST], NOW, key_type)
        _write(folder / f"server-{key_type}.pem", issued.chain_pem())
        _write(folder / f"server-{key_type}.key", issued.private_key_pem())
        serials[key_type] = issued.certificate.serial_number
    return serials


@pytest.fixture(scope="module")
def authority() -> CertificateAuthority:
    return create_certificate_authority("Test CA", "ACME Charging", NOW)


@pytest.fixture
def pki(tmp_path: Path, authority: CertificateAuthority) -> Pki:
    _write_server_files(tmp_path, authority)
    ca_file = _write(tmp_path / "ca.pem", certificate_to_pem(authority.certificate))
    charger = issue_charge_point_certificate(authority, "CP-1", "ACME Charging", NOW)
    return Pki(
        authority=authority,
        folder=tmp_path,
        cert_files=[str(tmp_path / "server-rsa.pem"), str(tmp_path / "server-ecdsa.pem")],
        key_files=[str(tmp_path / "server-rsa.key"), str(tmp_path / "server-ecdsa.key")],
        ca_file=ca_file,
        charger=charger,
    )


# ---- a tiny TLS echo server ------------------------------------------------------------------


@dataclass
class EchoServer:
    """Accepts TCP and starts TLS with ``context_of()`` per connection, as the lead's acceptor
    does; records the peer certificate (DER) and handshake failures of each connection."""

    port: int
    peer_certificates: list[bytes | None]
    failures: list[BaseException]
    failed: asyncio.Event

    async def first_failure(self) -> BaseException:
        """The first failed handshake, waiting for it (the client may see its end first)."""
        await asyncio.wait_for(self.failed.wait(), timeout=10)
        return self.failures[0]


Serve = Callable[[Callable[[], ssl.SSLContext]], Awaitable[EchoServer]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """``await serve(context_of)``: a started echo server, closed after the test."""
    servers: list[asyncio.Server] = []
    handlers: set[asyncio.Task[None]] = set()

    async def start(context_of: Callable[[], ssl.SSLContext]) -> EchoServer:
        echo = EchoServer(port=0, peer_certificates=[], failures=[], failed=asyncio.Event())

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            handlers.add(task)
            try:
                await writer.start_tls(context_of())
            except (ssl.SSLError, OSError) as exc:
                echo.failures.append(exc)
                echo.failed.set()
                writer.close()
                return
            ssl_object = writer.get_extra_info("ssl_object")
            echo.peer_certificates.append(ssl_object.getpeercert(binary_form=True))
            try:
                while line := await reader.readline():
                    writer.write(line)
                    await writer.drain()
            except (ssl.SSLError, OSError):
                pass
            finally:
                writer.close()
                handlers.discard(task)

        server = await asyncio.start_server(handle, HOST, 0)
        servers.append(server)
        echo.port = server.sockets[0].getsockname()[1]
        return echo

    yield start
    for server in servers:
        server.close()
    for task in list(handlers):
        task.cancel()
    for server in servers:
        await server.wait_closed()


def _client_context(
    pki: Pki,
    *,
    maximum: ssl.TLSVersion | None = None,
    minimum: ssl.TLSVersion | None = None,
    ciphers: str | None = None,
    client_certificate: IssuedCertificate | None = None,
) -> ssl.SSLContext:
    """A charger's context: trusts the CA (the root uploaded to it), checks the host name."""
    context = ssl.create_default_context(cafile=pki.ca_file)
    if minimum is not None:
        context.minimum_version = minimum
    if maximum is not None:
        context.maximum_version = maximum
    if ciphers is not None:
        context.set_ciphers(ciphers)
    if client_certificate is not None:
        cert_file = pki.folder / "client.pem"
        key_file = pki.folder / "client.key"
        cert_file.write_bytes(client_certificate.chain_pem())
        key_file.write_bytes(client_certificate.private_key_pem())
        context.load_cert_chain(cert_file, key_file)
    return context


async def _connect(
    port: int, context: ssl.SSLContext
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(
        asyncio.open_connection(HOST, port, ssl=context, server_hostname=HOST), timeout=10
    )


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, text: bytes) -> bytes:
    writer.write(text + b"\n")
    await writer.drain()
    return await asyncio.wait_for(reader.readline(), timeout=10)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ssl.SSLError, OSError):
        await writer.wait_closed()


async def _handshake(
    serve: Serve, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> tuple[EchoServer, ssl.SSLObject]:
    echo = await serve(lambda: server_context)
    reader, writer = await _connect(echo.port, client_context)
    ssl_object: ssl.SSLObject = writer.get_extra_info("ssl_object")
    assert await _echo(reader, writer, b"ping") == b"ping\n"
    await _close(writer)
    return echo, ssl_object


def _server_context(pki: Pki, *, with_ca: bool = True) -> ssl.SSLContext:
    return build_server_context(pki.cert_files, pki.key_files, [pki.ca_file] if with_ca else [])


def _settings(pki: Pki, **overrides: str) -> Settings:
    values = {
        "tls_cert": ",".join(pki.cert_files),
        "tls_key": ",".join(pki.key_files),
        "tls_ca": pki.ca_file,
        "data_dir": str(pki.folder),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


# ---- versions and suites ---------------------------------------------------------------------


async def test_a_tls_1_2_client_connects(pki: Pki, serve: Serve) -> None:
    client = _client_context(pki, maximum=ssl.TLSVersion.TLSv1_2)
    _, ssl_object = await _handshake(serve, _server_context(pki), client)
    assert ssl_object.version() == "TLSv1.2"


async def test_a_tls_1_3_client_connects(pki: Pki, serve: Serve) -> None:
    client = _client_context(pki, minimum=ssl.TLSVersion.TLSv1_3)
    _, ssl_object = await _handshake(serve, _server_context(pki), client)
    assert ssl_object.version() == "TLSv1.3"


@pytest.mark.parametrize(("iana_name", "openssl_name"), WHITEPAPER_SUITES)
async def test_each_whitepaper_suite_negotiates_under_tls_1_2(
    pki: Pki, serve: Serve, iana_name: str, openssl_name: str
) -> None:
    client = _client_context(pki, maximum=ssl.TLSVersion.TLSv1_2, ciphers=openssl_name)
    _, ssl_object = await _handshake(serve, _server_context(pki), client)
    cipher = ssl_object.cipher()
    assert cipher is not None
    assert (cipher[0], cipher[1]) == (openssl_name, "TLSv1.2"), iana_name


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
async def test_a_client_limited_to_tls_1_1_is_refused(pki: Pki, serve: Serve) -> None:
    echo = await serve(lambda: _server_context(pki))
    # A legacy charger: TLS 1.0/1.1 only, with the security level lowered so that OpenSSL on
    # this side does send the old hello.
    client = _client_context(
        pki, minimum=ssl.TLSVersion.TLSv1, maximum=ssl.TLSVersion.TLSv1_1, ciphers="ALL:@SECLEVEL=0"
    )
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await _connect(echo.port, client)
    # The server saw the hello and refused the version (not a client that never sent one).
    failure = await echo.first_failure()
    assert isinstance(failure, ssl.SSLError)
    assert failure.reason == "UNSUPPORTED_PROTOCOL"


async def test_tls_compression_is_off(pki: Pki) -> None:
    assert _server_context(pki).options & ssl.OP_NO_COMPRESSION


# ---- profile 3 client certificates -----------------------------------------------------------


async def test_a_client_certificate_from_the_ca_reaches_the_server_as_der(
    pki: Pki, serve: Serve
) -> None:
    client = _client_context(pki, client_certificate=pki.charger)
    echo, _ = await _handshake(serve, _server_context(pki), client)
    assert echo.peer_certificates == [certificate_to_der(pki.charger.certificate)]


async def test_a_client_without_certificate_connects_for_profile_2(pki: Pki, serve: Serve) -> None:
    echo, _ = await _handshake(serve, _server_context(pki), _client_context(pki))
    assert echo.peer_certificates == [None]


async def test_an_expired_client_certificate_completes_the_handshake(
    pki: Pki, serve: Serve
) -> None:
    expired = issue_charge_point_certificate(
        pki.authority, "CP-1", "ACME Charging", NOW - timedelta(days=30), validity_days=1
    )
    client = _client_context(pki, client_certificate=expired)
    echo, _ = await _handshake(serve, _server_context(pki), client)
    # The application refuses it with check_client_certificate, naming the charger.
    assert echo.peer_certificates == [certificate_to_der(expired.certificate)]


async def test_a_client_certificate_from_another_ca_fails_the_handshake(
    pki: Pki, serve: Serve
) -> None:
    stranger = create_certificate_authority("Other CA", "Someone Else", NOW)
    foreign = issue_charge_point_certificate(stranger, "CP-1", "Someone Else", NOW)
    echo = await serve(lambda: _server_context(pki))
    client = _client_context(pki, client_certificate=foreign)
    with contextlib.suppress(ssl.SSLError, ConnectionError):
        reader, writer = await _connect(echo.port, client)
        # In TLS 1.3 the client finishes before the server has checked its certificate: the
        # server's alert (or the closed connection) arrives on the first read.
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            assert await _echo(reader, writer, b"ping") == b""
        await _close(writer)
    assert "certificate verify failed" in str(await echo.first_failure())
    assert echo.peer_certificates == []


# ---- configuration errors --------------------------------------------------------------------


def test_a_missing_certificate_file_names_the_setting_and_the_file(pki: Pki) -> None:
    missing = str(pki.folder / "nope.pem")
    with pytest.raises(TlsConfigError, match=f"tls_cert: cannot read {missing}"):
        build_server_context([missing], pki.key_files[:1], [])


def test_a_key_of_another_certificate_names_tls_key_and_both_files(pki: Pki) -> None:
    with pytest.raises(
        TlsConfigError, match=r"tls_key: .*server-ecdsa\.key is not the private key"
    ):
        build_server_context(pki.cert_files[:1], pki.key_files[1:], [])


def test_a_key_of_the_same_type_from_another_certificate_is_a_mismatch(pki: Pki) -> None:
    other = issue_server_certificate(pki.authority, ["localhost"], NOW, "ecdsa")
    key_file = _write(pki.folder / "other.key", other.private_key_pem())
    with pytest.raises(TlsConfigError, match=r"other\.key is not the private key"):
        build_server_context(pki.cert_files[1:], [key_file], [])


def test_a_garbage_key_names_tls_key_and_the_file(pki: Pki) -> None:
    key_file = _write(pki.folder / "garbage.key", b"garbage")
    with pytest.raises(TlsConfigError, match=r"tls_key: .*garbage\.key is not a usable"):
        build_server_context(pki.cert_files[:1], [key_file], [])


def test_a_garbage_ca_file_names_tls_ca(pki: Pki) -> None:
    garbage = _write(pki.folder / "garbage.pem", b"not a certificate")
    with pytest.raises(TlsConfigError, match=f"tls_ca: {garbage} is not a PEM certificate file"):
        build_server_context(pki.cert_files, pki.key_files, [garbage])


def test_an_encrypted_key_is_refused_instead_of_prompting(pki: Pki) -> None:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(Path(pki.key_files[0]).read_bytes(), None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    key_file = _write(pki.folder / "encrypted.key", encrypted)
    with pytest.raises(TlsConfigError, match=f"tls_key: {key_file} is encrypted"):
        build_server_context(pki.cert_files[:1], [key_file], [])


def test_one_key_per_certificate_is_required(pki: Pki) -> None:
    with pytest.raises(TlsConfigError, match="1 key file\\(s\\) given for 2 tls_cert"):
        build_server_context(pki.cert_files, pki.key_files[:1], [])


def test_two_certificates_of_the_same_key_type_are_refused(pki: Pki) -> None:
    with pytest.raises(TlsConfigError, match="both hold an RSA certificate"):
        build_server_context(
            [pki.cert_files[0], pki.cert_files[0]], [pki.key_files[0], pki.key_files[0]], []
        )


# ---- ServerTls: the CA to show chargers, the CA that signs, reloads --------------------------


def test_tls_is_off_without_tls_cert(pki: Pki) -> None:
    tls = ServerTls(Settings(data_dir=str(pki.folder)))
    assert not tls.enabled
    assert tls.reload_if_changed() is False
    with pytest.raises(TlsConfigError, match="TLS is not configured"):
        tls.ca_certificates_pem()


def test_a_key_without_a_certificate_fails_loudly(pki: Pki) -> None:
    with pytest.raises(TlsConfigError, match="tls_cert: empty while tls_key or tls_ca is set"):
        ServerTls(Settings(tls_key=pki.key_files[0], data_dir=str(pki.folder)))


def test_the_ca_to_upload_is_the_tls_ca_file(pki: Pki) -> None:
    tls = ServerTls(_settings(pki))
    assert tls.client_certificates
    assert tls.ca_certificates_pem() == certificate_to_pem(pki.authority.certificate)
    assert tls.ca_certificates_der() == certificate_to_der(pki.authority.certificate)


def test_without_tls_ca_the_ca_to_upload_is_the_issuer_at_the_end_of_the_chain(pki: Pki) -> None:
    tls = ServerTls(_settings(pki, tls_ca=""))
    assert not tls.client_certificates
    assert x509.load_pem_x509_certificates(tls.ca_certificates_pem()) == [pki.authority.certificate]


def test_a_chain_file_without_its_issuer_is_warned_about(
    pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    leaf = issue_server_certificate(pki.authority, ["localhost"], NOW, "rsa")
    cert_file = _write(pki.folder / "leaf.pem", certificate_to_pem(leaf.certificate))
    key_file = _write(pki.folder / "leaf.key", private_key_to_pem(leaf.private_key))
    ServerTls(_settings(pki, tls_cert=cert_file, tls_key=key_file))
    assert any("holds only the server certificate" in r.getMessage() for r in caplog.records)


def test_the_signing_authority_is_loaded_from_data_dir(pki: Pki) -> None:
    tls = ServerTls(_settings(pki))
    assert tls.authority() is None
    folder = certificates_dir(pki.folder)
    folder.mkdir()
    _write(folder / "ca.pem", certificate_to_pem(pki.authority.certificate))
    _write(folder / "ca.key", private_key_to_pem(pki.authority.private_key))
    loaded = tls.authority()
    assert loaded is not None
    assert loaded.certificate == pki.authority.certificate


def test_an_unusable_signing_authority_names_data_dir(pki: Pki) -> None:
    folder = certificates_dir(pki.folder)
    folder.mkdir()
    _write(folder / "ca.pem", certificate_to_pem(pki.authority.certificate))
    _write(folder / "ca.key", b"garbage")
    with pytest.raises(TlsConfigError, match=r"data_dir: the CA in .* cannot be used"):
        ServerTls(_settings(pki)).authority()


def test_a_bad_file_at_start_up_fails_loudly(pki: Pki) -> None:
    with pytest.raises(TlsConfigError, match="tls_key"):
        ServerTls(_settings(pki, tls_key=",".join(reversed(pki.key_files))))


def test_unchanged_files_are_not_reloaded(pki: Pki) -> None:
    tls = ServerTls(_settings(pki))
    context = tls.context
    assert tls.reload_if_changed() is False
    assert tls.context is context


async def test_a_replaced_certificate_is_served_to_new_connections_only(
    pki: Pki, serve: Serve
) -> None:
    tls = ServerTls(_settings(pki))
    echo = await serve(lambda: tls.context)
    client = _client_context(pki, maximum=ssl.TLSVersion.TLSv1_2, ciphers="AES128-GCM-SHA256")
    old_reader, old_writer = await _connect(echo.port, client)
    old_serial = _server_serial(old_writer)

    new_serials = _write_server_files(pki.folder, pki.authority)
    assert tls.reload_if_changed() is True

    new_reader, new_writer = await _connect(echo.port, client)
    assert _server_serial(new_writer) == new_serials["rsa"] != old_serial
    assert await _echo(old_reader, old_writer, b"still here") == b"still here\n"
    assert await _echo(new_reader, new_writer, b"new") == b"new\n"
    await _close(old_writer)
    await _close(new_writer)


async def test_a_broken_file_on_reload_keeps_the_old_context(pki: Pki, serve: Serve) -> None:
    tls = ServerTls(_settings(pki))
    context = tls.context
    _write(pki.folder / "server-ecdsa.key", b"-----BEGIN PRIVATE KEY-----\nbroken\n")
    with pytest.raises(TlsConfigError, match=r"tls_key: .*server-ecdsa\.key"):
        tls.reload_if_changed()
    assert tls.context is context
    # Reported once per change, not on every check.
    assert tls.reload_if_changed() is False
    echo = await serve(lambda: tls.context)
    _, writer = await _connect(echo.port, _client_context(pki))
    await _close(writer)


def test_a_forced_reload_with_a_broken_file_keeps_the_old_context(pki: Pki) -> None:
    tls = ServerTls(_settings(pki))
    context = tls.context
    Path(pki.cert_files[0]).unlink()
    with pytest.raises(TlsConfigError, match="tls_cert: cannot read"):
        tls.reload()
    assert tls.context is context


# ---- helpers ---------------------------------------------------------------------------------


def _server_serial(writer: asyncio.StreamWriter) -> int:
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).serial_number
