"""Certificates ChargeDeck's CA issued, and the operator-revoked list checked on profile 3
handshakes (tables issued_certificates, revoked_certificates).

Serial numbers are stored as lower-case hex without separators or leading zeros (the form
``domain.certificates.serial_hex`` gives); every method normalises what it is handed with
``normalize_serial``, so a serial pasted from ``openssl x509 -serial`` finds its row.
"""

from __future__ import annotations

import enum
from datetime import datetime

import msgspec
import sqlalchemy as sa

from chargedeck.domain.certificates import normalize_serial
from chargedeck.domain.ids import ChargePointId
from chargedeck.store._convert import to_record, to_records
from chargedeck.store.engine import Database, dialect_insert
from chargedeck.store.errors import AlreadyExists
from chargedeck.store.schema import issued_certificates, revoked_certificates

_ISSUED = issued_certificates.c
_REVOKED = revoked_certificates.c

# Prepared once: revoked_serials() runs on every profile 3 handshake.
_SELECT_REVOKED_SERIALS = sa.select(_REVOKED.serial_number)


class CertificateKind(enum.StrEnum):
    """Why the CA issued a certificate (the ``kind`` check constraint of issued_certificates)."""

    SERVER = "server"
    """A TLS server certificate of the CSMS (``chargedeck certs init``)."""
    CHARGER = "charger"
    """A profile 3 client certificate with its key, made for a charger (``certs charger``)."""
    SIGNED_CSR = "signed_csr"
    """A charger's own key, signed from its SignCertificate.req CSR (whitepaper A02)."""


class IssuedCertificateRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A certificate the CA issued; ``revoked_at`` is set if the serial is on the revoked list."""

    serial_number: str
    kind: CertificateKind
    charge_point_id: ChargePointId | None
    subject: str
    not_before: datetime
    not_after: datetime
    issued_at: datetime
    revoked_at: datetime | None = None


class RevokedCertificateRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A serial the operator revoked; a profile 3 charger presenting it is refused."""

    serial_number: str
    charge_point_id: ChargePointId | None
    reason: str | None
    revoked_at: datetime


_SELECT_ISSUED = (
    sa.select(*issued_certificates.c, _REVOKED.revoked_at)
    .select_from(
        issued_certificates.outerjoin(
            revoked_certificates, _REVOKED.serial_number == _ISSUED.serial_number
        )
    )
    .order_by(_ISSUED.issued_at, _ISSUED.serial_number)
)


class Certificates:
    """Reads and writes of ``issued_certificates`` and ``revoked_certificates``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def record_issued(
        self,
        *,
        serial_number: str,
        kind: CertificateKind,
        charge_point_id: ChargePointId | None,
        subject: str,
        not_before: datetime,
        not_after: datetime,
        issued_at: datetime,
    ) -> IssuedCertificateRecord:
        """Record a certificate the CA issued.

        Raises ``AlreadyExists`` if the serial is recorded already (serials are 159 random bits,
        RFC 5280 §4.1.2.2, so that means the same certificate was recorded twice) and
        ``ValueError`` for a serial that is not hex.
        """
        serial = normalize_serial(serial_number)
        statement = (
            dialect_insert(self._db.dialect_name, issued_certificates)
            .values(
                serial_number=serial,
                kind=kind.value,
                charge_point_id=charge_point_id,
                subject=subject,
                not_before=not_before,
                not_after=not_after,
                issued_at=issued_at,
            )
            .on_conflict_do_nothing(index_elements=[_ISSUED.serial_number])
            .returning(*issued_certificates.c)
        )
        async with self._db.write() as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            raise AlreadyExists(f"certificate serial {serial} is recorded already")
        return to_record(IssuedCertificateRecord, row)

    async def get_issued(self, serial_number: str) -> IssuedCertificateRecord | None:
        """The issued certificate with this serial, or None if the CA did not issue it."""
        statement = _SELECT_ISSUED.where(_ISSUED.serial_number == normalize_serial(serial_number))
        async with self._db.read() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else to_record(IssuedCertificateRecord, row)

    async def list_issued(
        self, charge_point_id: ChargePointId | None = None
    ) -> list[IssuedCertificateRecord]:
        """Every issued certificate (or those of one charger), oldest first."""
        statement = _SELECT_ISSUED
        if charge_point_id is not None:
            statement = statement.where(_ISSUED.charge_point_id == charge_point_id)
        async with self._db.read() as connection:
            return to_records(IssuedCertificateRecord, await connection.execute(statement))

    async def revoke(
        self,
        serial_number: str,
        charge_point_id: ChargePointId | None,
        reason: str | None,
        now: datetime,
    ) -> RevokedCertificateRecord:
        """Put a serial on the revoked list; revoking it again changes nothing and returns the
        first revocation. Any CA's serial may be revoked (the operator may bring their own CA).

        Raises ``ValueError`` for a serial that is not hex.
        """
        serial = normalize_serial(serial_number)
        insert = (
            dialect_insert(self._db.dialect_name, revoked_certificates)
            .values(
                serial_number=serial,
                charge_point_id=charge_point_id,
                reason=reason,
                revoked_at=now,
            )
            .on_conflict_do_nothing(index_elements=[_REVOKED.serial_number])
            .returning(*revoked_certificates.c)
        )
        select = sa.select(revoked_certificates).where(_REVOKED.serial_number == serial)
        async with self._db.write() as connection:
            row = (await connection.execute(insert)).first()
            if row is None:
                row = (await connection.execute(select)).one()
        return to_record(RevokedCertificateRecord, row)

    async def unrevoke(self, serial_number: str) -> bool:
        """Take a serial off the revoked list; False if it was not on it.

        Raises ``ValueError`` for a serial that is not hex.
        """
        statement = sa.delete(revoked_certificates).where(
            _REVOKED.serial_number == normalize_serial(serial_number)
        )
        async with self._db.write() as connection:
            result = await connection.execute(statement)
        return result.rowcount > 0

    async def revoked_serials(self) -> frozenset[str]:
        """Every revoked serial, for ``check_client_certificate`` on a profile 3 handshake: one
        primary-key scan of a table that holds a handful of rows."""
        async with self._db.read() as connection:
            result = await connection.execute(_SELECT_REVOKED_SERIALS)
            return frozenset(result.scalars())

    async def list_revoked(self) -> list[RevokedCertificateRecord]:
        """The revoked list, oldest revocation first."""
        statement = sa.select(revoked_certificates).order_by(
            _REVOKED.revoked_at, _REVOKED.serial_number
        )
        async with self._db.read() as connection:
            return to_records(RevokedCertificateRecord, await connection.execute(statement))
