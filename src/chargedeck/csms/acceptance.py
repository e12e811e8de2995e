"""The charger acceptance check: a scripted test of a connected charger, feature by feature.

The Wallbox setup guide (§3.1) warns that correct operation is only assured after a factory
acceptance test of the charger with the CSMS. :func:`run_acceptance_check` sends a fixed series
of requests, each with a short time-out, maps each answer to an outcome
(``domain/acceptance.py``) and stores the report per charger and firmware version.

Non-disruptive: every request is a read, a trigger, or a change that the check undoes.

- **Triggered messages.** TriggerMessage(Heartbeat) and TriggerMessage(StatusNotification) are
  "ignored" when the charger answers Accepted but the message does not arrive within
  :data:`TRIGGER_WINDOW_S`. Arrival is read from what the store recorded, not from a hook in the
  handlers: ``charge_points.last_heartbeat_at`` and ``connector_status_history.received_at`` at
  or after the moment the trigger was sent. The heartbeat is written lazily by the batch writer
  (up to ``DEFAULT_HEARTBEAT_FLUSH_S`` late), so the window is that plus a margin. A periodic
  Heartbeat or a StatusNotification that happens to arrive in the window counts as the triggered
  one: the check can say "works" for a charger that ignores triggers, never the reverse.
- **Smart charging.** A TxDefaultProfile on connector 0 (every connector), stack level 0 (Wallbox
  FW 5.x rejects any other, field notes Q4), ChargingRateUnit A at the charger model's maximum in
  whole amps (Wallbox, field notes Q8), so it limits nothing. Absolute first, then Relative with
  the same id (Wallbox FW 6.x takes Relative, field notes Q5), to learn which kinds it takes;
  GetCompositeSchedule on connector 1 for 60 s while it is installed; then ClearChargingProfile
  by its id, which leaves every other profile alone. The id, :data:`ACCEPTANCE_CHARGING_PROFILE_ID`,
  sits near the top of int32 where no CSMS counting from 1 gets. A profile with the same stack
  level and purpose would still be *replaced* by ours (OCPP 1.6 §3.13.2) and could not be put
  back, so the check first asks GetCompositeSchedule on connector 0: if any limit is in force,
  it skips the profile steps and says why.
- **Remote start/stop** only with ``with_car``: it starts a real charging session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from chargedeck.csms.commands import send_command
from chargedeck.csms.context import CsmsServices
from chargedeck.domain.acceptance import (
    AcceptanceReport,
    Feature,
    FeatureResult,
    Outcome,
    outcome_of_call_error,
    outcome_of_local_list_version,
    outcome_of_status,
    outcome_of_trigger,
    outcome_of_unknown_vendor_data_transfer,
    parse_charging_rate_units,
    parse_supported_feature_profiles,
    whole_amps,
)
from chargedeck.domain.charger_models import ChargerModel, model_for
from chargedeck.domain.ids import ChargePointId, ConnectorId
from chargedeck.ocpp.errors import CallErrorReceived, CallTimeout, InvalidResponse
from chargedeck.ocpp.v16.base import Message
from chargedeck.ocpp.v16.core import (
    DataTransferRequest,
    DataTransferResponse,
    GetConfigurationRequest,
    GetConfigurationResponse,
    RemoteStartTransactionRequest,
    RemoteStartTransactionResponse,
    RemoteStopTransactionRequest,
    RemoteStopTransactionResponse,
)
from chargedeck.ocpp.v16.enums import (
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingRateUnit,
    MessageTrigger,
)
from chargedeck.ocpp.v16.local_auth import GetLocalListVersionRequest, GetLocalListVersionResponse
from chargedeck.ocpp.v16.remote_trigger import TriggerMessageRequest, TriggerMessageResponse
from chargedeck.ocpp.v16.smart_charging import (
    ClearChargingProfileRequest,
    ClearChargingProfileResponse,
    GetCompositeScheduleRequest,
    GetCompositeScheduleResponse,
    SetChargingProfileRequest,
    SetChargingProfileResponse,
)
from chargedeck.ocpp.v16.types import ChargingProfile, ChargingSchedule, ChargingSchedulePeriod
from chargedeck.store.batch_writer import DEFAULT_HEARTBEAT_FLUSH_S

log = logging.getLogger(__name__)

# Per request: a charger on the LAN answers in well under a second; 10 s tolerates a slow
# mobile link without letting a check of ten steps hang for the 30 s call time-out each.
STEP_TIMEOUT_S = 10.0
# How long a triggered message may take to show in the store: the heartbeat flush delay of the
# batch writer (5 s) plus 3 s for the charger to send it.
TRIGGER_WINDOW_S = DEFAULT_HEARTBEAT_FLUSH_S + 3.0
# How often the store is read while waiting for a triggered message or a transaction.
POLL_INTERVAL_S = 0.2
# Near the top of int32 (chargers store ids as int32, reference notes §1.2): far from the ids a
# CSMS counting from 1 hands out. See the module docstring for what a collision would do.
ACCEPTANCE_CHARGING_PROFILE_ID = 2_147_480_001
# GetCompositeSchedule duration, s: the brief's minute, enough to see the profile's one period.
COMPOSITE_DURATION_S = 60
# A vendorId nobody uses (DataTransfer, OCPP 1.6 §4.3): the right answer is UnknownVendorId.
ACCEPTANCE_VENDOR_ID = "org.chargedeck.acceptance-check"
# The idTag of the remote start with a test car (with_car only).
ACCEPTANCE_ID_TAG = "CHARGEDECK-CHECK"
ACCEPTANCE_CONNECTOR_ID = 1


@dataclass(frozen=True)
class _NoAnswer:
    """A request that got no usable answer, as an outcome and a sentence."""

    outcome: Outcome
    detail: str


async def _ask(
    services: CsmsServices, charge_point_id: str, request: Message, quirks: list[str]
) -> Message | _NoAnswer:
    """Send ``request``; a CALLERROR, no answer or an invalid answer becomes a :class:`_NoAnswer`.
    Not being connected, not known or disconnecting ends the check (raised)."""
    action = type(request).__name__.removesuffix("Request")
    try:
        return await send_command(services, charge_point_id, request, STEP_TIMEOUT_S)
    except CallErrorReceived as exc:
        return _NoAnswer(outcome_of_call_error(exc.code), f"CALLERROR {exc.code}")
    except CallTimeout:
        return _NoAnswer(Outcome.IGNORED, f"no answer within {STEP_TIMEOUT_S:g} s")
    except InvalidResponse as exc:
        quirks.append(f"{action}: answer does not match the OCPP 1.6 schema ({exc.description})")
        return _NoAnswer(Outcome.REFUSED, "invalid answer")


class _Check:
    """One run: the charger, what it reported so far, and the results in order."""

    def __init__(
        self, services: CsmsServices, charge_point_id: ChargePointId, model: ChargerModel
    ) -> None:
        self.services = services
        self.charge_point_id = charge_point_id
        self.model = model
        self.results: list[FeatureResult] = []
        self.quirks: list[str] = []
        self.configuration: dict[str, str | None] = {}
        self.supported_feature_profiles: tuple[str, ...] | None = None
        self.profile_kinds: list[str] = []

    def add(self, feature: Feature, outcome: Outcome, detail: str) -> None:
        self.results.append(FeatureResult(feature, outcome, detail))

    async def ask(self, request: Message) -> Message | _NoAnswer:
        return await _ask(self.services, self.charge_point_id, request, self.quirks)

    async def read_configuration(self) -> None:
        answer = await self.ask(GetConfigurationRequest())
        if isinstance(answer, _NoAnswer):
            self.add(Feature.CONFIGURATION_READ, answer.outcome, answer.detail)
            self.add(
                Feature.SUPPORTED_FEATURE_PROFILES, Outcome.SKIPPED, "configuration not readable"
            )
            return
        assert isinstance(answer, GetConfigurationResponse)
        self.configuration = {kv.key: kv.value for kv in answer.configuration_key or ()}
        self.add(
            Feature.CONFIGURATION_READ, Outcome.WORKS, f"{len(self.configuration)} keys reported"
        )
        value = self.configuration.get("SupportedFeatureProfiles")
        if value is None:
            # A required Core key (OCPP 1.6 §9.1.36).
            self.quirks.append("SupportedFeatureProfiles (a required Core key) is not reported")
            self.add(Feature.SUPPORTED_FEATURE_PROFILES, Outcome.NOT_SUPPORTED, "key not reported")
            return
        self.supported_feature_profiles = parse_supported_feature_profiles(value)
        self.add(
            Feature.SUPPORTED_FEATURE_PROFILES,
            Outcome.WORKS,
            ", ".join(self.supported_feature_profiles) or "empty",
        )

    def claims(self, profile: str) -> bool | None:
        """Whether SupportedFeatureProfiles lists ``profile`` (None: unknown)."""
        if self.supported_feature_profiles is None:
            return None
        return profile in self.supported_feature_profiles

    def note_claim(self, profile: str, outcome: Outcome) -> None:
        """A quirk when what the charger does contradicts what it claims."""
        claimed = self.claims(profile)
        if claimed is True and outcome is Outcome.NOT_SUPPORTED:
            self.quirks.append(f"SupportedFeatureProfiles lists {profile}, yet it is not supported")
        elif claimed is False and outcome is Outcome.WORKS:
            self.quirks.append(f"SupportedFeatureProfiles omits {profile}, yet it works")

    async def triggers(self) -> None:
        since = self.services.clock.now()
        asked: dict[Feature, str] = {}
        for feature, message in (
            (Feature.HEARTBEAT_TRIGGER, MessageTrigger.HEARTBEAT),
            (Feature.STATUS_TRIGGER, MessageTrigger.STATUS_NOTIFICATION),
        ):
            answer = await self.ask(TriggerMessageRequest(requested_message=message))
            if isinstance(answer, _NoAnswer):
                self.add(feature, answer.outcome, answer.detail)
            else:
                assert isinstance(answer, TriggerMessageResponse)
                asked[feature] = answer.status.value
        arrived = await self._wait_for_triggered(
            since, [f for f, s in asked.items() if s == "Accepted"]
        )
        for feature, status in asked.items():
            outcome = outcome_of_trigger(status, feature in arrived)
            detail = f"TriggerMessage {status}"
            if outcome is Outcome.IGNORED:
                detail += f"; nothing arrived within {TRIGGER_WINDOW_S:g} s"
                self.quirks.append(f"{feature.value}: accepts TriggerMessage, sends nothing")
            self.add(feature, outcome, detail)
            self.note_claim("RemoteTrigger", outcome)
        self.results.sort(key=lambda result: list(Feature).index(result.feature))

    async def _wait_for_triggered(
        self, since: datetime, waiting: Sequence[Feature]
    ) -> set[Feature]:
        arrived: set[Feature] = set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TRIGGER_WINDOW_S
        store = self.services.store
        while set(waiting) - arrived:
            if Feature.HEARTBEAT_TRIGGER in waiting:
                record = await store.charge_points.get_charge_point(self.charge_point_id)
                seen_at = None if record is None else record.last_heartbeat_at
                if seen_at is not None and seen_at >= since:
                    arrived.add(Feature.HEARTBEAT_TRIGGER)
            if Feature.STATUS_TRIGGER in waiting:
                newest = await store.connectors.status_history(self.charge_point_id, limit=1)
                if newest and newest[0].received_at >= since:
                    arrived.add(Feature.STATUS_TRIGGER)
            if loop.time() >= deadline:
                break
            await asyncio.sleep(POLL_INTERVAL_S)
        return arrived

    def _profile(self, kind: ChargingProfileKind, limit_a: int) -> ChargingProfile:
        return ChargingProfile(
            charging_profile_id=ACCEPTANCE_CHARGING_PROFILE_ID,
            stack_level=0,
            charging_profile_purpose=ChargingProfilePurpose.TX_DEFAULT_PROFILE,
            charging_profile_kind=kind,
            charging_schedule=ChargingSchedule(
                # Absolute needs its start (OCPP 1.6 §7.8); Relative starts with the transaction.
                start_schedule=(
                    self.services.clock.now() if kind is ChargingProfileKind.ABSOLUTE else None
                ),
                charging_rate_unit=ChargingRateUnit.A,
                charging_schedule_period=[
                    ChargingSchedulePeriod(start_period=0, limit=float(limit_a))
                ],
            ),
        )

    async def smart_charging(self) -> None:
        limit_a = whole_amps(self.model.max_current_a)
        before = await self.ask(
            GetCompositeScheduleRequest(connector_id=0, duration=COMPOSITE_DURATION_S)
        )
        if (
            isinstance(before, GetCompositeScheduleResponse)
            and before.charging_schedule is not None
            and before.charging_schedule.charging_schedule_period
        ):
            why = (
                "skipped: limits are in force on the charger (GetCompositeSchedule connector 0); "
                "a stack level 0 TxDefaultProfile could replace one (OCPP 1.6 §3.13.2)"
            )
            for feature in (
                Feature.SET_CHARGING_PROFILE,
                Feature.COMPOSITE_SCHEDULE,
                Feature.CLEAR_CHARGING_PROFILE,
            ):
                self.add(feature, Outcome.SKIPPED, why)
            return
        set_outcome: Outcome | None = None
        set_detail = ""
        composite_done = False
        for kind in (ChargingProfileKind.ABSOLUTE, ChargingProfileKind.RELATIVE):
            answer = await self.ask(
                SetChargingProfileRequest(
                    connector_id=0, cs_charging_profiles=self._profile(kind, limit_a)
                )
            )
            if isinstance(answer, _NoAnswer):
                outcome, status = answer.outcome, answer.detail
            else:
                assert isinstance(answer, SetChargingProfileResponse)
                outcome, status = outcome_of_status(answer.status.value), answer.status.value
            if outcome is Outcome.WORKS:
                self.profile_kinds.append(kind.value)
            if set_outcome is None:
                set_outcome = outcome  # the Absolute attempt's, unless a kind is accepted
            set_detail += f"{kind.value} {limit_a} A stack 0 on connector 0: {status}; "
            if outcome is Outcome.WORKS and not composite_done:
                await self.composite_schedule(limit_a)
                composite_done = True
        assert set_outcome is not None
        if self.profile_kinds:
            set_outcome = Outcome.WORKS
        self.add(Feature.SET_CHARGING_PROFILE, set_outcome, set_detail.rstrip("; "))
        self.note_claim("SmartCharging", set_outcome)
        if not composite_done:
            await self.composite_schedule(None)
        if not self.profile_kinds:
            self.add(Feature.CLEAR_CHARGING_PROFILE, Outcome.SKIPPED, "no profile was installed")
        else:
            await self.clear_profile()
        self.results.sort(key=lambda result: list(Feature).index(result.feature))

    async def composite_schedule(self, expected_a: int | None) -> None:
        answer = await self.ask(
            GetCompositeScheduleRequest(
                connector_id=ACCEPTANCE_CONNECTOR_ID,
                duration=COMPOSITE_DURATION_S,
                charging_rate_unit=ChargingRateUnit.A,
            )
        )
        if isinstance(answer, _NoAnswer):
            self.add(Feature.COMPOSITE_SCHEDULE, answer.outcome, answer.detail)
            return
        assert isinstance(answer, GetCompositeScheduleResponse)
        outcome = outcome_of_status(answer.status.value)
        detail = f"connector {ACCEPTANCE_CONNECTOR_ID}, {COMPOSITE_DURATION_S} s: {answer.status}"
        schedule = answer.charging_schedule
        if outcome is Outcome.WORKS and schedule is not None and schedule.charging_schedule_period:
            first = schedule.charging_schedule_period[0]
            detail += f", {first.limit:g} {schedule.charging_rate_unit.value}"
            if expected_a is not None and first.limit != expected_a:
                self.quirks.append(
                    f"GetCompositeSchedule shows {first.limit:g} "
                    f"{schedule.charging_rate_unit.value}, not the {expected_a} A just set"
                )
        elif outcome is Outcome.WORKS and expected_a is not None:
            self.quirks.append("GetCompositeSchedule shows no schedule after a profile was set")
        self.add(Feature.COMPOSITE_SCHEDULE, outcome, detail)

    async def clear_profile(self) -> None:
        answer = await self.ask(ClearChargingProfileRequest(id=ACCEPTANCE_CHARGING_PROFILE_ID))
        if isinstance(answer, _NoAnswer):
            outcome, status = answer.outcome, answer.detail
        else:
            assert isinstance(answer, ClearChargingProfileResponse)
            outcome, status = outcome_of_status(answer.status.value), answer.status.value
        if outcome is not Outcome.WORKS:
            self.quirks.append(
                f"the check's TxDefaultProfile {ACCEPTANCE_CHARGING_PROFILE_ID} may remain on "
                f"the charger (ClearChargingProfile: {status}); it limits to the model maximum"
            )
            log.warning(
                "acceptance check of %s: ClearChargingProfile id %d answered %s",
                self.charge_point_id,
                ACCEPTANCE_CHARGING_PROFILE_ID,
                status,
            )
        self.add(
            Feature.CLEAR_CHARGING_PROFILE,
            outcome,
            f"id {ACCEPTANCE_CHARGING_PROFILE_ID}: {status}",
        )

    async def local_list_version(self) -> None:
        answer = await self.ask(GetLocalListVersionRequest())
        if isinstance(answer, _NoAnswer):
            outcome, detail = answer.outcome, answer.detail
        else:
            assert isinstance(answer, GetLocalListVersionResponse)
            outcome = outcome_of_local_list_version(answer.list_version)
            detail = f"listVersion {answer.list_version}"
        self.add(Feature.LOCAL_LIST_VERSION, outcome, detail)
        self.note_claim("LocalAuthListManagement", outcome)

    async def data_transfer(self) -> None:
        answer = await self.ask(
            DataTransferRequest(vendor_id=ACCEPTANCE_VENDOR_ID, message_id="AcceptanceCheck")
        )
        if isinstance(answer, _NoAnswer):
            self.add(Feature.DATA_TRANSFER, answer.outcome, answer.detail)
            return
        assert isinstance(answer, DataTransferResponse)
        outcome, quirk = outcome_of_unknown_vendor_data_transfer(answer.status.value)
        if quirk is not None:
            self.quirks.append(quirk)
        self.add(Feature.DATA_TRANSFER, outcome, f"unknown vendorId: {answer.status.value}")

    async def remote_start_stop(self) -> None:
        since = self.services.clock.now()
        answer = await self.ask(
            RemoteStartTransactionRequest(
                connector_id=ACCEPTANCE_CONNECTOR_ID, id_tag=ACCEPTANCE_ID_TAG
            )
        )
        if isinstance(answer, _NoAnswer):
            self.add(Feature.REMOTE_START_STOP, answer.outcome, answer.detail)
            return
        assert isinstance(answer, RemoteStartTransactionResponse)
        outcome = outcome_of_status(answer.status.value)
        if outcome is not Outcome.WORKS:
            self.add(Feature.REMOTE_START_STOP, outcome, f"RemoteStart {answer.status.value}")
            return
        transactions = self.services.store.transactions
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TRIGGER_WINDOW_S
        while True:
            active = await transactions.active_transaction_for_connector(
                self.charge_point_id, ConnectorId(ACCEPTANCE_CONNECTOR_ID)
            )
            if active is not None and active.started_at >= since:
                break
            if loop.time() >= deadline:
                self.add(
                    Feature.REMOTE_START_STOP,
                    Outcome.IGNORED,
                    f"RemoteStart Accepted; no transaction within {TRIGGER_WINDOW_S:g} s",
                )
                return
            await asyncio.sleep(POLL_INTERVAL_S)
        stop = await self.ask(RemoteStopTransactionRequest(transaction_id=int(active.id)))
        if isinstance(stop, _NoAnswer):
            self.quirks.append(
                f"transaction {active.id} started by the check may still run ({stop.detail})"
            )
            self.add(Feature.REMOTE_START_STOP, stop.outcome, f"RemoteStop: {stop.detail}")
            return
        assert isinstance(stop, RemoteStopTransactionResponse)
        self.add(
            Feature.REMOTE_START_STOP,
            outcome_of_status(stop.status.value),
            f"transaction {active.id} started; RemoteStop {stop.status.value}",
        )


async def run_acceptance_check(
    services: CsmsServices, charge_point_id: str, *, with_car: bool = False
) -> AcceptanceReport:
    """Run the acceptance check against the connected charger, store the report and return it.

    Raises csms.commands.UnknownChargePoint, ChargePointNotConnected or CommandNotAllowed
    (nothing sent yet, or the charger is Pending), or ChargePointDisconnected mid-check.
    """
    cp_id = ChargePointId(charge_point_id)
    record = await services.store.charge_points.get_charge_point(cp_id)
    model = model_for(record.vendor or "", record.model or "") if record is not None else None
    check = _Check(services, cp_id, model or model_for("", ""))
    ran_at = services.clock.now()
    await check.read_configuration()
    await check.triggers()
    await check.smart_charging()
    await check.local_list_version()
    await check.data_transfer()
    if with_car:
        await check.remote_start_stop()
    else:
        check.add(Feature.REMOTE_START_STOP, Outcome.SKIPPED, "needs a test car (--with-car)")
    units_key = check.configuration.get("ChargingScheduleAllowedChargingRateUnit")
    report = AcceptanceReport(
        charge_point_id=cp_id,
        firmware_version=None if record is None else record.firmware_version,
        charger_model=check.model.name,
        ran_at=ran_at,
        with_car=with_car,
        results=tuple(check.results),
        supported_feature_profiles=check.supported_feature_profiles,
        charging_rate_units=None if units_key is None else parse_charging_rate_units(units_key),
        profile_kinds=tuple(check.profile_kinds),
        quirks=tuple(check.quirks),
    )
    await services.store.acceptance_reports.add_report(report)
    log.info(
        "acceptance check of %s (%s, firmware %s): %s",
        cp_id,
        report.charger_model,
        report.firmware_version,
        ", ".join(f"{r.feature.value} {r.outcome.value}" for r in report.results),
    )
    return report
