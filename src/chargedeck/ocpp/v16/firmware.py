"""Firmware Management profile messages (OCPP 1.6 §3.3, §4.4, §4.5, §5.9, §5.19).

The schemas give the two ``location`` fields ``format: uri``, which draft-04 makes advisory;
we keep them as plain strings (stored as sent) and leave checking a URL to the sender.
"""

from __future__ import annotations

from chargedeck.ocpp.v16.base import CiString255, DateTime, Message
from chargedeck.ocpp.v16.enums import DiagnosticsStatus, FirmwareStatus


class DiagnosticsStatusNotificationRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.17: progress of a diagnostics upload."""

    status: DiagnosticsStatus


class DiagnosticsStatusNotificationResponse(Message, frozen=True):
    """OCPP 1.6 §6.18."""


class FirmwareStatusNotificationRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.19: progress of a firmware update."""

    status: FirmwareStatus


class FirmwareStatusNotificationResponse(Message, frozen=True):
    """OCPP 1.6 §6.20."""


class GetDiagnosticsRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.25: upload diagnostics to ``location``, retry times in seconds."""

    location: str
    retries: int | None = None
    retry_interval: int | None = None
    start_time: DateTime | None = None
    stop_time: DateTime | None = None


class GetDiagnosticsResponse(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.26: absent ``file_name`` means no diagnostics are available."""

    file_name: CiString255 | None = None


class UpdateFirmwareRequest(Message, frozen=True, kw_only=True):
    """OCPP 1.6 §6.55: download firmware from ``location`` from ``retrieve_date`` on."""

    location: str
    retries: int | None = None
    retrieve_date: DateTime
    retry_interval: int | None = None


class UpdateFirmwareResponse(Message, frozen=True):
    """OCPP 1.6 §6.56: empty; progress comes as FirmwareStatusNotification."""
