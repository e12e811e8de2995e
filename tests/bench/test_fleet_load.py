"""The fleet generator's timetables and message mix (bench/fleet_load.py), without sockets."""

from __future__ import annotations

import random
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parents[2] / "bench"))

import fleet_load  # bench/ is a folder of scripts, not a package


def test_default_mix_is_70_meter_values_15_heartbeat_10_status_5_start_stop() -> None:
    cycle = fleet_load.build_cycle(fleet_load.parse_mix(fleet_load.DEFAULT_MIX))
    counts = Counter(step.action for step in cycle)
    assert len(cycle) == 40
    assert counts == {
        "MeterValues": 28,
        "Heartbeat": 6,
        "StatusNotification": 4,
        "StartTransaction": 1,
        "StopTransaction": 1,
    }


def test_a_cycle_is_one_session_with_its_meter_values_inside_it() -> None:
    cycle = fleet_load.build_cycle(fleet_load.parse_mix(fleet_load.DEFAULT_MIX))
    actions = [step.action for step in cycle]
    start, stop = actions.index("StartTransaction"), actions.index("StopTransaction")
    assert all(start < i < stop for i, action in enumerate(actions) if action == "MeterValues")
    assert [step.status for step in cycle if step.status] == [
        "Preparing",
        "Charging",
        "Finishing",
        "Available",
    ]


def test_mix_shares_must_add_up_to_100() -> None:
    with pytest.raises(ValueError, match="add up to 90"):
        fleet_load.parse_mix("meter=70,heartbeat=10,status=10")


def test_source_addresses_must_be_loopback() -> None:
    assert fleet_load.parse_sources("127.0.0.2-127.0.0.4") == (
        "127.0.0.2",
        "127.0.0.3",
        "127.0.0.4",
    )
    with pytest.raises(ValueError, match="not a loopback address"):
        fleet_load.parse_sources("10.0.0.2")


def test_even_timetable_sends_at_the_rate_round_robin() -> None:
    times = list(fleet_load.even_times(1000.0, 0, 1_000_000_000, 10, random.Random(1)))
    assert len(times) == 1000
    assert Counter(index for _, index in times) == dict.fromkeys(range(10), 100)


def test_held_charger_sends_each_message_once_per_interval() -> None:
    times = fleet_load.hold_times(5, 0, 120_000_000_000, 60.0, random.Random(1))
    assert Counter(index for _, index in times) == dict.fromkeys(range(5), 4)
    assert times == sorted(times)
