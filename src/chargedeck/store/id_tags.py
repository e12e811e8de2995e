"""Id tags the operator registered; lookups ignore case (OCPP 1.6 §7.15: IdToken is a
CiString20)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from chargedeck.domain.ids import IdTag
from chargedeck.store._convert import to_record, to_records
from chargedeck.store.engine import Database, dialect_insert
from chargedeck.store.errors import AlreadyExists
from chargedeck.store.records import IdTagRecord
from chargedeck.store.schema import id_tags

_T = id_tags.c
_COLUMNS = (_T.id_tag, _T.parent_id_tag, _T.expiry_date, _T.blocked, _T.owner, _T.created_at)
_SELECT_BY_KEY = sa.select(*_COLUMNS).where(_T.id_tag_key == sa.bindparam("key"))


def id_tag_key(id_tag: str) -> str:
    """The case-insensitive key of an id tag: "04a2bc" and "04A2BC" are the same card."""
    return id_tag.upper()


class IdTags:
    """Reads and writes of ``id_tags``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def get_id_tag(self, id_tag: str) -> IdTagRecord | None:
        """The id tag whatever the case it is written in, or None if unknown."""
        async with self._db.read() as connection:
            result = await connection.execute(_SELECT_BY_KEY, {"key": id_tag_key(id_tag)})
            row = result.first()
        return None if row is None else to_record(IdTagRecord, row)

    async def add_id_tag(
        self,
        id_tag: IdTag,
        *,
        now: datetime,
        parent_id_tag: IdTag | None = None,
        expiry_date: datetime | None = None,
        blocked: bool = False,
        owner: str | None = None,
    ) -> IdTagRecord:
        """Register an id tag as written; raises ``AlreadyExists`` if it exists in any case."""
        statement = (
            dialect_insert(self._db.dialect_name, id_tags)
            .values(
                id_tag=id_tag,
                id_tag_key=id_tag_key(id_tag),
                parent_id_tag=parent_id_tag,
                expiry_date=expiry_date,
                blocked=blocked,
                owner=owner,
                created_at=now,
            )
            .on_conflict_do_nothing()
            .returning(*_COLUMNS)
        )
        async with self._db.write() as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            raise AlreadyExists(f"id tag {id_tag!r} exists already (id tags ignore case)")
        return to_record(IdTagRecord, row)

    async def list_id_tags(self) -> list[IdTagRecord]:
        """Every id tag, ordered case-insensitively."""
        statement = sa.select(*_COLUMNS).order_by(_T.id_tag_key)
        async with self._db.read() as connection:
            return to_records(IdTagRecord, await connection.execute(statement))
