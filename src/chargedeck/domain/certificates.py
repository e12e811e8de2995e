"""Certificates for Security Profiles 2 and 3 (Security Whitepaper ed.3; DESIGN §5): the CA, server
and charger certificates ``chargedeck certs`` creates, CSR signing for SignCertificate, and the
checks of a charger's client certificate that the TLS library leaves to us.

Pure functions over the ``cryptography`` package: no files, no clock (``now`` comes in).

Rules implemented here ("facts": ocpp16-facts-and-peers.md §1.3, "TLS (profiles 2 and 3)"):

- certificates are signed with SHA-256; keys are RSA >= 2048 bits or EC >= 224 bits;
- the server certificate's CN holds the CSMS host name, with subjectAltName entries for every
  name and address the chargers may dial;
- a charger certificate's CN is the charge point's identity and its O the CPO name (``CpoName``);
- both an RSA and an ECDSA server certificate exist, because the four whitepaper cipher suites
  include two ``ECDHE_ECDSA`` and two ``RSA`` key-exchange suites;
- chains are served in full, leaf then CA (wallbox-field-notes.md Q18: missing intermediates and
  self-signed leaves are the typical failures chargers report).
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

RSA_KEY_BITS = 2048
"""Security Whitepaper ed.3 (facts §1.3): RSA >= 2048 bits. 2048 is also what every charger TLS
stack we know accepts; larger keys slow the handshakes of embedded chargers for no gain within a
certificate's life."""

EC_CURVE: ec.EllipticCurve = ec.SECP256R1()
"""Security Whitepaper ed.3 (facts §1.3): EC >= 224 bits. P-256 is the curve TLS_ECDHE_ECDSA
suites are universally implemented with (mbedTLS, wolfSSL and OpenSSL builds on chargers all carry
it)."""

BACKDATE = timedelta(minutes=5)
"""notBefore is set this far before ``now`` so a charger whose clock runs a little behind does not
refuse a certificate issued a moment ago as "not yet valid"."""

DEFAULT_CA_DAYS = 3650
"""A CA root is uploaded to every charger by hand; ten years keeps that a rare chore."""

DEFAULT_SERVER_DAYS = 825
"""The longest leaf lifetime TLS clients commonly still accept (the CA/Browser Forum's 825-day
limit that Apple enforces): chargers are not known to enforce it, but operators test from
browsers and phones."""

DEFAULT_CHARGER_DAYS = 365
"""A charger's client certificate is renewed through SignCertificate (whitepaper A02) yearly."""

KeyType = Literal["rsa", "ecdsa"]

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    """A CA that can sign: its certificate and private key."""

    certificate: x509.Certificate
    private_key: CertificateIssuerPrivateKeyTypes


