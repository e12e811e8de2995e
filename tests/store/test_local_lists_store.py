"""What a charger's Local Authorization List holds and what was sent to it (OCPP 1.6 §5.15), and
the configuration chargers report (§5.8), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

from chargedeck.domain.id_tags import AuthorizationDecision, AuthorizationStatus
from chargedeck.domain.ids import ChargePointId
from chargedeck.domain.local_list import LocalListEntry, UpdateType
from chargedeck.store import Store
from chargedeck.store.configuration import ReportedKey
from chargedeck.store.local_lists import HeldLocalList

CP = ChargePointId("CP1")
ACCEPTED = AuthorizationDecision(AuthorizationStatus.ACCEPTED)
BLOCKED = AuthorizationDecision(AuthorizationStatus.BLOCKED)


def entries(*tags: str, info: AuthorizationDecision = ACCEPTED) -> list[LocalListEntry]:
    return [LocalListEntry(tag, info) for tag in tags]


async def test_nothing_is_known_of_a_charger_never_synced(store: Store) -> None:
    assert await store.local_lists.get_held(CP) is None
    assert await store.local_lists.count_entries(CP) == 0
    assert await store.local_lists.has_sends(CP) is False


async def test_a_full_update_replaces_what_the_charger_holds(store: Store, now: datetime) -> None:
    lists = store.local_lists
    await lists.apply_accepted(
        CP, list_version=1, update_type=UpdateType.FULL, entries=entries("A", "B"), now=now
    )
    await lists.apply_accepted(
        CP, list_version=2, update_type=UpdateType.FULL, entries=entries("C"), now=now
    )
    assert await lists.get_held(CP) == HeldLocalList(2, now, {"C": ACCEPTED})


async def test_a_differential_update_adds_changes_and_removes(store: Store, now: datetime) -> None:
    lists = store.local_lists
    expiry = now + timedelta(days=1)
    await lists.apply_accepted(
        CP, list_version=1, update_type=UpdateType.FULL, entries=entries("A", "B"), now=now
    )
    await lists.apply_accepted(
        CP,
        list_version=2,
        update_type=UpdateType.DIFFERENTIAL,
        entries=[
            LocalListEntry("a", None),  # removal, whatever the case (§7.28)
            LocalListEntry("B", BLOCKED),
            LocalListEntry("C", AuthorizationDecision(AuthorizationStatus.ACCEPTED, expiry, "G")),
        ],
        now=now,
    )
    held = await lists.get_held(CP)
    assert held is not None
    assert held.version == 2
    assert held.entries == {
        "B": BLOCKED,
        "C": AuthorizationDecision(AuthorizationStatus.ACCEPTED, expiry, "G"),
    }
    assert await lists.count_entries(CP) == 2


async def test_forgetting_makes_the_list_unknown(store: Store, now: datetime) -> None:
    await store.local_lists.apply_accepted(
        CP, list_version=3, update_type=UpdateType.FULL, entries=entries("A"), now=now
    )
    await store.local_lists.forget_held(CP)
    assert await store.local_lists.get_held(CP) is None
    assert await store.local_lists.count_entries(CP) == 0


async def test_sends_are_listed_newest_first_with_the_chargers_answer(
    store: Store, now: datetime
) -> None:
    lists = store.local_lists
    first = await lists.record_send(
        CP, list_version=1, update_type=UpdateType.FULL, entry_count=100, now=now
    )
    second = await lists.record_send(
        CP, list_version=2, update_type=UpdateType.DIFFERENTIAL, entry_count=7, now=now
    )
    await lists.set_send_status(first, "Accepted")
    sends = await lists.list_sends(CP, 10)
    assert [(s.id, s.list_version, s.update_type, s.entry_count, s.status) for s in sends] == [
        (second, 2, UpdateType.DIFFERENTIAL, 7, None),
        (first, 1, UpdateType.FULL, 100, "Accepted"),
    ]
    assert await lists.has_sends(CP) is True
    assert await lists.list_sends(ChargePointId("OTHER"), 10) == []


async def test_reported_configuration_is_kept_and_read_ignoring_case(
    store: Store, now: datetime
) -> None:
    configuration = store.configuration
    await configuration.store_reported(
        CP,
        [
            ReportedKey(key="LocalAuthListEnabled", value="true", readonly=False),
            ReportedKey(key="SendLocalListMaxLength", value="100", readonly=True),
            ReportedKey(key="ReserveConnectorZeroSupported", value=None, readonly=True),
        ],
        now=now,
    )
    values = await configuration.values(
        CP, ["localauthlistenabled", "SendLocalListMaxLength", "ReserveConnectorZeroSupported"]
    )
    assert values == {
        "localauthlistenabled": "true",
        "SendLocalListMaxLength": "100",
        "ReserveConnectorZeroSupported": None,
    }
    assert await configuration.values(CP, ["NumberOfConnectors"]) == {}


async def test_a_key_reported_again_in_another_case_replaces_the_first(
    store: Store, now: datetime
) -> None:
    configuration = store.configuration
    later = now + timedelta(minutes=1)
    await configuration.store_reported(
        CP, [ReportedKey(key="LocalAuthListEnabled", value="true", readonly=False)], now=now
    )
    await configuration.store_reported(
        CP, [ReportedKey(key="localauthlistenabled", value="false", readonly=False)], now=later
    )
    [record] = await configuration.list_keys(CP)
    assert (record.key, record.value, record.reported_at) == (
        "localauthlistenabled",
        "false",
        later,
    )


async def test_an_unknown_key_is_forgotten_and_a_complete_answer_replaces_all(
    store: Store, now: datetime
) -> None:
    configuration = store.configuration
    await configuration.store_reported(
        CP,
        [
            ReportedKey(key="A", value="1", readonly=True),
            ReportedKey(key="B", value="2", readonly=True),
            ReportedKey(key="C", value="3", readonly=True),
        ],
        now=now,
    )
    await configuration.store_reported(CP, [], unknown_keys=["a"], now=now)
    assert [r.key for r in await configuration.list_keys(CP)] == ["B", "C"]
    await configuration.store_reported(
        CP, [ReportedKey(key="D", value="4", readonly=False)], now=now, complete=True
    )
    assert [(r.key, r.value) for r in await configuration.list_keys(CP)] == [("D", "4")]
    assert await configuration.list_keys(ChargePointId("OTHER")) == []


async def test_the_held_version_is_read_without_the_entries(store: Store, now: datetime) -> None:
    assert await store.local_lists.held_version(CP) is None
    await store.local_lists.apply_accepted(
        CP, list_version=7, update_type=UpdateType.FULL, entries=entries("A", "B"), now=now
    )
    assert await store.local_lists.held_version(CP) == (7, now)
