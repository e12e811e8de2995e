"""The Smart Charging profile's commands (OCPP 1.6 §5.5 ClearChargingProfile, §5.7
GetCompositeSchedule, §5.16 SetChargingProfile), sent as they are: the limit engine and the
acceptance check (csms/acceptance.py) build the profiles.
"""

from __future__ import annotations

from chargedeck.csms.commands.command import Command
from chargedeck.ocpp.v16 import smart_charging

SMART_CHARGING_COMMANDS: tuple[Command, ...] = (
    Command("ClearChargingProfile", smart_charging.ClearChargingProfileRequest),
    Command("GetCompositeSchedule", smart_charging.GetCompositeScheduleRequest),
    Command("SetChargingProfile", smart_charging.SetChargingProfileRequest),
)
