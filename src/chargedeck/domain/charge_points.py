"""Charge point registration states and the policy for chargers we do not know yet."""

from __future__ import annotations

import enum


class Registration(enum.StrEnum):
    """Whether the operator has adopted a charge point.

    ``pending`` chargers sit in the adoption inbox: their BootNotification is answered Pending
    (OCPP 1.6 §4.2.1) until the operator adopts them.
    """

    REGISTERED = "registered"
    PENDING = "pending"


class UnknownChargePointPolicy(enum.StrEnum):
    """What to do with a charger id that is not in the store (setting ``unknown_charge_points``).

    ``inbox`` (default) lets it connect and boot as Pending, listed for adoption; ``accept``
    registers it on its first BootNotification; ``reject`` refuses the WebSocket handshake with
    HTTP 404, as OCPP-J 1.6 §3.2 recommends for unknown identities.
    """

    INBOX = "inbox"
    ACCEPT = "accept"
    REJECT = "reject"
