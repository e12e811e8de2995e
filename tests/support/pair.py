"""A CSMS session and a charger session joined in memory, under a manual clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from chargedeck.ocpp.session import Event, OcppSession, Role


@dataclass
class SessionPair:
    """Moves frames between the two sessions on demand; time only moves when a test says so."""

    csms: OcppSession = field(default_factory=lambda: OcppSession(Role.CSMS, call_timeout_s=30))
    charger: OcppSession = field(
        default_factory=lambda: OcppSession(Role.CHARGE_POINT, call_timeout_s=30)
    )
    now: float = 0.0

    def to_charger(self) -> list[Event]:
        """Deliver everything the CSMS has written to the charger."""
        events: list[Event] = []
        for frame in self.csms.frames_to_send():
            events.extend(self.charger.receive_message(frame, self.now))
        return events

    def to_csms(self) -> list[Event]:
        """Deliver everything the charger has written to the CSMS."""
        events: list[Event] = []
        for frame in self.charger.frames_to_send():
            events.extend(self.csms.receive_message(frame, self.now))
        return events

    def advance(self, seconds: float) -> tuple[list[Event], list[Event]]:
        """Move time; returns the timer events of (csms, charger)."""
        self.now += seconds
        return self.csms.handle_timers(self.now), self.charger.handle_timers(self.now)
