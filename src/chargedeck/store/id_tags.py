"""Id tags the operator registered, and how an idTag a charger presents finds its tag.

Lookups ignore case (OCPP 1.6 §7.15: IdToken is a CiString20). A tag registered with the UID
printed on its card (``card_uid``: canonical upper-case hex, printed byte order) also answers to
the idTag a charger sends for that card, as printed or byte-reversed (wallbox-field-notes G8,
domain/card_uids.py). No two tags may answer to the same idTag: a charger could not tell them
apart, so adding or changing a tag that would is refused with ``AlreadyExists``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from chargedeck.domain.card_uids import ByteOrder, CardUid, candidate_uids, id_tag_for
from chargedeck.domain.ids import ChargePointId, ConnectorId, IdTag
from chargedeck.store._convert import to_record, to_records
from chargedeck.store.engine import Database, dialect_insert
from chargedeck.store.errors import AlreadyExists, NotFound
from chargedeck.store.records import IdTagRecord
from chargedeck.store.schema import id_tags, transactions, unknown_id_tags

__all__ = ["IdTagChanges", "IdTagGroupRecord", "IdTagMatch", "IdTags", "id_tag_key"]

_T = id_tags.c
_RECORD_COLUMNS = tuple(column for column in id_tags.c if column.name != "id_tag_key")
_SELECT_BY_KEY = sa.select(*_RECORD_COLUMNS).where(_T.id_tag_key == sa.bindparam("key"))

# Authorize's lookup: the tag and, in the same query, the record of its parentIdTag when the
# operator registered the parent as a tag too (a group: domain/id_tags.py IdTagGroup). The
# group comes from correlated subqueries, one index lookup per matched row, not from a join:
# on PostgreSQL a join let the planner hash the whole table when its row estimates were off (a
# table just filled, not yet analyzed: 38 ms instead of 0.1 ms per Authorize, measured with
# bench/authorize.py).
_member = id_tags.alias("member")
_group = id_tags.alias("grp")


def _group_column(column: sa.ColumnElement[Any], name: str) -> sa.Label[Any]:
    return (
        sa.select(column)
        .where(_group.c.id_tag_key == sa.func.upper(_member.c.parent_id_tag))
        .correlate(_member)
        .scalar_subquery()
        .label(name)
    )


_MATCH_COLUMNS = (
    *(_member.c[column.name] for column in _RECORD_COLUMNS),
    _member.c.id_tag_key,
    _group_column(_group.c.id_tag, "group_id_tag"),
    _group_column(_group.c.blocked, "group_blocked"),
    _group_column(_group.c.expiry_date, "group_expiry_date"),
)
_MATCH_BY_KEY = sa.select(*_MATCH_COLUMNS).where(_member.c.id_tag_key == sa.bindparam("key"))
# Indexed on both sides of the OR (unique id_tag_key, ix_id_tags_card_uid).
_MATCH_BY_KEY_OR_CARD = sa.select(*_MATCH_COLUMNS).where(
    sa.or_(
        _member.c.id_tag_key == sa.bindparam("key"),
        _member.c.card_uid == sa.bindparam("uid_as_sent"),
        _member.c.card_uid == sa.bindparam("uid_reversed"),
    )
)


def id_tag_key(id_tag: str) -> str:
    """The case-insensitive key of an id tag: "04a2bc" and "04A2BC" are the same card."""
    return id_tag.upper()


def _answer_keys(key: str, card_uid: str | None) -> set[str]:
    """The keys of the idTags a tag answers to: its own and, for a card, the UID both ways."""
    keys = {key}
    if card_uid is not None:
        uid = CardUid(bytes.fromhex(card_uid))
        keys |= {uid.canonical, id_tag_for(uid, ByteOrder.REVERSED)}
    return keys


def _uid_forms(keys: Iterable[str]) -> set[str]:
    """The canonical card UIDs that would make a tag answer to one of ``keys``."""
    return {uid.canonical for key in keys for uid in candidate_uids(key)}


class IdTagGroupRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The registered tag named as another tag's parentIdTag: what its group status needs."""

    id_tag: IdTag
    blocked: bool
    expiry_date: datetime | None


class IdTagMatch(msgspec.Struct, frozen=True, kw_only=True):
    """The tag a presented idTag stands for, and its group when the parent is registered."""

    record: IdTagRecord
    group: IdTagGroupRecord | None
    by_card_uid: bool
    """True when it matched through the card UID, not the idTag itself."""


