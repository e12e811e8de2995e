"""Who may connect as a charge point: security profiles 0-3, Basic credentials, the reasons a
connection is refused, and the back-off after failed attempts (OCPP 1.6 Security Whitepaper
ed.3; DESIGN §5; shared/reference/ocpp16-facts-and-peers.md §1.3).

No I/O and no clock: the edge passes in what the charger presented and ``now``; checking a
password (argon2, slow on purpose) is left to the caller, which gets the candidate secrets from
:func:`password_candidates`.

A charger's app only says "Connection Rejected" or "Certificate Validation Failed" (Wallbox
guide §3.4), so every refusal has a :class:`RejectionReason` with the HTTP status answered, a
sentence naming the values involved, and what the owner should change.
"""

from __future__ import annotations

import base64
import binascii
import enum
import secrets
import string
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Final

# ---- profiles -------------------------------------------------------------------------------


class SecurityProfile(enum.IntEnum):
    """Security Whitepaper ed.3 §2; "profile 0" (no security) is the unset SecurityProfile key."""

    NONE = 0
    """No authentication: only for chargers the operator explicitly allows."""
    BASIC_AUTH = 1
    """HTTP Basic auth over plain ws (trusted networks or a VPN only)."""
    TLS_BASIC_AUTH = 2
    """TLS server certificate + HTTP Basic auth."""
    TLS_CLIENT_CERTIFICATE = 3
    """TLS with a client certificate on both sides."""

    @property
    def uses_tls(self) -> bool:
        return self >= SecurityProfile.TLS_BASIC_AUTH

    @property
    def uses_password(self) -> bool:
        return self in (SecurityProfile.BASIC_AUTH, SecurityProfile.TLS_BASIC_AUTH)


# ---- refusals -------------------------------------------------------------------------------


class RejectionReason(enum.StrEnum):
    """Why a charger connection was refused; the value is what the API and the store carry."""

    UNKNOWN_CHARGE_POINT = "unknown_charge_point"
    MISSING_CREDENTIALS = "missing_credentials"
    MALFORMED_CREDENTIALS = "malformed_credentials"
    USERNAME_MISMATCH = "username_mismatch"
    WRONG_PASSWORD = "wrong_password"  # noqa: S105 (a reason code, not a password)
    NO_PASSWORD_SET = "no_password_set"  # noqa: S105 (a reason code, not a password)
    PROFILE_REQUIRES_TLS = "profile_requires_tls"
    PROFILE_MISMATCH = "profile_mismatch"
    PROFILE_BELOW_MINIMUM = "profile_below_minimum"
    CLIENT_CERTIFICATE_MISSING = "client_certificate_missing"
    CLIENT_CERTIFICATE_UNTRUSTED = "client_certificate_untrusted"
    CLIENT_CERTIFICATE_EXPIRED = "client_certificate_expired"
    CLIENT_CERTIFICATE_NOT_YET_VALID = "client_certificate_not_yet_valid"
    CLIENT_CERTIFICATE_REVOKED = "client_certificate_revoked"
    CLIENT_CERTIFICATE_CN_MISMATCH = "client_certificate_cn_mismatch"
    CLIENT_CERTIFICATE_UNREADABLE = "client_certificate_unreadable"
    TLS_HANDSHAKE_FAILED = "tls_handshake_failed"
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True, slots=True)
class ReasonInfo:
    """What one reason means on the wire, in the charger's app and for the owner."""

    status: HTTPStatus
    """Answered to the upgrade request (TLS failures never reach HTTP: 0)."""
    charger_shows: str
    """What a Wallbox app shows for it (Wallbox guide §3.4)."""
    remedy: str
    """What the owner changes, in one sentence."""


_REJECTED = "Connection Rejected"
_CERTIFICATE = "Certificate Validation Failed"

