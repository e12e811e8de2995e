"""``chargedeck certs``: a CA, server certificates and charger client certificates for wss://
(Security Profiles 2 and 3, Security Whitepaper ed.3; DESIGN §5).

``init`` makes what a home or small-site operator needs in one step: a CA whose root is uploaded
to the charger, and an RSA and an ECDSA server certificate (the whitepaper's four cipher suites
need both key types: ocpp16-facts-and-peers.md §1.3), written as full chains because a missing
intermediate is the typical failure chargers report (wallbox-field-notes.md Q18). Files live in
``<data_dir>/certs``; private keys are written with mode 0600 and never printed.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import socket
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from chargedeck.cli._support import (
    ConfigOption,
    JsonOption,
    checked_charge_point_id,
    console,
    fail,
    now,
    print_json,
    run_store,
    time_text,
)
from chargedeck.config import Settings, SettingsError, build_settings
from chargedeck.domain.ids import ChargePointId

if TYPE_CHECKING:
    # Imported inside the commands: cryptography and ssl add ~70 ms to every `chargedeck` start.
    from chargedeck.domain.certificates import CertificateAuthority, IssuedCertificate
    from chargedeck.store import Store
    from chargedeck.store.certificates import CertificateKind, IssuedCertificateRecord

app = typer.Typer(
    no_args_is_help=True,
    help="Certificates for wss:// (security profiles 2 and 3): CA, server and charger",
)

DEFAULT_ORGANIZATION = "ChargeDeck"
"""O of the CA (and so of charger certificates) when --organization is not given; the whitepaper
wants O = the CPO name (CpoName), which an operator should set."""

# Documentation-only addresses (RFC 5737 TEST-NET-1, RFC 3849): a UDP "connect" to them sends
# nothing but makes the kernel pick the source address of the default route, which is the LAN
# address chargers reach this machine on.
_ROUTE_PROBES = ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1"))

# Letters, digits, '-' and '.' (RFC 1123 host names), and '_' which some LAN host names carry.
_HOST_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")


_PIPE_TABLE_WIDTH = 120
"""Width of ``certs list`` when not printed to a terminal: a 40-digit serial and four short
columns fit without folding."""


def _settings(config: Path | None) -> Settings:
    try:
        return build_settings(config_file=config)
    except SettingsError as exc:
        raise fail(str(exc)) from None


def _certs_dir(settings: Settings) -> Path:
    from chargedeck.server.tls import certificates_dir

    return certificates_dir(settings.data_dir).resolve()


def _write_file(path: Path, data: bytes, *, private: bool) -> None:
    """Write ``data`` to ``path`` through a new file renamed over the old one, so that a running
    server reloading its certificates never reads half a file; the new file has mode 0600 from
    its creation, so a key is never readable by others, not even for a moment."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)  # left by an interrupted run
    # O_EXCL | O_NOFOLLOW: never write a key through a file or symlink someone else placed.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(temporary, flags, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if not private:
            os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _write_files(folder: Path, files: list[tuple[Path, bytes, bool]]) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path, data, private in files:
            _write_file(path, data, private=private)
    except OSError as exc:
        raise fail(
            f"cannot write the certificate files in {folder}: {exc.strerror or exc}"
        ) from None


def _lan_addresses() -> list[str]:
    """The addresses of the default-route interfaces (IPv4 and IPv6), as chargers on the LAN
    dial them; none when the machine has no default route."""
    addresses: list[str] = []
    for family, probe in _ROUTE_PROBES:
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect((probe, 9))
                address = str(sock.getsockname()[0]).split("%", 1)[0]
        except OSError:
            continue
        parsed = ipaddress.ip_address(address)
        if not (parsed.is_loopback or parsed.is_link_local or parsed.is_unspecified):
            addresses.append(str(parsed))
    return addresses


def _checked_hosts(hosts: list[str], ips: list[str]) -> list[str]:
    """Host names then IP addresses, checked, in order and without repeats."""
    checked: list[str] = []
    for host in hosts:
        try:
            checked.append(str(ipaddress.ip_address(host)))
            continue
        except ValueError:
            pass
        if not host or not set(host) <= _HOST_CHARACTERS or host.startswith(("-", ".")):
            raise fail(
                f"--host {host!r} is not a host name (letters, digits, '-' and '.') "
                "or an IP address"
            )
        checked.append(host)
    for ip in ips:
        try:
            checked.append(str(ipaddress.ip_address(ip)))
        except ValueError:
            raise fail(f"--ip {ip!r} is not an IPv4 or IPv6 address") from None
    return list(dict.fromkeys(checked))


