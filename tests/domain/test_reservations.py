"""Reservations (OCPP 1.6 §5.13 ReserveNow, §5.1 CancelReservation, §4.8 StartTransaction)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chargedeck.domain.charger_models import GENERIC_OCPP16, model_for
from chargedeck.domain.reservations import (
    Reservation,
    ReservationMatch,
    ReservationRefused,
    ReservationState,
    check_reserve_now,
    match_start_transaction,
    next_reservation_id,
    reservation_state,
    reserve_connector_zero_supported,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
IN_AN_HOUR = NOW + timedelta(hours=1)
WALLBOX = model_for("Wall Box Chargers", "PLP1-0-2-4")


def reservation(**changes: object) -> Reservation:
    base = Reservation(
        reservation_id=1,
        connector_id=1,
        id_tag="803D5C1A2BA204",
        parent_id_tag="FLEET",
        expiry_date=IN_AN_HOUR,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def check(wanted: Reservation, *held: Reservation, **options: object) -> Reservation:
    values: dict[str, object] = {"connector_zero_supported": False, **options}
    return check_reserve_now(wanted, reservations=held, now=NOW, **values)  # type: ignore[arg-type]


def test_a_reservation_expiring_in_the_future_on_a_free_connector_may_be_sent() -> None:
    assert check(reservation()) == reservation()


def test_a_reservation_expiring_now_is_refused() -> None:
    with pytest.raises(ReservationRefused, match="which is not after now"):
        check(reservation(expiry_date=NOW))


def test_connector_zero_is_refused_where_the_charger_does_not_support_it() -> None:
    with pytest.raises(ReservationRefused, match="does not take reservations for connector 0"):
        check(reservation(connector_id=0))


def test_connector_zero_is_allowed_where_the_charger_supports_it() -> None:
    assert check(reservation(connector_id=0), connector_zero_supported=True).connector_id == 0


def test_a_connector_the_charger_does_not_have_is_refused() -> None:
    with pytest.raises(ReservationRefused, match="connector 2 does not exist: the charger has 1"):
        check(reservation(connector_id=2), number_of_connectors=1)


def test_a_reservation_id_is_never_reused_on_a_charger() -> None:
    used = reservation(expiry_date=NOW - timedelta(days=1))
    with pytest.raises(ReservationRefused, match=r"id 1 is already used on this charger \(expired"):
        check(reservation(), used)


def test_an_active_reservation_is_replaced_by_a_reservenow_with_its_id_when_asked() -> None:
    held = reservation()
    longer = reservation(expiry_date=NOW + timedelta(hours=3))
    assert check(longer, held, replaces=True) == longer


def test_only_an_active_reservation_can_be_replaced() -> None:
    with pytest.raises(ReservationRefused, match="reservation 1 is cancelled, there is nothing"):
        check(reservation(), reservation(cancelled=True), replaces=True)


def test_replacing_a_reservation_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ReservationRefused, match="no reservation 1 on this charger to replace"):
        check(reservation(), replaces=True)


def test_a_connector_held_by_another_active_reservation_is_refused() -> None:
    with pytest.raises(
        ReservationRefused, match="connector 1 is already reserved by reservation 1"
    ):
        check(reservation(reservation_id=2), reservation())


def test_a_connector_whose_reservation_expired_may_be_reserved_again() -> None:
    expired = reservation(expiry_date=NOW - timedelta(minutes=1))
    assert check(reservation(reservation_id=2), expired).reservation_id == 2


def test_a_reservation_id_outside_int32_is_refused() -> None:
    with pytest.raises(ReservationRefused, match="a reservation id is 1 to 2147483647, got 0"):
        check(reservation(reservation_id=0))


def test_a_reservation_for_an_over_long_id_tag_is_refused() -> None:
    with pytest.raises(ValueError, match="1 to 20 characters"):
        check(reservation(id_tag="X" * 21))


def test_the_next_reservation_id_is_above_every_id_used() -> None:
    assert next_reservation_id([reservation(reservation_id=4), reservation(reservation_id=9)]) == 10
    assert next_reservation_id([]) == 1


def test_a_reservation_is_active_before_its_expiry() -> None:
    assert reservation_state(reservation(), NOW) is ReservationState.ACTIVE


def test_a_reservation_is_expired_from_its_expiry_date_on() -> None:
    assert reservation_state(reservation(), IN_AN_HOUR) is ReservationState.EXPIRED


def test_a_reservation_named_by_a_start_transaction_is_used() -> None:
    assert reservation_state(reservation(), NOW, 1) is ReservationState.USED


def test_a_reservation_recorded_as_used_is_used() -> None:
    assert reservation_state(reservation(used=True), NOW) is ReservationState.USED


def test_a_connector_whose_reservation_was_used_may_be_reserved_again() -> None:
    assert check(reservation(reservation_id=2), reservation(used=True)).reservation_id == 2


def test_another_reservation_id_in_a_start_transaction_does_not_use_it() -> None:
    assert reservation_state(reservation(), NOW, 2) is ReservationState.ACTIVE


def test_a_cancelled_reservation_is_cancelled() -> None:
    assert reservation_state(reservation(cancelled=True), NOW) is ReservationState.CANCELLED


def match(
    held: Reservation,
    *,
    reservation_id: int = 1,
    connector_id: int = 1,
    id_tag: str = "803d5c1a2ba204",
    parent_id_tag: str | None = None,
    started_at: datetime = NOW,
) -> ReservationMatch:
    return match_start_transaction(
        [held],
        reservation_id=reservation_id,
        connector_id=connector_id,
        id_tag=id_tag,
        parent_id_tag=parent_id_tag,
        started_at=started_at,
    )


def test_a_start_with_the_reserved_tag_on_the_reserved_connector_matches() -> None:
    assert match(reservation()) == ReservationMatch(reservation(), ())


def test_a_start_by_a_member_of_the_reserved_group_matches() -> None:
    assert match(reservation(), id_tag="OTHERCARD", parent_id_tag="fleet").problems == ()


def test_a_connector_zero_reservation_matches_a_start_on_any_connector() -> None:
    assert match(reservation(connector_id=0), connector_id=2).problems == ()


def test_an_unknown_reservation_id_is_reported_not_refused() -> None:
    assert match(reservation(), reservation_id=5) == ReservationMatch(
        None, ("reservation 5 is not known on this charger",)
    )


def test_a_second_start_with_a_used_reservation_is_reported() -> None:
    assert match(reservation(used=True)).problems == (
        "reservation 1 was already used by another transaction",
    )


def test_a_start_that_does_not_fit_its_reservation_says_every_reason() -> None:
    found = match(
        reservation(cancelled=True), connector_id=2, id_tag="STRANGER", started_at=IN_AN_HOUR
    )
    assert found.reservation == reservation(cancelled=True)
    assert found.problems == (
        "reservation 1 is for connector 1, the transaction started on connector 2",
        "reservation 1 is for id tag '803D5C1A2BA204' or its group 'FLEET', "
        "the transaction started with 'STRANGER'",
        "reservation 1 had been cancelled",
        "reservation 1 expired at 2026-06-01T13:00:00+00:00, before the transaction started at "
        "2026-06-01T13:00:00+00:00",
    )


def test_connector_zero_support_reported_by_the_charger_wins_over_the_model() -> None:
    assert reserve_connector_zero_supported(WALLBOX, "TRUE") is True
    assert reserve_connector_zero_supported(GENERIC_OCPP16, "false") is False


def test_connector_zero_support_defaults_to_the_model_when_not_read() -> None:
    assert reserve_connector_zero_supported(WALLBOX, None) is False


def test_a_connector_zero_key_that_is_not_a_boolean_is_refused_with_its_value() -> None:
    with pytest.raises(ValueError, match="ReserveConnectorZeroSupported is 'yes', expected"):
        reserve_connector_zero_supported(GENERIC_OCPP16, "yes")