# THE table of refusals: docs/security.md and the API's reason list are built from it.
REASONS: Final[dict[RejectionReason, ReasonInfo]] = {
    RejectionReason.UNKNOWN_CHARGE_POINT: ReasonInfo(
        HTTPStatus.NOT_FOUND,
        _REJECTED,
        "add the charge point in ChargeDeck (or adopt it from the inbox), or check the Charge "
        "Point ID typed into the charger",
    ),
    RejectionReason.MISSING_CREDENTIALS: ReasonInfo(
        HTTPStatus.UNAUTHORIZED,
        _REJECTED,
        "enter the charge point's password in the charger's OCPP settings",
    ),
    RejectionReason.MALFORMED_CREDENTIALS: ReasonInfo(
        HTTPStatus.UNAUTHORIZED,
        _REJECTED,
        "the charger sent an Authorization header that is not HTTP Basic; check its firmware",
    ),
    RejectionReason.USERNAME_MISMATCH: ReasonInfo(
        HTTPStatus.UNAUTHORIZED,
        _REJECTED,
        "the Basic auth username must be the Charge Point ID of the URL; fix the charger's "
        "OCPP user name or ID",
    ),
    RejectionReason.WRONG_PASSWORD: ReasonInfo(
        HTTPStatus.UNAUTHORIZED,
        _REJECTED,
        "type the password again in the charger's OCPP settings, or set a new one in ChargeDeck",
    ),
    RejectionReason.NO_PASSWORD_SET: ReasonInfo(
        HTTPStatus.UNAUTHORIZED,
        _REJECTED,
        "set a password for the charge point in ChargeDeck (charge-points set-password)",
    ),
    RejectionReason.PROFILE_REQUIRES_TLS: ReasonInfo(
        HTTPStatus.FORBIDDEN,
        _REJECTED,
        "use the wss:// URL with the TLS port in the charger, or lower the charge point's "
        "security profile in ChargeDeck",
    ),
    RejectionReason.PROFILE_MISMATCH: ReasonInfo(
        HTTPStatus.FORBIDDEN,
        _REJECTED,
        "set the same security profile in ChargeDeck as in the charger",
    ),
    RejectionReason.PROFILE_BELOW_MINIMUM: ReasonInfo(
        HTTPStatus.FORBIDDEN,
        _REJECTED,
        "raise the charge point's security profile, or lower min_security_profile",
    ),
    RejectionReason.CLIENT_CERTIFICATE_MISSING: ReasonInfo(
        HTTPStatus.FORBIDDEN,
        _REJECTED,
        "install a client certificate in the charger (chargedeck certs charger ID), or use "
        "security profile 2",
    ),
    RejectionReason.CLIENT_CERTIFICATE_UNTRUSTED: ReasonInfo(
        HTTPStatus.FORBIDDEN,  # refused in the TLS handshake: no HTTP answer
        _CERTIFICATE,
        "issue the charger's certificate from the CA in tls_ca (chargedeck certs charger ID)",
    ),
    RejectionReason.CLIENT_CERTIFICATE_EXPIRED: ReasonInfo(
        HTTPStatus.FORBIDDEN,
        _REJECTED,
        "issue a new client certificate for the charger (chargedeck certs charger ID)",
    ),
    RejectionReason.CLIENT_CERTIFICATE_NOT_YET_VALID: ReasonInfo(
        HTTPStatus.FORBIDDEN,
        _REJECTED,
        "check the clocks of the charger and of this server",
    ),
    RejectionReason.CLIENT_CERTIFICATE_REVOKED: ReasonInfo(
        HTTPStatus.FORBIDDEN,
        _REJECTED,
        "issue a new client certificate for the charger; the old one was revoked",
    ),
    RejectionReason.CLIENT_CERTIFICATE_CN_MISMATCH: ReasonInfo(
        HTTPStatus.FORBIDDEN,
        _REJECTED,
        "the certificate's CN must be the Charge Point ID; issue one for this id",
    ),
    RejectionReason.CLIENT_CERTIFICATE_UNREADABLE: ReasonInfo(
        HTTPStatus.FORBIDDEN,
        _REJECTED,
        "install a valid X.509 client certificate in the charger",
    ),
    RejectionReason.TLS_HANDSHAKE_FAILED: ReasonInfo(
        HTTPStatus.BAD_REQUEST,
        _CERTIFICATE,
        "upload ChargeDeck's CA root certificate to the charger (GET /api/v1/tls/ca.pem), and "
        "check that the URL's host name is one of the server certificate's names",
    ),
    RejectionReason.RATE_LIMITED: ReasonInfo(
        HTTPStatus.TOO_MANY_REQUESTS,
        _REJECTED,
        "too many failed attempts: fix the credentials and wait for the back-off to end",
    ),
}


