"""The Security extension (whitepaper "Improved security for OCPP 1.6-J" ed.3) against a charger
built on the PyPI ``ocpp`` library, which validates every CALL it receives and every answer it
gets against the official 1.6 security schemas.

Charger-to-CSMS messages and the charger-initiated CSR flow (A03) run against a real
``chargedeck serve`` process, the CA loaded from ``<data_dir>/certs``. The seven commands and the
CSMS-initiated CSR flow (A02) are sent with ``send_command`` to a CSMS running in this process
(the same OcppServer over real sockets), because the operator API now requires credentials.

Named after the OCTT 1.6 CSMS cases where one applies (TC_074 update charge point certificate by
request of the Central System, TC_075 install a CA certificate, TC_076 delete a certificate).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ocpp.routing import after, on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import RegistrationStatus

from chargedeck.clock import SystemClock
from chargedeck.config import Settings
from chargedeck.csms.commands import send_command
from chargedeck.csms.connection_guard import ConnectionGuard
from chargedeck.csms.context import CsmsServices
from chargedeck.csms.stations import Stations
from chargedeck.domain.certificates import (
    CertificateAuthority,
    certificate_to_pem,
    create_certificate_authority,
    private_key_to_pem,
)
from chargedeck.domain.charge_points import UnknownChargePointPolicy
from chargedeck.domain.ids import ChargePointId
from chargedeck.ocpp.v16.base import Message
from chargedeck.ocpp.v16.enums import (
    CertificateSignedStatus,
    CertificateUse,
    DeleteCertificateStatus,
    ExtendedMessageTrigger,
    GetInstalledCertificateStatus,
    HashAlgorithm,
    InstallCertificateStatus,
    LogStatus,
    LogType,
    TriggerMessageStatus,
    UpdateFirmwareStatus,
)
from chargedeck.ocpp.v16.security import (
    CertificateSignedRequest,
    DeleteCertificateRequest,
    ExtendedTriggerMessageRequest,
    GetInstalledCertificateIdsRequest,
    GetLogRequest,
    InstallCertificateRequest,
    SignedUpdateFirmwareRequest,
)
from chargedeck.ocpp.v16.types import CertificateHashData, FirmwareType, LogParameters
from chargedeck.server.ocpp_ws import OcppServer, transport_factory
from chargedeck.store import Store, open_store
from chargedeck.store.certificates import CertificateKind
from tests.support.ocpp_lib_charger import LibraryCharger, library_charger
from tests.support.server import ServerProcess, running_server

T0 = "2026-03-01T10:00:00Z"
HASH_DATA = {
    "hashAlgorithm": "SHA256",
    "issuerNameHash": "a3f1b2c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2",
    "issuerKeyHash": "b4c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2",
    "serialNumber": "1a2b3c4d",
}


class SecurityCharger(LibraryCharger):
    """A LibraryCharger that also answers the seven Security commands, makes a key and a CSR
    (CN = its id, O = CpoName) when asked for one, and keeps the chain CertificateSigned brings."""

    def __init__(self, charge_point_id: str, connection: Any) -> None:
        super().__init__(charge_point_id, connection)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.certificate_chain: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.sign_certificate_answers: list[str] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def csr(self, common_name: str | None = None) -> str:
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common_name or self.id),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ChargeDeck CPO"),
            ]
        )
        request = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(subject)
            .sign(self.key, hashes.SHA256())
        )
        return request.public_bytes(serialization.Encoding.PEM).decode("ascii")

    async def send_csr(self, common_name: str | None = None) -> str:
        answer = await self.call(call.SignCertificate(csr=self.csr(common_name)))
        status: str = answer.status  # the library leaves answers as the JSON strings
        self.sign_certificate_answers.append(status)
        return status

    @on("CertificateSigned")
    def on_certificate_signed(self, **kwargs: Any) -> Any:
        self.received.append(("CertificateSigned", kwargs))
        if not self.certificate_chain.done():
            self.certificate_chain.set_result(kwargs["certificate_chain"])
        return call_result.CertificateSigned(status="Accepted")

    @on("DeleteCertificate")
    def on_delete_certificate(self, **kwargs: Any) -> Any:
        self.received.append(("DeleteCertificate", kwargs))
        return call_result.DeleteCertificate(status="Accepted")

    @on("ExtendedTriggerMessage")
    def on_extended_trigger_message(self, **kwargs: Any) -> Any:
        self.received.append(("ExtendedTriggerMessage", kwargs))
        return call_result.ExtendedTriggerMessage(status="Accepted")

    @after("ExtendedTriggerMessage")
    def after_extended_trigger_message(self, **kwargs: Any) -> None:
        # Whitepaper A02: a new key pair, then SignCertificate.req (after the answer is sent).
        if kwargs["requested_message"] == "SignChargePointCertificate":
            task = asyncio.get_running_loop().create_task(self._send_csr_quietly())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send_csr_quietly(self) -> None:
        await self.send_csr()

    @on("GetInstalledCertificateIds")
    def on_get_installed_certificate_ids(self, **kwargs: Any) -> Any:
        self.received.append(("GetInstalledCertificateIds", kwargs))
        return call_result.GetInstalledCertificateIds(
            status="Accepted", certificate_hash_data=[HASH_DATA]
        )

    @on("GetLog")
    def on_get_log(self, **kwargs: Any) -> Any:
        self.received.append(("GetLog", kwargs))
        return call_result.GetLog(status="Accepted", filename="security-2026-03-01.log")

    @on("InstallCertificate")
    def on_install_certificate(self, **kwargs: Any) -> Any:
        self.received.append(("InstallCertificate", kwargs))
        return call_result.InstallCertificate(status="Accepted")

    @on("SignedUpdateFirmware")
    def on_signed_update_firmware(self, **kwargs: Any) -> Any:
        self.received.append(("SignedUpdateFirmware", kwargs))
        return call_result.SignedUpdateFirmware(status="Accepted")


@asynccontextmanager
async def security_charger(ocpp_url: str, charge_point_id: str) -> AsyncIterator[SecurityCharger]:
    """Connect a SecurityCharger to ``ocpp_url/<id>``, run its message loop and boot it."""
    async with library_charger(ocpp_url, charge_point_id, SecurityCharger) as charger:
        boot = await charger.call(
            call.BootNotification(
                charge_point_vendor="Wall Box Chargers", charge_point_model="PLP1-0-2-4"
            )
        )
        assert boot.status == RegistrationStatus.accepted
        yield charger


@pytest.fixture(scope="module")
def authority() -> CertificateAuthority:
    return create_certificate_authority("ChargeDeck e2e CA", "ChargeDeck", datetime.now(UTC))


def verify_chain(chain_pem: str, authority: CertificateAuthority, charger: SecurityCharger) -> None:
    """What the charger checks (whitepaper A02): the leaf is issued by the CA it trusts, for its
    own key and name; the chain carries the CA after the leaf (wallbox-field-notes Q18)."""
    leaf, *rest = x509.load_pem_x509_certificates(chain_pem.encode("ascii"))
    leaf.verify_directly_issued_by(authority.certificate)
    assert rest == [authority.certificate]
    assert leaf.public_key() == charger.key.public_key()
    [common_name] = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert common_name.value == charger.id


@asynccontextmanager
async def store_of(server: ServerProcess) -> AsyncIterator[Store]:
    """The server's own database, opened from this process (SQLite WAL: readers do not block)."""
    store = await open_store(server.database_url, migrate=False)
    try:
        yield store
    finally:
        await store.close()


