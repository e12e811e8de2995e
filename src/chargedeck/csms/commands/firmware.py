"""The Firmware Management profile's commands (OCPP 1.6 §5.9 GetDiagnostics, §5.19
UpdateFirmware).

``csms/firmware.py`` and ``csms/diagnostics.py`` are the operations that give each command a
file URL on ChargeDeck's file endpoint and track the charger's progress as a job; sent by hand,
the charger's notifications are stored but belong to no job.
"""

from __future__ import annotations

from chargedeck.csms.commands.command import Command
from chargedeck.ocpp.v16 import firmware

FIRMWARE_COMMANDS: tuple[Command, ...] = (
    Command("GetDiagnostics", firmware.GetDiagnosticsRequest),
    Command("UpdateFirmware", firmware.UpdateFirmwareRequest),
)