@dataclass(frozen=True, slots=True)
class Rejection:
    """One refusal: the reason and a sentence naming the values involved (never a secret)."""

    reason: RejectionReason
    detail: str
    retry_after_s: int | None = None
    """For RATE_LIMITED: seconds until the back-off ends (HTTP Retry-After)."""

    @property
    def status(self) -> HTTPStatus:
        return REASONS[self.reason].status

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.detail}"


# ---- what the charger presented ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    """HTTP Basic credentials as bytes: a binary AuthorizationKey may not be UTF-8 (Java-OCA-OCPP
    PR #143), so nothing is decoded (shared/reference §1.3 "On the wire")."""

    username: bytes
    password: bytes


class MalformedAuthorization(ValueError):
    """An Authorization header that is not usable HTTP Basic (RFC 7617)."""


def parse_basic_authorization(header_value: str) -> BasicCredentials:
    """``Basic base64(user:password)`` -> credentials, split on the FIRST colon (RFC 7617 §2).

    Raises ``MalformedAuthorization`` (with a sentence that never repeats the value).
    """
    scheme, _, encoded = header_value.strip().partition(" ")
    if scheme.lower() != "basic":
        raise MalformedAuthorization(
            f"Authorization scheme {scheme[:20]!r} is not Basic (OCPP-J security profiles 1 and 2)"
        )
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedAuthorization("Authorization Basic value is not valid base64") from None
    username, colon, password = decoded.partition(b":")
    if not colon:
        raise MalformedAuthorization("Authorization Basic value has no ':' between user and key")
    return BasicCredentials(username=username, password=password)


@dataclass(frozen=True, slots=True)
class PresentedIdentity:
    """What a connection brought: TLS or not, Basic credentials, a client certificate."""

    tls: bool
    credentials: BasicCredentials | None
    malformed_authorization: str | None = None
    """Why the Authorization header could not be read, if it could not."""
    client_certificate_der: bytes | None = None


# ---- AuthorizationKey forms -------------------------------------------------------------------

MIN_AUTHORIZATION_KEY_LENGTH: Final = 16
MAX_AUTHORIZATION_KEY_LENGTH: Final = 40
_HEX_DIGITS: Final = frozenset(string.hexdigits)
_PRINTABLE: Final = frozenset(string.printable) - frozenset("\t\n\r\x0b\x0c")


class InvalidAuthorizationKey(ValueError):
    """A password an operator typed that no charger could use; the message says why."""


@dataclass(frozen=True, slots=True)
class AuthorizationKey:
    """A charger password as ChargeDeck keeps it.

    ``key`` is what the hash is taken over: the text's bytes, or the decoded bytes when the
    operator typed 32-40 hex digits (Security Whitepaper A00.FR.205: a random binary key of
    16-20 bytes "represented as a string of up to 40 hexadecimal digits").
    ``to_send`` is the ``AuthorizationKey`` value for ChangeConfiguration: hex digits whenever
    the key fits in 20 bytes (SteVe PR #1899 hex-encodes for the same reason), else the text.
    """

    key: bytes
    to_send: str


def parse_authorization_key(text: str) -> AuthorizationKey:
    """Check a password typed by the operator: 16-40 printable ASCII characters (DESIGN §5;
    Wallbox field notes Q18: vendors accept 16-20 characters or 32-40 hex digits).

    Raises ``InvalidAuthorizationKey``.
    """
    if not MIN_AUTHORIZATION_KEY_LENGTH <= len(text) <= MAX_AUTHORIZATION_KEY_LENGTH:
        raise InvalidAuthorizationKey(
            f"a charger password has {MIN_AUTHORIZATION_KEY_LENGTH}-"
            f"{MAX_AUTHORIZATION_KEY_LENGTH} characters (OCPP 1.6 Security Whitepaper), "
            f"this one has {len(text)}"
        )
    if not set(text) <= _PRINTABLE or " " in text:
        raise InvalidAuthorizationKey(
            "a charger password has printable ASCII characters only, no spaces: chargers "
            "differ in how they send anything else"
        )
    if _is_hex_key_text(text):
        return AuthorizationKey(key=bytes.fromhex(text), to_send=text.lower())
    key = text.encode("ascii")
    to_send = key.hex() if len(key) <= MAX_AUTHORIZATION_KEY_LENGTH // 2 else text
    return AuthorizationKey(key=key, to_send=to_send)