# ---- a `chargedeck serve` process ---------------------------------------------------------------


@pytest.fixture(scope="module")
def ca_server(
    tmp_path_factory: pytest.TempPathFactory, ocpp_transport: str, authority: CertificateAuthority
) -> Iterator[ServerProcess]:
    """A server whose data_dir holds the CA that ``chargedeck certs init`` would have created."""
    folder = tmp_path_factory.mktemp("ca")
    certs = folder / "certs"
    certs.mkdir()
    (certs / "ca.pem").write_bytes(certificate_to_pem(authority.certificate))
    (certs / "ca.key").write_bytes(private_key_to_pem(authority.private_key))
    certs.joinpath("ca.key").chmod(0o600)
    with running_server(
        f"sqlite:///{folder / 'chargedeck.db'}", ["--unknown-charge-points", "accept"], folder
    ) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


async def test_security_events_are_stored_as_the_charger_sent_them(
    server: ServerProcess,
) -> None:
    async with security_charger(server.ocpp_url, "SEC-EV1") as charger:
        for event_type, tech_info in (
            ("StartupOfTheDevice", "cold boot"),
            ("InvalidCentralSystemCertificate", "server certificate expired"),
            ("VendorSpecificLidSensor", "an event outside the whitepaper's list"),
        ):
            answer = await charger.call(
                call.SecurityEventNotification(type=event_type, timestamp=T0, tech_info=tech_info)
            )
            assert answer is not None  # a CALLRESULT the library validated, not a CALLERROR
    async with store_of(server) as store:
        events = await store.security_records.list_security_events(ChargePointId("SEC-EV1"))
    assert [(e.type, e.tech_info) for e in events] == [
        ("VendorSpecificLidSensor", "an event outside the whitepaper's list"),
        ("InvalidCentralSystemCertificate", "server certificate expired"),
        ("StartupOfTheDevice", "cold boot"),
    ]
    assert events[0].timestamp == datetime(2026, 3, 1, 10, tzinfo=UTC)
    server.wait_for_log(r"WARNING .*SEC-EV1 security event 'InvalidCentralSystemCertificate'")


