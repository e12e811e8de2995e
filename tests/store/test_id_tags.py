"""Id tags: stored as written, found whatever the case (OCPP 1.6 §7.15 IdToken)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chargedeck.domain.ids import IdTag
from chargedeck.store import Store
from chargedeck.store.errors import AlreadyExists


async def test_id_tag_lookup_ignores_case(store: Store, now: datetime) -> None:
    await store.id_tags.add_id_tag(IdTag("04a2bc19"), now=now, owner="Ada")
    found = await store.id_tags.get_id_tag("04A2BC19")
    assert found is not None
    assert found.owner == "Ada"


async def test_id_tag_is_kept_as_written(store: Store, now: datetime) -> None:
    await store.id_tags.add_id_tag(IdTag("04a2bc19"), now=now)
    found = await store.id_tags.get_id_tag("04a2BC19")
    assert found is not None
    assert found.id_tag == "04a2bc19"


async def test_unknown_id_tag_is_none(store: Store) -> None:
    assert await store.id_tags.get_id_tag("unknown") is None


async def test_same_id_tag_in_another_case_raises_already_exists(
    store: Store, now: datetime
) -> None:
    await store.id_tags.add_id_tag(IdTag("abc"), now=now)
    with pytest.raises(AlreadyExists):
        await store.id_tags.add_id_tag(IdTag("ABC"), now=now)


async def test_id_tag_keeps_parent_expiry_and_blocked(store: Store, now: datetime) -> None:
    expiry = now + timedelta(days=30)
    added = await store.id_tags.add_id_tag(
        IdTag("card"), now=now, parent_id_tag=IdTag("group"), expiry_date=expiry, blocked=True
    )
    assert (added.parent_id_tag, added.expiry_date, added.blocked) == ("group", expiry, True)
    assert await store.id_tags.get_id_tag("CARD") == added


async def test_id_tags_are_listed_case_insensitively_ordered(store: Store, now: datetime) -> None:
    for tag in ("b", "A", "c"):
        await store.id_tags.add_id_tag(IdTag(tag), now=now)
    assert [record.id_tag for record in await store.id_tags.list_id_tags()] == ["A", "b", "c"]
