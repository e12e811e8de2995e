"""API handlers and bodies for charging profiles (OCPP 1.6 §5.16 SetChargingProfile, §5.5
ClearChargingProfile, §5.7 GetCompositeSchedule; csms/charging_profiles.py). Routes: rows of
``ROUTES`` in app.py.

Bodies use the spec's field names in snake_case (``charging_schedule_period``, ``start_period``);
a limit of null in a composite schedule means no limit."""

from __future__ import annotations

import math
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Final, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from chargedeck.csms.charging_profiles import (
    CompositeCheck,
    check_composite_schedule,
    clear_charging_profile,
    installed_profile,
    next_operator_profile_id,
    send_charging_profile,
)
from chargedeck.domain.charging_profiles import (
    Period,
    Profile,
    ProfileRefused,
    Purpose,
    RateUnit,
    Schedule,
)
from chargedeck.server.api.auth import Principal
from chargedeck.server.api.common import (
    ApiHandlers,
    ApiProblem,
    charger_errors,
    json_response,
    page_limit,
    path_charge_point_id,
    read_body,
)
from chargedeck.server.api.views import View
from chargedeck.store.charging_profiles import ChargingProfileRecord

MAX_COMPOSITE_DURATION_S: Final = 7 * 24 * 3600
"""Longest composite schedule asked for: one cycle of a Weekly profile (OCPP 1.6 §7.37)."""

MAX_PERIODS: Final = 1000
"""Periods in one schedule body: far above any charger's ChargingScheduleMaxPeriods (Wallbox
reports 24, field notes §2.1); more is a script's mistake."""

_PURPOSES: Final[tuple[Purpose, ...]] = ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile")
_INT32: Final = 2**31 - 1

AwareDateTime = Annotated[datetime, msgspec.Meta(tz=True)]


class ChargingSchedulePeriodView(View, frozen=True, kw_only=True):
    """OCPP 1.6 §7.14: from ``start_period`` seconds after the schedule start, at most ``limit``
    (A per phase or W in total); ``limit`` null: no limit (composite schedules only)."""

    start_period: int
    limit: float | None
    number_phases: int | None = None


class ChargingScheduleView(View, frozen=True, kw_only=True):
    """OCPP 1.6 §7.13 in snake_case."""

    charging_rate_unit: Literal["A", "W"]
    charging_schedule_period: list[ChargingSchedulePeriodView]
    duration: int | None = None
    start_schedule: datetime | None = None
    min_charging_rate: float | None = None