@dataclass(frozen=True, slots=True)
class SignedCertificate:
    """A certificate ChargeDeck's CA issued, as sent to a charger (CertificateSigned.req)."""

    certificate_chain_pem: str
    """The new certificate followed by the CA certificate, PEM."""
    serial_number: str
    """Lower-case hex, as stored in issued_certificates."""
    subject: str
    not_before: datetime
    not_after: datetime


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """A certificate and the private key that goes with it, freshly issued by our CA."""

    certificate: x509.Certificate
    private_key: PrivateKeyTypes
    authority_certificate: x509.Certificate

    @property
    def serial_number(self) -> str:
        """Lower-case hex, as stored in issued_certificates."""
        return serial_hex(self.certificate)

    def chain_pem(self) -> bytes:
        """The leaf then the CA certificate, PEM: what a TLS server must present (Q18)."""
        return certificate_to_pem(self.certificate) + certificate_to_pem(self.authority_certificate)

    def private_key_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (for a file of mode 0600)."""
        return private_key_to_pem(self.private_key)


@dataclass(frozen=True, slots=True)
class CertificateSummary:
    """What an operator needs to see of a certificate in a listing."""

    serial_number: str
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime


class CsrRefused(ValueError):
    """A CSR ChargeDeck will not sign; the message says why (for the log and the API)."""


class CertificateDataError(ValueError):
    """Certificate or key bytes that cannot be used; the message says which and why."""


class ClientCertificateProblemKind(enum.Enum):
    """Why a profile 3 client certificate that chained to our CA is still refused."""

    UNREADABLE = "unreadable"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    CN_MISMATCH = "cn_mismatch"


@dataclass(frozen=True, slots=True)
class ClientCertificateProblem:
    """A refused client certificate: the kind (for counters and tests) and a sentence naming the
    values (for the log, the charger's event list, the API and the UI; DESIGN §5)."""

    kind: ClientCertificateProblemKind
    detail: str


# ---------------------------------------------------------------------------------------------
# Helpers


def serial_hex(certificate: x509.Certificate) -> str:
    """The certificate's serial number as lower-case hex without leading zeros or colons."""
    return format(certificate.serial_number, "x")


def normalize_serial(text: str) -> str:
    """A serial number as typed or pasted (``0A:1B:2C`` from ``openssl x509 -serial``, upper
    case, with spaces) in the stored form: lower-case hex without leading zeros or separators.

    Raises ``ValueError`` with a sentence for text that is not a hexadecimal number.
    """
    digits = "".join(text.split()).replace(":", "")
    if digits.lower().startswith("0x"):
        digits = digits[2:]
    if not digits or not all(character in _HEX_DIGITS for character in digits):
        raise ValueError(f"serial number {text!r} is not a hexadecimal number")
    return format(int(digits, 16), "x")


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC. Raises ``ValueError`` for a naive datetime: its zone is a guess (the
    store refuses them for the same reason)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: pass a tz-aware time")
    return moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    """``2026-01-01T00:00:00Z``: the form OCPP uses for timestamps, so a sentence reads the same
    in the log as the charger's own messages."""
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def _common_names(name: x509.Name) -> list[str]:
    values: list[str] = []
    for attribute in name.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = attribute.value
        values.append(value if isinstance(value, str) else value.decode("utf-8", "replace"))
    return values


def _signature_hash() -> hashes.SHA256:
    # Whitepaper ed.3 (facts §1.3): certificates SHALL be signed with SHA-256 (never SHA-1).
    return hashes.SHA256()


def _new_private_key(key_type: KeyType) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    if key_type == "ecdsa":
        return ec.generate_private_key(EC_CURVE)
    raise ValueError(f"key type must be 'rsa' or 'ecdsa', not {key_type!r}")


def _check_validity_days(validity_days: int) -> None:
    if validity_days < 1:
        raise ValueError(f"validity must be at least 1 day, not {validity_days}")


def _key_usage(*, digital_signature: bool, key_encipherment: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _leaf_key_usage(public_key: CertificatePublicKeyTypes) -> x509.KeyUsage:
    # RFC 5246 §7.4.7.1: with TLS_RSA_* suites the client encrypts the premaster secret to the
    # server's RSA key, which needs keyEncipherment; ECDSA keys only ever sign.
    return _key_usage(
        digital_signature=True, key_encipherment=isinstance(public_key, rsa.RSAPublicKey)
    )


def _leaf_builder(
    authority: CertificateAuthority,
    subject: x509.Name,
    public_key: CertificatePublicKeyTypes,
    now: datetime,
    validity_days: int,
    extended_key_usage: x509.ObjectIdentifier,
) -> x509.CertificateBuilder:
    """The parts every certificate our CA issues shares: a fresh random serial, validity,
    not-a-CA, key usage, one EKU and the key identifiers that let chain building find the CA."""
    _check_validity_days(validity_days)
    start = _utc(now)
    authority_ski = authority.certificate.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier
    ).value
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(authority.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - BACKDATE)
        .not_valid_after(start + timedelta(days=validity_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_key_usage(public_key), critical=True)
        .add_extension(x509.ExtendedKeyUsage([extended_key_usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(authority_ski),
            critical=False,
        )
    )


# ---------------------------------------------------------------------------------------------
# CSR signing (SignCertificate.req, whitepaper A02 / "Signing-request flow")


def sign_charge_point_csr(
    authority: CertificateAuthority,
    csr_pem: str,
    charge_point_id: str,
    now: datetime,
    validity_days: int = 365,
) -> SignedCertificate:
    """Sign a charger's CSR (SignCertificate.req ``csr``) if its CN is ``charge_point_id``.

    The CN rule is ChargeDeck's (DESIGN §5: "the certificate CN must equal the charger's
    serial/id"); the whitepaper says CN = serial number, and many CSMS compare it with the
    identity in the URL, which is what the profile 3 handshake checks, so a certificate with any
    other CN would be useless to the charger. The subject is copied from the CSR (it carries
    O = CpoName, whitepaper ed.3, facts §1.3); the extensions are ours, never the CSR's, so a
    charger cannot ask for a CA certificate.

    Raises ``CsrRefused`` for a CSR that is not PEM, has a bad signature, or names another CN.
    """
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode("utf-8", "replace"))
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CsrRefused("not a PEM certificate signing request") from exc
    try:
        signature_valid = csr.is_signature_valid
        public_key = csr.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CsrRefused(f"certificate signing request cannot be verified: {exc}") from exc
    if not signature_valid:
        raise CsrRefused("certificate signing request signature is not valid")
    _check_key_strength(public_key)
    common_names = _common_names(csr.subject)
    if common_names != [charge_point_id]:
        shown = ", ".join(repr(name) for name in common_names) or "(none)"
        raise CsrRefused(
            f"certificate signing request CN {shown} does not match charge point id "
            f"{charge_point_id!r}"
        )
    builder = _leaf_builder(
        authority,
        csr.subject,
        public_key,
        now,
        validity_days,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    )
    certificate = builder.sign(authority.private_key, _signature_hash())
    chain = certificate_to_pem(certificate) + certificate_to_pem(authority.certificate)
    return SignedCertificate(
        certificate_chain_pem=chain.decode("ascii"),
        serial_number=serial_hex(certificate),
        subject=certificate.subject.rfc4514_string(),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
    )


def _check_key_strength(public_key: CertificatePublicKeyTypes) -> None:
    """Security Whitepaper ed.3 (facts §1.3): RSA >= 2048 bits or EC >= 224 bits; other key kinds
    are not allowed."""
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            raise CsrRefused(
                f"certificate signing request RSA key has {public_key.key_size} bits, "
                "at least 2048 are required"
            )
        return
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.key_size < 224:
            raise CsrRefused(
                f"certificate signing request EC key has {public_key.curve.key_size} bits, "
                "at least 224 are required"
            )
        return
    raise CsrRefused(
        f"certificate signing request key type {type(public_key).__name__} is not RSA or EC"
    )


# ---------------------------------------------------------------------------------------------
# Issuance for ``chargedeck certs``


def create_certificate_authority(
    common_name: str,
    organization: str,
    now: datetime,
    validity_days: int = DEFAULT_CA_DAYS,
) -> CertificateAuthority:
    """A new self-signed root CA with an RSA 2048 key.

    RSA rather than EC for the root because it is the one key type every charger TLS stack
    verifies (some embedded stacks ship without ECDSA signature verification); the whitepaper
    allows both (§1.3). The root signs both the RSA and the ECDSA server certificates.
    """
    _check_validity_days(validity_days)
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    start = _utc(now)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - BACKDATE)
        .not_valid_after(start + timedelta(days=validity_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, _signature_hash())
    )
    return CertificateAuthority(certificate=certificate, private_key=key)


def _subject_alternative_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def issue_server_certificate(
    authority: CertificateAuthority,
    hosts: Sequence[str],
    now: datetime,
    key_type: KeyType,
    validity_days: int = DEFAULT_SERVER_DAYS,
) -> IssuedCertificate:
    """A TLS server certificate for the CSMS with a new key of ``key_type``.

    Security Whitepaper ed.3 (facts §1.3): the CN holds the CSMS host name (the first of
    ``hosts``); every host also goes into subjectAltName, as a DNS name or, when it parses as one,
    an IP address, because modern TLS clients match only the SANs. Raises ``ValueError`` for an
    empty ``hosts``.
    """
    if not hosts:
        raise ValueError("a server certificate needs at least one host name or IP address")
    key = _new_private_key(key_type)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, hosts[0]),
            *authority.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME),
        ]
    )
    certificate = (
        _leaf_builder(
            authority,
            subject,
            key.public_key(),
            now,
            validity_days,
            ExtendedKeyUsageOID.SERVER_AUTH,
        )
        .add_extension(
            x509.SubjectAlternativeName(_subject_alternative_names(hosts)), critical=False
        )
        .sign(authority.private_key, _signature_hash())
    )
    return IssuedCertificate(certificate, key, authority.certificate)


