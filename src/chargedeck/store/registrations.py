"""What a charger's handshake needs from the store, one query per loop turn.

Every charger's WebSocket handshake needs to know whether the store knows it (OCPP-J 1.6 §3.2:
unknown ids may be refused with 404) and how it must authenticate (its security profile and
password hash, Security Whitepaper ed.3). After a server restart every charger reconnects at once;
one query per handshake through the read pool made 5,000 chargers take 25 s to connect and boot
(bench idle phase), against 7.7 s without the query: under that load each read took ~200 ms.
Lookups are answered by one ``WHERE id IN (...)`` query at a time, the way the batch writer
commits: a lookup made while a query runs joins the next one, so queries grow with the load.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa

from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId
from chargedeck.domain.security import ChargerSecurity, SecurityProfile
from chargedeck.store.engine import Database
from chargedeck.store.errors import StoreError
from chargedeck.store.schema import charge_points

# Ids per query: far below every database's bound-parameter limit.
_IDS_PER_QUERY: Final = 500


@dataclass(frozen=True, slots=True)
class ChargePointAccess:
    """A known charger's registration and how it must authenticate."""

    registration: Registration
    security: ChargerSecurity


_Answer = asyncio.Future[ChargePointAccess | None]
_COLUMNS = (
    charge_points.c.id,
    charge_points.c.registration,
    charge_points.c.security_profile,
    charge_points.c.pending_security_profile,
    charge_points.c.authorization_key_hash,
)


def _access(row: Any) -> ChargePointAccess:
    pending = row.pending_security_profile
    return ChargePointAccess(
        registration=Registration(row.registration),
        security=ChargerSecurity(
            security_profile=SecurityProfile(row.security_profile),
            pending_security_profile=None if pending is None else SecurityProfile(pending),
            authorization_key_hash=row.authorization_key_hash,
        ),
    )


class RegistrationLookup:
    """``await lookup.access_of(id)``: the charger's registration and security settings, or None
    if the store does not know it."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._waiting: dict[ChargePointId, list[_Answer]] = {}
        self._flush: asyncio.Task[None] | None = None

    async def access_of(self, charge_point_id: ChargePointId) -> ChargePointAccess | None:
        """Raises ``StoreUnavailable`` when the query fails."""
        loop = asyncio.get_running_loop()
        answer: _Answer = loop.create_future()
        self._waiting.setdefault(charge_point_id, []).append(answer)
        if self._flush is None:
            self._flush = loop.create_task(self._answer_waiting())
        return await answer

    async def _answer_waiting(self) -> None:
        """Query for everything waiting, again and again until nothing waits."""
        try:
            # One loop turn first, so the lookups of handshakes already read join this query.
            await asyncio.sleep(0)
            while self._waiting:
                waiting, self._waiting = self._waiting, {}
                await self._answer(waiting)
        finally:
            self._flush = None

    async def _answer(self, waiting: dict[ChargePointId, list[_Answer]]) -> None:
        ids = list(waiting)
        found: dict[str, ChargePointAccess] = {}
        try:
            for start in range(0, len(ids), _IDS_PER_QUERY):
                statement = sa.select(*_COLUMNS).where(
                    charge_points.c.id.in_(ids[start : start + _IDS_PER_QUERY])
                )
                for row in await self._db.query(statement):
                    found[row.id] = _access(row)
        except StoreError as exc:
            for answers in waiting.values():
                for answer in answers:
                    if not answer.done():
                        answer.set_exception(exc)
            return
        for charge_point_id, answers in waiting.items():
            for answer in answers:
                if not answer.done():
                    answer.set_result(found.get(charge_point_id))
