"""One row of the command table: an action the operator may send, and its rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chargedeck.ocpp.v16.base import Message

if TYPE_CHECKING:
    from chargedeck.csms.context import CsmsServices

Check = Callable[["CsmsServices", str, Any], str | None]
"""Runs before a command is sent, with the charge point id and the request: returns the sentence
why the request must not be sent (``send_command`` raises CommandNotAllowed with it), or None.
It may log a warning the operator should see."""


@dataclass(frozen=True)
class Command:
    """An operator command: the OCPP action, its request type and when it may be sent."""

    action: str
    request: type[Message]
    needs_accepted_boot: bool = False
    """OCPP 1.6 §4.2.1: RemoteStart/RemoteStop are not allowed while the charger is Pending."""
    check: Check | None = None
    """What must hold of the request before it is sent (e.g. InstallCertificate: one PEM
    certificate); checked before the charger is looked up."""
