"""Certificates for Security Profiles 2 and 3 (Security Whitepaper ed.3; DESIGN §5): the CA, server
and charger certificates ``chargedeck certs`` creates, CSR signing for SignCertificate, and the
checks of a charger's client certificate that the TLS library leaves to us.

Pure functions over the ``cryptography`` package: no files, no clock (``now`` comes in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes


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


class CsrRefused(ValueError):
    """A CSR ChargeDeck will not sign; the message says why (for the log and the API)."""


def sign_charge_point_csr(
    authority: CertificateAuthority,
    csr_pem: str,
    charge_point_id: str,
    now: datetime,
    validity_days: int = 365,
) -> SignedCertificate:
    """Sign a charger's CSR (SignCertificate.req ``csr``) if its CN is ``charge_point_id``.

    Raises ``CsrRefused`` for a CSR that is not PEM, has a bad signature, or names another CN.
    """
    raise NotImplementedError
