"""Who may connect as a charge point: profiles, Basic credentials, key forms, back-off
(Security Whitepaper ed.3; shared/reference/ocpp16-facts-and-peers.md §1.3)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargedeck.domain.security import (
    REASONS,
    Admission,
    BasicCredentials,
    ChargerSecurity,
    FailureBackoff,
    InvalidAuthorizationKey,
    MalformedAuthorization,
    PresentedIdentity,
    Rejection,
    RejectionReason,
    SecurityProfile,
    admit,
    chosen_authorization_key,
    describe_tls_failure,
    parse_authorization_key,
    parse_basic_authorization,
    password_candidates,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CP = "CP-1"
HASH = "$argon2id$stored"


def basic(user: bytes, password: bytes) -> str:
    return "Basic " + base64.b64encode(user + b":" + password).decode()


def security(
    profile: SecurityProfile, pending: SecurityProfile | None = None, key: str | None = HASH
) -> ChargerSecurity:
    return ChargerSecurity(profile, pending, key)


PLAIN_WITH_PASSWORD = PresentedIdentity(tls=False, credentials=BasicCredentials(b"CP-1", b"pw"))
PLAIN_NOTHING = PresentedIdentity(tls=False, credentials=None)
TLS_WITH_PASSWORD = PresentedIdentity(tls=True, credentials=BasicCredentials(b"CP-1", b"pw"))
TLS_WITH_CERTIFICATE = PresentedIdentity(tls=True, credentials=None, client_certificate_der=b"x")
TLS_NOTHING = PresentedIdentity(tls=True, credentials=None)


# ---- Basic credentials ---------------------------------------------------------------------


def test_basic_credentials_split_on_the_first_colon_and_stay_bytes() -> None:
    parsed = parse_basic_authorization(basic(b"CP-1", b"a:b\xff\x00"))
    assert parsed == BasicCredentials(b"CP-1", b"a:b\xff\x00")


@pytest.mark.parametrize(
    ("header", "says"),
    [
        ("Bearer abc", "is not Basic"),
        ("Basic !!!", "not valid base64"),
        ("Basic " + base64.b64encode(b"no-colon").decode(), "no ':'"),
    ],
)
def test_unusable_authorization_headers_are_refused_with_why(header: str, says: str) -> None:
    with pytest.raises(MalformedAuthorization, match=says):
        parse_basic_authorization(header)


# ---- AuthorizationKey forms ------------------------------------------------------------------


def test_a_typed_password_is_hashed_as_text_and_sent_as_hex_when_it_fits_20_bytes() -> None:
    key = parse_authorization_key("S3cret-Passw0rd!")
    assert key.key == b"S3cret-Passw0rd!"
    assert key.to_send == b"S3cret-Passw0rd!".hex()


def test_hex_digits_are_the_binary_key_they_represent() -> None:
    key = parse_authorization_key("00112233445566778899AABBCCDDEEFF0011")
    assert key.key == bytes.fromhex("00112233445566778899aabbccddeeff0011")
    assert key.to_send == "00112233445566778899aabbccddeeff0011"


def test_a_long_password_is_sent_as_typed() -> None:
    text = "a-very-long-password-of-thirty-one"
    assert parse_authorization_key(text).to_send == text


@pytest.mark.parametrize(
    ("text", "says"),
    [("short", "16-40 characters"), ("x" * 41, "this one has 41"), ("with space 123456", "no sp")],
)
def test_passwords_no_charger_could_use_are_refused(text: str, says: str) -> None:
    with pytest.raises(InvalidAuthorizationKey, match=says):
        parse_authorization_key(text)


@given(
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=16, max_size=40)
)
def test_every_form_a_charger_sends_of_a_key_is_among_the_candidates(text: str) -> None:
    key = parse_authorization_key(text)
    # As bytes (OCTT TC_085), as the hex text it was given, as the text the owner typed.
    assert key.key in password_candidates(key.key)
    assert key.key in password_candidates(key.to_send.encode())
    assert key.key in password_candidates(text.encode())


# ---- the decision -----------------------------------------------------------------------------


def refused(decision: Admission | Rejection) -> RejectionReason:
    assert isinstance(decision, Rejection), decision
    return decision.reason


def test_profile_0_asks_for_nothing() -> None:
    decision = admit(
        CP, security(SecurityProfile.NONE, key=None), PLAIN_NOTHING, SecurityProfile.NONE
    )
    assert decision == Admission(SecurityProfile.NONE, None, False, False)


def test_profile_0_ignores_credentials_when_chargedeck_holds_no_password() -> None:
    decision = admit(
        CP, security(SecurityProfile.NONE, key=None), PLAIN_WITH_PASSWORD, SecurityProfile.NONE
    )
    assert decision == Admission(SecurityProfile.NONE, None, False, False)


def test_profile_0_checks_a_password_sent_anyway_when_chargedeck_holds_one() -> None:
    decision = admit(CP, security(SecurityProfile.NONE), PLAIN_WITH_PASSWORD, SecurityProfile.NONE)
    assert decision == Admission(SecurityProfile.NONE, HASH, False, False)


def test_profile_1_checks_the_password_against_the_stored_hash() -> None:
    decision = admit(
        CP, security(SecurityProfile.BASIC_AUTH), PLAIN_WITH_PASSWORD, SecurityProfile.NONE
    )
    assert decision == Admission(SecurityProfile.BASIC_AUTH, HASH, False, False)


@pytest.mark.parametrize(
    ("stored", "presented", "reason"),
    [
        (security(SecurityProfile.BASIC_AUTH), PLAIN_NOTHING, RejectionReason.MISSING_CREDENTIALS),
        (
            security(SecurityProfile.BASIC_AUTH),
            PresentedIdentity(tls=False, credentials=BasicCredentials(b"CP-2", b"pw")),
            RejectionReason.USERNAME_MISMATCH,
        ),
        (
            security(SecurityProfile.BASIC_AUTH),
            PresentedIdentity(tls=False, credentials=None, malformed_authorization="bad"),
            RejectionReason.MALFORMED_CREDENTIALS,
        ),
        (
            security(SecurityProfile.BASIC_AUTH, key=None),
            PLAIN_WITH_PASSWORD,
            RejectionReason.NO_PASSWORD_SET,
        ),
        (
            security(SecurityProfile.TLS_BASIC_AUTH),
            PLAIN_WITH_PASSWORD,
            RejectionReason.PROFILE_REQUIRES_TLS,
        ),
        (security(SecurityProfile.BASIC_AUTH), TLS_WITH_PASSWORD, RejectionReason.PROFILE_MISMATCH),
        (
            security(SecurityProfile.TLS_CLIENT_CERTIFICATE),
            TLS_WITH_PASSWORD,
            RejectionReason.CLIENT_CERTIFICATE_MISSING,
        ),
        (
            security(SecurityProfile.TLS_CLIENT_CERTIFICATE),
            PLAIN_NOTHING,
            RejectionReason.PROFILE_REQUIRES_TLS,
        ),
    ],
)
def test_each_unmet_requirement_has_its_reason(
    stored: ChargerSecurity, presented: PresentedIdentity, reason: RejectionReason
) -> None:
    assert refused(admit(CP, stored, presented, SecurityProfile.NONE)) is reason


def test_profile_3_leaves_the_certificate_checks_to_the_caller() -> None:
    decision = admit(
        CP,
        security(SecurityProfile.TLS_CLIENT_CERTIFICATE),
        TLS_WITH_CERTIFICATE,
        SecurityProfile.NONE,
    )
    assert decision == Admission(SecurityProfile.TLS_CLIENT_CERTIFICATE, None, True, False)


def test_a_raised_profile_accepts_both_until_the_charger_uses_the_new_one() -> None:
    upgrading = security(SecurityProfile.BASIC_AUTH, pending=SecurityProfile.TLS_BASIC_AUTH)
    old_way = admit(CP, upgrading, PLAIN_WITH_PASSWORD, SecurityProfile.NONE)
    new_way = admit(CP, upgrading, TLS_WITH_PASSWORD, SecurityProfile.NONE)
    assert old_way == Admission(SecurityProfile.BASIC_AUTH, HASH, False, False)
    assert new_way == Admission(SecurityProfile.TLS_BASIC_AUTH, HASH, False, True)


def test_the_server_minimum_refuses_lower_profiles() -> None:
    decision = admit(CP, security(SecurityProfile.NONE), PLAIN_NOTHING, SecurityProfile.BASIC_AUTH)
    assert refused(decision) is RejectionReason.PROFILE_BELOW_MINIMUM
    assert "below min_security_profile 1" in str(decision)


def test_every_reason_says_what_the_charger_shows_and_what_to_change() -> None:
    assert set(REASONS) == set(RejectionReason)
    for info in REASONS.values():
        assert info.charger_shows in ("Connection Rejected", "Certificate Validation Failed")
        assert info.remedy
    assert REASONS[RejectionReason.WRONG_PASSWORD].status is HTTPStatus.UNAUTHORIZED
    assert REASONS[RejectionReason.UNKNOWN_CHARGE_POINT].status is HTTPStatus.NOT_FOUND
    assert REASONS[RejectionReason.RATE_LIMITED].status is HTTPStatus.TOO_MANY_REQUESTS


# ---- TLS failures -----------------------------------------------------------------------------


def test_tls_failures_are_explained() -> None:
    unknown_ca = describe_tls_failure("TLSV1_ALERT_UNKNOWN_CA", None, False, False)
    assert unknown_ca.reason is RejectionReason.TLS_HANDSHAKE_FAILED
    assert "upload the CA root" in unknown_ca.detail
    untrusted = describe_tls_failure(None, "unable to get local issuer certificate", False, False)
    assert untrusted.reason is RejectionReason.CLIENT_CERTIFICATE_UNTRUSTED
    assert "plain HTTP" in describe_tls_failure("HTTP_REQUEST", None, False, False).detail
    assert "did not complete in time" in describe_tls_failure(None, None, False, True).detail
    assert "closed the connection" in describe_tls_failure(None, None, True, False).detail


# ---- back-off ---------------------------------------------------------------------------------


def test_back_off_starts_after_the_threshold_and_doubles_up_to_the_maximum() -> None:
    backoff = FailureBackoff(threshold=3, max_backoff=timedelta(seconds=10))
    for _ in range(2):
        backoff.record_failure("10.0.0.9", NOW)
    assert backoff.blocked_until("10.0.0.9", NOW) is None
    waits = []
    for _ in range(6):
        backoff.record_failure("10.0.0.9", NOW)
        until = backoff.blocked_until("10.0.0.9", NOW)
        assert until is not None
        waits.append((until - NOW).total_seconds())
    assert waits == [1, 2, 4, 8, 10, 10]
    assert backoff.blocked_until("10.0.0.9", NOW + timedelta(seconds=11)) is None
    assert backoff.blocked_until("10.0.0.8", NOW) is None


def test_a_success_clears_the_back_off_and_memory_stays_bounded() -> None:
    backoff = FailureBackoff(threshold=1, max_backoff=timedelta(seconds=60), max_keys=100)
    backoff.record_failure("CP-1", NOW)
    backoff.record_success("CP-1")
    assert backoff.blocked_until("CP-1", NOW) is None
    for index in range(1000):
        backoff.record_failure(f"host-{index}", NOW)
    assert len(backoff) == 100


def test_a_generated_password_is_20_hex_characters_and_a_usable_key() -> None:
    chosen = chosen_authorization_key(None, generate=True)
    assert chosen is not None
    key, shown = chosen
    assert shown is not None
    assert len(shown) == 20
    assert key.key == shown.encode()
    assert chosen_authorization_key(None, generate=False) is None
    with pytest.raises(InvalidAuthorizationKey, match="not both"):
        chosen_authorization_key(PASSWORD_TEXT, generate=True)


PASSWORD_TEXT = "Typed-Password-1234"