def new_charger_password() -> str:
    """20 hex characters (80 bits): typeable in a charger's app (Wallbox guide §3.2.3), and a
    20-byte key sent as 40 hex digits in ChangeConfiguration."""
    return secrets.token_hex(10)


def chosen_authorization_key(
    text: str | None, generate: bool
) -> tuple[AuthorizationKey, str | None] | None:
    """The key an operator asked for: typed (``text``) or generated; the second value is the
    generated text, to show once. None when neither was asked for.

    Raises ``InvalidAuthorizationKey`` for both at once or an unusable text.
    """
    if text is not None and generate:
        raise InvalidAuthorizationKey("give a password or ask for a generated one, not both")
    if generate:
        generated = new_charger_password()
        return parse_authorization_key(generated), generated
    if text is None:
        return None
    return parse_authorization_key(text), None


def _is_hex_key_text(text: str) -> bool:
    return len(text) % 2 == 0 and len(text) >= 32 and set(text) <= _HEX_DIGITS


def password_candidates(presented: bytes) -> tuple[bytes, ...]:
    """The keys a presented Basic password may stand for, most likely first.

    Chargers send the key's bytes (OCTT TC_085_CS), or the hex text they were given in
    ChangeConfiguration (many chargers; the shiv3 simulator before its PR #264), or the text the
    owner typed (Wallbox app): so the bytes as sent, and their hex-decoding when they are hex.
    """
    if len(presented) % 2 == 0 and presented and all(chr(b) in _HEX_DIGITS for b in presented):
        return (presented, bytes.fromhex(presented.decode("ascii")))
    return (presented,)


# ---- the decision -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChargerSecurity:
    """The stored security settings of one known charger."""

    security_profile: SecurityProfile
    pending_security_profile: SecurityProfile | None
    authorization_key_hash: str | None


@dataclass(frozen=True, slots=True)
class Admission:
    """The profile a connection is admitted with, once the caller has done what is asked."""

    profile: SecurityProfile
    verify_password_against: str | None
    """Stored hash the Basic password must match (None: no password check)."""
    check_client_certificate: bool
    """The client certificate still needs the expiry / revocation / CN checks."""
    promotes_pending_profile: bool
    """The charger came back with its pending (raised) profile: make it the stored one."""


def connection_profile(presented: PresentedIdentity) -> SecurityProfile:
    """The profile a connection uses, from what it brought."""
    if not presented.tls:
        return (
            SecurityProfile.BASIC_AUTH
            if presented.credentials is not None
            else SecurityProfile.NONE
        )
    if presented.client_certificate_der is not None:
        return SecurityProfile.TLS_CLIENT_CERTIFICATE
    return SecurityProfile.TLS_BASIC_AUTH


def admit(
    charge_point_id: str,
    security: ChargerSecurity,
    presented: PresentedIdentity,
    min_profile: SecurityProfile,
) -> Admission | Rejection:
    """Decide a known charger's connection up to the checks that need I/O or time.

    A raised profile that the charger has not connected with yet is tried first, then the stored
    one: "the old credentials stay valid until the charger has reconnected with the new ones"
    (Whitepaper A05: never lock a charger out while it upgrades). Whitepaper §2: a charger that
    connects with another profile than the one the CSMS uses for it is refused.
    """
    allowed = [security.pending_security_profile, security.security_profile]
    candidates = [p for p in allowed if p is not None]
    if max(candidates) < min_profile:
        return Rejection(
            RejectionReason.PROFILE_BELOW_MINIMUM,
            f"charge point {charge_point_id!r} is set to security profile "
            f"{int(security.security_profile)}, below min_security_profile {int(min_profile)}",
        )
    first_refusal: Rejection | None = None
    for profile in candidates:
        if profile < min_profile:
            continue
        decision = _admit_with(charge_point_id, profile, security, presented)
        if isinstance(decision, Admission):
            if profile == security.pending_security_profile:
                return Admission(
                    decision.profile,
                    decision.verify_password_against,
                    decision.check_client_certificate,
                    promotes_pending_profile=True,
                )
            return decision
        if first_refusal is None or _matches_transport(profile, presented):
            first_refusal = decision
    assert first_refusal is not None
    return first_refusal