class ChargingProfileFieldsView(View, frozen=True, kw_only=True):
    """OCPP 1.6 §7.8 csChargingProfiles in snake_case."""

    charging_profile_id: int
    stack_level: int
    charging_profile_purpose: Literal["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]
    charging_profile_kind: Literal["Absolute", "Recurring", "Relative"]
    charging_schedule: ChargingScheduleView
    transaction_id: int | None = None
    recurrency_kind: Literal["Daily", "Weekly"] | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None


class ChargingProfileView(View, frozen=True, kw_only=True):
    """A profile ChargeDeck sent. ``status``: unanswered, accepted, rejected, not_supported,
    replaced, cleared; ``installed``: the charger holds it (accepted, not ended: a TxProfile
    ends with its transaction). ``origin``: operator, load_control, fail_safe."""

    id: int
    charge_point_id: str
    connector_id: int
    origin: str
    status: str
    installed: bool
    sent_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    profile: ChargingProfileFieldsView


class ChargingProfilesView(View, frozen=True, kw_only=True):
    """What a charger holds and what was sent to it lately (newest first)."""

    installed: list[ChargingProfileView]
    history: list[ChargingProfileView]


class SetChargingProfileResultView(View, frozen=True, kw_only=True):
    """The charger's answer (Accepted, Rejected, NotSupported, §7.11) and the stored profile."""

    charger_status: str
    profile: ChargingProfileView


class ClearChargingProfileResultView(View, frozen=True, kw_only=True):
    """The charger's answer (Accepted, Unknown: nothing matched, §7.21) and how many profiles
    ChargeDeck recorded as held are now cleared."""

    charger_status: str
    cleared: int


class CompositeScheduleView(View, frozen=True, kw_only=True):
    """The charger's composite schedule (GetCompositeSchedule §5.7; null when it answered
    Rejected), ChargeDeck's own from the profiles it holds, and where they differ."""

    charge_point_id: str
    connector_id: int
    start: datetime
    duration: int
    charging_rate_unit: Literal["A", "W"]
    charger_status: str
    charger: ChargingScheduleView | None
    chargedeck: ChargingScheduleView
    mismatches: list[str]


class NewChargingSchedulePeriod(View, frozen=True, kw_only=True):
    start_period: Annotated[int, msgspec.Meta(ge=0, le=_INT32)]
    limit: float
    number_phases: int | None = None


class NewChargingSchedule(View, frozen=True, kw_only=True):
    charging_rate_unit: Literal["A", "W"]
    charging_schedule_period: Annotated[
        list[NewChargingSchedulePeriod], msgspec.Meta(max_length=MAX_PERIODS)
    ]
    duration: Annotated[int, msgspec.Meta(le=_INT32)] | None = None
    start_schedule: AwareDateTime | None = None
    min_charging_rate: float | None = None


class NewChargingProfile(View, frozen=True, kw_only=True):
    """Body of POST /charge-points/{id}/charging-profiles: SetChargingProfile on
    ``connector_id`` (0: the whole charger) with the csChargingProfiles fields in snake_case.
    ``charging_profile_id`` left out: the next operator id of that charger (from 1000)."""

    connector_id: Annotated[int, msgspec.Meta(ge=0, le=_INT32)]
    stack_level: Annotated[int, msgspec.Meta(le=_INT32)]
    charging_profile_purpose: Literal["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]
    charging_profile_kind: Literal["Absolute", "Recurring", "Relative"]
    charging_schedule: NewChargingSchedule
    charging_profile_id: Annotated[int, msgspec.Meta(ge=1, le=_INT32)] | None = None
    transaction_id: Annotated[int, msgspec.Meta(ge=1, le=_INT32)] | None = None
    recurrency_kind: Literal["Daily", "Weekly"] | None = None
    valid_from: AwareDateTime | None = None
    valid_to: AwareDateTime | None = None


class ChargingProfileHandlers(ApiHandlers):
    """Charging profiles and composite schedules."""

    async def set_charging_profile(self, request: Request, caller: Principal) -> Response:
        charge_point_id = path_charge_point_id(request)
        body = await read_body(request, NewChargingProfile)
        await self.known_charge_point(charge_point_id)
        profile_id = body.charging_profile_id
        if profile_id is None:
            try:
                profile_id = await next_operator_profile_id(self.services, charge_point_id)
            except ValueError as exc:  # every operator id was sent to this charger
                raise ApiProblem(HTTPStatus.CONFLICT, "profile-ids-used-up", str(exc)) from None
        try:
            with charger_errors():
                outcome = await send_charging_profile(
                    self.services,
                    charge_point_id,
                    body.connector_id,
                    _profile(body, profile_id),
                    "operator",
                )
        except ProfileRefused as refused:
            raise ApiProblem(
                HTTPStatus.UNPROCESSABLE_ENTITY, "profile-refused", refused.sentence
            ) from None
        return json_response(
            SetChargingProfileResultView(
                charger_status=outcome.charger_status, profile=_view(outcome.record)
            )
        )

    async def list_charging_profiles(self, request: Request, caller: Principal) -> Response:
        charge_point_id = path_charge_point_id(request)
        await self.known_charge_point(charge_point_id)
        limit = page_limit(request)
        store = self.services.store.charging_profiles
        installed = await store.list_installed(charge_point_id)
        history = await store.list_history(charge_point_id, limit=limit)
        return json_response(
            ChargingProfilesView(
                installed=[_view(record) for record in installed],
                history=[_view(record) for record in history],
            )
        )

    async def clear_charging_profiles(self, request: Request, caller: Principal) -> Response:
        charge_point_id = path_charge_point_id(request)
        params = request.query_params
        profile_id = _query_int(params.get("id"), "id", 1)
        connector_id = _query_int(params.get("connector_id"), "connector_id", 0)
        stack_level = _query_int(params.get("stack_level"), "stack_level", 0)
        purpose_text = params.get("purpose")
        if purpose_text is not None and purpose_text not in _PURPOSES:
            raise ApiProblem(
                HTTPStatus.BAD_REQUEST,
                "invalid-query",
                f"purpose={purpose_text[:64]!r}: expected one of {', '.join(_PURPOSES)}",
            )
        purpose: Purpose | None = next((p for p in _PURPOSES if p == purpose_text), None)
        await self.known_charge_point(charge_point_id)
        with charger_errors():
            outcome = await clear_charging_profile(
                self.services,
                charge_point_id,
                charging_profile_id=profile_id,
                connector_id=connector_id,
                purpose=purpose,
                stack_level=stack_level,
            )
        return json_response(
            ClearChargingProfileResultView(
                charger_status=outcome.charger_status, cleared=outcome.cleared
            )
        )

    async def composite_schedule(self, request: Request, caller: Principal) -> Response:
        charge_point_id = path_charge_point_id(request)
        params = request.query_params
        connector_id = _query_int(params.get("connector_id"), "connector_id", 0)
        duration = _query_int(params.get("duration"), "duration", 1, MAX_COMPOSITE_DURATION_S)
        if connector_id is None or duration is None:
            raise ApiProblem(
                HTTPStatus.BAD_REQUEST,
                "invalid-query",
                "give connector_id (0: the whole charger) and duration (seconds)",
            )
        unit_text = params.get("unit", "A")
        if unit_text not in ("A", "W"):
            raise ApiProblem(
                HTTPStatus.BAD_REQUEST, "invalid-query", f"unit={unit_text[:16]!r}: A or W"
            )
        unit: RateUnit = "A" if unit_text == "A" else "W"
        await self.known_charge_point(charge_point_id)
        with charger_errors():
            check = await check_composite_schedule(
                self.services, charge_point_id, connector_id, duration, unit
            )
        return json_response(_composite_view(check))


def _query_int(text: str | None, name: str, minimum: int, maximum: int = _INT32) -> int | None:
    """An optional whole-number query parameter within ``minimum`` .. ``maximum``."""
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or not minimum <= int(text) <= maximum:
        raise ApiProblem(
            HTTPStatus.BAD_REQUEST,
            "invalid-query",
            f"{name}={text[:32]!r}: expected a whole number from {minimum} to {maximum}",
        )
    return int(text)


def _profile(body: NewChargingProfile, charging_profile_id: int) -> Profile:
    schedule = body.charging_schedule
    return Profile(
        charging_profile_id=charging_profile_id,
        stack_level=body.stack_level,
        purpose=body.charging_profile_purpose,
        kind=body.charging_profile_kind,
        schedule=Schedule(
            rate_unit=schedule.charging_rate_unit,
            periods=tuple(
                Period(
                    start_period_s=period.start_period,
                    limit=period.limit,
                    number_phases=period.number_phases,
                )
                for period in schedule.charging_schedule_period
            ),
            duration_s=schedule.duration,
            start_schedule=schedule.start_schedule,
            min_charging_rate=schedule.min_charging_rate,
        ),
        transaction_id=body.transaction_id,
        recurrency_kind=body.recurrency_kind,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
    )


def _schedule_view(schedule: Schedule) -> ChargingScheduleView:
    return ChargingScheduleView(
        charging_rate_unit=schedule.rate_unit,
        charging_schedule_period=[
            ChargingSchedulePeriodView(
                start_period=period.start_period_s,
                limit=None if math.isinf(period.limit) else period.limit,
                number_phases=period.number_phases,
            )
            for period in schedule.periods
        ],
        duration=schedule.duration_s,
        start_schedule=schedule.start_schedule,
        min_charging_rate=schedule.min_charging_rate,
    )


def _view(record: ChargingProfileRecord) -> ChargingProfileView:
    profile = installed_profile(record).profile
    return ChargingProfileView(
        id=record.id,
        charge_point_id=record.charge_point_id,
        connector_id=record.connector_id,
        origin=record.origin,
        status=record.status.value,
        installed=record.installed,
        sent_at=record.sent_at,
        answered_at=record.answered_at,
        ended_at=record.ended_at,
        profile=ChargingProfileFieldsView(
            charging_profile_id=profile.charging_profile_id,
            stack_level=profile.stack_level,
            charging_profile_purpose=profile.purpose,
            charging_profile_kind=profile.kind,
            charging_schedule=_schedule_view(profile.schedule),
            transaction_id=profile.transaction_id,
            recurrency_kind=profile.recurrency_kind,
            valid_from=profile.valid_from,
            valid_to=profile.valid_to,
        ),
    )


def _composite_view(check: CompositeCheck) -> CompositeScheduleView:
    return CompositeScheduleView(
        charge_point_id=check.charge_point_id,
        connector_id=check.connector_id,
        start=check.start,
        duration=check.duration_s,
        charging_rate_unit=check.rate_unit,
        charger_status=check.charger_status,
        charger=None if check.theirs is None else _schedule_view(check.theirs),
        chargedeck=_schedule_view(check.ours),
        mismatches=list(check.mismatches),
    )
