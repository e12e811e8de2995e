"""API bodies: typed, frozen, snake_case JSON (the API's own names; OCPP payloads stay camelCase).

These Structs are the API contract: the OpenAPI document is generated from them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec

from chargedeck.domain.id_tags import MAX_ID_TAG_LENGTH
from chargedeck.domain.operators import Scope


class View(msgspec.Struct, frozen=True, kw_only=True):
    """Base of API bodies."""


class ConnectorView(View, frozen=True, kw_only=True):
    connector_id: int
    status: str
    error_code: str
    info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    status_timestamp: datetime | None
    updated_at: datetime


class ConnectionView(View, frozen=True, kw_only=True):
    """Live connection state, as this process sees it."""

    connected: bool
    remote_address: str | None = None
    connected_at: datetime | None = None
    boot_status: str | None = None
    security_profile: int | None = None
    """The security profile this connection was admitted with."""
    node: str | None = None
    """In a cluster (``cluster_url``): the node holding the connection."""


class ChargePointView(View, frozen=True, kw_only=True):
    id: str
    registration: Literal["registered", "pending"]
    vendor: str | None
    model: str | None
    charge_point_serial_number: str | None
    charge_box_serial_number: str | None
    firmware_version: str | None
    meter_type: str | None
    first_seen_at: datetime | None
    last_boot_at: datetime | None
    last_heartbeat_at: datetime | None
    adopted_at: datetime | None
    created_at: datetime
    security_profile: int
    """The profile it must connect with (Security Whitepaper ed.3: 0-3)."""
    pending_security_profile: int | None
    """A raised profile it may also use until it has connected with it."""
    has_password: bool
    authorization_key_set_at: datetime | None
    connection: ConnectionView


class ChargePointDetailView(ChargePointView, frozen=True, kw_only=True):
    iccid: str | None
    imsi: str | None
    meter_serial_number: str | None
    connectors: list[ConnectorView]


class StatusHistoryView(View, frozen=True, kw_only=True):
    connector_id: int
    status: str
    error_code: str
    info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    timestamp: datetime | None
    received_at: datetime


class MeterValueView(View, frozen=True, kw_only=True):
    timestamp: datetime
    connector_id: int
    source: str
    energy_wh: int | None
    sampled_values: list[dict[str, Any]]
    """The sampledValue array exactly as the charger sent it (OCPP camelCase)."""


class TransactionView(View, frozen=True, kw_only=True):
    id: int
    charge_point_id: str
    connector_id: int
    id_tag: str
    start_id_tag_status: str
    meter_start: int
    started_at: datetime
    meter_stop: int | None
    stopped_at: datetime | None
    stop_reason: str | None
    stop_id_tag: str | None
    reservation_id: int | None
    energy_wh: int | None
    """meter_stop - meter_start once stopped; null when not known (never 0 for unknown)."""
    active: bool
    register_energy_wh: int | None = None
    """Last minus first Energy.Active.Import.Register sample, when they only rise."""
    energy_flags: list[EnergyFlagView] = msgspec.field(default_factory=list)
    """Why the energy is doubtful or unknown (domain/energy.py), with sentences."""
    owner: str | None = None
    reconciliation: str | None = None
    """How ChargeDeck settled it when no StopTransaction did (csms/reconciliation.py)."""
    reconciled_at: datetime | None = None


class EnergyFlagView(View, frozen=True, kw_only=True):
    flag: str
    sentence: str


class TransactionDetailView(TransactionView, frozen=True, kw_only=True):
    meter_values: list[MeterValueView]


T = TypeVar("T")


class Page(View, Generic[T], frozen=True, kw_only=True):
    """A page of a list; pass ``next_cursor`` as ``cursor`` for the next page (None at the end)."""

    items: list[T]
    next_cursor: str | None = None


class CommandResultView(View, frozen=True, kw_only=True):
    """The charger's answer to a command, as its OCPP payload (camelCase)."""

    charge_point_id: str
    action: str
    response: dict[str, Any]


SecurityProfileNumber = Annotated[int, msgspec.Meta(ge=0, le=3)]


class NewChargePoint(View, frozen=True, kw_only=True):
    """Body of POST /charge-points: register a charger before it connects.

    ``password`` (16-40 characters, or 32-40 hex digits) or ``generate_password`` (answered
    once in ``password`` of the reply); ``security_profile`` defaults to 1 with a password and 0
    without.
    """

    id: str
    registration: Literal["registered", "pending"] = "registered"
    password: str | None = None
    generate_password: bool = False
    security_profile: SecurityProfileNumber | None = None


