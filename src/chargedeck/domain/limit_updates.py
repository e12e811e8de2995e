"""When a newly computed limit must go to the charger: dead band, safety first, leases.

Profiles cost the charger a flash write on some models (peer survey §E: Home Assistant OCPP's
flash-wear warning; evcc writes at most once per 30 s) and a noisy meter would rewrite them all
the time. So a raise of no more than the dead band is not sent; but a lower limit always is, at
once (the others' shares were computed assuming it) unless the site plan found the limits in
force still fit every circuit (domain/site_plan ``held``), and so is pausing, resuming and the first
limit of a transaction. A limit above the connector's safe share is leased: sent with a schedule
that ends after ``lease_s`` and renewed at half-time (csms/load_control.py).

Pure: no I/O, no clock (STYLE rule 1).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


class UpdateReason(enum.StrEnum):
    FIRST = "first limit of the transaction"
    LOWER = "lower limit"
    PAUSE = "pause"
    RESUME = "resume"
    RAISE = "raise beyond the dead band"
    RENEW = "lease renewal"

    @property
    def urgent(self) -> bool:
        """Sent at once, whatever the charger model's least interval between profiles: the
        fuse depends on it (or the car waits for its first limit)."""
        return self in (UpdateReason.FIRST, UpdateReason.LOWER, UpdateReason.PAUSE)


@dataclass(frozen=True)
class LimitUpdate:
    limit_a: float
    reason: UpdateReason
    leased: bool
    """Above the safe share: sent with a schedule that ends ``lease_s`` after sending."""


def limit_update(
    *,
    sent_a: float | None,
    new_a: float,
    safe_a: float,
    lease_until: datetime | None,
    now: datetime,
    dead_band_a: float,
    lease_s: float,
) -> LimitUpdate | None:
    """The update to send for a connector whose limit in force is ``sent_a`` (None: none sent
    for this transaction) and whose new limit is ``new_a``; None when nothing must be sent."""
    leased = new_a > safe_a
    if sent_a is None:
        return LimitUpdate(new_a, UpdateReason.FIRST, leased)
    if new_a == 0 < sent_a:
        return LimitUpdate(new_a, UpdateReason.PAUSE, leased)
    if sent_a == 0 < new_a:
        return LimitUpdate(new_a, UpdateReason.RESUME, leased)
    if new_a < sent_a:
        return LimitUpdate(new_a, UpdateReason.LOWER, leased)
    if new_a - sent_a > dead_band_a:
        return LimitUpdate(new_a, UpdateReason.RAISE, leased)
    still_leased = sent_a > safe_a
    if still_leased and (
        lease_until is None or lease_until - now <= timedelta(seconds=lease_s / 2)
    ):
        return LimitUpdate(sent_a, UpdateReason.RENEW, still_leased)
    return None


def earliest_send(last_sent_at: datetime | None, interval_s: float, now: datetime) -> datetime:
    """When a non-urgent profile may next go to a charger that got one at ``last_sent_at``."""
    if last_sent_at is None:
        return now
    return max(now, last_sent_at + timedelta(seconds=interval_s))
