"""Id tags by card UID, the unknown-tag inbox and who charges without a card, on SQLite and
PostgreSQL (tests/store/conftest.py runs each test on both)."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
import pytest

from chargedeck.domain.card_uids import parse_printed_uid
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId, ConnectorId, IdTag, TransactionId
from chargedeck.store import Store
from chargedeck.store.errors import AlreadyExists, NotFound
from chargedeck.store.id_tags import IdTagChanges
from chargedeck.store.records import StartTransactionRecord, StopTransactionRecord

CP = ChargePointId("CP-AUTH")
# A 7-byte card as printed, and as a Wallbox sends it (little-endian, setup guide).
PRINTED = "04:A2:2B:1A:5C:3D:80"
CANONICAL = "04A22B1A5C3D80"
REVERSED = "803D5C1A2BA204"


async def add_card(store: Store, now: datetime, **values: object) -> None:
    await store.id_tags.add_id_tag(
        IdTag(CANONICAL), now=now, card_uid=parse_printed_uid(PRINTED).canonical, **values
    )


async def test_a_card_registered_by_uid_is_found_by_the_byte_reversed_id_tag(
    store: Store, now: datetime
) -> None:
    await add_card(store, now, owner="Ana")
    match = await store.id_tags.match_id_tag(REVERSED.lower())
    assert match is not None
    assert (match.record.id_tag, match.record.owner, match.by_card_uid) == (CANONICAL, "Ana", True)


async def test_a_card_registered_by_uid_is_found_by_the_id_tag_as_printed(
    store: Store, now: datetime
) -> None:
    await add_card(store, now)
    match = await store.id_tags.match_id_tag(CANONICAL)
    assert match is not None
    assert (match.record.card_uid, match.by_card_uid) == (CANONICAL, False)


async def test_a_tag_without_a_card_uid_is_not_found_byte_reversed(
    store: Store, now: datetime
) -> None:
    await store.id_tags.add_id_tag(IdTag(CANONICAL), now=now)
    assert await store.id_tags.match_id_tag(REVERSED) is None


async def test_an_id_tag_that_is_no_uid_is_found_by_its_key_only(
    store: Store, now: datetime
) -> None:
    await store.id_tags.add_id_tag(IdTag("Ana-PIN-1234"), now=now)
    match = await store.id_tags.match_id_tag("ANA-pin-1234")
    assert match is not None
    assert match.record.id_tag == "Ana-PIN-1234"


async def test_a_tag_comes_with_its_group_when_the_parent_is_registered(
    store: Store, now: datetime
) -> None:
    expiry = now + timedelta(days=3)
    await store.id_tags.add_id_tag(IdTag("FLEET"), now=now, blocked=True, expiry_date=expiry)
    await store.id_tags.add_id_tag(IdTag("CAR-1"), now=now, parent_id_tag=IdTag("fleet"))
    match = await store.id_tags.match_id_tag("CAR-1")
    assert match is not None
    assert match.group is not None
    assert (match.group.id_tag, match.group.blocked, match.group.expiry_date) == (
        "FLEET",
        True,
        expiry,
    )


async def test_a_tag_whose_parent_is_not_registered_has_no_group(
    store: Store, now: datetime
) -> None:
    await store.id_tags.add_id_tag(IdTag("CAR-2"), now=now, parent_id_tag=IdTag("NOBODY"))
    match = await store.id_tags.match_id_tag("CAR-2")
    assert match is not None
    assert (match.record.parent_id_tag, match.group) == ("NOBODY", None)


async def test_an_id_tag_equal_to_a_registered_card_reversed_is_refused(
    store: Store, now: datetime
) -> None:
    await add_card(store, now)
    with pytest.raises(AlreadyExists) as refused:
        await store.id_tags.add_id_tag(IdTag(REVERSED), now=now)
    assert str(refused.value) == (
        f"id tag '{REVERSED}' would answer to the idTag {REVERSED}, which id tag '{CANONICAL}' "
        f"answers to already (card UID {PRINTED}, as printed or byte-reversed): a charger "
        "could not tell the two apart"
    )


async def test_a_card_whose_reversed_uid_is_a_registered_id_tag_is_refused(
    store: Store, now: datetime
) -> None:
    await store.id_tags.add_id_tag(IdTag(REVERSED), now=now)
    with pytest.raises(AlreadyExists, match="a charger could not tell the two apart"):
        await add_card(store, now)


async def test_the_same_id_tag_in_another_case_is_refused_with_the_plain_sentence(
    store: Store, now: datetime
) -> None:
    await store.id_tags.add_id_tag(IdTag("API-DUP"), now=now)
    with pytest.raises(AlreadyExists) as refused:
        await store.id_tags.add_id_tag(IdTag("api-dup"), now=now)
    assert str(refused.value) == "id tag 'api-dup' already exists"


async def test_a_change_sets_given_fields_clears_nulls_and_keeps_the_rest(
    store: Store, now: datetime
) -> None:
    await store.id_tags.add_id_tag(IdTag("CARD"), now=now, owner="Ana", label="blue fob")
    later = now + timedelta(minutes=5)
    changed = await store.id_tags.update_id_tag(
        "card", IdTagChanges(blocked=True, label=None, max_active_transactions=2), later
    )
    assert (changed.owner, changed.label, changed.blocked, changed.max_active_transactions) == (
        "Ana",
        None,
        True,
        2,
    )
    assert (changed.created_at, changed.updated_at) == (now, later)
    assert await store.id_tags.get_id_tag("CARD") == changed


async def test_changing_an_unknown_tag_raises_not_found(store: Store, now: datetime) -> None:
    with pytest.raises(NotFound, match="id tag 'NOPE' is not registered"):
        await store.id_tags.update_id_tag("NOPE", IdTagChanges(blocked=True), now)


async def test_a_card_uid_given_later_makes_the_tag_match_reversed(
    store: Store, now: datetime
) -> None:
    await store.id_tags.add_id_tag(IdTag("ANA-CARD"), now=now)
    await store.id_tags.update_id_tag("ANA-CARD", IdTagChanges(card_uid=CANONICAL), now)
    match = await store.id_tags.match_id_tag(REVERSED)
    assert match is not None
    assert match.record.id_tag == "ANA-CARD"


async def test_a_card_uid_another_tag_answers_to_is_refused_on_change(
    store: Store, now: datetime
) -> None:
    await add_card(store, now)
    await store.id_tags.add_id_tag(IdTag("OTHER"), now=now)
    with pytest.raises(AlreadyExists):
        await store.id_tags.update_id_tag("OTHER", IdTagChanges(card_uid=CANONICAL), now)


async def test_a_removed_tag_is_gone_and_removing_it_again_raises_not_found(
    store: Store, now: datetime
) -> None:
    await add_card(store, now)
    removed = await store.id_tags.remove_id_tag(CANONICAL.lower())
    assert removed.card_uid == CANONICAL
    assert await store.id_tags.match_id_tag(REVERSED) is None
    with pytest.raises(NotFound):
        await store.id_tags.remove_id_tag(CANONICAL)


async def test_id_tags_are_listed_in_pages_after_a_cursor(store: Store, now: datetime) -> None:
    for tag in ("d", "B", "a", "C"):
        await store.id_tags.add_id_tag(IdTag(tag), now=now)
    first = await store.id_tags.list_id_tags(limit=2)
    second = await store.id_tags.list_id_tags(limit=2, after=first[-1].id_tag)
    assert [r.id_tag for r in first] == ["a", "B"]
    assert [r.id_tag for r in second] == ["C", "d"]


# ---- open transactions of a tag (ConcurrentTx) ---------------------------------------------


async def start_on(store: Store, now: datetime, connector: int, id_tag: str) -> TransactionId:
    transaction_id, _ = await store.transactions.start_transaction(
        StartTransactionRecord(
            charge_point_id=CP,
            connector_id=ConnectorId(connector),
            id_tag=IdTag(id_tag),
            meter_start=0,
            started_at=now,
            start_id_tag_status="Accepted",
        ),
        now,
    )
    return transaction_id


async def test_open_transactions_count_under_every_id_tag_of_the_card_but_this_connector(
    store: Store, now: datetime
) -> None:
    await store.charge_points.add_charge_point(CP, Registration.REGISTERED, now)
    await add_card(store, now)
    await start_on(store, now, 1, REVERSED.lower())
    await start_on(store, now, 2, CANONICAL)
    await start_on(store, now, 3, "SOMEONE-ELSE")
    stopped = await start_on(store, now, 4, REVERSED)
    await store.transactions.stop_transaction(
        StopTransactionRecord(
            charge_point_id=CP, transaction_id=stopped, meter_stop=10, stopped_at=now
        ),
        (),
        now,
    )
    record = await store.id_tags.get_id_tag(CANONICAL)
    assert record is not None
    counted = await store.id_tags.count_active_transactions(
        record, except_charge_point_id=CP, except_connector_id=ConnectorId(1)
    )
    assert counted == 1


async def test_a_transaction_remembers_its_owner(store: Store, now: datetime) -> None:
    await store.charge_points.add_charge_point(CP, Registration.REGISTERED, now)
    transaction_id, _ = await store.transactions.start_transaction(
        StartTransactionRecord(
            charge_point_id=CP,
            connector_id=ConnectorId(1),
            id_tag=IdTag("NoAuthorization"),
            meter_start=0,
            started_at=now,
            start_id_tag_status="Accepted",
            owner="Ana",
        ),
        now,
    )
    stored = await store.transactions.get_transaction(transaction_id)
    assert stored is not None
    assert stored.owner == "Ana"


# ---- the unknown-tag inbox -----------------------------------------------------------------


async def test_an_unknown_tag_presented_twice_is_one_inbox_row_with_the_last_sighting(
    store: Store, now: datetime
) -> None:
    first = await store.unknown_id_tags.record_presented(
        "deadbeef", charge_point_id=CP, connector_id=None, action="Authorize", now=now
    )
    later = now + timedelta(seconds=30)
    second = await store.unknown_id_tags.record_presented(
        "DEADBEEF",
        charge_point_id=ChargePointId("CP-2"),
        connector_id=ConnectorId(2),
        action="StartTransaction",
        now=later,
    )
    [row] = await store.unknown_id_tags.list_unknown_id_tags()
    assert (first, second) == (1, 2)
    assert msgspec.structs.asdict(row) == {
        "id_tag": "DEADBEEF",
        "first_seen_at": now,
        "last_seen_at": later,
        "count": 2,
        "last_charge_point_id": "CP-2",
        "last_connector_id": 2,
        "last_action": "StartTransaction",
    }


async def test_the_inbox_lists_the_most_recently_presented_first(
    store: Store, now: datetime
) -> None:
    for tag, seconds in (("OLD", 0), ("NEW", 2), ("MIDDLE", 1)):
        await store.unknown_id_tags.record_presented(
            tag,
            charge_point_id=CP,
            connector_id=None,
            action="Authorize",
            now=now + timedelta(seconds=seconds),
        )
    listed = await store.unknown_id_tags.list_unknown_id_tags(limit=2)
    assert [row.id_tag for row in listed] == ["NEW", "MIDDLE"]


async def test_registering_a_card_takes_its_reversed_id_tag_out_of_the_inbox(
    store: Store, now: datetime
) -> None:
    await store.unknown_id_tags.record_presented(
        REVERSED, charge_point_id=CP, connector_id=None, action="Authorize", now=now
    )
    await store.unknown_id_tags.record_presented(
        "STRANGER", charge_point_id=CP, connector_id=None, action="Authorize", now=now
    )
    await add_card(store, now)
    assert [row.id_tag for row in await store.unknown_id_tags.list_unknown_id_tags()] == [
        "STRANGER"
    ]
    assert await store.unknown_id_tags.get_unknown_id_tag(REVERSED) is None


# ---- who charges without a card ------------------------------------------------------------


async def test_a_charger_authorization_policy_is_set_and_unset_fields_are_kept(
    store: Store, now: datetime
) -> None:
    await store.charge_points.add_charge_point(CP, Registration.REGISTERED, now)
    await store.charge_points.set_authorization_policy(
        CP, default_owner="Ana", free_vend=True, free_vend_id_tag="HOME"
    )
    changed = await store.charge_points.set_authorization_policy(CP, free_vend=False)
    assert (changed.default_owner, changed.free_vend, changed.free_vend_id_tag) == (
        "Ana",
        False,
        "HOME",
    )
    assert await store.charge_points.get_charge_point(CP) == changed


async def test_the_policy_of_an_unknown_charger_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.charge_points.set_authorization_policy(CP, free_vend=True)
