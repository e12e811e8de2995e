"""Server TLS for Security Profiles 2 and 3: the ``ssl.SSLContext`` of the wss:// listener, built
from the operator's files, and swapped without downtime when they change (DESIGN §5).

Rules ("facts": ocpp16-facts-and-peers.md §1.3 "TLS (profiles 2 and 3)", Security Whitepaper
ed.3): TLS 1.2 or higher; no TLS compression; at least the four suites
TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
TLS_RSA_WITH_AES_128_GCM_SHA256 and TLS_RSA_WITH_AES_256_GCM_SHA384, which takes an ECDSA and an
RSA server certificate side by side; profile 3 verifies the charger's certificate chain to the
CPO's CA. wallbox-field-notes.md Q18: serve the full chain and show which certificate the
charger must trust (``ca_certificates_pem``).

Reloading builds a new context and swaps it in: OpenSSL copies what a connection needs when its
handshake starts, so connections already open keep their old context, and new handshakes get the
new one. A broken file never takes TLS down: the old context stays until the files are fixed.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NoReturn

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from chargedeck.config import Settings
from chargedeck.domain.certificates import (
    CertificateAuthority,
    CertificateDataError,
    certificate_to_der,
    certificate_to_pem,
    load_certificate_authority_pem,
    load_certificates_pem,
)

log = logging.getLogger(__name__)

# Security Whitepaper ed.3 (facts §1.3): the four suites a CSMS SHALL support under TLS 1.2, in
# OpenSSL's names, followed by the ECDHE-RSA GCM suites modern clients prefer with an RSA
# certificate. Forward secret (ECDHE) suites first; the server's order wins
# (OP_CIPHER_SERVER_PREFERENCE). The TLS_RSA_* key-exchange suites are named explicitly because
# OpenSSL's default list and distribution policies drop them. TLS 1.3 suites are configured
# separately by OpenSSL and stay at its defaults (all AEAD).
TLS12_CIPHERS: Final = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",  # TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (whitepaper)
        "ECDHE-ECDSA-AES256-GCM-SHA384",  # TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (whitepaper)
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "AES128-GCM-SHA256",  # TLS_RSA_WITH_AES_128_GCM_SHA256 (whitepaper)
        "AES256-GCM-SHA384",  # TLS_RSA_WITH_AES_256_GCM_SHA384 (whitepaper)
    )
)

# OpenSSL's X509_V_FLAG_NO_CHECK_TIME (x509_vfy.h): verify the chain but not the validity dates.
# The ``ssl`` module has no name for it.
X509_V_FLAG_NO_CHECK_TIME: Final = ssl.VerifyFlags(0x200000)

# OpenSSL's reasons when load_cert_chain gets a key of another certificate: of the same type,
# or of the other type (an ECDSA key for an RSA certificate leaves that certificate keyless).
_KEY_MISMATCH_REASONS: Final = frozenset({"KEY_VALUES_MISMATCH", "NO_CERTIFICATE_ASSIGNED"})

CERTS_DIR_NAME: Final = "certs"
"""Folder under data_dir where ``chargedeck certs init`` writes the CA and server files."""
CA_CERT_FILE: Final = "ca.pem"
CA_KEY_FILE: Final = "ca.key"
SERVER_FILES: Final = {"rsa": "server-rsa", "ecdsa": "server-ecdsa"}
"""Base names of the server chain (``.pem``) and key (``.key``) files per key type."""


def certificates_dir(data_dir: str | Path) -> Path:
    """``<data_dir>/certs``: where ``chargedeck certs`` keeps the CA and server certificates."""
    return Path(data_dir) / CERTS_DIR_NAME


class TlsConfigError(ValueError):
    """A TLS setting names a file that cannot be used; the message names the setting (tls_cert,
    tls_key, tls_ca) and the file."""


def split_files(value: str) -> list[str]:
    """The file names of a comma-separated ``tls_*`` setting, blanks dropped."""
    return [part.strip() for part in value.split(",") if part.strip()]


# ---------------------------------------------------------------------------------------------
# Building a context


@dataclass(frozen=True, slots=True)
class _Material:
    """What one build read from the files: the context and the CA certificates to show."""

    context: ssl.SSLContext
    trust_anchors: tuple[x509.Certificate, ...]
    leaf_only_files: tuple[str, ...]
    """Chain files holding just a leaf that is not self-signed (no issuer served)."""


def _read(setting: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise TlsConfigError(f"{setting}: cannot read {path}: {exc.strerror or exc}") from None


def _certificates(setting: str, path: str) -> list[x509.Certificate]:
    try:
        return load_certificates_pem(_read(setting, path))
    except CertificateDataError as exc:
        raise TlsConfigError(f"{setting}: {path} is not a PEM certificate file ({exc})") from None


def _key_type(certificate: x509.Certificate) -> str:
    public_key = certificate.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RSA"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "ECDSA"
    return type(public_key).__name__


def _refuse_encrypted_key(key_file: str) -> Callable[[], str]:
    """The password callback of ``load_cert_chain``: without one OpenSSL would prompt on the
    terminal for an encrypted key's passphrase and hang the server."""

    def refuse() -> NoReturn:
        raise TlsConfigError(
            f"tls_key: {key_file} is encrypted; give an unencrypted PEM key (protect it with "
            "file mode 0600)"
        )

    return refuse


