"""The Wallbox model against a CSMS that is not ChargeDeck: a minimal one on the PyPI ``ocpp``
library (mobilityhouse), which checks every CALL we send and every answer we give against the
official OCPP 1.6 JSON schemas (facts §2.1). So the simulator is not tuned to ChargeDeck.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp.exceptions import NotSupportedError
from ocpp.v16 import call
from ocpp.v16.enums import CertificateUse, ChargingProfileStatus, RemoteStartStopStatus

from chargedeck.simulator.models import WALLBOX_PULSAR_PLUS
from chargedeck.simulator.station import ChargerOptions
from tests.simulator.library_csms import ThirdPartyCsms, third_party_csms
from tests.simulator.running_charger import Run, running

CARD = "04:A2:BC:19"


async def charging(run: Run, connections: list[ThirdPartyCsms]) -> tuple[ThirdPartyCsms, int]:
    """Boot, plug in, tap the card: the CSMS connection and the transaction id."""
    charger = run.charger
    await charger.wait_for(
        lambda: bool(connections) and bool(connections[0].of("StatusNotification"))
    )
    await charger.plug_in()
    await charger.tap(CARD)
    await charger.wait_for(lambda: charger.transaction_id() is not None)
    transaction_id = charger.transaction_id()
    assert transaction_id is not None
    return connections[0], transaction_id


def options(url: str, charge_point_id: str) -> ChargerOptions:
    return ChargerOptions(url, charge_point_id, meter_interval_s=0.3)


def sampled(meter_values: dict[str, Any], measurand: str) -> list[dict[str, Any]]:
    return [
        value
        for reading in meter_values["meter_value"]
        for value in reading["sampled_value"]
        if value.get("measurand") == measurand
    ]


async def test_the_wallbox_boots_authorizes_starts_and_meters_against_another_csms() -> None:
    async with (
        third_party_csms() as (url, connections),
        running(options(url, "WB-THIRD"), WALLBOX_PULSAR_PLUS) as run,
    ):
        csms, transaction_id = await charging(run, connections)
        await run.charger.wait_for(lambda: len(csms.of("MeterValues")) >= 2)

    (boot,) = csms.of("BootNotification")
    assert boot["charge_point_vendor"] == "Wall Box Chargers"
    assert boot["charge_point_model"] == "PLP1-0-2-4"
    assert boot["meter_type"] == "Internal NON compliant"
    assert csms.received[0][0] == "BootNotification"  # nothing before the boot (§4.2)
    statuses = [(s["connector_id"], s["status"]) for s in csms.of("StatusNotification")]
    assert statuses[:2] == [(0, "Available"), (1, "Available")]
    assert (1, "Preparing") in statuses
    assert (1, "Charging") in statuses
    assert csms.of("Authorize") == [{"id_tag": "19BCA204"}]
    (start,) = csms.of("StartTransaction")
    assert start["id_tag"] == "19BCA204"
    meter = csms.of("MeterValues")[-1]
    assert meter["transaction_id"] == transaction_id
    assert [v["phase"] for v in sampled(meter, "Current.Import")] == ["L1", "L2", "L3"]
    assert sampled(meter, "Current.Offered")[0]["value"] == "32"


async def test_a_profile_of_10_7_a_is_applied_as_10_a_and_one_of_5_7_a_pauses_the_car() -> None:
    async with (
        third_party_csms() as (url, connections),
        running(options(url, "WB-AMPS"), WALLBOX_PULSAR_PLUS) as run,
    ):
        charger = run.charger
        csms, transaction_id = await charging(run, connections)

        def tx_profile(limit: float) -> dict[str, Any]:
            return {
                "charging_profile_id": 7,
                "transaction_id": transaction_id,
                "stack_level": 1,
                "charging_profile_purpose": "TxProfile",
                "charging_profile_kind": "Absolute",
                "charging_schedule": {
                    "start_schedule": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
                    "charging_rate_unit": "A",
                    "charging_schedule_period": [{"start_period": 0, "limit": limit}],
                },
            }

        answer = await csms.call(
            call.SetChargingProfile(connector_id=1, cs_charging_profiles=tx_profile(10.7))
        )
        assert answer.status == ChargingProfileStatus.accepted
        assert charger.limit_a() == 10.0
        seen = len(csms.of("MeterValues"))
        await charger.wait_for(lambda: len(csms.of("MeterValues")) > seen)
        meter = csms.of("MeterValues")[-1]
        assert sampled(meter, "Current.Offered")[0]["value"] == "10"
        assert sampled(meter, "Current.Import")[0]["value"] == "10.0"

        composite = await csms.call(call.GetCompositeSchedule(connector_id=1, duration=300))
        assert composite.status == "Accepted"
        periods = composite.charging_schedule["charging_schedule_period"]
        assert [p["limit"] for p in periods] == [10]

        answer = await csms.call(
            call.SetChargingProfile(connector_id=1, cs_charging_profiles=tx_profile(5.7))
        )
        assert answer.status == ChargingProfileStatus.accepted
        assert charger.limit_a() == 0.0
        assert charger.status() == "SuspendedEVSE"
        await charger.wait_for(
            lambda: "SuspendedEVSE" in [s["status"] for s in csms.of("StatusNotification")]
        )


async def test_get_configuration_answers_the_keys_it_has_and_names_the_ones_it_lacks() -> None:
    async with (
        third_party_csms() as (url, connections),
        running(options(url, "WB-CONFIG"), WALLBOX_PULSAR_PLUS) as run,
    ):
        await run.charger.wait_for(
            lambda: bool(connections) and bool(connections[0].of("StatusNotification"))
        )
        answer = await connections[0].call(
            call.GetConfiguration(key=["MeterValueSampleInterval", "AuthEnabled", "NoSuchKey"])
        )
    assert answer.configuration_key == [
        {"key": "MeterValueSampleInterval", "readonly": False, "value": "10"},
        {"key": "AuthEnabled", "readonly": False, "value": "true"},
    ]
    assert answer.unknown_key == ["NoSuchKey"]


async def test_a_remote_stop_ends_the_transaction_with_reason_remote() -> None:
    async with (
        third_party_csms() as (url, connections),
        running(options(url, "WB-STOP"), WALLBOX_PULSAR_PLUS) as run,
    ):
        csms, transaction_id = await charging(run, connections)
        answer = await csms.call(call.RemoteStopTransaction(transaction_id=transaction_id))
        assert answer.status == RemoteStartStopStatus.accepted
        await run.charger.wait_for(lambda: bool(csms.of("StopTransaction")))
    (stop,) = csms.of("StopTransaction")
    assert stop["transaction_id"] == transaction_id
    assert stop["reason"] == "Remote"
    assert stop["meter_stop"] == run.charger.energy_wh()


async def test_security_extension_calls_are_refused_as_not_supported() -> None:
    async with (
        third_party_csms() as (url, connections),
        running(options(url, "WB-SEC"), WALLBOX_PULSAR_PLUS) as run,
    ):
        await run.charger.wait_for(
            lambda: bool(connections) and bool(connections[0].of("StatusNotification"))
        )
        try:
            await connections[0].call(
                call.GetInstalledCertificateIds(
                    certificate_type=CertificateUse.central_system_root_certificate
                ),
                suppress=False,
            )
        except NotSupportedError:
            refused = True
        else:
            refused = False
    assert refused
    assert asyncio.get_running_loop().is_running()