async def test_log_and_signed_firmware_statuses_are_stored_with_their_request_ids(
    server: ServerProcess,
) -> None:
    async with security_charger(server.ocpp_url, "SEC-ST1") as charger:
        await charger.call(call.LogStatusNotification(status="Uploading", request_id=41))
        await charger.call(call.LogStatusNotification(status="Uploaded", request_id=41))
        await charger.call(
            call.SignedFirmwareStatusNotification(status="SignatureVerified", request_id=8)
        )
    async with store_of(server) as store:
        logs = await store.security_records.list_log_statuses(ChargePointId("SEC-ST1"))
        firmware = await store.security_records.list_signed_firmware_statuses(
            ChargePointId("SEC-ST1")
        )
    assert [(s.status, s.request_id) for s in logs] == [("Uploaded", 41), ("Uploading", 41)]
    assert [(s.status, s.request_id) for s in firmware] == [("SignatureVerified", 8)]


async def test_a_csr_is_rejected_when_the_server_has_no_ca(server: ServerProcess) -> None:
    async with security_charger(server.ocpp_url, "SEC-NOCA") as charger:
        assert await charger.send_csr() == "Rejected"
    server.wait_for_log(r"SEC-NOCA: SignCertificate rejected: no CA configured")


async def test_a03_a_csr_from_the_charger_comes_back_signed_by_the_ca_in_the_data_dir(
    ca_server: ServerProcess, authority: CertificateAuthority
) -> None:
    async with security_charger(ca_server.ocpp_url, "SEC-A03") as charger:
        assert await charger.send_csr() == "Accepted"
        chain = await asyncio.wait_for(charger.certificate_chain, timeout=10)
        # Connected until the CSMS has the charger's CertificateSigned.conf.
        await asyncio.to_thread(
            ca_server.wait_for_log, r"SEC-A03 accepted certificate serial [0-9a-f]+"
        )
    verify_chain(chain, authority, charger)
    async with store_of(ca_server) as store:
        [issued] = await store.certificates.list_issued(ChargePointId("SEC-A03"))
    assert issued.kind is CertificateKind.SIGNED_CSR