def _report(result: msgspec.Struct, as_json: bool, sentence: str) -> None:
    """``report`` without line wrapping: sentences here carry paths an operator copies."""
    if as_json:
        print_json(result)
    else:
        console.print(sentence, soft_wrap=True)


def _date(value: datetime | None) -> str:
    """The UTC day, for tables (the exact time is in --json)."""
    return "" if value is None else value.date().isoformat()


def _common_name(subject: str) -> str:
    """The CN of an RFC 4514 subject (a server certificate's host name), or the subject."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        names = x509.Name.from_rfc4514_string(subject).get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return subject
    return str(names[0].value) if names else subject


def _toml(value: str) -> str:
    """A TOML basic string (JSON's string escapes are valid TOML)."""
    return json.dumps(value)


def _authority(settings: Settings) -> CertificateAuthority:
    from chargedeck.server.tls import TlsConfigError, load_authority

    try:
        authority = load_authority(settings.data_dir)
    except TlsConfigError as exc:
        raise fail(str(exc)) from None
    if authority is None:
        raise fail(f"there is no CA in {_certs_dir(settings)}: run `chargedeck certs init` first")
    return authority


async def _record(
    store: Store,
    issued: IssuedCertificate,
    kind: CertificateKind,
    charge_point_id: ChargePointId | None,
) -> IssuedCertificateRecord:
    from chargedeck.domain.certificates import certificate_summary

    summary = certificate_summary(issued.certificate)
    return await store.certificates.record_issued(
        serial_number=summary.serial_number,
        kind=kind,
        charge_point_id=charge_point_id,
        subject=summary.subject,
        not_before=summary.not_before,
        not_after=summary.not_after,
        issued_at=now(),
    )


# ---- init ------------------------------------------------------------------------------------


class TlsSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The three settings ``certs init`` tells the operator to use."""

    tls_cert: str
    tls_key: str
    tls_ca: str


class InitResult(msgspec.Struct, frozen=True, kw_only=True):
    """What ``certs init --json`` prints."""

    directory: str
    hosts: list[str]
    ca_subject: str
    ca_serial_number: str
    ca_not_after: datetime
    ca_root_file: str
    server_certificates: list[Any]
    settings: TlsSettings
    wss_url: str


@app.command(
    "init",
    help="Create a CA and RSA + ECDSA server certificates in <data_dir>/certs and print the "
    "tls_cert, tls_key and tls_ca settings to use. With neither --host nor --ip: this machine's "
    "host name and the addresses of its default-route interface; with --ip only: the host name "
    "and those addresses.",
)
def init(
    host: Annotated[
        list[str] | None,
        typer.Option("--host", help="Host name chargers use for the CSMS (repeatable; first = CN)"),
    ] = None,
    ip: Annotated[
        list[str] | None,
        typer.Option("--ip", help="IP address chargers use for the CSMS (repeatable)"),
    ] = None,
    organization: Annotated[
        str, typer.Option(help="Your company or CPO name (O of the certificates; CpoName)")
    ] = DEFAULT_ORGANIZATION,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing CA (re-upload it to chargers)")
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    from chargedeck.domain.certificates import (
        certificate_summary,
        certificate_to_pem,
        create_certificate_authority,
        issue_server_certificate,
        private_key_to_pem,
    )
    from chargedeck.server.tls import CA_CERT_FILE, CA_KEY_FILE, SERVER_FILES
    from chargedeck.store.certificates import CertificateKind

    settings = _settings(config)
    if not organization.strip():
        raise fail("--organization must not be empty")
    if host or ip:
        hosts = _checked_hosts(host or [socket.gethostname()], ip or [])
    else:
        hosts = _checked_hosts([socket.gethostname()], _lan_addresses())

    folder = _certs_dir(settings)
    ca_cert_path, ca_key_path = folder / CA_CERT_FILE, folder / CA_KEY_FILE
    existing = [p.name for p in (ca_cert_path, ca_key_path) if p.exists()]
    if existing and not force:
        raise fail(
            f"a CA exists already in {folder} ({', '.join(existing)}); chargers trust it, so "
            "replacing it means uploading the new CA root to every charger: run again with "
            "--force to replace it"
        )

    moment = now()
    authority = create_certificate_authority(f"ChargeDeck CA {hosts[0]}", organization, moment)
    servers = [
        (SERVER_FILES[key_type], issue_server_certificate(authority, hosts, moment, key_type))
        for key_type in ("rsa", "ecdsa")
    ]

    async def work(store: Store) -> list[IssuedCertificateRecord]:
        return [await _record(store, s, CertificateKind.SERVER, None) for _, s in servers]

    # Recorded before the files are written: a store that cannot be reached leaves no CA behind
    # that a second try would need --force to replace.
    records = run_store(config, work)
    files = [
        (ca_key_path, private_key_to_pem(authority.private_key), True),
        (ca_cert_path, certificate_to_pem(authority.certificate), False),
    ]
    for base, issued in servers:
        files.append((folder / f"{base}.key", issued.private_key_pem(), True))
        files.append((folder / f"{base}.pem", issued.chain_pem(), False))
    _write_files(folder, files)

    tls = TlsSettings(
        tls_cert=",".join(str(folder / f"{base}.pem") for base, _ in servers),
        tls_key=",".join(str(folder / f"{base}.key") for base, _ in servers),
        tls_ca=str(ca_cert_path),
    )
    ca = certificate_summary(authority.certificate)
    wss_url = f"wss://{hosts[0]}:{settings.ocpp_tls_port}/ocpp/<ChargePointID>"
    if as_json:
        print_json(
            InitResult(
                directory=str(folder),
                hosts=hosts,
                ca_subject=ca.subject,
                ca_serial_number=ca.serial_number,
                ca_not_after=ca.not_after,
                ca_root_file=str(ca_cert_path),
                server_certificates=records,
                settings=tls,
                wss_url=wss_url,
            )
        )
        return
    lines = [
        f"created a CA ({ca.subject}, valid until {time_text(ca.not_after)}) in {folder}",
        f"created RSA and ECDSA server certificates for {', '.join(hosts)} "
        f"(serials {', '.join(r.serial_number for r in records)}, valid until "
        f"{time_text(records[0].not_after)})",
        "",
        "Use these settings (chargedeck.toml, or CHARGEDECK_TLS_CERT, _TLS_KEY and _TLS_CA):",
        f"tls_cert = {_toml(tls.tls_cert)}",
        f"tls_key = {_toml(tls.tls_key)}",
        f"tls_ca = {_toml(tls.tls_ca)}",
        "",
        f"Upload the CA root {ca_cert_path} to the charger as the CSMS root certificate "
        "(`chargedeck certs ca --der --out ca.cer` if it wants DER).",
        f"Chargers then connect to {wss_url}",
    ]
    # soft_wrap: the settings lines must stay whole to be copied, whatever the terminal width.
    console.print("\n".join(lines), soft_wrap=True)


# ---- charger ---------------------------------------------------------------------------------


class ChargerResult(msgspec.Struct, frozen=True, kw_only=True):
    """What ``certs charger --json`` prints."""

    certificate: Any
    certificate_file: str
    key_file: str
    ca_root_file: str


@app.command(
    "charger",
    help="Issue a profile 3 client certificate (CN = ID) from the CA of `certs init`; writes "
    "ID.pem (certificate then CA) and ID.key to --out (default <data_dir>/certs/chargers).",
)
def charger(
    charge_point_id: Annotated[str, typer.Argument(help="The Charge Point ID of the charger")],
    days: Annotated[
        int | None, typer.Option("--days", min=1, max=3650, help="Validity in days [default: 365]")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for ID.pem and ID.key")] = None,
    organization: Annotated[
        str | None, typer.Option(help="O of the certificate (default: the CA's organisation)")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace existing ID.pem and ID.key files")
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    from cryptography.x509.oid import NameOID

    from chargedeck.domain.certificates import DEFAULT_CHARGER_DAYS, issue_charge_point_certificate
    from chargedeck.server.tls import CA_CERT_FILE
    from chargedeck.store.certificates import CertificateKind

    checked = checked_charge_point_id(charge_point_id)
    settings = _settings(config)
    authority = _authority(settings)
    if organization is None:
        # Security Whitepaper ed.3 (facts §1.3): O = the CPO name, which
        # `certs init --organization` put in the CA.
        names = authority.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        organization = str(names[0].value) if names else DEFAULT_ORGANIZATION
    folder = (out if out is not None else _certs_dir(settings) / "chargers").resolve()
    # check_charge_point_id refuses "/" and unprintable characters: the id is a safe file name.
    cert_path, key_path = folder / f"{checked}.pem", folder / f"{checked}.key"
    existing = [p.name for p in (cert_path, key_path) if p.exists()]
    if existing and not force:
        raise fail(
            f"{' and '.join(existing)} already in {folder}: run again with --force to "
            "replace (the old certificate stays valid until you revoke it)"
        )
    issued = issue_charge_point_certificate(
        authority, checked, organization, now(), days or DEFAULT_CHARGER_DAYS
    )
    record = run_store(
        config, lambda store: _record(store, issued, CertificateKind.CHARGER, checked)
    )
    _write_files(
        folder,
        [(key_path, issued.private_key_pem(), True), (cert_path, issued.chain_pem(), False)],
    )
    ca_root = _certs_dir(settings) / CA_CERT_FILE
    _report(
        ChargerResult(
            certificate=record,
            certificate_file=str(cert_path),
            key_file=str(key_path),
            ca_root_file=str(ca_root),
        ),
        as_json,
        f"issued a client certificate for {checked} (serial {record.serial_number}, valid "
        f"until {time_text(record.not_after)}): {cert_path} and {key_path}; install both on the "
        f"charger for security profile 3, with the CA root {ca_root}",
    )


# ---- list and revoke -------------------------------------------------------------------------


class ListResult(msgspec.Struct, frozen=True, kw_only=True):
    """What ``certs list --json`` prints: what the CA issued, and the revoked list (which may
    hold serials of another CA)."""

    issued: list[Any]
    revoked: list[Any]


@app.command("list", help="List the certificates the CA issued and the revoked serials.")
def list_certificates(
    charge_point: Annotated[str | None, typer.Option(help="Only this charge point")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    checked = None if charge_point is None else checked_charge_point_id(charge_point)

    async def work(store: Store) -> ListResult:
        revoked = await store.certificates.list_revoked()
        return ListResult(
            issued=await store.certificates.list_issued(checked),
            revoked=[r for r in revoked if checked is None or r.charge_point_id == checked],
        )

    result = run_store(config, work)
    if as_json:
        print_json(result)
        return
    serials = [r.serial_number for r in (*result.issued, *result.revoked)]
    table = Table()
    # The serial is what `certs revoke` takes: never shortened, whatever the terminal width.
    table.add_column("serial", no_wrap=True, min_width=max(map(len, serials), default=6))
    for header in ("kind", "for", "valid until", "revoked"):
        table.add_column(header)
    for issued in result.issued:
        table.add_row(
            issued.serial_number,
            issued.kind.value,
            issued.charge_point_id or _common_name(issued.subject),
            _date(issued.not_after),
            _date(issued.revoked_at),
        )
    issued_serials = {r.serial_number for r in result.issued}
    for revoked in result.revoked:
        if revoked.serial_number not in issued_serials:
            table.add_row(
                revoked.serial_number,
                "other CA",
                revoked.charge_point_id or "",
                "",
                _date(revoked.revoked_at),
            )
    # A pipe gets rich's 80 columns, too few for a whole serial and the rest: scripts and
    # `less` get the full width instead, a terminal gets the table folded to fit.
    output = (
        console
        if console.is_terminal
        else Console(markup=False, highlight=False, width=_PIPE_TABLE_WIDTH)
    )
    output.print(table)


@app.command(
    "revoke",
    help="Put a certificate serial on the revoked list: a profile 3 charger presenting it is "
    "refused from its next connection. Serials of another CA may be revoked too.",
)
def revoke(
    serial: Annotated[str, typer.Argument(help="Serial number in hex (colons allowed)")],
    reason: Annotated[str | None, typer.Option(help="Why, shown in the list")] = None,
    charge_point: Annotated[
        str | None,
        typer.Option(help="The charger it belongs to (default: from the issued list)"),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    from chargedeck.domain.certificates import normalize_serial
    from chargedeck.store.certificates import RevokedCertificateRecord

    try:
        normalized = normalize_serial(serial)
    except ValueError as exc:
        raise fail(str(exc)) from None
    checked = None if charge_point is None else checked_charge_point_id(charge_point)

    async def work(store: Store) -> tuple[bool, RevokedCertificateRecord]:
        issued = await store.certificates.get_issued(normalized)
        owner = checked
        if owner is None and issued is not None:
            owner = issued.charge_point_id
        revoked = await store.certificates.revoke(normalized, owner, reason, now())
        return issued is not None, revoked

    ours, revoked = run_store(config, work)
    whose = f" of {revoked.charge_point_id}" if revoked.charge_point_id else ""
    origin = "" if ours else " (not issued by ChargeDeck's CA)"
    _report(
        revoked,
        as_json,
        f"revoked certificate serial {revoked.serial_number}{whose}{origin} at "
        f"{time_text(revoked.revoked_at)}; a charger presenting it is refused from its next "
        "connection",
    )


# ---- ca --------------------------------------------------------------------------------------


class CaResult(msgspec.Struct, frozen=True, kw_only=True):
    """What ``certs ca --json`` prints (the DER bytes in base64 when not written to a file)."""

    format: str
    file: str | None
    source: str
    subject: str
    serial_number: str
    not_after: datetime
    pem: str | None = None
    der_base64: str | None = None


def _ca_root(settings: Settings) -> tuple[bytes, bytes, str]:
    """PEM, DER and origin of the CA root chargers must trust, as the server offers it: from the
    TLS settings when they are set, else the CA of ``certs init``."""
    from chargedeck.domain.certificates import certificate_to_der, certificate_to_pem
    from chargedeck.server.tls import CA_CERT_FILE, ServerTls, TlsConfigError

    try:
        tls = ServerTls(settings)
        if tls.enabled:
            source = "tls_ca" if tls.client_certificates else "tls_cert"
            return tls.ca_certificates_pem(), tls.ca_certificates_der(), source
    except TlsConfigError as exc:
        raise fail(str(exc)) from None
    authority = _authority(settings)
    return (
        certificate_to_pem(authority.certificate),
        certificate_to_der(authority.certificate),
        str(_certs_dir(settings) / CA_CERT_FILE),
    )


@app.command(
    "ca",
    help="Print or write the CA root to upload to chargers (PEM, or DER with --der): the tls_ca "
    "file when set, else the issuer at the end of the tls_cert chain, else the CA of "
    "`certs init`.",
)
def ca(
    der: Annotated[bool, typer.Option("--der", help="DER (.cer) instead of PEM")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    from cryptography import x509

    from chargedeck.domain.certificates import certificate_summary

    settings = _settings(config)
    pem, der_bytes, source = _ca_root(settings)
    data = der_bytes if der else pem
    first = certificate_summary(x509.load_der_x509_certificate(der_bytes))
    if out is None and der and not as_json and sys.stdout.isatty():
        raise fail("--der output is binary: give --out FILE or redirect it to a file")
    if out is not None:
        try:
            _write_file(out, data, private=False)
        except OSError as exc:
            raise fail(f"cannot write {out}: {exc.strerror or exc}") from None
    if as_json:
        print_json(
            CaResult(
                format="der" if der else "pem",
                file=None if out is None else str(out.resolve()),
                source=source,
                subject=first.subject,
                serial_number=first.serial_number,
                not_after=first.not_after,
                pem=pem.decode("ascii") if out is None and not der else None,
                der_base64=base64.b64encode(der_bytes).decode() if out is None and der else None,
            )
        )
    elif out is not None:
        console.print(
            f"wrote the CA root ({first.subject}, valid until {time_text(first.not_after)}, "
            f"from {source}) to {out.resolve()} as {'DER' if der else 'PEM'}; upload it to the "
            "charger",
            soft_wrap=True,
        )
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
