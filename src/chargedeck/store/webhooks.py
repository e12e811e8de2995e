"""Webhook subscriptions and their delivery log (tables webhook_subscriptions and
webhook_deliveries, migration 0006); the worker of csms/webhooks.py sends what is stored here.

A delivery is one event for one subscription, created once (unique subscription and event id:
inserting it again is ignored), then claimed by the node that sends it (``claimed_by``,
``claimed_until``) so that nodes sharing the database never send one row at the same time; a
claim that ran out (its node died) is taken by the next node that looks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from chargedeck.store._convert import to_record, to_records
from chargedeck.store.engine import Database, dialect_insert
from chargedeck.store.errors import Conflict, NotFound
from chargedeck.store.schema import webhook_deliveries, webhook_subscriptions

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
ALL_EVENT_TYPES = "*"


class WebhookRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    name: str
    url: str
    secret: str
    """HMAC-SHA256 key of the signature header; shown to the operator once, at creation."""
    event_types: str
    """Comma-separated event types, or ``*`` for every type."""
    charge_point_id: str | None
    enabled: bool
    created_at: datetime

    def wants(self, event_type: str, charge_point_id: str) -> bool:
        """Whether an event of this type about this charger goes to this subscription."""
        if not self.enabled:
            return False
        if self.charge_point_id is not None and self.charge_point_id != charge_point_id:
            return False
        return self.event_types == ALL_EVENT_TYPES or event_type in self.event_types.split(",")


class NewDelivery(msgspec.Struct, frozen=True, kw_only=True):
    subscription_id: int
    event_id: str
    event_type: str
    body: str
    """The JSON POSTed, exactly as signed."""


class DeliveryRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    subscription_id: int
    event_id: str
    event_type: str
    body: str
    status: str
    """pending, delivered or failed."""
    attempts: int
    next_attempt_at: datetime | None
    claimed_by: str | None
    claimed_until: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


_W = webhook_subscriptions.c
_D = webhook_deliveries.c
_WEBHOOK_COLUMNS = tuple(webhook_subscriptions.c)
_DELIVERY_COLUMNS = tuple(webhook_deliveries.c)


class Webhooks:
    """Subscriptions (operator-managed) and deliveries (worker-managed)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # ---- subscriptions ------------------------------------------------------------------------

    async def add_webhook(
        self,
        *,
        name: str,
        url: str,
        secret: str,
        event_types: str,
        charge_point_id: str | None,
        enabled: bool,
        now: datetime,
    ) -> WebhookRecord:
        """Raises ``Conflict`` if ``name`` is taken."""
        async with self._db.write() as connection:
            await _check_name_free(connection, name, None)
            row = (
                await connection.execute(
                    sa.insert(webhook_subscriptions)
                    .values(
                        name=name,
                        url=url,
                        secret=secret,
                        event_types=event_types,
                        charge_point_id=charge_point_id,
                        enabled=enabled,
                        created_at=now,
                    )
                    .returning(*_WEBHOOK_COLUMNS)
                )
            ).one()
        return to_record(WebhookRecord, row)

    async def list_webhooks(self) -> list[WebhookRecord]:
        """Every subscription by id (an operator has a handful)."""
        rows = await self._db.query(sa.select(*_WEBHOOK_COLUMNS).order_by(_W.id))
        return [to_record(WebhookRecord, row) for row in rows]

    async def enabled_webhooks(self) -> list[WebhookRecord]:
        rows = await self._db.query(
            sa.select(*_WEBHOOK_COLUMNS).where(_W.enabled.is_(True)).order_by(_W.id)
        )
        return [to_record(WebhookRecord, row) for row in rows]

    async def get_webhook(self, webhook_id: int) -> WebhookRecord | None:
        rows = await self._db.query(sa.select(*_WEBHOOK_COLUMNS).where(_W.id == webhook_id))
        return to_record(WebhookRecord, rows[0]) if rows else None

    async def find_webhook(self, name_or_id: str) -> WebhookRecord | None:
        """By name, else by a decimal id (the CLI's argument)."""
        condition = _W.name == name_or_id
        if name_or_id.isascii() and name_or_id.isdigit() and len(name_or_id) < 10:
            condition = sa.or_(condition, _W.id == int(name_or_id))
        rows = await self._db.query(
            sa.select(*_WEBHOOK_COLUMNS).where(condition).order_by((_W.name == name_or_id).desc())
        )
        return to_record(WebhookRecord, rows[0]) if rows else None

    async def update_webhook(
        self, webhook_id: int, changes: dict[str, str | bool | None]
    ) -> WebhookRecord:
        """Set the given columns (name, url, event_types, charge_point_id, enabled). Raises
        ``NotFound`` for an unknown id, ``Conflict`` for a name taken by another webhook."""
        async with self._db.write() as connection:
            name = changes.get("name")
            if isinstance(name, str):
                await _check_name_free(connection, name, webhook_id)
            statement = (
                sa.update(webhook_subscriptions)
                .where(_W.id == webhook_id)
                .values(changes or {_W.id: _W.id})  # nothing to change: read it back
            )
            row = (await connection.execute(statement.returning(*_WEBHOOK_COLUMNS))).one_or_none()
        if row is None:
            raise NotFound(f"there is no webhook {webhook_id}")
        return to_record(WebhookRecord, row)

    async def delete_webhook(self, webhook_id: int) -> WebhookRecord:
        """The subscription and its delivery log. Raises ``NotFound``."""
        async with self._db.write() as connection:
            await connection.execute(
                sa.delete(webhook_deliveries).where(_D.subscription_id == webhook_id)
            )
            row = (
                await connection.execute(
                    sa.delete(webhook_subscriptions)
                    .where(_W.id == webhook_id)
                    .returning(*_WEBHOOK_COLUMNS)
                )
            ).one_or_none()
        if row is None:
            raise NotFound(f"there is no webhook {webhook_id}")
        return to_record(WebhookRecord, row)

    # ---- deliveries ---------------------------------------------------------------------------

    async def add_deliveries(self, deliveries: Sequence[NewDelivery], now: datetime) -> int:
        """Store pending deliveries in one transaction; one that exists already (same
        subscription and event id) is left as it is. Returns how many were new."""
        if not deliveries:
            return 0
        # One statement executed for many rows (executemany, SQLAlchemy's "insertmanyvalues"):
        # compiled once and cached, where a VALUES list of N rows would be compiled for every
        # N (measured on SQLite, 1000 events x 2 webhooks a batch: 2,100 against 47,000
        # deliveries/s).
        statement = (
            dialect_insert(self._db.dialect_name, webhook_deliveries)
            .on_conflict_do_nothing(index_elements=[_D.subscription_id, _D.event_id])
            .returning(_D.id)
        )
        rows = [
            {
                **msgspec.structs.asdict(delivery),
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for delivery in deliveries
        ]
        async with self._db.write() as connection:
            return len((await connection.execute(statement, rows)).all())

    async def add_delivery(self, delivery: NewDelivery, now: datetime) -> DeliveryRecord:
        """One pending delivery (a test ping), as stored."""
        async with self._db.write() as connection:
            row = (
                await connection.execute(
                    sa.insert(webhook_deliveries)
                    .values(
                        **msgspec.structs.asdict(delivery),
                        status=PENDING,
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                    .returning(*_DELIVERY_COLUMNS)
                )
            ).one()
        return to_record(DeliveryRecord, row)

    async def claim_due(
        self, node: str, now: datetime, claimed_until: datetime, limit: int
    ) -> list[tuple[DeliveryRecord, WebhookRecord]]:
        """Claim up to ``limit`` pending deliveries due by ``now`` of enabled webhooks that no
        node holds (or whose claim ran out), for ``node`` until ``claimed_until``; with their
        webhook. The conditions are repeated in the UPDATE so that two nodes racing for one row
        cannot both win it (PostgreSQL re-checks them on the row it locked; SQLite has one
        writer)."""
        if limit <= 0:
            return []
        claimable = sa.and_(
            _D.status == PENDING,
            _D.next_attempt_at <= now,
            sa.or_(_D.claimed_until.is_(None), _D.claimed_until < now),
        )
        due = (
            sa.select(_D.id)
            .join(webhook_subscriptions, _W.id == _D.subscription_id)
            .where(claimable, _W.enabled.is_(True))
            .order_by(_D.next_attempt_at, _D.id)
            .limit(limit)
        )
        if self._db.dialect_name == "postgresql":
            due = due.with_for_update(of=webhook_deliveries, skip_locked=True)
        async with self._db.write() as connection:
            rows = (
                await connection.execute(
                    sa.update(webhook_deliveries)
                    .where(_D.id.in_(due.scalar_subquery()), claimable)
                    .values(claimed_by=node, claimed_until=claimed_until)
                    .returning(*_DELIVERY_COLUMNS)
                )
            ).all()
            deliveries = [to_record(DeliveryRecord, row) for row in rows]
            if not deliveries:
                return []
            hooks = {
                row.id: to_record(WebhookRecord, row)
                for row in await connection.execute(
                    sa.select(*_WEBHOOK_COLUMNS).where(
                        _W.id.in_({d.subscription_id for d in deliveries})
                    )
                )
            }
        return [(d, hooks[d.subscription_id]) for d in sorted(deliveries, key=lambda d: d.id)]

    async def record_attempt(
        self,
        delivery_id: int,
        node: str,
        *,
        status: str,
        attempts: int,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
        now: datetime,
    ) -> bool:
        """What an attempt of ``node`` came to; the claim is released. False if the row is no
        longer ``node``'s (deleted, or its claim ran out and another node took it)."""
        async with self._db.write() as connection:
            result = await connection.execute(
                sa.update(webhook_deliveries)
                .where(_D.id == delivery_id, _D.claimed_by == node, _D.status == PENDING)
                .values(
                    status=status,
                    attempts=attempts,
                    last_status_code=status_code,
                    last_error=error,
                    next_attempt_at=next_attempt_at,
                    claimed_by=None,
                    claimed_until=None,
                    delivered_at=now if status == DELIVERED else None,
                )
            )
        return result.rowcount == 1

    async def release_claims(self, node: str) -> int:
        """Give up ``node``'s claims (it stops): its pending rows are sent by whoever comes next
        without waiting for the claims to run out."""
        async with self._db.write() as connection:
            result = await connection.execute(
                sa.update(webhook_deliveries)
                .where(_D.claimed_by == node, _D.status == PENDING)
                .values(claimed_by=None, claimed_until=None)
            )
        return result.rowcount

    async def next_due(self, now: datetime) -> datetime | None:
        """When the next pending delivery of an enabled webhook may be claimed: its next attempt,
        or, while a node holds it, the end of that claim. None: nothing pending."""
        may_claim_at = sa.case((_D.claimed_until > now, _D.claimed_until), else_=_D.next_attempt_at)
        rows = await self._db.query(
            sa.select(sa.func.min(may_claim_at))
            .select_from(
                webhook_deliveries.join(webhook_subscriptions, _W.id == _D.subscription_id)
            )
            .where(_D.status == PENDING, _W.enabled.is_(True))
        )
        value = rows[0][0] if rows else None
        return value if isinstance(value, datetime) else None

    async def list_deliveries(
        self, webhook_id: int, *, limit: int, before_id: int | None = None
    ) -> list[DeliveryRecord]:
        """A webhook's deliveries, newest first."""
        statement = sa.select(*_DELIVERY_COLUMNS).where(_D.subscription_id == webhook_id)
        if before_id is not None:
            statement = statement.where(_D.id < before_id)
        async with self._db.read() as connection:
            result = await connection.execute(statement.order_by(_D.id.desc()).limit(limit))
            return to_records(DeliveryRecord, result)

    async def get_delivery(self, delivery_id: int) -> DeliveryRecord | None:
        rows = await self._db.query(sa.select(*_DELIVERY_COLUMNS).where(_D.id == delivery_id))
        return to_record(DeliveryRecord, rows[0]) if rows else None

    async def retry_delivery(self, delivery_id: int, now: datetime) -> DeliveryRecord:
        """Send a failed or delivered delivery again, as a new series of attempts. Raises
        ``NotFound``, or ``Conflict`` when it is still pending (it will be retried anyway)."""
        async with self._db.write() as connection:
            row = (
                await connection.execute(
                    sa.update(webhook_deliveries)
                    .where(_D.id == delivery_id, _D.status != PENDING)
                    .values(
                        status=PENDING,
                        attempts=0,
                        next_attempt_at=now,
                        claimed_by=None,
                        claimed_until=None,
                        delivered_at=None,
                    )
                    .returning(*_DELIVERY_COLUMNS)
                )
            ).one_or_none()
            if row is None:
                exists = (
                    await connection.execute(sa.select(_D.id).where(_D.id == delivery_id))
                ).first()
                if exists is None:
                    raise NotFound(f"there is no webhook delivery {delivery_id}")
                raise Conflict(
                    f"webhook delivery {delivery_id} is still pending: it is retried by itself"
                )
        return to_record(DeliveryRecord, row)


async def _check_name_free(connection: AsyncConnection, name: str, webhook_id: int | None) -> None:
    statement = sa.select(_W.id).where(_W.name == name)
    if webhook_id is not None:
        statement = statement.where(_W.id != webhook_id)
    if (await connection.execute(statement)).first() is not None:
        raise Conflict(f"a webhook named {name!r} exists already; choose another name")
