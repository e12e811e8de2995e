"""The authorization decision for a presented id tag (OCPP 1.6 §4.1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chargedeck.domain.id_tags import AuthorizationStatus, KnownIdTag, authorize, check_id_tag

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def tag(**overrides: object) -> KnownIdTag:
    values: dict[str, object] = {
        "id_tag": "04A2B3C4",
        "blocked": False,
        "expiry_date": None,
        "parent_id_tag": None,
    }
    values.update(overrides)
    return KnownIdTag(**values)  # type: ignore[arg-type]


def test_unknown_id_tag_is_invalid() -> None:
    assert authorize(None, NOW).status is AuthorizationStatus.INVALID


def test_known_id_tag_is_accepted_with_its_parent_and_expiry() -> None:
    expiry = NOW + timedelta(days=1)
    decision = authorize(tag(expiry_date=expiry, parent_id_tag="FLEET"), NOW)
    assert decision.status is AuthorizationStatus.ACCEPTED
    assert decision.expiry_date == expiry
    assert decision.parent_id_tag == "FLEET"


def test_blocked_id_tag_is_blocked() -> None:
    assert authorize(tag(blocked=True), NOW).status is AuthorizationStatus.BLOCKED


def test_id_tag_past_its_expiry_is_expired() -> None:
    decision = authorize(tag(expiry_date=NOW - timedelta(seconds=1)), NOW)
    assert decision.status is AuthorizationStatus.EXPIRED


def test_blocked_wins_over_expired() -> None:
    decision = authorize(tag(blocked=True, expiry_date=NOW - timedelta(days=1)), NOW)
    assert decision.status is AuthorizationStatus.BLOCKED


def test_an_id_tag_of_20_characters_is_an_id_token() -> None:
    assert check_id_tag("A" * 20) == "A" * 20


@pytest.mark.parametrize("text", ["", "A" * 21])
def test_an_empty_or_over_long_id_tag_is_refused_with_its_length(text: str) -> None:
    with pytest.raises(ValueError, match=f"1 to 20 characters .* got {len(text)}"):
        check_id_tag(text)
