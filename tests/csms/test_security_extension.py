"""The Security extension (whitepaper "Improved security for OCPP 1.6-J" ed.3): the four charger
messages through the handler table over a real SQLite store, and the checks of the seven
commands before anything is sent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chargedeck.clock import ManualClock
from chargedeck.config import Settings
from chargedeck.csms.commands import COMMANDS, CommandNotAllowed, send_command
from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.dispatch import HANDLERS, dispatch
from chargedeck.csms.stations import Stations
from chargedeck.domain.certificates import (
    CertificateAuthority,
    certificate_to_pem,
    create_certificate_authority,
    serial_hex,
)
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId
from chargedeck.ocpp.v16.actions import ACTION_BY_REQUEST_TYPE, ACTIONS, FeatureProfile
from chargedeck.ocpp.v16.base import Message
from chargedeck.ocpp.v16.enums import (
    CertificateUse,
    ExtendedMessageTrigger,
    GenericStatus,
    HashAlgorithm,
    SignedFirmwareStatus,
    UploadLogStatus,
)
from chargedeck.ocpp.v16.security import (
    CertificateSignedRequest,
    DeleteCertificateRequest,
    ExtendedTriggerMessageRequest,
    InstallCertificateRequest,
    LogStatusNotificationRequest,
    SecurityEventNotificationRequest,
    SignCertificateRequest,
    SignedFirmwareStatusNotificationRequest,
    SignedUpdateFirmwareRequest,
)
from chargedeck.ocpp.v16.types import CertificateHashData, FirmwareType
from chargedeck.store import open_store
from chargedeck.store.certificates import CertificateKind

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)
CP = ChargePointId("CP1")
NOT_PEM = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA (base64 without PEM armour)"


@pytest.fixture(scope="module")
def authority() -> CertificateAuthority:
    return create_certificate_authority("ChargeDeck test CA", "ChargeDeck", T0)


async def open_services(
    tmp_path: Path, authority: CertificateAuthority | None
) -> AsyncIterator[CsmsServices]:
    store = await open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        yield CsmsServices(
            store=store,
            settings=Settings(),
            clock=ManualClock(T0),
            stations=Stations(),
            certificate_authority=authority,
        )
    finally:
        await store.close()


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[CsmsServices]:
    """A CSMS without a CA (the operator brought their own certificates)."""
    async for value in open_services(tmp_path, None):
        yield value


@pytest.fixture
async def services_with_ca(
    tmp_path: Path, authority: CertificateAuthority
) -> AsyncIterator[CsmsServices]:
    """A CSMS whose CA (``chargedeck certs init``) signs chargers' CSRs."""
    async for value in open_services(tmp_path, authority):
        yield value


def registered() -> ConnectionState:
    return ConnectionState(
        charge_point_id=CP,
        remote_address="127.0.0.1:1",
        connected_at=T0,
        registration=Registration.REGISTERED,
    )


async def receive(services: CsmsServices, action: str, request: Message) -> Any:
    return await dispatch(services, registered(), ACTIONS[action], request)