def issue_charge_point_certificate(
    authority: CertificateAuthority,
    charge_point_id: str,
    organization: str,
    now: datetime,
    validity_days: int = DEFAULT_CHARGER_DAYS,
) -> IssuedCertificate:
    """A profile 3 client certificate for a charger that cannot make its own CSR.

    Security Whitepaper ed.3 (facts §1.3): CN = the charge point's identity (ChargeDeck compares it
    with the id in the URL), O = the CPO name (``CpoName``), clientAuth only. The key is RSA 2048,
    the one type every charger accepts for upload.
    """
    if not charge_point_id:
        raise ValueError("a charger certificate needs a charge point id")
    key = _new_private_key("rsa")
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, charge_point_id),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    certificate = _leaf_builder(
        authority,
        subject,
        key.public_key(),
        now,
        validity_days,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ).sign(authority.private_key, _signature_hash())
    return IssuedCertificate(certificate, key, authority.certificate)


# ---------------------------------------------------------------------------------------------
# Serialisation


def certificate_to_pem(certificate: x509.Certificate) -> bytes:
    """The certificate in PEM (whitepaper ed.3, facts §1.3: certificates are exchanged as PEM)."""
    return certificate.public_bytes(serialization.Encoding.PEM)


def certificate_to_der(certificate: x509.Certificate) -> bytes:
    """The certificate in DER: the ``.cer``/``.der`` form some charger apps ask for."""
    return certificate.public_bytes(serialization.Encoding.DER)


