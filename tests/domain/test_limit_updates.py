"""When a new limit is sent (domain/limit_updates.py): dead band, safety first, leases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chargedeck.domain.limit_updates import LimitUpdate, UpdateReason, earliest_send, limit_update

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LEASE_S = 300.0


def update(
    sent: float | None, new: float, *, safe: float = 8.0, lease_until: datetime | None = None
) -> LimitUpdate | None:
    return limit_update(
        sent_a=sent,
        new_a=new,
        safe_a=safe,
        lease_until=lease_until,
        now=NOW,
        dead_band_a=1.0,
        lease_s=LEASE_S,
    )


def test_the_first_limit_of_a_transaction_is_always_sent_at_once() -> None:
    sent = update(None, 8.0)
    assert sent is not None
    assert sent.reason is UpdateReason.FIRST
    assert sent.reason.urgent


def test_a_raise_of_no_more_than_the_dead_band_is_not_sent() -> None:
    assert update(8.0, 8.9) is None
    assert update(6.0, 7.0) is None


def test_a_raise_beyond_the_dead_band_is_sent_but_not_urgently() -> None:
    sent = update(6.0, 7.1)
    assert sent is not None
    assert sent.reason is UpdateReason.RAISE
    assert not sent.reason.urgent


def test_any_lower_limit_is_sent_at_once_however_small() -> None:
    sent = update(8.0, 7.9)
    assert sent is not None
    assert sent.reason is UpdateReason.LOWER
    assert sent.reason.urgent


def test_pausing_and_resuming_are_always_sent() -> None:
    paused = update(8.0, 0.0)
    resumed = update(0.0, 6.0)
    assert paused is not None
    assert paused.reason is UpdateReason.PAUSE
    assert resumed is not None
    assert resumed.reason is UpdateReason.RESUME


def test_a_limit_above_the_safe_share_is_leased_and_one_within_it_is_not() -> None:
    above = update(None, 16.0, safe=8.0)
    within = update(None, 8.0, safe=8.0)
    assert above is not None
    assert above.leased
    assert within is not None
    assert not within.leased


def test_a_lease_is_renewed_once_half_of_it_is_gone_with_the_limit_in_force() -> None:
    fresh = NOW + timedelta(seconds=LEASE_S * 0.9)
    half_gone = NOW + timedelta(seconds=LEASE_S * 0.5)
    assert update(16.0, 16.5, safe=8.0, lease_until=fresh) is None
    renewal = update(16.0, 16.5, safe=8.0, lease_until=half_gone)
    assert renewal is not None
    assert renewal.reason is UpdateReason.RENEW
    assert renewal.limit_a == 16.0
    assert renewal.leased


def test_a_limit_within_the_safe_share_needs_no_renewal() -> None:
    assert update(8.0, 8.0, safe=8.0, lease_until=None) is None


def test_the_next_profile_waits_for_the_models_least_interval() -> None:
    assert earliest_send(None, 30.0, NOW) == NOW
    assert earliest_send(NOW - timedelta(seconds=10), 30.0, NOW) == NOW + timedelta(seconds=20)
    assert earliest_send(NOW - timedelta(seconds=40), 30.0, NOW) == NOW
