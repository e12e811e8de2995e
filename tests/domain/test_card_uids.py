"""Card UIDs as printed, and the idTag a charger sends for them (Wallbox setup guide, G8)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargedeck.domain.card_uids import (
    ByteOrder,
    CardUid,
    HexCase,
    InvalidCardUid,
    candidate_uids,
    id_tag_for,
    parse_printed_uid,
)

PRINTED = "04:A2:2B:1A:5C:3D:80"


def test_a_printed_uid_is_stored_as_upper_case_hex_without_separators() -> None:
    assert parse_printed_uid(PRINTED).canonical == "04A22B1A5C3D80"


def test_a_printed_uid_is_shown_as_colon_separated_upper_case_bytes() -> None:
    assert parse_printed_uid("04a22b1a5c3d80").printed == PRINTED


def test_a_wallbox_sends_the_uid_little_endian_without_separators() -> None:
    uid = parse_printed_uid(PRINTED)
    assert id_tag_for(uid, ByteOrder.REVERSED) == "803D5C1A2BA204"


def test_a_charger_reading_as_printed_sends_the_bytes_in_printed_order() -> None:
    uid = parse_printed_uid(PRINTED)
    assert id_tag_for(uid, ByteOrder.AS_PRINTED) == "04A22B1A5C3D80"


def test_a_charger_may_send_the_id_tag_in_lower_case() -> None:
    uid = parse_printed_uid(PRINTED)
    assert id_tag_for(uid, ByteOrder.REVERSED, case="lower") == "803d5c1a2ba204"


@pytest.mark.parametrize(
    "typed",
    [
        "04:a2:2b:1a:5c:3d:80",
        "04 A2 2B 1A 5C 3D 80",
        "04-A2-2B-1A-5C-3D-80",
        "04A22B1A5C3D80",
        "04a22b1a5c3d80",
        "0x04A22B1A5C3D80",
        "0X04a22b1a5c3d80",
        "  04:A2:2B:1A:5C:3D:80  ",
        "04A2 2B1A 5C3D 80",
        "04:A2-2B 1A:5C:3D:80",
    ],
)
def test_any_common_way_of_typing_a_uid_gives_the_same_card(typed: str) -> None:
    assert parse_printed_uid(typed).canonical == "04A22B1A5C3D80"


@pytest.mark.parametrize(
    ("typed", "length"),
    [("DE:AD:BE:EF", 4), (PRINTED, 7), ("01:02:03:04:05:06:07:08:09:0A", 10)],
)
def test_single_double_and_triple_size_uids_are_cards(typed: str, length: int) -> None:
    assert len(parse_printed_uid(typed).bytes) == length


def test_a_triple_size_uid_is_exactly_an_id_token_of_20_characters() -> None:
    uid = parse_printed_uid("01:02:03:04:05:06:07:08:09:0A")
    assert len(id_tag_for(uid, ByteOrder.REVERSED)) == 20


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("04:A2:2B", r"4, 7 or 10 bytes .* got 3 bytes \(6 hex digits\)"),
        ("04A22B1A5C", r"4, 7 or 10 bytes .* got 5 bytes"),
        ("04:G2:2B:1A", r"'G' at position 4 .* not a hexadecimal digit"),
        ("0x04A2;2B1A", r"';' at position 7 .* not a hexadecimal digit"),
        ("04A22B1", r"odd number of hex digits \(7\)"),
        ("04A:22B:1A5C:3D80", r"separator .* splits a byte: '04A' has 3 hex digits"),
        ("4:A2:2B:1A", r"separator .* splits a byte: '4' has 1 hex digits"),
        ("", r"needs hexadecimal digits"),
        (" : - ", r"needs hexadecimal digits"),
        ("0x", r"needs hexadecimal digits"),
    ],
)
def test_a_uid_that_is_not_a_card_is_refused_with_the_reason(typed: str, reason: str) -> None:
    with pytest.raises(InvalidCardUid, match=reason):
        parse_printed_uid(typed)


def test_an_invalid_card_uid_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="4, 7 or 10 bytes"):
        CardUid(b"\x01\x02")


def test_an_id_tag_from_a_charger_may_be_the_card_as_sent_or_byte_reversed() -> None:
    assert [uid.printed for uid in candidate_uids("803d5c1a2ba204")] == [
        "80:3D:5C:1A:2B:A2:04",
        PRINTED,
    ]


def test_a_palindromic_uid_has_one_candidate() -> None:
    assert candidate_uids("01020201") == (CardUid(b"\x01\x02\x02\x01"),)


@pytest.mark.parametrize("id_tag", ["NoAuthorization", "1234", "04A22B1A5C", "04A22B1A5C3D8Z", ""])
def test_an_id_tag_that_is_no_card_uid_has_no_candidates(id_tag: str) -> None:
    assert candidate_uids(id_tag) == ()


uids = st.sampled_from([4, 7, 10]).flatmap(lambda n: st.binary(min_size=n, max_size=n)).map(CardUid)
byte_orders = st.sampled_from(ByteOrder)
cases: st.SearchStrategy[HexCase] = st.sampled_from(["upper", "lower"])
separators = st.sampled_from([":", " ", "-", ""])


@given(uids, byte_orders, cases)
def test_the_id_tag_any_charger_sends_for_a_printed_card_leads_back_to_it(
    uid: CardUid, byte_order: ByteOrder, case: HexCase
) -> None:
    printed = parse_printed_uid(uid.printed)
    id_tag = id_tag_for(printed, byte_order, case)
    assert len(id_tag) <= 20
    assert printed in candidate_uids(id_tag)


@given(uids, separators, st.booleans())
def test_a_uid_printed_with_any_separator_and_case_parses_back_to_itself(
    uid: CardUid, separator: str, lower: bool
) -> None:
    typed = uid.bytes.hex(separator) if separator else uid.bytes.hex()
    assert parse_printed_uid(typed if lower else typed.upper()) == uid


def card_or_reason(text: str) -> CardUid | str:
    try:
        return parse_printed_uid(text)
    except InvalidCardUid as error:
        return str(error)


typed_texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from("0123456789abcdefABCDEFxX:- ;\u00e9"), max_size=40),
)


@given(typed_texts)
def test_any_typed_text_is_a_card_or_refused_with_a_reason(text: str) -> None:
    outcome = card_or_reason(text)
    if isinstance(outcome, CardUid):
        assert len(outcome.bytes) in (4, 7, 10)
    else:
        assert len(outcome) > 20
