"""Changing how a charger authenticates, without ever locking it out (Security Whitepaper ed.3).

A connected charger is told first and the store follows its answer: a new password
(``AuthorizationKey``) is stored only when the charger accepted it, and a raised profile
(``SecurityProfile``) becomes *pending*: the old and the new profile are both accepted until the
charger has connected with the new one (connection_guard promotes it then). A charger that is not
connected cannot be told: the store changes at once and the owner enters the same values in the
charger (the Wallbox app).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass

from chargedeck.csms.commands import UnknownChargePoint, send_command
from chargedeck.csms.context import CsmsServices
from chargedeck.domain.ids import ChargePointId
from chargedeck.domain.passwords import hash_secret
from chargedeck.domain.security import AuthorizationKey, SecurityProfile
from chargedeck.ocpp.v16.core import ChangeConfigurationRequest, ChangeConfigurationResponse
from chargedeck.ocpp.v16.enums import ConfigurationStatus
from chargedeck.store.records import ChargePointRecord

log = logging.getLogger(__name__)

# Whitepaper ed.3 §"Security configuration keys": AuthorizationKey is write-only, SecurityProfile
# can only be raised; the charger checks prerequisites, answers, then reconnects.
AUTHORIZATION_KEY = "AuthorizationKey"
SECURITY_PROFILE_KEY = "SecurityProfile"


class SecurityChangeRefused(Exception):
    """A change ChargeDeck will not make; the message says why and what to do first."""


class ChangeOutcome(enum.StrEnum):
    """What happened to a password or profile change."""

    STORED = "stored"
    """The charger is not connected: stored now; enter the same value in the charger."""
    ACCEPTED_BY_CHARGER = "accepted_by_charger"
    """The charger accepted it (it reconnects with it); stored."""
    REFUSED_BY_CHARGER = "refused_by_charger"
    """The charger answered Rejected or NotSupported: nothing changed."""


@dataclass(frozen=True, slots=True)
class SecurityChange:
    outcome: ChangeOutcome
    charger_status: str | None
    """The charger's ChangeConfiguration status, when it was asked."""
    charge_point: ChargePointRecord


async def _record(services: CsmsServices, charge_point_id: ChargePointId) -> ChargePointRecord:
    record = await services.store.charge_points.get_charge_point(charge_point_id)
    if record is None:
        raise UnknownChargePoint(charge_point_id)
    return record


async def _tell_charger(
    services: CsmsServices, charge_point_id: ChargePointId, key: str, value: str
) -> ConfigurationStatus:
    answer = await send_command(
        services, charge_point_id, ChangeConfigurationRequest(key=key, value=value)
    )
    assert isinstance(answer, ChangeConfigurationResponse)
    return answer.status


def _taken(status: ConfigurationStatus) -> bool:
    # RebootRequired: the charger took the value and uses it from its next start.
    return status in (ConfigurationStatus.ACCEPTED, ConfigurationStatus.REBOOT_REQUIRED)


async def set_password(
    services: CsmsServices, charge_point_id: ChargePointId, key: AuthorizationKey
) -> SecurityChange:
    """Give the charger a new password. Raises ``UnknownChargePoint``, and what
    ``send_command`` raises when the charger is connected but does not answer."""
    await _record(services, charge_point_id)
    status: ConfigurationStatus | None = None
    if services.stations.get(charge_point_id) is not None:
        status = await _tell_charger(services, charge_point_id, AUTHORIZATION_KEY, key.to_send)
        if not _taken(status):
            log.warning(
                "charge point %s answered %s to its new password: the old one stays valid",
                charge_point_id,
                status.value,
            )
            return SecurityChange(
                ChangeOutcome.REFUSED_BY_CHARGER,
                status.value,
                await _record(services, charge_point_id),
            )
    key_hash = await asyncio.to_thread(hash_secret, key.key)
    record = await services.store.charge_points.set_authorization_key(
        charge_point_id, key_hash, services.clock.now()
    )
    log.info(
        "charge point %s: password %s",
        charge_point_id,
        "changed (stored; enter it in the charger)" if status is None else "changed by the charger",
    )
    outcome = ChangeOutcome.STORED if status is None else ChangeOutcome.ACCEPTED_BY_CHARGER
    return SecurityChange(outcome, None if status is None else status.value, record)


async def set_security_profile(
    services: CsmsServices, charge_point_id: ChargePointId, profile: SecurityProfile
) -> SecurityChange:
    """Raise (or, for a charger re-configured on site, lower) the charger's security profile.

    Raising makes the new profile pending: both are accepted until the charger has connected
    with the new one. Lowering is never sent to a charger (the whitepaper forbids it over
    OCPP): the store changes and the charger must be set on site. Raises
    ``SecurityChangeRefused`` when the prerequisites are missing, ``UnknownChargePoint``.
    """
    record = await _record(services, charge_point_id)
    settings = services.settings
    if profile.uses_tls and not settings.tls_cert:
        raise SecurityChangeRefused(
            f"security profile {int(profile)} needs TLS, and tls_cert is not set: run "
            "`chargedeck certs init` and set tls_cert/tls_key"
        )
    if profile is SecurityProfile.TLS_CLIENT_CERTIFICATE and not settings.tls_ca:
        raise SecurityChangeRefused(
            "security profile 3 needs tls_ca, the CA that issues charger certificates"
        )
    if profile.uses_password and record.authorization_key_set_at is None:
        raise SecurityChangeRefused(
            f"security profile {int(profile)} uses a password: set one for charge point "
            f"{charge_point_id!r} first"
        )
    if profile < settings.min_security_profile:
        raise SecurityChangeRefused(
            f"security profile {int(profile)} is below min_security_profile "
            f"{settings.min_security_profile}: the charger could not connect"
        )
    current = record.security_profile
    if profile <= current:
        record = await services.store.charge_points.set_security_profile(
            charge_point_id, profile, None
        )
        return SecurityChange(ChangeOutcome.STORED, None, record)
    status: ConfigurationStatus | None = None
    if services.stations.get(charge_point_id) is not None:
        status = await _tell_charger(
            services, charge_point_id, SECURITY_PROFILE_KEY, str(int(profile))
        )
        if not _taken(status):
            return SecurityChange(ChangeOutcome.REFUSED_BY_CHARGER, status.value, record)
    record = await services.store.charge_points.set_security_profile(
        charge_point_id, current, profile
    )
    log.info(
        "charge point %s: security profile %d pending (profile %d stays valid until it "
        "connects with %d)",
        charge_point_id,
        profile,
        current,
        profile,
    )
    outcome = ChangeOutcome.STORED if status is None else ChangeOutcome.ACCEPTED_BY_CHARGER
    return SecurityChange(outcome, None if status is None else status.value, record)