def csr_pem(common_name: str) -> str:
    """A charger's CSR: a fresh P-256 key, CN = its id, O = CpoName (whitepaper A02)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ChargeDeck CPO"),
        ]
    )
    request = (
        x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM).decode("ascii")


def messages_at(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


async def eventually(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


# ---- the handler table -------------------------------------------------------------------------


def test_every_charger_to_csms_security_action_has_a_handler() -> None:
    security = {
        name
        for name, action in ACTIONS.items()
        if action.sent_by_charge_point() and action.profile is FeatureProfile.SECURITY
    }
    assert security == {
        "LogStatusNotification",
        "SecurityEventNotification",
        "SignCertificate",
        "SignedFirmwareStatusNotification",
    }
    assert security <= set(HANDLERS)


# ---- SecurityEventNotification (A04) -----------------------------------------------------------


async def test_a_security_event_is_stored_with_the_chargers_time_and_tech_info(
    services: CsmsServices,
) -> None:
    happened = T0 - timedelta(minutes=3)
    await receive(
        services,
        "SecurityEventNotification",
        SecurityEventNotificationRequest(
            type="TamperDetectionActivated", timestamp=happened, tech_info="lid opened"
        ),
    )
    [event] = await services.store.security_records.list_security_events(CP)
    assert event.type == "TamperDetectionActivated"
    assert event.timestamp == happened
    assert event.tech_info == "lid opened"
    assert event.received_at == T0


async def test_security_events_are_listed_newest_first_for_one_charger_or_all(
    services: CsmsServices,
) -> None:
    records = services.store.security_records
    for charge_point_id, event_type in (
        ("CP1", "StartupOfTheDevice"),
        ("CP2", "ResetOrReboot"),
        ("CP1", "SettingSystemTime"),
    ):
        state = registered()
        state.charge_point_id = ChargePointId(charge_point_id)
        await dispatch(
            services,
            state,
            ACTIONS["SecurityEventNotification"],
            SecurityEventNotificationRequest(type=event_type, timestamp=T0),
        )
    assert [e.type for e in await records.list_security_events(CP)] == [
        "SettingSystemTime",
        "StartupOfTheDevice",
    ]
    assert [e.type for e in await records.list_security_events(limit=2)] == [
        "SettingSystemTime",
        "ResetOrReboot",
    ]


async def test_an_unknown_security_event_type_is_stored_and_logged_at_info(
    services: CsmsServices, caplog: pytest.LogCaptureFixture
) -> None:
    await receive(
        services,
        "SecurityEventNotification",
        SecurityEventNotificationRequest(type="VendorDoorSensorCalibrated", timestamp=T0),
    )
    [event] = await services.store.security_records.list_security_events(CP)
    assert event.type == "VendorDoorSensorCalibrated"
    assert messages_at(caplog, logging.WARNING) == []
    assert any("'VendorDoorSensorCalibrated'" in m for m in messages_at(caplog, logging.INFO))


@pytest.mark.parametrize(
    "event_type",
    [
        "FailedToAuthenticateAtCentralSystem",
        "InvalidCentralSystemCertificate",
        "TamperDetectionActivated",
        "InvalidFirmwareSignature",
    ],
)
async def test_a_security_relevant_event_is_logged_at_warning(
    services: CsmsServices, caplog: pytest.LogCaptureFixture, event_type: str
) -> None:
    await receive(
        services,
        "SecurityEventNotification",
        SecurityEventNotificationRequest(type=event_type, timestamp=T0, tech_info="x"),
    )
    [warning] = messages_at(caplog, logging.WARNING)
    assert f"CP1 security event {event_type!r}" in warning


async def test_a_routine_security_event_is_logged_at_info(
    services: CsmsServices, caplog: pytest.LogCaptureFixture
) -> None:
    await receive(
        services,
        "SecurityEventNotification",
        SecurityEventNotificationRequest(type="StartupOfTheDevice", timestamp=T0),
    )
    assert messages_at(caplog, logging.WARNING) == []


# ---- LogStatusNotification (N01) and SignedFirmwareStatusNotification (L01) --------------------


async def test_a_log_status_is_stored_with_the_request_id_of_its_get_log(
    services: CsmsServices,
) -> None:
    for status in (UploadLogStatus.UPLOADING, UploadLogStatus.UPLOADED):
        await receive(
            services,
            "LogStatusNotification",
            LogStatusNotificationRequest(status=status, request_id=42),
        )
    statuses = await services.store.security_records.list_log_statuses(CP)
    assert [(s.status, s.request_id) for s in statuses] == [("Uploaded", 42), ("Uploading", 42)]


async def test_a_failed_log_upload_is_logged_at_warning(
    services: CsmsServices, caplog: pytest.LogCaptureFixture
) -> None:
    await receive(
        services,
        "LogStatusNotification",
        LogStatusNotificationRequest(status=UploadLogStatus.UPLOAD_FAILURE, request_id=7),
    )
    [warning] = messages_at(caplog, logging.WARNING)
    assert "requestId 7" in warning
    assert "UploadFailure" in warning


async def test_a_signed_firmware_status_is_stored_with_its_request_id(
    services: CsmsServices,
) -> None:
    await receive(
        services,
        "SignedFirmwareStatusNotification",
        SignedFirmwareStatusNotificationRequest(
            status=SignedFirmwareStatus.SIGNATURE_VERIFIED, request_id=9
        ),
    )
    await receive(
        services,
        "SignedFirmwareStatusNotification",
        SignedFirmwareStatusNotificationRequest(status=SignedFirmwareStatus.IDLE),
    )
    statuses = await services.store.security_records.list_signed_firmware_statuses(CP)
    assert [(s.status, s.request_id) for s in statuses] == [
        ("Idle", None),
        ("SignatureVerified", 9),
    ]


async def test_an_invalid_firmware_signature_status_is_logged_at_warning(
    services: CsmsServices, caplog: pytest.LogCaptureFixture
) -> None:
    await receive(
        services,
        "SignedFirmwareStatusNotification",
        SignedFirmwareStatusNotificationRequest(
            status=SignedFirmwareStatus.INVALID_SIGNATURE, request_id=3
        ),
    )
    [warning] = messages_at(caplog, logging.WARNING)
    assert "InvalidSignature" in warning


# ---- SignCertificate (A02/A03) -----------------------------------------------------------------


async def test_a_csr_without_a_configured_ca_is_rejected_saying_how_to_create_one(
    services: CsmsServices, caplog: pytest.LogCaptureFixture
) -> None:
    answer = await receive(services, "SignCertificate", SignCertificateRequest(csr=csr_pem("CP1")))
    assert answer.status is GenericStatus.REJECTED
    [warning] = messages_at(caplog, logging.WARNING)
    assert "no CA configured — run `chargedeck certs init`" in warning


async def test_a_csr_that_is_not_pem_is_rejected_with_the_reason(
    services_with_ca: CsmsServices, caplog: pytest.LogCaptureFixture
) -> None:
    answer = await receive(services_with_ca, "SignCertificate", SignCertificateRequest(csr=NOT_PEM))
    assert answer.status is GenericStatus.REJECTED
    [warning] = messages_at(caplog, logging.WARNING)
    assert "CP1: SignCertificate rejected: not a PEM certificate signing request" in warning


async def test_a_csr_naming_another_charge_point_is_rejected_with_both_names(
    services_with_ca: CsmsServices, caplog: pytest.LogCaptureFixture
) -> None:
    answer = await receive(
        services_with_ca, "SignCertificate", SignCertificateRequest(csr=csr_pem("CP2"))
    )
    assert answer.status is GenericStatus.REJECTED
    [warning] = messages_at(caplog, logging.WARNING)
    assert "'CP2' does not match charge point id 'CP1'" in warning
    assert await services_with_ca.store.certificates.list_issued(CP) == []


async def test_an_accepted_csr_is_recorded_as_issued_even_if_the_charger_left_before_delivery(
    services_with_ca: CsmsServices, caplog: pytest.LogCaptureFixture
) -> None:
    await services_with_ca.store.charge_points.add_charge_point(CP, Registration.REGISTERED, T0)
    answer = await receive(
        services_with_ca, "SignCertificate", SignCertificateRequest(csr=csr_pem("CP1"))
    )
    assert answer.status is GenericStatus.ACCEPTED
    await eventually(lambda: bool(messages_at(caplog, logging.WARNING)))
    [warning] = messages_at(caplog, logging.WARNING)
    assert "not delivered: charge point 'CP1' is not connected" in warning
    [issued] = await services_with_ca.store.certificates.list_issued(CP)
    assert issued.kind is CertificateKind.SIGNED_CSR
    assert "CN=CP1" in issued.subject
    assert issued.issued_at == T0


# ---- the command table -------------------------------------------------------------------------


def test_every_csms_to_charger_security_action_is_a_command() -> None:
    security = {
        name
        for name, action in ACTIONS.items()
        if action.sent_by_csms() and action.profile is FeatureProfile.SECURITY
    }
    assert len(security) == 7
    assert security <= set(COMMANDS)


def test_no_security_command_waits_for_an_accepted_boot() -> None:
    # OCPP 1.6 §4.2.1 forbids only RemoteStart/RemoteStop while Pending; certificates are
    # installed before the profile is raised (whitepaper onboarding).
    security = [
        c for c in COMMANDS.values() if ACTIONS[c.action].profile is FeatureProfile.SECURITY
    ]
    assert [c.action for c in security if c.needs_accepted_boot] == []


def check(services: CsmsServices, request: Message) -> str | None:
    """The check of the command row that sends ``request`` (the command table's, not a copy)."""
    command = COMMANDS[ACTION_BY_REQUEST_TYPE[type(request)].name]
    result: str | None = command.check(services, "CP1", request)
    return result


def one_certificate_pem(authority: CertificateAuthority) -> str:
    return certificate_to_pem(authority.certificate).decode("ascii")


async def test_install_certificate_refuses_text_that_is_not_pem(services: CsmsServices) -> None:
    request = InstallCertificateRequest(
        certificate_type=CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE, certificate=NOT_PEM
    )
    refusal = check(services, request)
    assert refusal is not None
    assert refusal.startswith("InstallCertificate certificate: not a PEM certificate")


async def test_install_certificate_refuses_more_than_the_schemas_5500_characters(
    services: CsmsServices,
) -> None:
    request = InstallCertificateRequest(
        certificate_type=CertificateUse.MANUFACTURER_ROOT_CERTIFICATE, certificate="A" * 5501
    )
    assert check(services, request) == (
        "InstallCertificate certificate is 5501 characters; the schema allows at most 5500"
    )


async def test_install_certificate_refuses_a_bundle_of_certificates(
    services: CsmsServices, authority: CertificateAuthority
) -> None:
    request = InstallCertificateRequest(
        certificate_type=CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE,
        certificate=one_certificate_pem(authority) * 2,
    )
    assert check(services, request) == (
        "InstallCertificate certificate holds 2 certificates; send them one at a time"
    )


async def test_install_certificate_lets_one_pem_certificate_through(
    services: CsmsServices, authority: CertificateAuthority
) -> None:
    request = InstallCertificateRequest(
        certificate_type=CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE,
        certificate=one_certificate_pem(authority),
    )
    assert check(services, request) is None


async def test_certificate_signed_refuses_a_chain_that_is_not_pem(services: CsmsServices) -> None:
    refusal = check(services, CertificateSignedRequest(certificate_chain=NOT_PEM))
    assert refusal is not None
    assert refusal.startswith("CertificateSigned certificateChain: not a PEM certificate")


async def test_signed_update_firmware_refuses_a_signing_certificate_that_is_not_pem(
    services: CsmsServices,
) -> None:
    request = SignedUpdateFirmwareRequest(
        request_id=1,
        firmware=FirmwareType(
            location="https://firmware.example/fw.bin",
            retrieve_date_time=T0,
            signing_certificate=NOT_PEM,
            signature="c2lnbmF0dXJl",
        ),
    )
    refusal = check(services, request)
    assert refusal is not None
    assert refusal.startswith("SignedUpdateFirmware signingCertificate: not a PEM certificate")


def delete_request(serial_number: str) -> DeleteCertificateRequest:
    return DeleteCertificateRequest(
        certificate_hash_data=CertificateHashData(
            hash_algorithm=HashAlgorithm.SHA256,
            issuer_name_hash="aa" * 32,
            issuer_key_hash="bb" * 32,
            serial_number=serial_number,
        )
    )


async def test_delete_certificate_is_sent_with_a_warning_that_the_charger_may_be_locked_out(
    services: CsmsServices, caplog: pytest.LogCaptureFixture
) -> None:
    assert check(services, delete_request("1a2b")) is None
    [warning] = messages_at(caplog, logging.WARNING)
    assert "if this is its last CentralSystemRootCertificate" in warning
    assert "will not reconnect over TLS" in warning


async def test_delete_certificate_of_chargedecks_own_ca_says_so(
    services_with_ca: CsmsServices,
    authority: CertificateAuthority,
    caplog: pytest.LogCaptureFixture,
) -> None:
    serial = serial_hex(authority.certificate).upper()
    assert check(services_with_ca, delete_request(serial)) is None
    [warning] = messages_at(caplog, logging.WARNING)
    assert "ChargeDeck's own CA" in warning


async def test_asking_for_a_csr_without_a_ca_is_refused_before_sending(
    services: CsmsServices,
) -> None:
    request = ExtendedTriggerMessageRequest(
        requested_message=ExtendedMessageTrigger.SIGN_CHARGE_POINT_CERTIFICATE
    )
    refusal = check(services, request)
    assert refusal is not None
    assert "no CA is configured to sign it — run `chargedeck certs init`" in refusal


async def test_asking_for_a_csr_with_a_ca_starts_the_csr_flow(
    services_with_ca: CsmsServices, caplog: pytest.LogCaptureFixture
) -> None:
    request = ExtendedTriggerMessageRequest(
        requested_message=ExtendedMessageTrigger.SIGN_CHARGE_POINT_CERTIFICATE
    )
    assert check(services_with_ca, request) is None
    assert any("certificate signing request" in m for m in messages_at(caplog, logging.INFO))


async def test_other_extended_triggers_need_no_ca(services: CsmsServices) -> None:
    request = ExtendedTriggerMessageRequest(
        requested_message=ExtendedMessageTrigger.STATUS_NOTIFICATION, connector_id=1
    )
    assert check(services, request) is None


async def test_send_command_refuses_an_install_certificate_that_is_not_pem_before_sending(
    services: CsmsServices,
) -> None:
    request = InstallCertificateRequest(
        certificate_type=CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE, certificate=NOT_PEM
    )
    with pytest.raises(
        CommandNotAllowed, match="InstallCertificate certificate: not a PEM certificate"
    ):
        await send_command(services, "CP1", request)
