"""Authorization rules beyond the basics: ConcurrentTx, groups, free-vend placeholders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chargedeck.domain.charger_models import GENERIC_OCPP16, model_for
from chargedeck.domain.id_tags import (
    PLACEHOLDER_ID_TAGS,
    AuthorizationStatus,
    IdTagGroup,
    KnownIdTag,
    authorize,
    authorize_placeholder,
    is_placeholder_id_tag,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
WALLBOX = model_for("Wall Box Chargers", "PLP1-0-2-4")


def tag(
    *,
    blocked: bool = False,
    expiry_date: datetime | None = None,
    parent_id_tag: str | None = "FLEET",
    max_active_transactions: int | None = None,
) -> KnownIdTag:
    return KnownIdTag(
        "803D5C1A2BA204", blocked, expiry_date, parent_id_tag, max_active_transactions
    )


def group(*, blocked: bool = False, expiry_date: datetime | None = None) -> IdTagGroup:
    return IdTagGroup("FLEET", blocked, expiry_date)


def test_a_tag_at_its_cap_of_active_transactions_is_concurrent_tx() -> None:
    decision = authorize(tag(max_active_transactions=1), NOW, active_transactions=1)
    assert decision.status is AuthorizationStatus.CONCURRENT_TX


def test_concurrent_tx_still_carries_the_parent_and_expiry() -> None:
    expiry = NOW + timedelta(days=1)
    decision = authorize(
        tag(max_active_transactions=1, expiry_date=expiry), NOW, active_transactions=1
    )
    assert (decision.expiry_date, decision.parent_id_tag) == (expiry, "FLEET")


def test_a_tag_below_its_cap_is_accepted() -> None:
    decision = authorize(tag(max_active_transactions=2), NOW, active_transactions=1)
    assert decision.status is AuthorizationStatus.ACCEPTED


def test_a_tag_without_a_cap_is_accepted_whatever_it_runs() -> None:
    decision = authorize(tag(), NOW, active_transactions=50)
    assert decision.status is AuthorizationStatus.ACCEPTED


def test_authorize_without_a_count_never_answers_concurrent_tx() -> None:
    assert authorize(tag(max_active_transactions=1), NOW).status is AuthorizationStatus.ACCEPTED


def test_blocked_wins_over_concurrent_tx() -> None:
    decision = authorize(tag(blocked=True, max_active_transactions=1), NOW, active_transactions=3)
    assert decision.status is AuthorizationStatus.BLOCKED


def test_expired_wins_over_concurrent_tx() -> None:
    decision = authorize(
        tag(expiry_date=NOW, max_active_transactions=1), NOW, active_transactions=1
    )
    assert decision.status is AuthorizationStatus.EXPIRED


def test_a_cap_below_one_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match=r"at least 1 .* got 0: block the tag instead"):
        tag(max_active_transactions=0)


def test_a_negative_count_of_active_transactions_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be negative, got -1"):
        authorize(tag(), NOW, active_transactions=-1)


def test_an_unknown_tag_is_invalid_whatever_it_runs() -> None:
    assert authorize(None, NOW, active_transactions=4).status is AuthorizationStatus.INVALID


def test_a_blocked_group_blocks_its_members() -> None:
    decision = authorize(tag(), NOW, group=group(blocked=True))
    assert decision.status is AuthorizationStatus.BLOCKED


def test_an_expired_group_expires_its_members() -> None:
    decision = authorize(tag(), NOW, group=group(expiry_date=NOW - timedelta(days=1)))
    assert decision.status is AuthorizationStatus.EXPIRED


def test_the_answered_expiry_is_the_earlier_of_tag_and_group() -> None:
    soon, later = NOW + timedelta(days=1), NOW + timedelta(days=30)
    assert authorize(tag(expiry_date=later), NOW, group=group(expiry_date=soon)).expiry_date == soon
    assert authorize(tag(expiry_date=soon), NOW, group=group(expiry_date=later)).expiry_date == soon
    assert authorize(tag(), NOW, group=group(expiry_date=later)).expiry_date == later


def test_a_group_is_matched_to_the_parent_ignoring_case() -> None:
    decision = authorize(tag(parent_id_tag="fleet"), NOW, group=group(blocked=True))
    assert decision.status is AuthorizationStatus.BLOCKED


def test_a_group_that_is_not_the_tags_parent_is_refused() -> None:
    with pytest.raises(ValueError, match="'FLEET' is not the parent of id tag"):
        authorize(tag(parent_id_tag="OTHER"), NOW, group=group())


def test_a_wallbox_placeholder_is_no_authorization() -> None:
    assert is_placeholder_id_tag("NoAuthorization", WALLBOX)


def test_a_placeholder_is_compared_ignoring_case() -> None:
    assert is_placeholder_id_tag("NOAUTHORIZATION", WALLBOX)


def test_a_card_is_no_placeholder() -> None:
    assert not is_placeholder_id_tag("803D5C1A2BA204", WALLBOX)


def test_the_auth_disabled_id_tag_read_from_the_charger_wins_over_the_model() -> None:
    assert is_placeholder_id_tag("FreeVend", WALLBOX, auth_disabled_id_tag="FreeVend")
    assert not is_placeholder_id_tag("NoAuthorization", WALLBOX, auth_disabled_id_tag="FreeVend")


def test_a_generic_charger_has_a_placeholder_only_when_configured() -> None:
    assert not is_placeholder_id_tag("NoAuthorization", GENERIC_OCPP16)
    assert is_placeholder_id_tag("FreeVend", GENERIC_OCPP16, auth_disabled_id_tag="FreeVend")


def test_an_empty_auth_disabled_id_tag_makes_no_tag_a_placeholder() -> None:
    assert not is_placeholder_id_tag("", WALLBOX, auth_disabled_id_tag="")


def test_the_known_placeholders_come_from_the_charger_model_table() -> None:
    assert sorted(PLACEHOLDER_ID_TAGS) == ["NoAuthorization"]


def test_a_placeholder_is_accepted_without_expiry_or_parent() -> None:
    decision = authorize_placeholder()
    assert (decision.status, decision.expiry_date, decision.parent_id_tag) == (
        AuthorizationStatus.ACCEPTED,
        None,
        None,
    )
