"""The rules of operator accounts and API tokens (DESIGN §8), and the secret configuration keys."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from chargedeck.domain.masking import MASK, is_secret_configuration_key, masked_configuration_value
from chargedeck.domain.operators import (
    MIN_PASSWORD_LENGTH,
    Scope,
    check_not_last_admin,
    check_password,
    check_token_name,
    check_token_scope,
    check_username,
    is_expired,
    is_token_text,
    narrower,
    needs_touch,
    new_password,
    new_token,
    parse_scope,
    token_expiry,
    token_hash,
    token_prefix,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# ---- scopes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("held", "required", "allowed"),
    [
        (Scope.READ, Scope.READ, True),
        (Scope.READ, Scope.OPERATE, False),
        (Scope.READ, Scope.ADMIN, False),
        (Scope.OPERATE, Scope.READ, True),
        (Scope.OPERATE, Scope.OPERATE, True),
        (Scope.OPERATE, Scope.ADMIN, False),
        (Scope.ADMIN, Scope.READ, True),
        (Scope.ADMIN, Scope.OPERATE, True),
        (Scope.ADMIN, Scope.ADMIN, True),
    ],
)
def test_a_scope_allows_itself_and_the_scopes_below_it(
    held: Scope, required: Scope, allowed: bool
) -> None:
    assert held.allows(required) is allowed


def test_an_unknown_scope_is_refused_naming_the_scopes() -> None:
    with pytest.raises(ValueError, match=r"^--scope 'root' is not a scope; expected read, "):
        parse_scope("root", "--scope")


def test_the_narrower_of_two_scopes_is_the_one_both_allow() -> None:
    assert narrower(Scope.ADMIN, Scope.READ) is Scope.READ
    assert narrower(Scope.READ, Scope.OPERATE) is Scope.READ
    assert narrower(Scope.OPERATE, Scope.OPERATE) is Scope.OPERATE


def test_a_token_of_a_user_may_not_have_more_scope_than_the_user() -> None:
    assert check_token_scope(Scope.READ, Scope.OPERATE, "ana") is Scope.READ
    with pytest.raises(ValueError, match=r"^a token of user 'ana' \(scope read\) cannot have "):
        check_token_scope(Scope.ADMIN, Scope.READ, "ana")


# ---- usernames and passwords ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["admin", "ana.silva", "ops-2", "a", "9", "x_y", "a" * 64])
def test_a_username_of_lower_case_letters_digits_and_dot_dash_underscore_is_accepted(
    name: str,
) -> None:
    assert check_username(name) == name


@pytest.mark.parametrize("name", ["Ana", "ana silva", "ana:x", "-ana", ".ana", "anä", "é"])
def test_a_username_with_other_characters_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="may contain only lower-case letters a-z"):
        check_username(name)


@pytest.mark.parametrize("name", ["", "a" * 65])
def test_a_username_of_0_or_more_than_64_characters_is_refused(name: str) -> None:
    with pytest.raises(
        ValueError, match=rf"^username must be 1 to 64 characters, got {len(name)}$"
    ):
        check_username(name)


def test_a_password_of_11_characters_is_refused_without_showing_it() -> None:
    with pytest.raises(ValueError, match=r"^password must be at least 12 characters, got 11$"):
        check_password("elevenchars")


def test_a_password_of_12_characters_is_accepted() -> None:
    assert check_password("twelve chars") == "twelve chars"


def test_a_password_of_more_than_256_characters_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^password must be at most 256 characters, got 257$"):
        check_password("p" * 257)


def test_a_password_with_white_space_around_it_is_refused() -> None:
    with pytest.raises(ValueError, match="must not begin or end with white space"):
        check_password(" twelve chars ")


def test_a_generated_password_passes_the_password_rules_and_differs_each_time() -> None:
    passwords = {new_password() for _ in range(20)}
    assert len(passwords) == 20
    for password in passwords:
        assert check_password(password) == password
        assert len(password) >= MIN_PASSWORD_LENGTH


def test_disabling_the_last_enabled_admin_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^cannot disable 'boss': it is the last enabled admin"):
        check_not_last_admin("boss", frozenset({"boss"}))
    assert check_not_last_admin("boss", frozenset({"boss", "ana"})) == "boss"


def test_disabling_an_account_that_is_not_an_enabled_admin_is_always_allowed() -> None:
    assert check_not_last_admin("viewer", frozenset()) == "viewer"
    assert check_not_last_admin("viewer", frozenset({"boss"})) == "viewer"


# ---- tokens -----------------------------------------------------------------------------------


def test_a_token_is_cdk_and_43_characters_of_base64url() -> None:
    token = new_token()
    assert token.startswith("cdk_")
    assert len(token) == 47
    assert is_token_text(token)
    assert new_token() != token


@pytest.mark.parametrize(
    "text", ["", "cdk_", "cdk_" + "a" * 42, "cdk_" + "a" * 44, "xyz_" + "a" * 43, "cdk_" + "+" * 43]
)
def test_text_that_is_not_a_token_is_recognised(text: str) -> None:
    assert not is_token_text(text)


def test_the_store_keeps_the_sha256_of_a_token_and_its_first_8_characters() -> None:
    token = new_token()
    assert token_hash(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token_prefix(token) == token[:8]


def test_a_token_expires_after_its_days_and_never_without_them() -> None:
    assert token_expiry(NOW, None) is None
    assert token_expiry(NOW, 30) == NOW + timedelta(days=30)
    with pytest.raises(ValueError, match=r"^expiry must be 1 to 3650 days, got 0$"):
        token_expiry(NOW, 0)


def test_a_token_is_expired_from_its_expiry_time_on() -> None:
    assert not is_expired(None, NOW)
    assert not is_expired(NOW + timedelta(seconds=1), NOW)
    assert is_expired(NOW, NOW)


def test_last_used_is_worth_writing_once_a_minute() -> None:
    assert needs_touch(None, NOW)
    assert not needs_touch(NOW - timedelta(seconds=59), NOW)
    assert needs_touch(NOW - timedelta(seconds=60), NOW)


@pytest.mark.parametrize("name", ["", "   ", "a" * 101, "tab\there"])
def test_a_token_name_must_be_1_to_100_printable_characters(name: str) -> None:
    with pytest.raises(ValueError, match=r"^token name must be 1 to 100 printable characters"):
        check_token_name(name)


# ---- secret configuration keys ----------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["AuthorizationKey", "authorizationkey", "WebSocketPassword", "PUK"]
)
def test_the_value_of_a_secret_configuration_key_is_masked(key: str) -> None:
    assert is_secret_configuration_key(key)
    assert masked_configuration_value(key, "s3cret") == MASK == "***"


def test_a_secret_key_without_a_value_stays_without_one() -> None:
    assert masked_configuration_value("AuthorizationKey", None) is None


@pytest.mark.parametrize("key", ["HeartbeatInterval", "WebSocketUser", "WebSocketUrl"])
def test_other_configuration_values_are_shown(key: str) -> None:
    assert masked_configuration_value(key, "60") == "60"