async def test_a_csr_whose_cn_is_not_the_charge_point_id_is_rejected(
    ca_server: ServerProcess,
) -> None:
    async with security_charger(ca_server.ocpp_url, "SEC-CN1") as charger:
        assert await charger.send_csr(common_name="SOMEONE-ELSE") == "Rejected"
        await asyncio.sleep(0.2)  # nothing may follow a Rejected
    assert [name for name, _ in charger.received] == []
    ca_server.wait_for_log(r"CN 'SOMEONE-ELSE' does not match charge point id 'SEC-CN1'")


# ---- commands, sent in this process ------------------------------------------------------------


@dataclass
class InProcessCsms:
    services: CsmsServices
    ocpp_url: str


@pytest.fixture
async def csms(
    tmp_path: Path, ocpp_transport: str, authority: CertificateAuthority
) -> AsyncIterator[InProcessCsms]:
    """The composition of ``chargedeck serve`` without HTTP: store, CA, guard, OCPP endpoint."""
    store = await open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    settings = Settings(
        unknown_charge_points=UnknownChargePointPolicy.ACCEPT, ocpp_transport=ocpp_transport
    )
    services = CsmsServices(
        store=store,
        settings=settings,
        clock=SystemClock(),
        stations=Stations(),
        certificate_authority=authority,
    )
    guard = ConnectionGuard(store, settings, services.clock)
    guard.start()
    server = OcppServer(services, guard, transport_factory(ocpp_transport))
    try:
        _, port = await server.start("127.0.0.1", 0)
        yield InProcessCsms(services, f"ws://127.0.0.1:{port}/ocpp")
    finally:
        await server.shutdown(1.0)
        await guard.close()
        await store.close()


def commands(authority: CertificateAuthority) -> list[tuple[Message, Any, dict[str, Any]]]:
    """Each command, the status the charger answers and what the charger received (snake_case
    keys at the top, as the library hands them to its handlers)."""
    ca_pem = certificate_to_pem(authority.certificate).decode("ascii")
    hash_data = CertificateHashData(
        hash_algorithm=HashAlgorithm.SHA256,
        issuer_name_hash=HASH_DATA["issuerNameHash"],
        issuer_key_hash=HASH_DATA["issuerKeyHash"],
        serial_number=HASH_DATA["serialNumber"],
    )
    return [
        (
            CertificateSignedRequest(certificate_chain=ca_pem),
            CertificateSignedStatus.ACCEPTED,
            {"certificate_chain": ca_pem},
        ),
        (
            DeleteCertificateRequest(certificate_hash_data=hash_data),
            DeleteCertificateStatus.ACCEPTED,
            {
                "certificate_hash_data": {
                    "hash_algorithm": "SHA256",
                    "issuer_name_hash": HASH_DATA["issuerNameHash"],
                    "issuer_key_hash": HASH_DATA["issuerKeyHash"],
                    "serial_number": "1a2b3c4d",
                }
            },
        ),
        (
            ExtendedTriggerMessageRequest(
                requested_message=ExtendedMessageTrigger.STATUS_NOTIFICATION, connector_id=1
            ),
            TriggerMessageStatus.ACCEPTED,
            {"requested_message": "StatusNotification", "connector_id": 1},
        ),
        (
            GetInstalledCertificateIdsRequest(
                certificate_type=CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE
            ),
            GetInstalledCertificateStatus.ACCEPTED,
            {"certificate_type": "CentralSystemRootCertificate"},
        ),
        (
            GetLogRequest(
                log=LogParameters(remote_location="https://logs.example.com/upload"),
                log_type=LogType.SECURITY_LOG,
                request_id=5,
                retries=2,
            ),
            LogStatus.ACCEPTED,
            {
                "log": {"remote_location": "https://logs.example.com/upload"},
                "log_type": "SecurityLog",
                "request_id": 5,
                "retries": 2,
            },
        ),
        (
            InstallCertificateRequest(
                certificate_type=CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE,
                certificate=ca_pem,
            ),
            InstallCertificateStatus.ACCEPTED,
            {"certificate_type": "CentralSystemRootCertificate", "certificate": ca_pem},
        ),
        (
            SignedUpdateFirmwareRequest(
                request_id=11,
                firmware=FirmwareType(
                    location="https://firmware.example.com/plp1-6.5.0.bin",
                    retrieve_date_time=datetime(2026, 3, 1, 10, tzinfo=UTC),
                    signing_certificate=ca_pem,
                    signature="MEUCIQDx",
                ),
            ),
            UpdateFirmwareStatus.ACCEPTED,
            {
                "request_id": 11,
                "firmware": {
                    "location": "https://firmware.example.com/plp1-6.5.0.bin",
                    "retrieve_date_time": "2026-03-01T10:00:00Z",
                    "signing_certificate": ca_pem,
                    "signature": "MEUCIQDx",
                },
            },
        ),
    ]


