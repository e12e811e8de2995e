"""The Security extension's CSMS-to-charger commands (OCA whitepaper "Improved security for
OCPP 1.6-J", ed.3), with the checks made before anything is sent.

None waits for an accepted boot: OCPP 1.6 §4.2.1 forbids only RemoteStart/RemoteStop while a
charger is Pending, and installing the CSMS root certificate before raising the security profile
is the whitepaper's onboarding order.
"""

from __future__ import annotations

import logging
from typing import Final

from chargedeck.csms.commands.command import Command
from chargedeck.csms.context import CsmsServices
from chargedeck.domain.certificates import CertificateDataError, load_certificates_pem, serial_hex
from chargedeck.ocpp.v16 import security
from chargedeck.ocpp.v16.enums import ExtendedMessageTrigger

log = logging.getLogger(__name__)

# Schema limits (whitepaper ed.3 message definitions): InstallCertificate.req certificate and
# SignedUpdateFirmware.req signingCertificate are string[0..5500], CertificateSigned.req
# certificateChain string[0..10000] (the CertificateSignedMaxChainSize key is at most 10000).
CERTIFICATE_MAX_CHARS: Final = 5500
CERTIFICATE_CHAIN_MAX_CHARS: Final = 10000


def refuse_certificate_text(
    what: str, text: str, max_chars: int, max_certificates: int | None
) -> str | None:
    """Why ``text`` cannot be sent as PEM certificate(s): over the schema's length, not PEM X.509,
    or more certificates than the field holds; None if it can."""
    if len(text) > max_chars:
        return f"{what} is {len(text)} characters; the schema allows at most {max_chars}"
    try:
        certificates = load_certificates_pem(text.encode("utf-8"))
    except CertificateDataError as exc:
        return f"{what}: {exc}"
    if max_certificates is not None and len(certificates) > max_certificates:
        return f"{what} holds {len(certificates)} certificates; send them one at a time"
    return None


def check_certificate_signed(
    services: CsmsServices, charge_point_id: str, request: security.CertificateSignedRequest
) -> str | None:
    """CertificateSigned.req certificateChain: PEM certificates, leaf first (whitepaper A02)."""
    return refuse_certificate_text(
        "CertificateSigned certificateChain",
        request.certificate_chain,
        CERTIFICATE_CHAIN_MAX_CHARS,
        None,
    )


def check_install_certificate(
    services: CsmsServices, charge_point_id: str, request: security.InstallCertificateRequest
) -> str | None:
    """InstallCertificate.req certificate: one PEM X.509 certificate (whitepaper M05)."""
    return refuse_certificate_text(
        "InstallCertificate certificate", request.certificate, CERTIFICATE_MAX_CHARS, 1
    )


def check_delete_certificate(
    services: CsmsServices, charge_point_id: str, request: security.DeleteCertificateRequest
) -> None:
    """Warn before DeleteCertificate: whitepaper M04 lets every CentralSystemRootCertificate be
    deleted (only the one in use is refused, with Failed), and a charger left without one cannot
    verify this CSMS and stays offline on profiles 2 and 3."""
    serial = request.certificate_hash_data.serial_number
    authority = services.certificate_authority
    # Hash data serials are hex without leading zeros (whitepaper ed.3 CertificateHashDataType).
    if authority is not None and serial.lower().lstrip("0") == serial_hex(authority.certificate):
        log.warning(
            "DeleteCertificate to charge point %s names serial %s, ChargeDeck's own CA: if its "
            "server certificate comes from this CA, the charger can no longer verify it and "
            "will not reconnect over TLS",
            charge_point_id,
            serial,
        )
    else:
        log.warning(
            "DeleteCertificate to charge point %s (serial %s): if this is its last "
            "CentralSystemRootCertificate, it can no longer verify this CSMS and will not "
            "reconnect over TLS (check GetInstalledCertificateIds first)",
            charge_point_id,
            serial,
        )


def check_extended_trigger_message(
    services: CsmsServices,
    charge_point_id: str,
    request: security.ExtendedTriggerMessageRequest,
) -> str | None:
    """ExtendedTriggerMessage(SignChargePointCertificate) starts the CSR flow (whitepaper A02):
    the charger answers with SignCertificate.req, which only a configured CA can accept."""
    if request.requested_message is not ExtendedMessageTrigger.SIGN_CHARGE_POINT_CERTIFICATE:
        return None
    if services.certificate_authority is None:
        return (
            "ExtendedTriggerMessage(SignChargePointCertificate) asks the charger for a CSR, but "
            "no CA is configured to sign it — run `chargedeck certs init`"
        )
    log.info(
        "asking charge point %s for a certificate signing request (whitepaper A02); the CA "
        "signs it and sends CertificateSigned",
        charge_point_id,
    )
    return None


def check_signed_update_firmware(
    services: CsmsServices, charge_point_id: str, request: security.SignedUpdateFirmwareRequest
) -> str | None:
    """SignedUpdateFirmware.req firmware.signingCertificate: one PEM X.509 certificate, which the
    charger verifies against its ManufacturerRootCertificate (whitepaper L01)."""
    return refuse_certificate_text(
        "SignedUpdateFirmware signingCertificate",
        request.firmware.signing_certificate,
        CERTIFICATE_MAX_CHARS,
        1,
    )


SECURITY_COMMANDS: tuple[Command, ...] = (
    Command("CertificateSigned", security.CertificateSignedRequest, check=check_certificate_signed),
    Command("DeleteCertificate", security.DeleteCertificateRequest, check=check_delete_certificate),
    Command(
        "ExtendedTriggerMessage",
        security.ExtendedTriggerMessageRequest,
        check=check_extended_trigger_message,
    ),
    Command("GetInstalledCertificateIds", security.GetInstalledCertificateIdsRequest),
    Command("GetLog", security.GetLogRequest),
    Command(
        "InstallCertificate", security.InstallCertificateRequest, check=check_install_certificate
    ),
    Command(
        "SignedUpdateFirmware",
        security.SignedUpdateFirmwareRequest,
        check=check_signed_update_firmware,
    ),
)