class NewChargePointPassword(View, frozen=True, kw_only=True):
    """Body of PUT /charge-points/{id}/password: give ``password`` or ``generate``."""

    password: str | None = None
    generate: bool = False


class NewSecurityProfile(View, frozen=True, kw_only=True):
    """Body of PUT /charge-points/{id}/security-profile."""

    security_profile: SecurityProfileNumber


class SecurityChangeView(View, frozen=True, kw_only=True):
    """What a password or profile change did.

    ``outcome``: ``stored`` (the charger is not connected: enter the same value in it),
    ``accepted_by_charger`` (it accepted and reconnects with it), ``refused_by_charger``
    (nothing changed; ``charger_status`` says what it answered).
    """

    outcome: Literal["stored", "accepted_by_charger", "refused_by_charger"]
    charger_status: str | None
    password: str | None = None
    """The generated password, shown in this answer only."""
    charge_point: ChargePointView


class RejectionView(View, frozen=True, kw_only=True):
    """Refused connections of one charger (or of unknown ids: '') from one host, one reason."""

    charge_point_id: str
    remote_host: str
    reason: str
    detail: str
    charger_shows: str
    """What the charger's app shows for it (Wallbox guide §3.4)."""
    remedy: str
    first_at: datetime
    last_at: datetime
    count: int


class IssuedCertificateView(View, frozen=True, kw_only=True):
    serial_number: str
    kind: str
    charge_point_id: str | None
    subject: str
    not_before: datetime
    not_after: datetime
    issued_at: datetime
    revoked_at: datetime | None


class RevokedCertificateView(View, frozen=True, kw_only=True):
    serial_number: str
    charge_point_id: str | None
    reason: str | None
    revoked_at: datetime


class NewRevokedCertificate(View, frozen=True, kw_only=True):
    """Body of POST /certificates/revoked: a serial (hex, colons allowed) of any CA."""

    serial_number: str
    charge_point_id: str | None = None
    reason: str | None = None


class SecurityEventView(View, frozen=True, kw_only=True):
    charge_point_id: str
    type: str
    timestamp: datetime
    tech_info: str | None
    received_at: datetime


class TlsReloadView(View, frozen=True, kw_only=True):
    reloaded: bool


# OCPP 1.6 IdToken: CiString20 (§7.28); times with a zone, as on the wire.
IdTagText = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_TAG_LENGTH)]
ZonedDateTime = Annotated[datetime, msgspec.Meta(tz=True)]


# ---- operator access -------------------------------------------------------------------------


class UserView(View, frozen=True, kw_only=True):
    """An operator account (never its password or hash)."""

    username: str
    scope: Scope
    created_at: datetime
    disabled_at: datetime | None


class CreatedUserView(UserView, frozen=True, kw_only=True):
    """The new account; ``password`` is the generated one, shown in this answer only (None
    when the request chose it)."""

    password: str | None


class NewUser(View, frozen=True, kw_only=True):
    """Body of POST /users: without a password, one is generated and answered once."""

    username: str
    scope: Scope
    password: str | None = None


class NewPassword(View, frozen=True, kw_only=True):
    """Body of POST /users/{username}/password: without a password, one is generated."""

    password: str | None = None


class PasswordChangedView(View, frozen=True, kw_only=True):
    """``password`` is the generated one, shown in this answer only (None when chosen)."""

    username: str
    password: str | None


class TokenView(View, frozen=True, kw_only=True):
    """An API token as listed: its first characters (``token_prefix``), never the token."""

    id: int
    name: str
    username: str | None
    """The account the token belongs to; None for a service token of its own."""
    scope: Scope
    token_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    """Updated at most once a minute."""
    expires_at: datetime | None
    revoked_at: datetime | None


class CreatedTokenView(TokenView, frozen=True, kw_only=True):
    """The new token: ``token`` is its text, in this answer only; it cannot be shown again."""

    token: str


class NewToken(View, frozen=True, kw_only=True):
    """Body of POST /tokens. ``user``: the account it belongs to (default: the caller's own);
    ``expires_days``: 1 to 3650, None for no expiry."""

    name: str
    scope: Scope
    user: str | None = None
    expires_days: int | None = None


class MeView(View, frozen=True, kw_only=True):
    """Who the API sees: the account, and the token when one was used."""

    username: str | None
    scope: Scope
    token_id: int | None
    token_name: str | None


class Problem(View, frozen=True, kw_only=True):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