class IdTagChanges(msgspec.Struct, frozen=True, kw_only=True):
    """What a change sets; fields left UNSET keep their value, None clears one."""

    owner: str | msgspec.UnsetType | None = msgspec.UNSET
    label: str | msgspec.UnsetType | None = msgspec.UNSET
    notes: str | msgspec.UnsetType | None = msgspec.UNSET
    parent_id_tag: IdTag | msgspec.UnsetType | None = msgspec.UNSET
    expiry_date: datetime | msgspec.UnsetType | None = msgspec.UNSET
    blocked: bool | msgspec.UnsetType = msgspec.UNSET
    max_active_transactions: int | msgspec.UnsetType | None = msgspec.UNSET
    card_uid: str | msgspec.UnsetType | None = msgspec.UNSET
    """Canonical UID (``CardUid.canonical``), or None to forget the card."""


class IdTags:
    """Reads and writes of ``id_tags``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def get_id_tag(self, id_tag: str) -> IdTagRecord | None:
        """The tag registered under ``id_tag`` whatever the case, or None (no card matching:
        see :meth:`match_id_tag`)."""
        rows = await self._db.query(_SELECT_BY_KEY, {"key": id_tag_key(id_tag)})
        return None if not rows else to_record(IdTagRecord, rows[0])

    async def match_id_tag(self, id_tag: str) -> IdTagMatch | None:
        """The tag an idTag presented by a charger stands for, with its group, in one query.

        A tag registered under the idTag itself wins; else, when the idTag looks like a card
        UID (8, 14 or 20 hex digits), the tag whose card UID it is as sent, then byte-reversed.
        """
        key = id_tag_key(id_tag)
        candidates = candidate_uids(key)
        if candidates:
            as_sent = candidates[0].canonical
            reversed_uid = candidates[-1].canonical
            rows = await self._db.query(
                _MATCH_BY_KEY_OR_CARD,
                {"key": key, "uid_as_sent": as_sent, "uid_reversed": reversed_uid},
            )
        else:
            rows = await self._db.query(_MATCH_BY_KEY, {"key": key})
        if not rows:
            return None
        preference = [key, *(uid.canonical for uid in candidates)]
        row = min(
            rows,
            key=lambda row: preference.index(
                row.id_tag_key if row.id_tag_key == key else row.card_uid
            ),
        )
        group = (
            None
            if row.group_id_tag is None
            else IdTagGroupRecord(
                id_tag=row.group_id_tag,
                blocked=row.group_blocked,
                expiry_date=row.group_expiry_date,
            )
        )
        return IdTagMatch(
            record=to_record(IdTagRecord, row), group=group, by_card_uid=row.id_tag_key != key
        )

    async def add_id_tag(
        self,
        id_tag: IdTag,
        *,
        now: datetime,
        parent_id_tag: IdTag | None = None,
        expiry_date: datetime | None = None,
        blocked: bool = False,
        owner: str | None = None,
        card_uid: str | None = None,
        label: str | None = None,
        notes: str | None = None,
        max_active_transactions: int | None = None,
    ) -> IdTagRecord:
        """Register an id tag as written (``card_uid``: canonical UID of its card, if known).

        The tag leaves the unknown-tag inbox in the same transaction, under every idTag it
        answers to. Raises ``AlreadyExists`` if a tag exists under the same idTag in any case,
        or if another tag answers to an idTag this one would answer to.
        """
        key = id_tag_key(id_tag)
        statement = (
            dialect_insert(self._db.dialect_name, id_tags)
            .values(
                id_tag=id_tag,
                id_tag_key=key,
                parent_id_tag=parent_id_tag,
                expiry_date=expiry_date,
                blocked=blocked,
                owner=owner,
                created_at=now,
                card_uid=card_uid,
                label=label,
                notes=notes,
                max_active_transactions=max_active_transactions,
                updated_at=now,
            )
            .on_conflict_do_nothing()
            .returning(*_RECORD_COLUMNS)
        )
        async with self._db.write() as connection:
            keys = _answer_keys(key, card_uid)
            await self._refuse_ambiguous(connection, id_tag, keys, own_key=None)
            row = (await connection.execute(statement)).first()
            if row is None:
                raise AlreadyExists(f"id tag {id_tag!r} already exists")
            await self._leave_inbox(connection, keys)
        return to_record(IdTagRecord, row)

    async def update_id_tag(self, id_tag: str, changes: IdTagChanges, now: datetime) -> IdTagRecord:
        """Apply ``changes`` to the tag registered under ``id_tag`` (any case).

        Raises ``NotFound`` for an unknown tag and ``AlreadyExists`` if a new card UID would make
        it answer to an idTag another tag answers to.
        """
        key = id_tag_key(id_tag)
        values: dict[str, Any] = {
            name: value
            for name, value in msgspec.structs.asdict(changes).items()
            if value is not msgspec.UNSET
        }
        values["updated_at"] = now
        statement = (
            sa.update(id_tags)
            .where(_T.id_tag_key == key)
            .values(**values)
            .returning(*_RECORD_COLUMNS)
        )
        async with self._db.write() as connection:
            card_uid = values.get("card_uid")
            keys = _answer_keys(key, card_uid)
            if card_uid is not None:
                await self._refuse_ambiguous(connection, id_tag, keys, own_key=key)
            row = (await connection.execute(statement)).first()
            if row is None:
                raise NotFound(f"id tag {id_tag!r} is not registered")
            if card_uid is not None:
                await self._leave_inbox(connection, keys)
        return to_record(IdTagRecord, row)

    async def remove_id_tag(self, id_tag: str) -> IdTagRecord:
        """Delete the tag (its transactions keep their idTag and owner). Raises ``NotFound``."""
        statement = (
            sa.delete(id_tags)
            .where(_T.id_tag_key == id_tag_key(id_tag))
            .returning(*_RECORD_COLUMNS)
        )
        async with self._db.write() as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            raise NotFound(f"id tag {id_tag!r} is not registered")
        return to_record(IdTagRecord, row)

    async def list_id_tags(
        self, limit: int | None = None, after: str | None = None
    ) -> list[IdTagRecord]:
        """Id tags ordered case-insensitively; ``after``: the last id tag of the previous page."""
        statement = sa.select(*_RECORD_COLUMNS).order_by(_T.id_tag_key)
        if after is not None:
            statement = statement.where(_T.id_tag_key > id_tag_key(after))
        if limit is not None:
            statement = statement.limit(limit)
        async with self._db.read() as connection:
            return to_records(IdTagRecord, await connection.execute(statement))

    async def count_active_transactions(
        self,
        record: IdTagRecord,
        *,
        except_charge_point_id: ChargePointId,
        except_connector_id: ConnectorId,
    ) -> int:
        """Transactions of the tag (under any idTag it answers to) that no StopTransaction has
        closed, except those on the given connector.

        That connector is the one a StartTransaction is starting on: a connector runs one
        transaction at a time, so an open one there is either this very start repeated after a
        lost answer (which must get the same answer) or a stale one the charger forgot.
        """
        tx = transactions.c
        keys = _answer_keys(id_tag_key(record.id_tag), record.card_uid)
        statement = (
            sa.select(sa.func.count())
            .select_from(transactions)
            .where(
                tx.stopped_at.is_(None),
                sa.func.upper(tx.id_tag).in_(sorted(keys)),
                sa.not_(
                    sa.and_(
                        tx.charge_point_id == except_charge_point_id,
                        tx.connector_id == except_connector_id,
                    )
                ),
            )
        )
        rows = await self._db.query(statement)
        return int(rows[0][0])

    @staticmethod
    async def _refuse_ambiguous(
        connection: AsyncConnection, id_tag: str, keys: set[str], own_key: str | None
    ) -> None:
        """Raise ``AlreadyExists`` if another tag answers to one of ``keys``."""
        statement = sa.select(_T.id_tag, _T.id_tag_key, _T.card_uid).where(
            sa.or_(_T.id_tag_key.in_(sorted(keys)), _T.card_uid.in_(sorted(_uid_forms(keys))))
        )
        if own_key is not None:
            statement = statement.where(_T.id_tag_key != own_key)
        for other in (await connection.execute(statement)).all():
            if other.id_tag_key == id_tag_key(id_tag):
                raise AlreadyExists(f"id tag {id_tag!r} already exists")
            shared = sorted(keys & _answer_keys(other.id_tag_key, other.card_uid))
            raise AlreadyExists(
                f"id tag {id_tag!r} would answer to the idTag {shared[0]}, which id tag "
                f"{other.id_tag!r} answers to already"
                + (
                    f" (card UID {CardUid(bytes.fromhex(other.card_uid)).printed}, as printed or "
                    "byte-reversed)"
                    if other.card_uid is not None
                    else ""
                )
                + ": a charger could not tell the two apart"
            )

    @staticmethod
    async def _leave_inbox(connection: AsyncConnection, keys: set[str]) -> None:
        await connection.execute(
            sa.delete(unknown_id_tags).where(unknown_id_tags.c.id_tag_key.in_(sorted(keys)))
        )
