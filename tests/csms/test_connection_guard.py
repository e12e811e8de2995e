"""The connection guard around the security rules: password checks cached and bounded, back-off
that holds against bursts, refusals counted and stored (Security Whitepaper ed.3; issue 4)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chargedeck.clock import ManualClock
from chargedeck.config import Settings
from chargedeck.csms.connection_guard import ConnectionGuard
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId
from chargedeck.domain.passwords import hash_secret
from chargedeck.domain.security import (
    BasicCredentials,
    PresentedIdentity,
    Rejection,
    RejectionReason,
    SecurityProfile,
)
from chargedeck.store import Store, open_store

T0 = datetime(2026, 11, 26, 12, tzinfo=UTC)
CP = ChargePointId("CP-1")
KEY = b"Correct-Horse-Battery"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite:///{tmp_path / 'guard.db'}")
    await opened.charge_points.add_charge_point(
        CP,
        Registration.REGISTERED,
        T0,
        security_profile=SecurityProfile.BASIC_AUTH,
        authorization_key_hash=hash_secret(KEY),
    )
    try:
        yield opened
    finally:
        await opened.close()


def with_password(password: bytes) -> PresentedIdentity:
    return PresentedIdentity(tls=False, credentials=BasicCredentials(b"CP-1", password))


async def attempt(guard: ConnectionGuard, store: Store, host: str, password: bytes) -> object:
    """One connection attempt as the edge makes it: throttle, admit, record the outcome."""
    throttled = guard.throttled(CP, host)
    if throttled is not None:
        guard.refused(CP, host, throttled)
        return throttled.reason
    access = await store.registrations.access_of(CP)
    assert access is not None
    admitted = await guard.admit(CP, host, access, with_password(password))
    if isinstance(admitted, Rejection):
        guard.refused(CP, host, admitted)
        return admitted.reason
    guard.succeeded(CP, host)
    return admitted


async def test_a_burst_of_wrong_passwords_meets_the_back_off_not_argon2(store: Store) -> None:
    clock = ManualClock(T0)
    guard = ConnectionGuard(store, Settings(auth_failures_before_backoff=3), clock)
    outcomes = await asyncio.gather(
        *(attempt(guard, store, "10.0.0.66", b"guess-%d" % i) for i in range(40))
    )
    wrong = outcomes.count(RejectionReason.WRONG_PASSWORD)
    limited = outcomes.count(RejectionReason.RATE_LIMITED)
    assert wrong + limited == 40
    assert wrong <= 3  # every attempt queued behind the checks was stopped by the back-off
    await guard.close()


async def test_the_real_charger_is_not_locked_out_by_attacks_on_its_id(store: Store) -> None:
    clock = ManualClock(T0)
    guard = ConnectionGuard(store, Settings(auth_failures_before_backoff=2), clock)
    assert await attempt(guard, store, "192.168.1.20", KEY) is SecurityProfile.BASIC_AUTH
    for index in range(6):
        await attempt(guard, store, f"203.0.113.{index}", b"guess")
    # Another address gets the id's back-off; the charger's own address does not.
    assert await attempt(guard, store, "203.0.113.99", KEY) is RejectionReason.RATE_LIMITED
    assert await attempt(guard, store, "192.168.1.20", KEY) is SecurityProfile.BASIC_AUTH
    await guard.close()


async def test_a_verified_password_is_not_hashed_again(store: Store) -> None:
    guard = ConnectionGuard(store, Settings(), ManualClock(T0))
    assert await attempt(guard, store, "192.168.1.20", KEY) is SecurityProfile.BASIC_AUTH
    started = asyncio.get_running_loop().time()
    for _ in range(50):
        assert await attempt(guard, store, "192.168.1.20", KEY) is SecurityProfile.BASIC_AUTH
    # 50 argon2 checks take about a second; cached ones a few milliseconds in all.
    assert asyncio.get_running_loop().time() - started < 0.5
    # A new stored key (rotation) is not matched by the cache of the old one.
    await store.charge_points.set_authorization_key(CP, hash_secret(b"Another-Key-0123"), T0)
    assert await attempt(guard, store, "192.168.1.20", KEY) is RejectionReason.WRONG_PASSWORD
    await guard.close()


async def test_refusals_are_counted_per_charger_host_and_reason_and_stored(store: Store) -> None:
    clock = ManualClock(T0)
    guard = ConnectionGuard(store, Settings(auth_failures_before_backoff=100), clock)
    for _ in range(3):
        await attempt(guard, store, "10.0.0.7", b"wrong-one")
        clock.advance(1)
    assert guard.refuses_host("10.0.0.7") is False
    await guard.flush()
    [record] = await store.rejections.list_rejections("CP-1")
    assert (record.reason, record.remote_host, record.count) == (
        RejectionReason.WRONG_PASSWORD,
        "10.0.0.7",
        3,
    )
    assert (record.first_at, record.last_at) == (T0, T0 + timedelta(seconds=2))
    await guard.close()


async def test_an_address_in_back_off_is_refused_before_tls(store: Store) -> None:
    clock = ManualClock(T0)
    guard = ConnectionGuard(store, Settings(auth_failures_before_backoff=1), clock)
    await attempt(guard, store, "10.0.0.8", b"wrong-one")
    assert guard.refuses_host("10.0.0.8") is True
    assert guard.refuses_host("10.0.0.9") is False
    clock.advance(2)
    assert guard.refuses_host("10.0.0.8") is False
    await guard.close()
    assert [r.reason for r in await store.rejections.list_rejections("")] == [
        RejectionReason.RATE_LIMITED
    ]
