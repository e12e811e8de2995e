"""SignCertificate (whitepaper "Improved security for OCPP 1.6-J" ed.3, use cases A02/A03): the
charger sends the CSR of a new key pair; ChargeDeck's CA signs it and sends the chain back as
CertificateSigned.req.

SignCertificate.conf says whether the CSMS can process the request: Accepted, or Rejected "if it
cannot". So everything that can fail is decided before answering: no CA configured, or a CSR that
is not PEM, has a bad signature or a weak key, or whose CN is not this charger's id (the identity
the profile 3 handshake compares client certificates with). Those rules live in one place,
``domain.certificates.sign_charge_point_csr``, so the handler signs before it answers (0.6 ms
with an RSA 2048 CA and a P-256 CSR on the 2-vCPU reference machine), and an Accepted is never
followed by silence. Every Rejected is logged at WARNING with its reason.

What follows an Accepted runs as its own task: recording the certificate in issued_certificates
(so the operator can list and revoke it), sending CertificateSigned.req and logging the charger's
answer. It cannot run inside the handler: the connection reads the charger's next frame only after
the handler returns, and the charger is still waiting for SignCertificate.conf, so awaiting
CertificateSigned.conf here would last until the call time-out.
"""

from __future__ import annotations

import asyncio
import logging

from chargedeck.csms.commands import CommandError, send_command
from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.stations import ChargePointDisconnected
from chargedeck.domain.certificates import CsrRefused, SignedCertificate, sign_charge_point_csr
from chargedeck.domain.ids import ChargePointId
from chargedeck.ocpp.errors import CallErrorReceived, CallTimeout, InvalidResponse
from chargedeck.ocpp.v16.enums import CertificateSignedStatus, GenericStatus
from chargedeck.ocpp.v16.security import (
    CertificateSignedRequest,
    CertificateSignedResponse,
    SignCertificateRequest,
    SignCertificateResponse,
)
from chargedeck.store.certificates import CertificateKind
from chargedeck.store.errors import StoreUnavailable

log = logging.getLogger(__name__)

_ACCEPTED = SignCertificateResponse(status=GenericStatus.ACCEPTED)
_REJECTED = SignCertificateResponse(status=GenericStatus.REJECTED)

# Deliveries in flight: the event loop keeps only weak references to tasks, so a task nobody
# holds may be collected before it finishes (asyncio.create_task documentation).
_deliveries: set[asyncio.Task[CertificateSignedStatus | None]] = set()


async def handle_sign_certificate(
    services: CsmsServices, state: ConnectionState, request: SignCertificateRequest
) -> SignCertificateResponse:
    charge_point_id = state.charge_point_id
    authority = services.certificate_authority
    if authority is None:
        log.warning(
            "charge point %s: SignCertificate rejected: no CA configured — run "
            "`chargedeck certs init`",
            charge_point_id,
        )
        return _REJECTED
    try:
        signed = sign_charge_point_csr(
            authority, request.csr, charge_point_id, services.clock.now()
        )
    except CsrRefused as refused:
        log.warning("charge point %s: SignCertificate rejected: %s", charge_point_id, refused)
        return _REJECTED
    log.info(
        "charge point %s: SignCertificate accepted; certificate serial %s for %s issued",
        charge_point_id,
        signed.serial_number,
        signed.subject,
    )
    # The task starts after this handler has returned: SignCertificate.conf is queued first.
    task = asyncio.get_running_loop().create_task(
        deliver_signed_certificate(services, charge_point_id, signed)
    )
    _deliveries.add(task)
    task.add_done_callback(_delivery_done)
    return _ACCEPTED


async def deliver_signed_certificate(
    services: CsmsServices, charge_point_id: ChargePointId, signed: SignedCertificate
) -> CertificateSignedStatus | None:
    """Record an issued certificate, send it to the charger as CertificateSigned.req and log the
    answer; returns the charger's status, None if it was not delivered (logged with why)."""
    try:
        await services.store.certificates.record_issued(
            serial_number=signed.serial_number,
            kind=CertificateKind.SIGNED_CSR,
            charge_point_id=charge_point_id,
            subject=signed.subject,
            not_before=signed.not_before,
            not_after=signed.not_after,
            issued_at=services.clock.now(),
        )
    except StoreUnavailable as exc:
        # Never hand out a certificate the operator cannot see (nor revoke).
        log.error(
            "charge point %s: certificate serial %s not recorded, so not sent: %s",
            charge_point_id,
            signed.serial_number,
            exc,
        )
        return None
    try:
        answer = await send_command(
            services,
            charge_point_id,
            CertificateSignedRequest(certificate_chain=signed.certificate_chain_pem),
        )
    except (
        CommandError,
        ChargePointDisconnected,
        CallErrorReceived,
        CallTimeout,
        InvalidResponse,
    ) as exc:
        log.warning(
            "charge point %s: CertificateSigned (serial %s) not delivered: %s; ask again with "
            "ExtendedTriggerMessage(SignChargePointCertificate)",
            charge_point_id,
            signed.serial_number,
            exc,
        )
        return None
    assert isinstance(answer, CertificateSignedResponse)  # the session decodes by action
    if answer.status is CertificateSignedStatus.ACCEPTED:
        log.info(
            "charge point %s accepted certificate serial %s (valid until %s); it uses it from "
            "its next connection",
            charge_point_id,
            signed.serial_number,
            signed.not_after.isoformat(),
        )
    else:
        # Whitepaper A02/A03: the charger verified the chain and found it invalid; it raises an
        # InvalidChargePointCertificate security event.
        log.warning(
            "charge point %s rejected certificate serial %s (CertificateSigned %s)",
            charge_point_id,
            signed.serial_number,
            answer.status.value,
        )
    return answer.status


def _delivery_done(task: asyncio.Task[CertificateSignedStatus | None]) -> None:
    _deliveries.discard(task)
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("certificate delivery failed", exc_info=error)