def _build(
    cert_files: Sequence[str], key_files: Sequence[str], ca_files: Sequence[str]
) -> _Material:
    if not cert_files:
        raise TlsConfigError("tls_cert: no certificate file given")
    if len(key_files) != len(cert_files):
        raise TlsConfigError(
            f"tls_key: {len(key_files)} key file(s) given for {len(cert_files)} tls_cert "
            "file(s); give one key per certificate, in the same order"
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # Security Whitepaper ed.3 (facts §1.3): TLS 1.2 or higher; 1.0/1.1 are allowed only for
    # legacy chargers, which ChargeDeck refuses.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # Security Whitepaper ed.3 (facts §1.3): no TLS compression (CRIME). Python sets it by
    # default; we insist.
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    try:
        context.set_ciphers(TLS12_CIPHERS)
    except ssl.SSLError as exc:  # an OpenSSL built without these suites
        raise TlsConfigError(f"tls_cert: this OpenSSL cannot enable the suites: {exc}") from None

    issuers: list[x509.Certificate] = []
    leaf_only: list[str] = []
    seen_key_types: dict[str, str] = {}
    for cert_file, key_file in zip(cert_files, key_files, strict=True):
        chain = _certificates("tls_cert", cert_file)
        key_type = _key_type(chain[0])
        if key_type in seen_key_types:
            # OpenSSL keeps one certificate per key type: the second would silently replace
            # the first.
            raise TlsConfigError(
                f"tls_cert: {seen_key_types[key_type]} and {cert_file} both hold an {key_type} "
                "certificate; give at most one RSA and one ECDSA certificate"
            )
        seen_key_types[key_type] = cert_file
        _read("tls_key", key_file)
        try:
            context.load_cert_chain(cert_file, key_file, password=_refuse_encrypted_key(key_file))
        except ssl.SSLError as exc:
            if exc.reason in _KEY_MISMATCH_REASONS:
                raise TlsConfigError(
                    f"tls_key: {key_file} is not the private key of the certificate in {cert_file}"
                ) from None
            raise TlsConfigError(
                f"tls_key: {key_file} is not a usable unencrypted PEM private key ({exc})"
            ) from None
        except OSError as exc:
            raise TlsConfigError(
                f"tls_cert: cannot load {cert_file} with {key_file}: {exc.strerror or exc}"
            ) from None
        if chain[-1] not in issuers:
            issuers.append(chain[-1])
        if len(chain) == 1 and chain[0].issuer != chain[0].subject:
            leaf_only.append(cert_file)

    anchors: list[x509.Certificate] = []
    for ca_file in ca_files:
        anchors.extend(_certificates("tls_ca", ca_file))
        try:
            context.load_verify_locations(cafile=ca_file)
        except (ssl.SSLError, OSError) as exc:
            raise TlsConfigError(f"tls_ca: cannot load {ca_file}: {exc}") from None
    if ca_files:
        # Profile 2 chargers present no client certificate, profile 3 chargers do: optional, and
        # a certificate that is presented must chain to tls_ca or the handshake fails.
        context.verify_mode = ssl.CERT_OPTIONAL
        # Expiry is NOT checked by OpenSSL: an expired charger certificate completes the
        # handshake so that check_client_certificate (domain/certificates.py) refuses it at
        # HTTP level, where the charge point id is known and the refusal reaches the charger's
        # event list, the log and the UI ("client certificate expired on ..."), instead of an
        # anonymous TLS alert. The chain and signatures are still verified here.
        context.verify_flags |= X509_V_FLAG_NO_CHECK_TIME
    return _Material(context, tuple(anchors or issuers), tuple(leaf_only))


def build_server_context(
    cert_files: Sequence[str], key_files: Sequence[str], ca_files: Sequence[str]
) -> ssl.SSLContext:
    """The server context for wss://: TLS 1.2+, the whitepaper suites, one certificate per key
    type (``cert_files[i]`` with ``key_files[i]``, each a chain file leaf first), and, when
    ``ca_files`` are given, optional client certificates verified against them (profile 3).

    Raises ``TlsConfigError`` naming the setting and the file for anything that cannot be loaded.
    """
    return _build(cert_files, key_files, ca_files).context


def load_authority(data_dir: str | Path) -> CertificateAuthority | None:
    """The CA of ``chargedeck certs init``: ``<data_dir>/certs/ca.pem`` and ``ca.key``, or None
    when either file is missing (the operator brought their own certificates; SignCertificate is
    then answered Rejected).

    Raises ``TlsConfigError`` naming data_dir if the files exist but cannot be used.
    """
    folder = certificates_dir(data_dir)
    cert_path, key_path = folder / CA_CERT_FILE, folder / CA_KEY_FILE
    if not (cert_path.is_file() and key_path.is_file()):
        return None
    try:
        return load_certificate_authority_pem(cert_path.read_bytes(), key_path.read_bytes())
    except OSError as exc:
        raise TlsConfigError(
            f"data_dir: cannot read the CA in {folder}: {exc.strerror or exc}"
        ) from None
    except CertificateDataError as exc:
        raise TlsConfigError(
            f"data_dir: the CA in {cert_path} and {key_path} cannot be used: {exc}"
        ) from None


# ---------------------------------------------------------------------------------------------
# The live TLS configuration of a server


@dataclass(frozen=True, slots=True)
class _Stamp:
    """What tells that a file changed: replaced (inode), rewritten (mtime) or truncated (size)."""

    path: str
    inode: int
    mtime_ns: int
    size: int


def _stamp(path: str) -> _Stamp | None:
    try:
        status = os.stat(path)
    except OSError:
        return None  # a missing file is a change too; loading it names the problem
    return _Stamp(path, status.st_ino, status.st_mtime_ns, status.st_size)


class ServerTls:
    """The TLS settings of a running server: the current context and the CA to show chargers.

    ``context`` is asked for every new connection; ``reload_if_changed`` is called periodically
    (``tls_reload_interval_s``) and swaps in a new context when a file changed, so a renewed
    certificate is served without restarting and without dropping connected chargers.

    Raises ``TlsConfigError`` on construction if the files cannot be used (start-up fails loudly).
    """

    def __init__(self, settings: Settings) -> None:
        self._cert_files = split_files(settings.tls_cert)
        self._key_files = split_files(settings.tls_key)
        self._ca_files = split_files(settings.tls_ca)
        self._data_dir = Path(settings.data_dir)
        if not self._cert_files and (self._key_files or self._ca_files):
            raise TlsConfigError(
                "tls_cert: empty while tls_key or tls_ca is set; TLS needs a server certificate"
            )
        self._material: _Material | None = None
        self._stamps: tuple[_Stamp | None, ...] = ()
        if self.enabled:
            self._stamps = self._current_stamps()
            self._material = self._load()

    @property
    def enabled(self) -> bool:
        """True when tls_cert is set: the server offers wss://."""
        return bool(self._cert_files)

    @property
    def client_certificates(self) -> bool:
        """True when tls_ca is set: chargers may authenticate with a certificate (profile 3)."""
        return bool(self._ca_files)

    @property
    def context(self) -> ssl.SSLContext:
        """The context for the next handshake. Raises ``TlsConfigError`` when TLS is off."""
        return self._current().context

    def reload_if_changed(self) -> bool:
        """Rebuild the context if a certificate, key or CA file changed since the last load.

        Returns True when a new context was swapped in. Raises ``TlsConfigError`` (once per
        change; the old context stays in use) when the changed files cannot be used: the caller
        logs it. Copying a new certificate and its key is two changes; a check in between sees
        a key that does not match and raises, and the next check loads the pair.

        Reads and parses the files (a few milliseconds): call it from a worker thread
        (``asyncio.to_thread``) if the loop must not pause; the swap itself is one assignment,
        and a handshake started meanwhile uses the old or the new context whole.
        """
        if not self.enabled:
            return False
        stamps = self._current_stamps()
        if stamps == self._stamps:
            return False
        # Remembered before loading: a broken file is reported once, not on every check.
        self._stamps = stamps
        self._material = self._load()
        log.info("TLS certificates reloaded from %s", ", ".join(self._cert_files))
        return True

    def reload(self) -> None:
        """Rebuild the context from the files now. Raises ``TlsConfigError`` (keeping the old
        context) if they cannot be used."""
        if not self.enabled:
            return
        self._stamps = self._current_stamps()
        self._material = self._load()

    def ca_certificates_pem(self) -> bytes:
        """The CA certificate(s) to upload to a charger as its CentralSystemRootCertificate.

        The tls_ca file(s) if configured (with ``chargedeck certs init`` the same CA signed the
        server certificates), else the last certificate of each server chain file: the issuer
        the charger must trust (Q18: a self-signed or intermediate-less setup is the typical
        failure). Raises ``TlsConfigError`` when TLS is off.
        """
        return b"".join(certificate_to_pem(c) for c in self._current().trust_anchors)

    def ca_certificates_der(self) -> bytes:
        """The first of ``ca_certificates_pem`` as DER (``.cer``), the form some charger apps
        ask for. Raises ``TlsConfigError`` when TLS is off."""
        return certificate_to_der(self._current().trust_anchors[0])

    def authority(self) -> CertificateAuthority | None:
        """The CA that signs charger CSRs (``load_authority`` of data_dir), or None when
        ``chargedeck certs init`` was not run. Raises ``TlsConfigError`` for unusable files."""
        return load_authority(self._data_dir)

    def _current(self) -> _Material:
        if self._material is None:
            raise TlsConfigError("tls_cert: TLS is not configured (tls_cert is empty)")
        return self._material

    def _current_stamps(self) -> tuple[_Stamp | None, ...]:
        return tuple(
            _stamp(path) for path in (*self._cert_files, *self._key_files, *self._ca_files)
        )

    def _load(self) -> _Material:
        material = _build(self._cert_files, self._key_files, self._ca_files)
        for path in material.leaf_only_files:
            # wallbox-field-notes.md Q18: missing intermediates are the typical failure; a
            # charger only has the root it was given, so the server must send the rest.
            log.warning(
                "tls_cert: %s holds only the server certificate, not the certificate(s) that "
                "issued it; chargers that do not already trust that issuer will fail the "
                "handshake: put the intermediate(s) after the server certificate in the file",
                path,
            )
        return material