def _matches_transport(profile: SecurityProfile, presented: PresentedIdentity) -> bool:
    """The refusal worth reporting is the one for the profile the charger seems to attempt."""
    return profile.uses_tls == presented.tls


def _admit_with(
    charge_point_id: str,
    profile: SecurityProfile,
    security: ChargerSecurity,
    presented: PresentedIdentity,
) -> Admission | Rejection:
    used = connection_profile(presented)
    if profile is SecurityProfile.NONE:
        # Profile 0 asks for nothing, and credentials a charger sends anyway are ignored,
        # unless ChargeDeck holds a password for it: a charger that sends one is then set up
        # for profile 1 and the password must be right (a wrong one is refused, not waved
        # through because profile 0 would not have asked; e.g. a password set while the
        # charger was still on profile 0).
        if presented.credentials is None or security.authorization_key_hash is None:
            return Admission(profile, None, False, False)
        return _check_basic(charge_point_id, profile, security, presented)
    if profile.uses_tls and not presented.tls:
        return Rejection(
            RejectionReason.PROFILE_REQUIRES_TLS,
            f"charge point {charge_point_id!r} uses security profile {int(profile)}, which "
            "requires TLS (wss://), but connected over plain ws://",
        )
    if not profile.uses_tls and presented.tls:
        return Rejection(
            RejectionReason.PROFILE_MISMATCH,
            f"charge point {charge_point_id!r} connected over TLS (profile {int(used)}) but "
            f"ChargeDeck has security profile {int(profile)} for it",
        )
    if profile is SecurityProfile.TLS_CLIENT_CERTIFICATE:
        if presented.client_certificate_der is None:
            return Rejection(
                RejectionReason.CLIENT_CERTIFICATE_MISSING,
                f"charge point {charge_point_id!r} uses security profile 3 but presented no "
                "client certificate",
            )
        return Admission(profile, None, True, False)
    return _check_basic(charge_point_id, profile, security, presented)


def _check_basic(
    charge_point_id: str,
    profile: SecurityProfile,
    security: ChargerSecurity,
    presented: PresentedIdentity,
) -> Admission | Rejection:
    if presented.malformed_authorization is not None:
        return Rejection(RejectionReason.MALFORMED_CREDENTIALS, presented.malformed_authorization)
    credentials = presented.credentials
    if credentials is None:
        return Rejection(
            RejectionReason.MISSING_CREDENTIALS,
            f"charge point {charge_point_id!r} uses security profile {int(profile)} but sent "
            "no HTTP Basic credentials",
        )
    if credentials.username != charge_point_id.encode("utf-8"):
        shown = credentials.username.decode("utf-8", errors="replace")[:48]
        return Rejection(
            RejectionReason.USERNAME_MISMATCH,
            f"Basic auth username {shown!r} is not the charge point id {charge_point_id!r} "
            "of the URL (Security Whitepaper: username = charge point identity)",
        )
    if security.authorization_key_hash is None:
        return Rejection(
            RejectionReason.NO_PASSWORD_SET,
            f"charge point {charge_point_id!r} uses security profile {int(profile)} but has "
            "no password in ChargeDeck",
        )
    return Admission(profile, security.authorization_key_hash, False, False)


# ---- failed attempts -------------------------------------------------------------------------


@dataclass(slots=True)
class _Failures:
    count: int
    last_at: datetime
    blocked_until: datetime | None


