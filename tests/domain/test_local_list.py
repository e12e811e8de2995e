"""Planning SendLocalList (OCPP 1.6 §3.5.2, §5.15): Full or Differential, in parts, versioned."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargedeck.domain.id_tags import AuthorizationDecision, AuthorizationStatus
from chargedeck.domain.local_list import (
    ChargerLocalList,
    LocalListEntry,
    LocalListTooLong,
    SendLocalListToSend,
    UpdateType,
    plan_send_local_list,
)

ACCEPTED = AuthorizationDecision(AuthorizationStatus.ACCEPTED)
BLOCKED = AuthorizationDecision(AuthorizationStatus.BLOCKED)
EXPIRING = AuthorizationDecision(
    AuthorizationStatus.ACCEPTED, expiry_date=datetime(2027, 1, 1, tzinfo=UTC)
)
# Wallbox: LocalAuthListMaxLength 5000000, SendLocalListMaxLength 450 (field notes §2.1).
WALLBOX_LIMITS = {"local_auth_list_max_length": 5_000_000, "send_local_list_max_length": 450}


def tags(count: int, info: AuthorizationDecision = ACCEPTED) -> dict[str, AuthorizationDecision]:
    return {f"TAG{n:05d}": info for n in range(count)}


def test_500_tags_at_100_per_request_go_in_5_requests_with_consecutive_versions() -> None:
    plan = plan_send_local_list(
        tags(500),
        ChargerLocalList(version=7, entries=None),
        local_auth_list_max_length=1000,
        send_local_list_max_length=100,
    )
    assert [request.list_version for request in plan.requests] == [8, 9, 10, 11, 12]
    assert [len(request.local_authorization_list) for request in plan.requests] == [100] * 5


def test_a_full_list_in_parts_is_one_full_update_then_differential_additions() -> None:
    plan = plan_send_local_list(
        tags(500), None, local_auth_list_max_length=1000, send_local_list_max_length=100
    )
    assert [request.update_type for request in plan.requests] == [
        UpdateType.FULL,
        *[UpdateType.DIFFERENTIAL] * 4,
    ]


def test_the_parts_of_a_full_list_carry_every_wanted_entry_once() -> None:
    wanted = tags(250)
    plan = plan_send_local_list(
        wanted, None, local_auth_list_max_length=1000, send_local_list_max_length=100
    )
    sent = [entry for request in plan.requests for entry in request.local_authorization_list]
    assert sent == [LocalListEntry(id_tag, info) for id_tag, info in wanted.items()]


def test_a_charger_with_an_unknown_list_gets_a_full_list_starting_at_version_1() -> None:
    plan = plan_send_local_list(tags(3), None, **WALLBOX_LIMITS)
    assert [(r.list_version, r.update_type) for r in plan.requests] == [(1, UpdateType.FULL)]


def test_a_charger_whose_entries_are_unknown_gets_a_full_list_above_its_version() -> None:
    plan = plan_send_local_list(tags(3), ChargerLocalList(41, None), **WALLBOX_LIMITS)
    assert [(r.list_version, r.update_type) for r in plan.requests] == [(42, UpdateType.FULL)]


def test_a_small_change_is_sent_as_a_differential_update() -> None:
    held = tags(100)
    wanted = {**held, "TAG00007": BLOCKED, "NEWCARD": ACCEPTED}
    del wanted["TAG00003"]
    plan = plan_send_local_list(wanted, ChargerLocalList(5, held), **WALLBOX_LIMITS)
    assert len(plan.requests) == 1
    request = plan.requests[0]
    assert (request.list_version, request.update_type) == (6, UpdateType.DIFFERENTIAL)
    assert request.local_authorization_list == (
        LocalListEntry("TAG00003", None),
        LocalListEntry("TAG00007", BLOCKED),
        LocalListEntry("NEWCARD", ACCEPTED),
    )


def test_a_changed_expiry_date_is_a_change() -> None:
    plan = plan_send_local_list(
        {"CARD": EXPIRING}, ChargerLocalList(1, {"CARD": ACCEPTED}), **WALLBOX_LIMITS
    )
    assert plan.requests[0].local_authorization_list == (LocalListEntry("CARD", EXPIRING),)


def test_a_difference_larger_than_the_full_list_is_sent_as_a_full_list() -> None:
    held = tags(10)
    wanted = {"ONLY": ACCEPTED, "TWO": ACCEPTED}
    plan = plan_send_local_list(wanted, ChargerLocalList(3, held), **WALLBOX_LIMITS)
    assert [(r.list_version, r.update_type) for r in plan.requests] == [(4, UpdateType.FULL)]
    assert [e.id_tag for e in plan.requests[0].local_authorization_list] == ["ONLY", "TWO"]


def test_emptying_the_list_is_one_full_update_without_entries() -> None:
    plan = plan_send_local_list({}, ChargerLocalList(3, tags(10)), **WALLBOX_LIMITS)
    assert [(r.list_version, r.update_type, r.local_authorization_list) for r in plan.requests] == [
        (4, UpdateType.FULL, ())
    ]


def test_a_differential_update_in_parts_removes_first() -> None:
    held = tags(6)
    wanted = {**tags(4), "NEW1": ACCEPTED, "NEW2": ACCEPTED}
    plan = plan_send_local_list(
        wanted,
        ChargerLocalList(9, held),
        local_auth_list_max_length=6,
        send_local_list_max_length=3,
    )
    assert [r.update_type for r in plan.requests] == [UpdateType.DIFFERENTIAL] * 2
    assert [r.list_version for r in plan.requests] == [10, 11]
    assert [r.local_authorization_list for r in plan.requests] == [
        (
            LocalListEntry("TAG00004", None),
            LocalListEntry("TAG00005", None),
            LocalListEntry("NEW1", ACCEPTED),
        ),
        (LocalListEntry("NEW2", ACCEPTED),),
    ]


def test_nothing_to_change_sends_nothing() -> None:
    plan = plan_send_local_list(tags(5), ChargerLocalList(8, tags(5)), **WALLBOX_LIMITS)
    assert plan.requests == ()
    assert plan.result.version == 8


def test_id_tags_are_compared_ignoring_case() -> None:
    plan = plan_send_local_list(
        {"card": ACCEPTED}, ChargerLocalList(8, {"CARD": ACCEPTED}), **WALLBOX_LIMITS
    )
    assert plan.requests == ()


def test_the_plan_says_what_the_charger_holds_once_every_part_is_accepted() -> None:
    wanted = tags(300)
    plan = plan_send_local_list(
        wanted, None, local_auth_list_max_length=1000, send_local_list_max_length=100
    )
    assert plan.result == ChargerLocalList(3, wanted)


def test_a_list_longer_than_the_charger_holds_is_refused_with_both_numbers() -> None:
    with pytest.raises(LocalListTooLong, match="has 501 id tags, more than the 500 the charger"):
        plan_send_local_list(
            tags(501), None, local_auth_list_max_length=500, send_local_list_max_length=100
        )


def test_two_tags_that_differ_only_in_case_are_refused() -> None:
    with pytest.raises(ValueError, match="'card' and 'CARD' differ only in case"):
        plan_send_local_list({"card": ACCEPTED, "CARD": BLOCKED}, None, **WALLBOX_LIMITS)


def test_an_id_tag_longer_than_an_id_token_is_refused() -> None:
    with pytest.raises(ValueError, match="1 to 20 characters"):
        plan_send_local_list({"X" * 21: ACCEPTED}, None, **WALLBOX_LIMITS)


def test_a_charger_without_a_local_list_is_refused() -> None:
    with pytest.raises(ValueError, match="answered -1"):
        plan_send_local_list(tags(1), ChargerLocalList(-1, None), **WALLBOX_LIMITS)


def test_a_charger_taking_no_entries_per_request_is_refused() -> None:
    with pytest.raises(ValueError, match="SendLocalListMaxLength is 0"):
        plan_send_local_list(
            tags(1), None, local_auth_list_max_length=10, send_local_list_max_length=0
        )


def apply(held: dict[str, AuthorizationDecision], request: SendLocalListToSend) -> None:
    """What a charger does with a SendLocalList (§5.15), in the test's own words."""
    if request.update_type is UpdateType.FULL:
        held.clear()
    for entry in request.local_authorization_list:
        if entry.id_tag_info is None:
            held.pop(entry.id_tag.casefold(), None)
        else:
            held[entry.id_tag.casefold()] = entry.id_tag_info


