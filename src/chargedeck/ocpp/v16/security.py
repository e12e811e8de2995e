"""Security extension messages (OCA whitepaper "Improved security for OCPP 1.6-J", edition 3).

Sent over 1.6J as ordinary CALLs. The whitepaper prose says "GetInstalledCertificates.req",
but the action and its schema are ``GetInstalledCertificateIds``; the schema wins.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from chargedeck.ocpp.v16.base import CiString50, CiString255, DateTime, Message
from chargedeck.ocpp.v16.enums import (
    CertificateSignedStatus,
    CertificateUse,
    DeleteCertificateStatus,
    ExtendedMessageTrigger,
    GenericStatus,
    GetInstalledCertificateStatus,
    InstallCertificateStatus,
    LogStatus,
    LogType,
    SignedFirmwareStatus,
    TriggerMessageStatus,
    UpdateFirmwareStatus,
    UploadLogStatus,
)
from chargedeck.ocpp.v16.types import CertificateHashData, FirmwareType, LogParameters

# --------------------------------------------------------------------------------------------
# Charge point -> CSMS
# --------------------------------------------------------------------------------------------


class SecurityEventNotificationRequest(Message, frozen=True, kw_only=True):
    """A security event happened; ``type`` is one of the whitepaper's event names (free text
    in the schema, so unknown names are kept, not refused)."""

    type: CiString50
    timestamp: DateTime
    tech_info: CiString255 | None = None


class SecurityEventNotificationResponse(Message, frozen=True):
    """Empty acknowledgement."""


class SignCertificateRequest(Message, frozen=True, kw_only=True):
    """The charger's PEM CSR for its client certificate (security profile 3)."""

    csr: Annotated[str, msgspec.Meta(max_length=5500)]


class SignCertificateResponse(Message, frozen=True, kw_only=True):
    """Whether the CSMS will have the CSR signed; the certificate follows as CertificateSigned."""

    status: GenericStatus


class LogStatusNotificationRequest(Message, frozen=True, kw_only=True):
    """Progress of a GetLog upload."""

    status: UploadLogStatus
    request_id: int | None = None


class LogStatusNotificationResponse(Message, frozen=True):
    """Empty acknowledgement."""


class SignedFirmwareStatusNotificationRequest(Message, frozen=True, kw_only=True):
    """Progress of a SignedUpdateFirmware."""

    status: SignedFirmwareStatus
    request_id: int | None = None


class SignedFirmwareStatusNotificationResponse(Message, frozen=True):
    """Empty acknowledgement."""


# --------------------------------------------------------------------------------------------
# CSMS -> charge point
# --------------------------------------------------------------------------------------------


class CertificateSignedRequest(Message, frozen=True, kw_only=True):
    """The signed client certificate chain (PEM) answering a SignCertificate."""

    certificate_chain: Annotated[str, msgspec.Meta(max_length=10000)]


class CertificateSignedResponse(Message, frozen=True, kw_only=True):
    """Whether the charger installed the chain."""

    status: CertificateSignedStatus


class DeleteCertificateRequest(Message, frozen=True, kw_only=True):
    """Remove an installed root certificate."""

    certificate_hash_data: CertificateHashData


class DeleteCertificateResponse(Message, frozen=True, kw_only=True):
    """Result of DeleteCertificate."""

    status: DeleteCertificateStatus


class ExtendedTriggerMessageRequest(Message, frozen=True, kw_only=True):
    """TriggerMessage with the extension's extra messages, e.g. SignChargePointCertificate."""

    requested_message: ExtendedMessageTrigger
    connector_id: int | None = None


class ExtendedTriggerMessageResponse(Message, frozen=True, kw_only=True):
    """Same three answers as TriggerMessage."""

    status: TriggerMessageStatus


class GetInstalledCertificateIdsRequest(Message, frozen=True, kw_only=True):
    """Which root certificates of this kind are installed?"""

    certificate_type: CertificateUse


class GetInstalledCertificateIdsResponse(Message, frozen=True, kw_only=True):
    """The hashes of the installed certificates, at least one when present (schema minItems)."""

    certificate_hash_data: (
        Annotated[list[CertificateHashData], msgspec.Meta(min_length=1)] | None
    ) = None
    status: GetInstalledCertificateStatus


class GetLogRequest(Message, frozen=True, kw_only=True):
    """Upload the diagnostics or security log; replaces GetDiagnostics when supported."""

    log: LogParameters
    log_type: LogType
    request_id: int
    retries: int | None = None
    retry_interval: int | None = None


class GetLogResponse(Message, frozen=True, kw_only=True):
    """The wire name is ``filename`` (lower-case n), unlike GetDiagnostics' ``fileName``."""

    status: LogStatus
    filename: CiString255 | None = None


class InstallCertificateRequest(Message, frozen=True, kw_only=True):
    """Install a root certificate (PEM) of the given use."""

    certificate_type: CertificateUse
    certificate: Annotated[str, msgspec.Meta(max_length=5500)]


class InstallCertificateResponse(Message, frozen=True, kw_only=True):
    """Result of InstallCertificate."""

    status: InstallCertificateStatus


class SignedUpdateFirmwareRequest(Message, frozen=True, kw_only=True):
    """Download, verify and install a signed firmware image; a charger that supports it must
    refuse the plain UpdateFirmware with NotSupported."""

    retries: int | None = None
    retry_interval: int | None = None
    request_id: int
    firmware: FirmwareType


class SignedUpdateFirmwareResponse(Message, frozen=True, kw_only=True):
    """Result of SignedUpdateFirmware."""

    status: UpdateFirmwareStatus
