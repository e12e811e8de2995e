"""One row of the command table: an action the operator may send, and its rule."""

from __future__ import annotations

from dataclasses import dataclass

from chargedeck.ocpp.v16.base import Message


@dataclass(frozen=True)
class Command:
    """An operator command: the OCPP action, its request type and when it may be sent."""

    action: str
    request: type[Message]
    needs_accepted_boot: bool = False
    """OCPP 1.6 §4.2.1: RemoteStart/RemoteStop are not allowed while the charger is Pending."""
