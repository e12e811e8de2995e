"""Issued certificates and the revoked list, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chargedeck.domain.ids import ChargePointId
from chargedeck.store import Store
from chargedeck.store.certificates import CertificateKind
from chargedeck.store.errors import AlreadyExists

CP = ChargePointId("CP-001")


async def _issue(
    store: Store, serial: str, now: datetime, charge_point_id: ChargePointId | None = CP
) -> None:
    await store.certificates.record_issued(
        serial_number=serial,
        kind=CertificateKind.CHARGER if charge_point_id else CertificateKind.SERVER,
        charge_point_id=charge_point_id,
        subject=f"CN={charge_point_id or 'csms.local'}",
        not_before=now,
        not_after=now + timedelta(days=365),
        issued_at=now,
    )


async def test_a_recorded_certificate_is_listed_with_its_fields(
    store: Store, now: datetime
) -> None:
    recorded = await store.certificates.record_issued(
        serial_number="1a2b",
        kind=CertificateKind.SIGNED_CSR,
        charge_point_id=CP,
        subject="O=ACME,CN=CP-001",
        not_before=now,
        not_after=now + timedelta(days=365),
        issued_at=now,
    )
    assert recorded.serial_number == "1a2b"
    assert recorded.kind is CertificateKind.SIGNED_CSR
    assert recorded.not_after == now + timedelta(days=365)
    assert recorded.revoked_at is None
    assert await store.certificates.list_issued() == [recorded]


async def test_a_serial_is_stored_in_lower_case_hex_without_separators(
    store: Store, now: datetime
) -> None:
    await _issue(store, "0A:1B:2C", now)
    [record] = await store.certificates.list_issued()
    assert record.serial_number == "a1b2c"
    assert await store.certificates.get_issued("a1b2c") == record


async def test_recording_a_serial_twice_raises_already_exists(store: Store, now: datetime) -> None:
    await _issue(store, "1a2b", now)
    with pytest.raises(AlreadyExists):
        await _issue(store, "1A2B", now)


async def test_listing_by_charge_point_returns_only_its_certificates(
    store: Store, now: datetime
) -> None:
    await _issue(store, "aa", now, CP)
    await _issue(store, "bb", now + timedelta(seconds=1), ChargePointId("CP-002"))
    await _issue(store, "cc", now + timedelta(seconds=2), None)
    assert [r.serial_number for r in await store.certificates.list_issued()] == ["aa", "bb", "cc"]
    assert [r.serial_number for r in await store.certificates.list_issued(CP)] == ["aa"]


async def test_an_unknown_serial_is_none(store: Store) -> None:
    assert await store.certificates.get_issued("ff") is None


async def test_a_revoked_serial_is_in_the_revoked_set_and_marked_on_the_issued_list(
    store: Store, now: datetime
) -> None:
    await _issue(store, "1a2b", now)
    later = now + timedelta(hours=1)
    revoked = await store.certificates.revoke("1A2B", CP, "charger stolen", later)
    assert revoked.serial_number == "1a2b"
    assert revoked.reason == "charger stolen"
    assert await store.certificates.revoked_serials() == frozenset({"1a2b"})
    [issued] = await store.certificates.list_issued()
    assert issued.revoked_at == later


async def test_revoking_twice_keeps_the_first_revocation(store: Store, now: datetime) -> None:
    first = await store.certificates.revoke("1a2b", CP, "first", now)
    again = await store.certificates.revoke("1a2b", None, "second", now + timedelta(hours=1))
    assert again == first
    assert await store.certificates.list_revoked() == [first]


async def test_a_serial_of_another_ca_can_be_revoked(store: Store, now: datetime) -> None:
    await store.certificates.revoke("dead", None, None, now)
    assert await store.certificates.revoked_serials() == frozenset({"dead"})
    assert await store.certificates.list_issued() == []


async def test_unrevoking_takes_the_serial_off_the_list(store: Store, now: datetime) -> None:
    await store.certificates.revoke("1a2b", CP, None, now)
    assert await store.certificates.unrevoke("1A2B") is True
    assert await store.certificates.revoked_serials() == frozenset()


async def test_unrevoking_a_serial_not_on_the_list_is_false(store: Store) -> None:
    assert await store.certificates.unrevoke("1a2b") is False


async def test_a_serial_that_is_not_hex_is_a_value_error(store: Store, now: datetime) -> None:
    with pytest.raises(ValueError, match="'xyz' is not a hexadecimal number"):
        await store.certificates.revoke("xyz", None, None, now)
