"""How the simulated charger answers a CSMS, rule by rule (OCPP 1.6 §4, §5; facts §1.5-§1.7),
seen from a third-party CSMS on the PyPI ``ocpp`` library that checks every message against the
official schemas."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp.v16 import call
from ocpp.v16.enums import AuthorizationStatus, RegistrationStatus

from chargedeck.simulator.events import ConnectionState, EventKind
from chargedeck.simulator.models import GENERIC, WALLBOX_PULSAR_PLUS, SimulatedModel
from chargedeck.simulator.station import ChargerOptions
from tests.simulator.library_csms import ThirdPartyCsms, third_party_csms
from tests.simulator.running_charger import Run, running

CARD = "04:A2:BC:19"
OTHER_CARD = "04:11:22:33"


@asynccontextmanager
async def connected(
    charge_point_id: str,
    model: SimulatedModel = WALLBOX_PULSAR_PLUS,
    boot_answers: list[tuple[RegistrationStatus, int]] | None = None,
) -> AsyncIterator[tuple[Run, list[ThirdPartyCsms]]]:
    """A charger connected to a third-party CSMS, booted and its statuses sent."""
    async with third_party_csms(boot_answers or []) as (url, connections):
        options = ChargerOptions(
            url, charge_point_id, meter_interval_s=0.3, reconnect_base_s=0.1, reboot_delay_s=0.1
        )
        async with running(options, model) as run:
            await run.charger.wait_for(
                lambda: bool(connections) and len(connections[-1].of("StatusNotification")) >= 2
            )
            yield run, connections


def statuses(csms: ThirdPartyCsms, connector_id: int = 1) -> list[str]:
    return [s["status"] for s in csms.of("StatusNotification") if s["connector_id"] == connector_id]


async def start(run: Run, card: str = CARD) -> int:
    await run.charger.plug_in()
    await run.charger.tap(card)
    await run.charger.wait_for(lambda: run.charger.transaction_id() is not None)
    transaction_id = run.charger.transaction_id()
    assert transaction_id is not None
    return transaction_id


def in_a_minute() -> str:
    return (datetime.now(UTC) + timedelta(minutes=1)).isoformat()


# ---- boot -------------------------------------------------------------------------------------


async def test_after_pending_the_boot_is_sent_again_after_the_interval_and_nothing_before() -> None:
    async with connected("R-PENDING", boot_answers=[(RegistrationStatus.pending, 1)]) as (
        run,
        connections,
    ):
        csms = connections[0]
    actions = [name for name, _ in csms.received]
    assert actions[:2] == ["BootNotification", "BootNotification"]
    assert run.of(EventKind.REGISTRATION)[0] == {"status": "Pending", "interval": 1}
    assert run.of(EventKind.REGISTRATION)[1]["status"] == "Accepted"


async def test_while_pending_configuration_is_answered_and_remote_start_refused() -> None:
    async with (
        third_party_csms([(RegistrationStatus.pending, 30)]) as (url, connections),
        running(ChargerOptions(url, "R-PENDING2"), WALLBOX_PULSAR_PLUS) as run,
    ):
        await run.charger.wait_for(lambda: run.charger.registration is not None)
        csms = connections[0]
        configuration = await csms.call(call.GetConfiguration(key=["HeartbeatInterval"]))
        remote = await csms.call(call.RemoteStartTransaction(id_tag="X", connector_id=1))
    assert configuration.configuration_key[0]["value"] == "60"
    assert remote.status == "Rejected"  # §4.2.1: no RemoteStart while Pending
    assert [name for name, _ in csms.received] == ["BootNotification"]


async def test_after_rejected_nothing_else_is_sent_until_the_next_boot_is_accepted() -> None:
    async with connected("R-REJECTED", boot_answers=[(RegistrationStatus.rejected, 1)]) as (
        run,
        connections,
    ):
        csms = connections[0]
    actions = [name for name, _ in csms.received]
    assert actions[:3] == ["BootNotification", "BootNotification", "StatusNotification"]
    assert run.of(EventKind.REGISTRATION)[0]["status"] == "Rejected"


async def test_a_dropped_connection_comes_back_without_a_new_boot_and_resends_statuses() -> None:
    async with connected("R-RECONNECT") as (run, connections):
        await connections[0]._connection.close()
        await run.charger.wait_for(
            lambda: len(connections) == 2 and len(connections[1].of("StatusNotification")) >= 2
        )
        states = [e["state"] for e in run.of(EventKind.CONNECTION)]
    assert states[-3:] == [
        ConnectionState.DISCONNECTED,
        ConnectionState.CONNECTING,
        ConnectionState.CONNECTED,
    ]
    assert connections[1].of("BootNotification") == []  # OCPP-J 1.6 §5.4


# ---- transactions -----------------------------------------------------------------------------


async def test_a_soft_reset_stops_the_transaction_and_boots_again() -> None:
    async with connected("R-RESET") as (run, connections):
        transaction_id = await start(run)
        answer = await connections[0].call(call.Reset(type="Soft"))
        assert answer.status == "Accepted"
        await run.charger.wait_for(
            lambda: len(connections) == 2 and bool(connections[1].of("BootNotification"))
        )
    (stop,) = connections[0].of("StopTransaction")
    assert (stop["transaction_id"], stop["reason"]) == (transaction_id, "SoftReset")


async def test_a_start_the_csms_refuses_is_stopped_as_deauthorized() -> None:
    async with connected("R-INVALID") as (run, connections):
        connections[0].start_status = AuthorizationStatus.invalid
        await run.charger.plug_in()
        await run.charger.tap(CARD)
        await run.charger.wait_for(lambda: bool(connections[0].of("StopTransaction")))
    (stop,) = connections[0].of("StopTransaction")
    assert stop["reason"] == "DeAuthorized"
    assert run.of(EventKind.TRANSACTION, action="refused")[0]["reason"] == "Invalid"


async def test_another_card_does_not_stop_the_transaction_of_the_first() -> None:
    async with connected("R-OTHER") as (run, _connections):
        await start(run)
        await run.charger.tap(OTHER_CARD)
        assert run.charger.status() == "Charging"
    assert run.of(EventKind.TRANSACTION, action="refused")[0]["id_tag"] == "33221104"


async def test_a_remote_start_before_the_car_waits_in_preparing_and_starts_on_plug_in() -> None:
    async with connected("R-REMOTE-FIRST") as (run, connections):
        answer = await connections[0].call(
            call.RemoteStartTransaction(id_tag="APP-USER", connector_id=1)
        )
        assert answer.status == "Accepted"
        await run.charger.wait_for(lambda: run.charger.status() == "Preparing")
        await run.charger.plug_in()
        await run.charger.wait_for(lambda: run.charger.transaction_id() is not None)
    assert connections[0].of("StartTransaction")[0]["id_tag"] == "APP-USER"
    assert connections[0].of("Authorize") == []  # Wallbox AuthorizeRemoteTxRequests = false


async def test_an_inoperative_request_during_a_transaction_is_scheduled_for_its_end() -> None:
    async with connected("R-AVAIL") as (run, connections):
        await start(run)
        answer = await connections[0].call(
            call.ChangeAvailability(connector_id=1, type="Inoperative")
        )
        assert answer.status == "Scheduled"
        assert run.charger.status() == "Charging"
        await run.charger.unplug()
        assert run.charger.status() == "Unavailable"


# ---- commands ---------------------------------------------------------------------------------


async def test_triggered_meter_values_carry_the_trigger_context() -> None:
    async with connected("R-TRIGGER") as (run, connections):
        csms = connections[0]
        answer = await csms.call(
            call.TriggerMessage(requested_message="MeterValues", connector_id=1)
        )
        assert answer.status == "Accepted"
        await run.charger.wait_for(lambda: bool(csms.of("MeterValues")))
        seen = len(csms.of("StatusNotification"))
        status = await csms.call(call.TriggerMessage(requested_message="StatusNotification"))
        assert status.status == "Accepted"
        await run.charger.wait_for(lambda: len(csms.of("StatusNotification")) >= seen + 2)
    (meter,) = csms.of("MeterValues")
    contexts = {v["context"] for r in meter["meter_value"] for v in r["sampled_value"]}
    assert contexts == {"Trigger"}
    assert [s["connector_id"] for s in csms.of("StatusNotification")[-2:]] == [0, 1]


async def test_a_reserved_connector_takes_only_its_card_until_the_reservation_is_cancelled() -> (
    None
):
    async with connected("R-RESERVE") as (run, connections):
        csms = connections[0]
        answer = await csms.call(
            call.ReserveNow(
                connector_id=1, expiry_date=in_a_minute(), id_tag="19BCA204", reservation_id=5
            )
        )
        assert answer.status == "Accepted"
        assert run.charger.status() == "Reserved"
        await run.charger.plug_in()
        await run.charger.tap(OTHER_CARD)
        assert run.charger.transaction_id() is None
        cancelled = await csms.call(call.CancelReservation(reservation_id=5))
        unknown = await csms.call(call.CancelReservation(reservation_id=6))
        assert run.charger.status() == "Preparing"
    assert (cancelled.status, unknown.status) == ("Accepted", "Rejected")
    assert "reserved" in run.of(EventKind.TRANSACTION, action="refused")[0]["reason"]


async def test_the_reserved_card_starts_with_the_reservation_id() -> None:
    async with connected("R-RESERVED-START") as (run, connections):
        csms = connections[0]
        await csms.call(
            call.ReserveNow(
                connector_id=1, expiry_date=in_a_minute(), id_tag="19BCA204", reservation_id=9
            )
        )
        await start(run)
    assert csms.of("StartTransaction")[0]["reservation_id"] == 9


async def test_a_reservation_expires_at_its_expiry_date() -> None:
    async with connected("R-EXPIRE") as (run, connections):
        expiry = (datetime.now(UTC) + timedelta(seconds=0.5)).isoformat()
        await connections[0].call(
            call.ReserveNow(connector_id=1, expiry_date=expiry, id_tag="X", reservation_id=1)
        )
        assert run.charger.status() == "Reserved"
        await run.charger.wait_for(lambda: run.charger.status() == "Available", timeout_s=3)


async def test_offline_a_card_blocked_in_the_local_list_is_refused_and_an_unknown_one_charges() -> (
    None
):
    async with connected("R-LIST") as (run, connections):
        csms = connections[0]
        full = await csms.call(
            call.SendLocalList(
                list_version=3,
                update_type="Full",
                local_authorization_list=[
                    {"id_tag": "19BCA204", "id_tag_info": {"status": "Blocked"}},
                ],
            )
        )
        version = await csms.call(call.GetLocalListVersion())
        stale = await csms.call(call.SendLocalList(list_version=2, update_type="Differential"))
        assert (full.status, version.list_version, stale.status) == (
            "Accepted",
            3,
            "VersionMismatch",
        )
        await run.charger.go_offline()
        await run.charger.plug_in()
        await run.charger.tap(CARD)
        assert run.charger.status() == "Preparing"
        # AllowOfflineTxForUnknownId is true on a Wallbox (field notes §2.1, Q11).
        await run.charger.tap(OTHER_CARD)
        assert run.charger.status() == "Charging"
    assert run.of(EventKind.TRANSACTION, action="refused")[0]["reason"] == "Blocked"


async def test_configuration_changes_follow_the_keys_rules() -> None:
    async with connected("R-CONFIG") as (run, connections):
        csms = connections[0]
        answers = [
            (await csms.call(call.ChangeConfiguration(key=key, value=value))).status
            for key, value in [
                ("HeartbeatInterval", "120"),
                ("HeartbeatInterval", "soon"),
                ("NumberOfConnectors", "2"),
                ("NoSuchKey", "1"),
                ("MeterValuesSampledData", "Energy.Active.Import.Register,Voltage.L1"),
                ("StopTxnSampledData", "Voltage"),  # StopTxnSampledDataMaxLength is 0
            ]
        ]
        assert run.charger.configuration()["HeartbeatInterval"] == "120"
    assert answers == ["Accepted", "Rejected", "Rejected", "NotSupported", "Accepted", "Rejected"]


async def test_a_tethered_wallbox_cannot_unlock_and_knows_no_vendor_data() -> None:
    async with connected("R-UNLOCK") as (_run, connections):
        unlock = await connections[0].call(call.UnlockConnector(connector_id=1))
        data = await connections[0].call(call.DataTransfer(vendor_id="com.example"))
    assert unlock.status == "NotSupported"
    assert data.status == "UnknownVendorId"


async def test_a_generic_charger_unlocks_by_stopping_the_transaction() -> None:
    async with connected("R-UNLOCK2", GENERIC) as (run, connections):
        await start(run)
        unlock = await connections[0].call(call.UnlockConnector(connector_id=1))
        await run.charger.wait_for(lambda: bool(connections[0].of("StopTransaction")))
    assert unlock.status == "Unlocked"
    assert connections[0].of("StopTransaction")[0]["reason"] == "UnlockCommand"


# ---- smart charging -------------------------------------------------------------------------


def default_profile(limit: float, unit: str = "A", profile_id: int = 1) -> dict[str, Any]:
    return {
        "charging_profile_id": profile_id,
        "stack_level": 0,
        "charging_profile_purpose": "TxDefaultProfile",
        "charging_profile_kind": "Relative",
        "charging_schedule": {
            "charging_rate_unit": unit,
            "charging_schedule_period": [{"start_period": 0, "limit": limit}],
        },
    }


async def test_a_wallbox_refuses_a_schedule_in_watts_and_a_generic_charger_takes_it() -> None:
    async with connected("R-WATTS") as (run, connections):
        wallbox = await connections[0].call(
            call.SetChargingProfile(connector_id=0, cs_charging_profiles=default_profile(7000, "W"))
        )
        assert run.charger.limit_a() is None
    async with connected("R-WATTS2", GENERIC) as (run, connections):
        generic = await connections[0].call(
            call.SetChargingProfile(connector_id=0, cs_charging_profiles=default_profile(7000, "W"))
        )
        # 7000 W on 3 phases at 230 V = 10.14 A, in steps of 0.1 A (§7.14).
        assert run.charger.limit_a() == 10.1
    assert (wallbox.status, generic.status) == ("Rejected", "Accepted")


async def test_a_schedule_with_a_second_period_changes_the_limit_when_it_begins() -> None:
    async with connected("R-PERIODS") as (run, connections):
        profile = default_profile(16)
        profile["charging_schedule"]["charging_schedule_period"].append(
            {"start_period": 2, "limit": 8}
        )
        profile["charging_profile_kind"] = "Absolute"
        profile["charging_schedule"]["start_schedule"] = datetime.now(UTC).isoformat()
        await connections[0].call(
            call.SetChargingProfile(connector_id=1, cs_charging_profiles=profile)
        )
        assert run.charger.limit_a() == 16.0
        await run.charger.wait_for(lambda: run.charger.limit_a() == 8.0, timeout_s=4)
    assert [e["limit_a"] for e in run.of(EventKind.LIMIT)] == [16.0, 8.0]


async def test_clearing_the_profile_lifts_the_limit() -> None:
    async with connected("R-CLEAR") as (run, connections):
        csms = connections[0]
        await csms.call(
            call.SetChargingProfile(connector_id=1, cs_charging_profiles=default_profile(10))
        )
        assert run.charger.limit_a() == 10.0
        unknown = await csms.call(call.ClearChargingProfile(id=99))
        cleared = await csms.call(call.ClearChargingProfile(id=1))
        assert run.charger.limit_a() is None
    assert (unknown.status, cleared.status) == ("Unknown", "Accepted")


# ---- connection -------------------------------------------------------------------------------


async def test_a_csms_that_drops_every_attempt_is_retried_with_a_growing_back_off() -> None:
    loop = asyncio.get_running_loop()
    attempts: list[float] = []

    async def hang_up(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        attempts.append(loop.time())
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    options = ChargerOptions(f"ws://127.0.0.1:{port}/ocpp", "R-BACKOFF", reconnect_base_s=0.05)
    async with server, running(options, WALLBOX_PULSAR_PLUS) as run:
        await run.charger.wait_for(lambda: len(attempts) >= 5, timeout_s=5)
        assert run.charger.connection_state is ConnectionState.CONNECTING
        began = loop.time()
        await run.charger.stop()
        assert loop.time() - began < 1.0  # stop() ends run() promptly
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert gaps == sorted(gaps)
    connecting = run.of(EventKind.CONNECTION, state=ConnectionState.CONNECTING)
    assert len(connecting) == 2  # shown once, then once with why: not at every attempt
    assert "cannot reach" in connecting[1]["reason"]


async def test_the_profile_of_a_remote_start_limits_that_transaction_only() -> None:
    async with connected("R-TXPROFILE") as (run, connections):
        profile = default_profile(12)
        profile["charging_profile_purpose"] = "TxProfile"
        await run.charger.plug_in()
        answer = await connections[0].call(
            call.RemoteStartTransaction(id_tag="APP", connector_id=1, charging_profile=profile)
        )
        assert answer.status == "Accepted"
        await run.charger.wait_for(lambda: run.charger.transaction_id() is not None)
        assert run.charger.limit_a() == 12.0
        assert run.charger.current_a() == 12.0
        await run.charger.unplug()
        assert run.charger.limit_a() is None  # §3.13.1: a TxProfile ends with its transaction
