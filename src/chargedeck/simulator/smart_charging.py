"""The charging profiles one simulated charger holds, and the limit they put in force (OCPP 1.6
§3.13, §5.5, §5.7, §5.16; facts §1.7).

The rules are ChargeDeck's own pure ones (:mod:`chargedeck.domain.charging_profiles`): the
checks a charger makes before it accepts a profile (``check_profile``, with the capabilities
read from the charger's own §9.4 keys), which profile a new one replaces (``replaces``), and the
composite schedule (``composite_schedule``). This module converts between the wire types of
``ocpp/v16`` and the domain's plain values, and applies the charger model's rounding: a model
with ``whole_amps`` floors to whole amps and, like every AC charger, offers nothing below its
minimum current (field notes Q8: "a target 0 < x < 6 means pause").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from chargedeck.domain.charging_profiles import (
    NO_LIMIT,
    ChargerCapabilities,
    InstalledProfile,
    Kind,
    Period,
    Profile,
    ProfileRefused,
    Purpose,
    RateUnit,
    Recurrency,
    Schedule,
    check_profile,
    composite_schedule,
    convert_limit,
    floor_to_tenth,
    replaces,
)
from chargedeck.ocpp.v16.enums import (
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingProfileStatus,
    ChargingRateUnit,
    ClearChargingProfileStatus,
    RecurrencyKind,
)
from chargedeck.ocpp.v16.smart_charging import ClearChargingProfileRequest
from chargedeck.ocpp.v16.types import (
    ChargingProfile,
    ChargingSchedule,
    ChargingSchedulePeriod,
)
from chargedeck.simulator.models import SimulatedModel

LOOKAHEAD_S: Final = 86_400
"""How far ahead the next change of the limit in force is looked for: a day covers every Daily
profile; the watch is renewed at least that often."""

_PURPOSES: Final[Mapping[ChargingProfilePurpose, Purpose]] = {
    ChargingProfilePurpose.CHARGE_POINT_MAX_PROFILE: "ChargePointMaxProfile",
    ChargingProfilePurpose.TX_DEFAULT_PROFILE: "TxDefaultProfile",
    ChargingProfilePurpose.TX_PROFILE: "TxProfile",
}
_KINDS: Final[Mapping[ChargingProfileKind, Kind]] = {
    ChargingProfileKind.ABSOLUTE: "Absolute",
    ChargingProfileKind.RECURRING: "Recurring",
    ChargingProfileKind.RELATIVE: "Relative",
}
_RECURRENCIES: Final[Mapping[RecurrencyKind, Recurrency]] = {
    RecurrencyKind.DAILY: "Daily",
    RecurrencyKind.WEEKLY: "Weekly",
}
_UNITS: Final[Mapping[ChargingRateUnit, RateUnit]] = {
    ChargingRateUnit.A: "A",
    ChargingRateUnit.W: "W",
}
_WIRE_UNITS: Final[Mapping[RateUnit, ChargingRateUnit]] = {v: k for k, v in _UNITS.items()}


def profile_from_message(profile: ChargingProfile) -> Profile:
    """The domain value of a profile as SetChargingProfile / RemoteStart carry it."""
    schedule = profile.charging_schedule
    return Profile(
        charging_profile_id=profile.charging_profile_id,
        stack_level=profile.stack_level,
        purpose=_PURPOSES[profile.charging_profile_purpose],
        kind=_KINDS[profile.charging_profile_kind],
        schedule=Schedule(
            rate_unit=_UNITS[schedule.charging_rate_unit],
            periods=tuple(
                Period(p.start_period, p.limit, p.number_phases)
                for p in schedule.charging_schedule_period
            ),
            duration_s=schedule.duration,
            start_schedule=schedule.start_schedule,
            min_charging_rate=schedule.min_charging_rate,
        ),
        transaction_id=profile.transaction_id,
        recurrency_kind=None
        if profile.recurrency_kind is None
        else _RECURRENCIES[profile.recurrency_kind],
        valid_from=profile.valid_from,
        valid_to=profile.valid_to,
    )


def applied_amps(limit_a: float, model: SimulatedModel) -> float:
    """The current per phase the charger really offers under a limit of ``limit_a``: at most its
    maximum, floored to whole amps on a whole-amp model (field notes Q8: 8.8 A is not 8.8 A on a
    Wallbox) or to 0.1 A (§7.14), and 0 below its minimum (IEC 61851-1 6 A: it pauses)."""
    offered = min(limit_a, model.max_current_a)
    offered = math.floor(offered + 1e-9) if model.whole_amps else floor_to_tenth(offered)
    return 0.0 if offered < model.min_current_a else float(offered)


@dataclass(frozen=True)
class TransactionContext:
    """The transaction running on a connector, as the composite schedule needs it."""

    transaction_id: int | None
    started_at: datetime


class ChargingProfiles:
    """The profiles a charger holds, per connector (0: the whole charger)."""

    def __init__(self) -> None:
        self._held: list[InstalledProfile] = []

    def held(self) -> Sequence[InstalledProfile]:
        return tuple(self._held)

    def install(
        self,
        message: ChargingProfile,
        connector_id: int,
        now: datetime,
        *,
        capabilities: ChargerCapabilities,
        number_of_connectors: int,
        active_transaction_id: int | None,
    ) -> tuple[ChargingProfileStatus, str]:
        """SetChargingProfile (§5.16): Accepted and kept, replacing the profile with the same id
        or the same connector, purpose and stack level (§3.13.2); Rejected with the reason when
        the charger must not take it (§3.13.1 purposes and connectors, §9.4 capabilities)."""
        profile = profile_from_message(message)
        try:
            check_profile(
                profile,
                connector_id,
                capabilities=capabilities,
                active_transaction_id=active_transaction_id,
                number_of_connectors=number_of_connectors,
                installed=self._held,
            )
        except ProfileRefused as refused:
            return ChargingProfileStatus.REJECTED, refused.sentence
        self._keep(profile, connector_id, now)
        return ChargingProfileStatus.ACCEPTED, ""

    def install_for_transaction(
        self, message: ChargingProfile, connector_id: int, now: datetime
    ) -> None:
        """The TxProfile of a RemoteStartTransaction (§5.11): it applies to the transaction the
        request starts, so it has no transactionId and goes when that transaction ends."""
        self._keep(profile_from_message(message), connector_id, now)

    def _keep(self, profile: Profile, connector_id: int, now: datetime) -> None:
        self._held = [held for held in self._held if not replaces(profile, connector_id, held)]
        self._held.append(InstalledProfile(profile, connector_id, now))

    def clear(self, request: ClearChargingProfileRequest) -> ClearChargingProfileStatus:
        """ClearChargingProfile (§5.5): the profile with ``id``, or every profile matching all
        the filters given (none given: all); Unknown when nothing matched."""

        def matches(held: InstalledProfile) -> bool:
            if request.id is not None:
                return held.profile.charging_profile_id == request.id
            purpose = request.charging_profile_purpose
            return (
                (request.connector_id is None or held.connector_id == request.connector_id)
                and (purpose is None or held.profile.purpose == _PURPOSES[purpose])
                and (request.stack_level is None or held.profile.stack_level == request.stack_level)
            )

        kept = [held for held in self._held if not matches(held)]
        if len(kept) == len(self._held):
            return ClearChargingProfileStatus.UNKNOWN
        self._held = kept
        return ClearChargingProfileStatus.ACCEPTED

    def end_transaction(self, connector_id: int) -> None:
        """A TxProfile lives as long as its transaction (§3.13.1)."""
        self._held = [
            held
            for held in self._held
            if not (held.connector_id == connector_id and held.profile.purpose == "TxProfile")
        ]

    def limit_a(
        self,
        connector_id: int,
        now: datetime,
        transaction: TransactionContext | None,
        voltage_v: float,
    ) -> float | None:
        """The limit in force on the connector now, in A per phase, as the profiles say it
        (before the model's rounding); None when no profile limits it."""
        if not self._held:
            return None
        schedule = self._composite(connector_id, now, 1, "A", transaction, voltage_v)
        limit = schedule.periods[0].limit
        return None if math.isinf(limit) else limit

    def seconds_to_next_change(
        self,
        connector_id: int,
        now: datetime,
        transaction: TransactionContext | None,
        voltage_v: float,
    ) -> float | None:
        """Seconds until the limit in force on the connector next changes (a period boundary,
        a validity edge, a duration's end), within :data:`LOOKAHEAD_S`; None: no change."""
        if not self._held:
            return None
        schedule = self._composite(connector_id, now, LOOKAHEAD_S, "A", transaction, voltage_v)
        if len(schedule.periods) < 2:
            return None
        return float(schedule.periods[1].start_period_s)

    def composite(
        self,
        connector_id: int,
        now: datetime,
        duration_s: int,
        unit: ChargingRateUnit,
        transaction: TransactionContext | None,
        model: SimulatedModel,
    ) -> ChargingSchedule:
        """GetCompositeSchedule (§5.7): what the connector will be offered from ``now`` for
        ``duration_s`` s in ``unit``. Where no profile limits, the charger's own maximum; in A
        the model's rounding applies (what it really offers, not what it was told)."""
        rate_unit = _UNITS[unit]
        schedule = self._composite(
            connector_id, now, duration_s, rate_unit, transaction, model.voltage_v
        )
        periods: list[ChargingSchedulePeriod] = []
        for period in schedule.periods:
            phases = period.number_phases or model.phases
            limit = period.limit
            if math.isinf(limit) or limit == NO_LIMIT:
                limit = convert_limit(model.max_current_a, "A", rate_unit, phases, model.voltage_v)
            if rate_unit == "A":
                limit = applied_amps(limit, model)
            limit = floor_to_tenth(limit)
            if periods and periods[-1].limit == limit:
                continue
            periods.append(
                ChargingSchedulePeriod(
                    start_period=period.start_period_s,
                    limit=limit,
                    number_phases=period.number_phases,
                )
            )
        return ChargingSchedule(
            duration=duration_s,
            start_schedule=now,
            charging_rate_unit=_WIRE_UNITS[rate_unit],
            charging_schedule_period=periods,
        )

    def _composite(
        self,
        connector_id: int,
        now: datetime,
        duration_s: int,
        unit: RateUnit,
        transaction: TransactionContext | None,
        voltage_v: float,
    ) -> Schedule:
        # A running transaction whose id the CSMS has not given yet (started offline) still
        # has its RemoteStart TxProfile: -1 matches only profiles without a transactionId.
        transaction_id = None
        if transaction is not None:
            transaction_id = (
                -1 if transaction.transaction_id is None else transaction.transaction_id
            )
        return composite_schedule(
            self._held,
            connector_id,
            now,
            duration_s,
            unit,
            transaction_id=transaction_id,
            transaction_started_at=None if transaction is None else transaction.started_at,
            voltage_v=voltage_v,
        )