infos = st.sampled_from([ACCEPTED, BLOCKED, EXPIRING])
lists = st.dictionaries(st.sampled_from([f"T{n}" for n in range(40)]), infos, max_size=40)


@given(
    wanted=lists,
    held=st.one_of(st.none(), lists),
    version=st.integers(0, 1000),
    per_request=st.integers(1, 15),
)
def test_a_charger_that_accepts_every_request_ends_with_the_wanted_list(
    wanted: dict[str, AuthorizationDecision],
    held: dict[str, AuthorizationDecision] | None,
    version: int,
    per_request: int,
) -> None:
    plan = plan_send_local_list(
        wanted,
        ChargerLocalList(version, held),
        local_auth_list_max_length=40,
        send_local_list_max_length=per_request,
    )
    on_charger = {tag.casefold(): info for tag, info in (held or {}).items()}
    for request in plan.requests:
        apply(on_charger, request)
        assert len(request.local_authorization_list) <= per_request
        assert len(on_charger) <= 40
    assert on_charger == {tag.casefold(): info for tag, info in wanted.items()}
    versions = [request.list_version for request in plan.requests]
    assert versions == list(range(version + 1, version + 1 + len(versions)))
    assert all(request.update_type is UpdateType.DIFFERENTIAL for request in plan.requests[1:])