def private_key_to_pem(private_key: PrivateKeyTypes) -> bytes:
    """The key as unencrypted PKCS#8 PEM: what OpenSSL's ``load_cert_chain`` reads without a
    password prompt. Protection is the file mode (0600), not a passphrase."""
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_certificates_pem(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, in order. Raises ``CertificateDataError`` when there is
    none or one is broken."""
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise CertificateDataError(f"not a PEM certificate file: {exc}") from exc
    return certificates


def load_certificate_authority_pem(cert_pem: bytes, key_pem: bytes) -> CertificateAuthority:
    """The CA from its PEM certificate (the first in the file) and unencrypted PEM private key.

    Raises ``CertificateDataError`` if either cannot be read, the certificate is not a CA, the
    key cannot sign certificates, or the key does not belong to the certificate.
    """
    certificate = load_certificates_pem(cert_pem)[0]
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise CertificateDataError(f"not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise CertificateDataError(f"CA private key type {type(key).__name__} is not RSA or EC")
    if key.public_key() != certificate.public_key():
        raise CertificateDataError("CA private key does not belong to the CA certificate")
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise CertificateDataError(
            f"certificate {certificate.subject.rfc4514_string()} is not a CA certificate"
        )
    try:
        certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound as exc:
        # _leaf_builder derives the AuthorityKeyIdentifier from it.
        raise CertificateDataError(
            f"CA certificate {certificate.subject.rfc4514_string()} has no subject key identifier"
        ) from exc
    return CertificateAuthority(certificate=certificate, private_key=key)


# ---------------------------------------------------------------------------------------------
# Profile 3 checks after the TLS handshake


def check_client_certificate(
    certificate_der: bytes,
    charge_point_id: str,
    now: datetime,
    revoked_serials: Collection[str],
) -> ClientCertificateProblem | None:
    """Why the client certificate a charger presented must be refused, or None if it may connect.

    The server's SSLContext has already verified the chain to the CA, but with OpenSSL's
    X509_V_FLAG_NO_CHECK_TIME (see server/tls.py), so that an expired certificate completes the
    handshake and is refused here, at HTTP level, with the charger's id in the log and the UI
    rather than as an anonymous TLS alert. The checks run in the order unreadable, expired, not
    yet valid, revoked (the operator's list, whitepaper ed.3, facts §1.3 "Revocation"), CN
    (= charge point identity, DESIGN §5). ``revoked_serials`` holds lower-case hex serials.
    """
    try:
        certificate = x509.load_der_x509_certificate(certificate_der)
        not_before = certificate.not_valid_before_utc
        not_after = certificate.not_valid_after_utc
    except ValueError as exc:
        return ClientCertificateProblem(
            ClientCertificateProblemKind.UNREADABLE,
            f"client certificate cannot be read: {exc}",
        )
    moment = _utc(now)
    if moment > not_after:
        return ClientCertificateProblem(
            ClientCertificateProblemKind.EXPIRED,
            f"client certificate expired on {_iso(not_after)}",
        )
    if moment < not_before:
        return ClientCertificateProblem(
            ClientCertificateProblemKind.NOT_YET_VALID,
            f"client certificate is not valid before {_iso(not_before)}",
        )
    serial = serial_hex(certificate)
    if serial in revoked_serials:
        return ClientCertificateProblem(
            ClientCertificateProblemKind.REVOKED,
            f"client certificate serial {serial} is on the revoked list",
        )
    common_names = _common_names(certificate.subject)
    if common_names != [charge_point_id]:
        shown = ", ".join(repr(name) for name in common_names) or "(none)"
        return ClientCertificateProblem(
            ClientCertificateProblemKind.CN_MISMATCH,
            f"client certificate CN {shown} does not match charge point id {charge_point_id!r}",
        )
    return None


def certificate_summary(certificate: x509.Certificate) -> CertificateSummary:
    """Serial (lower-case hex), subject and issuer (RFC 4514) and validity, for listings."""
    return CertificateSummary(
        serial_number=serial_hex(certificate),
        subject=certificate.subject.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
    )
