"""Smart Charging profile messages (OCPP 1.6 §3.3, §3.13, §5.5, §5.7, §5.16)."""

from __future__ import annotations

from chargedeck.ocpp.v16.base import DateTime, Message
from chargedeck.ocpp.v16.enums import (
    ChargingProfilePurpose,
    ChargingProfileStatus,
    ChargingRateUnit,
    ClearChargingProfileStatus,
    GetCompositeScheduleStatus,
)
from chargedeck.ocpp.v16.types import ChargingProfile, ChargingSchedule


class ClearChargingProfileRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.13: clear one profile by id, or all that match every given filter."""

    id: int | None = None
    connector_id: int | None = None
    charging_profile_purpose: ChargingProfilePurpose | None = None
    stack_level: int | None = None


class ClearChargingProfileResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.14. ``Unknown``: no profile matched."""

    status: ClearChargingProfileStatus


class GetCompositeScheduleRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.21: the limits the charger plans for the next ``duration`` seconds."""

    connector_id: int
    duration: int
    charging_rate_unit: ChargingRateUnit | None = None


class GetCompositeScheduleResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.22."""

    status: GetCompositeScheduleStatus
    connector_id: int | None = None
    schedule_start: DateTime | None = None
    charging_schedule: ChargingSchedule | None = None


class SetChargingProfileRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.43: install a profile on a connector (0 = whole charger).

    The wire name is ``csChargingProfiles`` (plural, one profile), as in the spec.
    """

    connector_id: int
    cs_charging_profiles: ChargingProfile


class SetChargingProfileResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.44."""

    status: ChargingProfileStatus
