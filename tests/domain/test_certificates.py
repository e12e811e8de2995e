"""Certificates for profiles 2 and 3: what the CA issues, which CSRs it signs, and which client
certificates are refused after the TLS handshake (Security Whitepaper ed.3; DESIGN §5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chargedeck.domain.certificates import (
    CertificateAuthority,
    CertificateDataError,
    ClientCertificateProblemKind,
    CsrRefused,
    certificate_summary,
    certificate_to_der,
    certificate_to_pem,
    check_client_certificate,
    create_certificate_authority,
    issue_charge_point_certificate,
    issue_server_certificate,
    load_certificate_authority_pem,
    normalize_serial,
    private_key_to_pem,
    serial_hex,
    sign_charge_point_csr,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def authority() -> CertificateAuthority:
    return create_certificate_authority("ChargeDeck CA", "ACME Charging", NOW)


@pytest.fixture(scope="module")
def other_authority() -> CertificateAuthority:
    return create_certificate_authority("Other CA", "Someone Else", NOW)


def _csr(
    common_name: str | None,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
) -> str:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ACME Charging")]
    if common_name is not None:
        attributes.insert(0, x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(attributes))
        .sign(key or ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM).decode()


def _extended_key_usages(certificate: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def _is_ca(certificate: x509.Certificate) -> bool:
    return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def _verifies(certificate: x509.Certificate, authority: CertificateAuthority) -> bool:
    try:
        certificate.verify_directly_issued_by(authority.certificate)
    except (ValueError, TypeError):
        return False
    return True


# ---- the CA ----------------------------------------------------------------------------------


def test_the_ca_is_a_self_signed_rsa_2048_ca_that_may_sign_certificates(
    authority: CertificateAuthority,
) -> None:
    certificate = authority.certificate
    assert _is_ca(certificate)
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign
    assert usage.crl_sign
    assert certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    key = certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 2048
    assert isinstance(certificate.signature_hash_algorithm, hashes.SHA256)
    certificate.verify_directly_issued_by(certificate)


def test_the_ca_names_its_organization_and_is_valid_for_ten_years(
    authority: CertificateAuthority,
) -> None:
    subject = authority.certificate.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "ChargeDeck CA"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "ACME Charging"
    assert authority.certificate.not_valid_after_utc == NOW + timedelta(days=3650)


def test_a_ca_written_as_pem_loads_back(authority: CertificateAuthority) -> None:
    loaded = load_certificate_authority_pem(
        certificate_to_pem(authority.certificate), private_key_to_pem(authority.private_key)
    )
    assert loaded.certificate == authority.certificate
    assert private_key_to_pem(loaded.private_key) == private_key_to_pem(authority.private_key)


def test_a_private_key_is_written_as_unencrypted_pkcs8(authority: CertificateAuthority) -> None:
    assert private_key_to_pem(authority.private_key).startswith(b"-----BEGIN PRIVATE KEY-----")


def test_a_ca_with_the_key_of_another_ca_is_refused(
    authority: CertificateAuthority, other_authority: CertificateAuthority
) -> None:
    with pytest.raises(CertificateDataError, match="does not belong to the CA certificate"):
        load_certificate_authority_pem(
            certificate_to_pem(authority.certificate),
            private_key_to_pem(other_authority.private_key),
        )


def test_a_leaf_certificate_is_not_accepted_as_a_ca(authority: CertificateAuthority) -> None:
    leaf = issue_charge_point_certificate(authority, "CP-1", "ACME", NOW)
    with pytest.raises(CertificateDataError, match="is not a CA certificate"):
        load_certificate_authority_pem(leaf.chain_pem(), leaf.private_key_pem())


def test_garbage_is_not_a_ca() -> None:
    with pytest.raises(CertificateDataError, match="not a PEM certificate file"):
        load_certificate_authority_pem(b"hello", b"world")


# ---- server certificates ---------------------------------------------------------------------


@pytest.mark.parametrize("key_type", ["rsa", "ecdsa"])
def test_a_server_certificate_names_the_first_host_and_lists_every_host_as_san(
    authority: CertificateAuthority, key_type: str
) -> None:
    issued = issue_server_certificate(
        authority,
        ["csms.example.net", "csms", "192.168.1.20", "fd00::20"],
        NOW,
        "rsa" if key_type == "rsa" else "ecdsa",
    )
    certificate = issued.certificate
    cn = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "csms.example.net"
    sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["csms.example.net", "csms"]
    assert [str(a) for a in sans.get_values_for_type(x509.IPAddress)] == [
        "192.168.1.20",
        "fd00::20",
    ]
    assert _extended_key_usages(certificate) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not _is_ca(certificate)
    assert certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert _verifies(certificate, authority)


def test_an_rsa_server_certificate_has_a_2048_bit_key_usable_for_rsa_key_exchange(
    authority: CertificateAuthority,
) -> None:
    issued = issue_server_certificate(authority, ["csms"], NOW, "rsa")
    key = issued.certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 2048
    usage = issued.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_encipherment  # TLS_RSA_WITH_AES_*_GCM_* encrypt to this key


def test_an_ecdsa_server_certificate_has_a_p256_key(authority: CertificateAuthority) -> None:
    issued = issue_server_certificate(authority, ["csms"], NOW, "ecdsa")
    key = issued.certificate.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert key.curve.key_size >= 224
    assert isinstance(issued.certificate.signature_hash_algorithm, hashes.SHA256)


def test_a_server_chain_is_the_leaf_then_the_ca(authority: CertificateAuthority) -> None:
    issued = issue_server_certificate(authority, ["csms"], NOW, "ecdsa")
    chain = x509.load_pem_x509_certificates(issued.chain_pem())
    assert chain == [issued.certificate, authority.certificate]


def test_a_server_certificate_needs_a_host(authority: CertificateAuthority) -> None:
    with pytest.raises(ValueError, match="at least one host"):
        issue_server_certificate(authority, [], NOW, "rsa")


# ---- charger certificates --------------------------------------------------------------------


def test_a_charger_certificate_has_cn_charge_point_id_and_o_cpo_name(
    authority: CertificateAuthority,
) -> None:
    issued = issue_charge_point_certificate(authority, "CP-1", "ACME Charging", NOW)
    subject = issued.certificate.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP-1"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "ACME Charging"
    assert _extended_key_usages(issued.certificate) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not _is_ca(issued.certificate)
    assert issued.certificate.not_valid_after_utc == NOW + timedelta(days=365)
    assert _verifies(issued.certificate, authority)


def test_every_issued_certificate_has_its_own_serial(authority: CertificateAuthority) -> None:
    first = issue_charge_point_certificate(authority, "CP-1", "ACME", NOW)
    second = issue_charge_point_certificate(authority, "CP-1", "ACME", NOW)
    assert first.serial_number != second.serial_number
    assert first.serial_number == format(first.certificate.serial_number, "x")


# ---- CSR signing (SignCertificate) -----------------------------------------------------------


def test_a_csr_with_the_charge_point_id_as_cn_is_signed_for_client_auth(
    authority: CertificateAuthority,
) -> None:
    signed = sign_charge_point_csr(authority, _csr("CP-1"), "CP-1", NOW)
    leaf, ca = x509.load_pem_x509_certificates(signed.certificate_chain_pem.encode())
    assert ca == authority.certificate
    assert _verifies(leaf, authority)
    assert _extended_key_usages(leaf) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not _is_ca(leaf)
    assert isinstance(leaf.signature_hash_algorithm, hashes.SHA256)
    assert signed.serial_number == format(leaf.serial_number, "x")
    assert signed.subject == "O=ACME Charging,CN=CP-1"
    assert signed.not_after == NOW + timedelta(days=365)
    assert signed.not_before <= NOW


def test_a_csr_with_an_rsa_key_is_signed(authority: CertificateAuthority) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signed = sign_charge_point_csr(authority, _csr("CP-1", key), "CP-1", NOW, validity_days=30)
    assert signed.not_after == NOW + timedelta(days=30)


def test_a_csr_for_another_charge_point_is_refused_naming_both(
    authority: CertificateAuthority,
) -> None:
    with pytest.raises(CsrRefused, match="CN 'CP-9' does not match charge point id 'CP-1'"):
        sign_charge_point_csr(authority, _csr("CP-9"), "CP-1", NOW)


def test_a_csr_without_cn_is_refused(authority: CertificateAuthority) -> None:
    with pytest.raises(CsrRefused, match="CN \\(none\\) does not match"):
        sign_charge_point_csr(authority, _csr(None), "CP-1", NOW)


def test_a_csr_with_a_bad_signature_is_refused(authority: CertificateAuthority) -> None:
    pem = _csr("CP-1")
    der = bytearray(x509.load_pem_x509_csr(pem.encode()).public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01  # the last byte belongs to the signature
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(CsrRefused, match="signature is not valid"):
        sign_charge_point_csr(authority, tampered.decode(), "CP-1", NOW)


def test_a_csr_with_a_weak_rsa_key_is_refused(authority: CertificateAuthority) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - on purpose
    with pytest.raises(CsrRefused, match="1024 bits, at least 2048"):
        sign_charge_point_csr(authority, _csr("CP-1", key), "CP-1", NOW)


def test_a_certificate_instead_of_a_csr_is_refused(authority: CertificateAuthority) -> None:
    pem = certificate_to_pem(authority.certificate).decode()
    with pytest.raises(CsrRefused, match="not a PEM certificate signing request"):
        sign_charge_point_csr(authority, pem, "CP-1", NOW)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text() | st.just("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"))
def test_arbitrary_text_as_csr_is_refused_and_nothing_else(
    authority: CertificateAuthority, text: str
) -> None:
    with pytest.raises(CsrRefused):
        sign_charge_point_csr(authority, text, "CP-1", NOW)


# ---- client certificate checks after the handshake -------------------------------------------


@pytest.fixture(scope="module")
def charger_der(authority: CertificateAuthority) -> bytes:
    issued = issue_charge_point_certificate(authority, "CP-1", "ACME", NOW, validity_days=365)
    return certificate_to_der(issued.certificate)


def test_a_valid_certificate_of_the_charge_point_passes(charger_der: bytes) -> None:
    assert check_client_certificate(charger_der, "CP-1", NOW + timedelta(days=1), set()) is None


def test_an_expired_certificate_is_refused_with_its_end_date(charger_der: bytes) -> None:
    problem = check_client_certificate(charger_der, "CP-1", NOW + timedelta(days=366), set())
    assert problem is not None
    assert problem.kind is ClientCertificateProblemKind.EXPIRED
    assert problem.detail == "client certificate expired on 2027-01-01T00:00:00Z"


def test_a_certificate_before_its_start_is_not_yet_valid(charger_der: bytes) -> None:
    problem = check_client_certificate(charger_der, "CP-1", NOW - timedelta(days=1), set())
    assert problem is not None
    assert problem.kind is ClientCertificateProblemKind.NOT_YET_VALID
    assert problem.detail == "client certificate is not valid before 2025-12-31T23:55:00Z"


def test_a_revoked_certificate_is_refused_with_its_serial(charger_der: bytes) -> None:
    serial = serial_hex(x509.load_der_x509_certificate(charger_der))
    problem = check_client_certificate(charger_der, "CP-1", NOW, frozenset({serial}))
    assert problem is not None
    assert problem.kind is ClientCertificateProblemKind.REVOKED
    assert problem.detail == f"client certificate serial {serial} is on the revoked list"


def test_a_certificate_of_another_charge_point_is_refused_naming_both(
    charger_der: bytes,
) -> None:
    problem = check_client_certificate(charger_der, "CP-9", NOW, set())
    assert problem is not None
    assert problem.kind is ClientCertificateProblemKind.CN_MISMATCH
    assert problem.detail == "client certificate CN 'CP-1' does not match charge point id 'CP-9'"


def test_bytes_that_are_no_certificate_are_unreadable() -> None:
    problem = check_client_certificate(b"\x30\x03\x02\x01\x00", "CP-1", NOW, set())
    assert problem is not None
    assert problem.kind is ClientCertificateProblemKind.UNREADABLE
    assert problem.detail.startswith("client certificate cannot be read")


def test_expiry_is_reported_before_revocation_and_cn(charger_der: bytes) -> None:
    serial = serial_hex(x509.load_der_x509_certificate(charger_der))
    problem = check_client_certificate(charger_der, "CP-9", NOW + timedelta(days=400), {serial})
    assert problem is not None
    assert problem.kind is ClientCertificateProblemKind.EXPIRED


def test_revocation_is_reported_before_cn(charger_der: bytes) -> None:
    serial = serial_hex(x509.load_der_x509_certificate(charger_der))
    problem = check_client_certificate(charger_der, "CP-9", NOW, {serial})
    assert problem is not None
    assert problem.kind is ClientCertificateProblemKind.REVOKED


@given(data=st.binary(max_size=512))
def test_arbitrary_bytes_as_client_certificate_are_unreadable_or_a_problem(data: bytes) -> None:
    problem = check_client_certificate(data, "CP-1", NOW, set())
    assert problem is not None


def test_a_naive_now_is_refused(charger_der: bytes) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        check_client_certificate(charger_der, "CP-1", datetime(2026, 1, 1), set())


# ---- listing and serials ---------------------------------------------------------------------


def test_a_summary_lists_serial_subject_issuer_and_validity(
    authority: CertificateAuthority,
) -> None:
    issued = issue_charge_point_certificate(authority, "CP-1", "ACME", NOW)
    summary = certificate_summary(issued.certificate)
    assert summary.serial_number == issued.serial_number
    assert summary.subject == "O=ACME,CN=CP-1"
    assert summary.issuer == "O=ACME Charging,CN=ChargeDeck CA"
    assert summary.not_after == NOW + timedelta(days=365)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("0A:1B:2C", "a1b2c"), ("A1B2C", "a1b2c"), ("0x00ff", "ff"), (" 1a 2b ", "1a2b"), ("0", "0")],
)
def test_a_serial_as_typed_is_normalised_to_lower_case_hex(typed: str, stored: str) -> None:
    assert normalize_serial(typed) == stored


@pytest.mark.parametrize("typed", ["", "xyz", "-1", "1_0", "0x"])
def test_a_serial_that_is_not_hex_is_refused(typed: str) -> None:
    with pytest.raises(ValueError, match="is not a hexadecimal number"):
        normalize_serial(typed)


@given(value=st.integers(min_value=0, max_value=2**160))
def test_normalising_a_serial_keeps_its_value(value: int) -> None:
    assert int(normalize_serial(f"{value:X}"), 16) == value
