"""Charge points: registration, adoption and the record of their BootNotifications."""

from __future__ import annotations

from datetime import datetime

import msgspec
import sqlalchemy as sa

from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId
from chargedeck.domain.security import SecurityProfile
from chargedeck.store._convert import to_record, to_records
from chargedeck.store.engine import Database, dialect_insert
from chargedeck.store.errors import AlreadyExists, NotFound
from chargedeck.store.records import BootNotificationRecord, ChargePointRecord
from chargedeck.store.schema import boot_notifications, charge_points
from chargedeck.store.types import UtcDateTime

_T = charge_points.c
_SELECT_ONE = sa.select(charge_points).where(_T.id == sa.bindparam("id"))


class ChargePoints:
    """Reads and writes of ``charge_points`` and ``boot_notifications``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def get_charge_point(self, charge_point_id: ChargePointId) -> ChargePointRecord | None:
        """The charge point, or None if the store does not know it."""
        rows = await self._db.query(_SELECT_ONE, {"id": charge_point_id})
        return None if not rows else to_record(ChargePointRecord, rows[0])

    async def add_charge_point(
        self,
        charge_point_id: ChargePointId,
        registration: Registration,
        now: datetime,
        *,
        security_profile: SecurityProfile = SecurityProfile.NONE,
        authorization_key_hash: str | None = None,
    ) -> ChargePointRecord:
        """Add a charge point the operator declared; raises ``AlreadyExists`` if it is known."""
        statement = (
            dialect_insert(self._db.dialect_name, charge_points)
            .values(
                id=charge_point_id,
                registration=registration.value,
                created_at=now,
                security_profile=int(security_profile),
                authorization_key_hash=authorization_key_hash,
                authorization_key_set_at=None if authorization_key_hash is None else now,
            )
            .on_conflict_do_nothing(index_elements=[_T.id])
            .returning(*charge_points.c)
        )
        async with self._db.write() as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            raise AlreadyExists(f"charge point {charge_point_id!r} exists already")
        return to_record(ChargePointRecord, row)

    async def adopt_charge_point(
        self, charge_point_id: ChargePointId, now: datetime
    ) -> ChargePointRecord:
        """Register a pending charger; its next BootNotification is Accepted.

        Adopting a registered charger changes nothing. Raises ``NotFound`` for an unknown id.
        """
        statement = (
            sa.update(charge_points)
            .where(_T.id == charge_point_id)
            .values(
                registration=Registration.REGISTERED.value,
                adopted_at=sa.func.coalesce(
                    _T.adopted_at, sa.bindparam("now", now, type_=UtcDateTime())
                ),
            )
            .returning(*charge_points.c)
        )
        async with self._db.write() as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            raise NotFound(f"charge point {charge_point_id!r} is not in the store")
        return to_record(ChargePointRecord, row)

    async def set_authorization_key(
        self, charge_point_id: ChargePointId, key_hash: str | None, now: datetime
    ) -> ChargePointRecord:
        """Store the hash of the charger's new password (None: remove it). Raises ``NotFound``."""
        return await self._update(
            charge_point_id,
            authorization_key_hash=key_hash,
            authorization_key_set_at=None if key_hash is None else now,
        )

    async def set_security_profile(
        self,
        charge_point_id: ChargePointId,
        profile: SecurityProfile,
        pending: SecurityProfile | None,
    ) -> ChargePointRecord:
        """Set the profile a charger must use and the raised one it may also use until it has
        connected with it. Raises ``NotFound``."""
        return await self._update(
            charge_point_id,
            security_profile=int(profile),
            pending_security_profile=None if pending is None else int(pending),
        )

    async def promote_pending_profile(
        self, charge_point_id: ChargePointId, profile: SecurityProfile
    ) -> bool:
        """The charger connected with its pending ``profile``: from now on only that one counts
        (Whitepaper A05: never accept the lower profile again). False if it was not pending."""
        statement = (
            sa.update(charge_points)
            .where(_T.id == charge_point_id, _T.pending_security_profile == int(profile))
            .values(security_profile=int(profile), pending_security_profile=None)
        )
        async with self._db.write() as connection:
            result = await connection.execute(statement)
        return bool(result.rowcount)

    async def set_authorization_policy(
        self,
        charge_point_id: ChargePointId,
        *,
        default_owner: str | msgspec.UnsetType | None = msgspec.UNSET,
        free_vend: bool | msgspec.UnsetType = msgspec.UNSET,
        free_vend_id_tag: str | msgspec.UnsetType | None = msgspec.UNSET,
    ) -> ChargePointRecord:
        """Set who charges without a card (``default_owner``) and the free-vend policy; UNSET
        keeps a value (give at least one). Raises ``NotFound``."""
        values = {
            name: value
            for name, value in (
                ("default_owner", default_owner),
                ("free_vend", free_vend),
                ("free_vend_id_tag", free_vend_id_tag),
            )
            if value is not msgspec.UNSET
        }
        return await self._update(charge_point_id, **values)

    async def _update(self, charge_point_id: ChargePointId, **values: object) -> ChargePointRecord:
        statement = (
            sa.update(charge_points)
            .where(_T.id == charge_point_id)
            .values(**values)
            .returning(*charge_points.c)
        )
        async with self._db.write() as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            raise NotFound(f"charge point {charge_point_id!r} is not in the store")
        return to_record(ChargePointRecord, row)

    async def list_charge_points(
        self,
        registration: Registration | None = None,
        *,
        after_id: str | None = None,
        limit: int | None = None,
    ) -> list[ChargePointRecord]:
        """Every charge point (or those with ``registration``), ordered by id; ``limit`` of them
        after ``after_id`` for a page (cursor pagination: the last id of the previous page)."""
        statement = sa.select(charge_points).order_by(_T.id)
        if registration is not None:
            statement = statement.where(_T.registration == registration.value)
        if after_id is not None:
            statement = statement.where(_T.id > after_id)
        if limit is not None:
            statement = statement.limit(limit)
        async with self._db.read() as connection:
            result = await connection.execute(statement)
            return to_records(ChargePointRecord, result)

    async def list_boot_notifications(
        self, charge_point_id: ChargePointId, limit: int = 50
    ) -> list[BootNotificationRecord]:
        """The charger's BootNotifications, newest first."""
        statement = (
            sa.select(boot_notifications)
            .where(boot_notifications.c.charge_point_id == charge_point_id)
            .order_by(boot_notifications.c.id.desc())
            .limit(limit)
        )
        async with self._db.read() as connection:
            return to_records(BootNotificationRecord, await connection.execute(statement))