ACTION_NAMES = [
    "CertificateSigned",
    "DeleteCertificate",
    "ExtendedTriggerMessage",
    "GetInstalledCertificateIds",
    "GetLog",
    "InstallCertificate",
    "SignedUpdateFirmware",
]


@pytest.mark.parametrize("index", range(len(ACTION_NAMES)), ids=ACTION_NAMES)
async def test_every_security_command_reaches_the_charger_and_returns_its_answer(
    csms: InProcessCsms, authority: CertificateAuthority, index: int
) -> None:
    request, status, received = commands(authority)[index]
    action = ACTION_NAMES[index]
    async with security_charger(csms.ocpp_url, f"SEC-CMD-{action}") as charger:
        answer = await send_command(csms.services, charger.id, request)
    assert answer.status is status  # type: ignore[attr-defined]
    assert charger.received == [(action, received)]


async def test_get_installed_certificate_ids_returns_the_chargers_hash_data(
    csms: InProcessCsms,
) -> None:
    async with security_charger(csms.ocpp_url, "SEC-IDS") as charger:
        answer = await send_command(
            csms.services,
            charger.id,
            GetInstalledCertificateIdsRequest(
                certificate_type=CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE
            ),
        )
    [hash_data] = answer.certificate_hash_data  # type: ignore[attr-defined]
    assert hash_data.serial_number == "1a2b3c4d"
    assert hash_data.hash_algorithm is HashAlgorithm.SHA256


async def test_tc074_the_csms_asks_for_a_csr_and_sends_back_a_certificate_the_charger_can_verify(
    csms: InProcessCsms, authority: CertificateAuthority, caplog: pytest.LogCaptureFixture
) -> None:
    async with security_charger(csms.ocpp_url, "SEC-A02") as charger:
        answer = await send_command(
            csms.services,
            charger.id,
            ExtendedTriggerMessageRequest(
                requested_message=ExtendedMessageTrigger.SIGN_CHARGE_POINT_CERTIFICATE
            ),
        )
        assert answer.status is TriggerMessageStatus.ACCEPTED  # type: ignore[attr-defined]
        chain = await asyncio.wait_for(charger.certificate_chain, timeout=10)
        for _ in range(500):  # the CSMS logs the charger's answer once CertificateSigned returns
            if any("SEC-A02 accepted certificate serial" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.01)
    assert charger.sign_certificate_answers == ["Accepted"]
    verify_chain(chain, authority, charger)
    assert any("SEC-A02 accepted certificate serial" in r.getMessage() for r in caplog.records)
    [issued] = await csms.services.store.certificates.list_issued(ChargePointId("SEC-A02"))
    assert issued.kind is CertificateKind.SIGNED_CSR