class FailureBackoff:
    """Growing back-off after repeated failed attempts, per key (a remote host or a charge
    point id): after ``threshold`` failures every further failure doubles the wait, from 1 s up
    to ``max_backoff``. A success clears the key. Memory is bounded: the oldest keys go first.
    """

    def __init__(self, threshold: int, max_backoff: timedelta, max_keys: int = 100_000) -> None:
        self._threshold = threshold
        self._max_backoff = max_backoff
        self._max_keys = max_keys
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    def blocked_until(self, key: str, now: datetime) -> datetime | None:
        """When ``key`` may try again, or None if it may try now."""
        entry = self._failures.get(key)
        if entry is None or entry.blocked_until is None or entry.blocked_until <= now:
            return None
        return entry.blocked_until

    def record_failure(self, key: str, now: datetime) -> None:
        entry = self._failures.get(key)
        if entry is None or now - entry.last_at > self._max_backoff * 2:
            entry = _Failures(count=0, last_at=now, blocked_until=None)
        entry.count += 1
        entry.last_at = now
        excess = entry.count - self._threshold
        if excess >= 0:
            wait = min(timedelta(seconds=2 ** min(excess, 30)), self._max_backoff)
            entry.blocked_until = now + wait
        self._failures[key] = entry
        self._failures.move_to_end(key)
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)

    def record_success(self, key: str) -> None:
        self._failures.pop(key, None)

    def __len__(self) -> int:
        return len(self._failures)


# ---- TLS handshakes that failed ---------------------------------------------------------------

# OpenSSL reason codes (ssl.SSLError.reason) a charger's failed TLS handshake shows on the server,
# with what it means for the owner (Wallbox field notes Q18: log TLS failures per source address
# with the reason; the app only says "Certificate Validation Failed").
_TLS_FAILURES: Final[dict[str, str]] = {
    "TLSV1_ALERT_UNKNOWN_CA": "the charger does not trust this server's certificate (TLS alert "
    "unknown_ca): upload the CA root certificate to the charger",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the charger refused this server's certificate (TLS alert "
    "bad_certificate): check the CA root uploaded to the charger and the URL's host name",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "the charger could not validate this server's certificate "
    "(TLS alert certificate_unknown): upload the CA root and check the URL's host name",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the charger says a certificate has expired (TLS alert "
    "certificate_expired): check the server certificate and the charger's clock",
    "HTTP_REQUEST": "the charger sent plain HTTP to the TLS port: use wss:// for this port, or "
    "the ws:// port",
    "WRONG_VERSION_NUMBER": "the charger did not speak TLS (or an old version) on the TLS port",
    "UNSUPPORTED_PROTOCOL": "the charger offered a TLS version older than 1.2 (Security "
    "Whitepaper: TLS 1.2 or higher)",
    "TLSV1_ALERT_PROTOCOL_VERSION": "no TLS version in common: the server requires TLS 1.2+",
    "NO_SHARED_CIPHER": "no cipher suite in common with the charger (Security Whitepaper: four "
    "AES-GCM suites, RSA and ECDSA)",
    "NO_CIPHERS_AVAILABLE": "no cipher suite in common with the charger",
    "PEER_DID_NOT_RETURN_A_CERTIFICATE": "the charger presented no client certificate",
}


def describe_tls_failure(
    ssl_reason: str | None, verify_message: str | None, connection_lost: bool, timed_out: bool
) -> Rejection:
    """A failed TLS handshake as a refusal: untrusted client certificates get their own reason,
    everything else is a TLS handshake failure with the sentence for its OpenSSL reason."""
    if verify_message is not None:
        return Rejection(
            RejectionReason.CLIENT_CERTIFICATE_UNTRUSTED,
            f"client certificate not trusted ({verify_message}): it does not chain to the CA "
            "in tls_ca",
        )
    if timed_out:
        detail = "the TLS handshake did not complete in time"
    elif connection_lost:
        detail = (
            "the charger closed the connection during the TLS handshake: it most likely does "
            "not trust this server's certificate (upload the CA root certificate to it)"
        )
    elif ssl_reason is not None and ssl_reason in _TLS_FAILURES:
        detail = _TLS_FAILURES[ssl_reason]
    else:
        detail = f"TLS handshake failed ({ssl_reason or 'unknown reason'})"
    return Rejection(RejectionReason.TLS_HANDSHAKE_FAILED, detail)
