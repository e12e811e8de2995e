"""RFID card UIDs: as printed on the card, and as the idTag a charger sends for it.

An operator registers a card by typing the UID printed on it ("04:A2:2B:1A:5C:3D:80"); the
charger reads the same UID and sends it as an idTag in its own format. Wallbox chargers send it
"little-endian, hexadecimal, with no separators" (Wallbox OCPP Activation and Setup Guide,
"I can not unlock the charger with the RFID card"), so that card arrives as "803D5C1A2BA204".
Other brands differ in byte order and case too (wallbox-field-notes G8: KEBA little-endian,
SmartEVSE tags differing from the card). ChargeDeck keeps the canonical UID, derives the idTag
each charger model sends from the charger-model table (:mod:`chargedeck.domain.charger_models`),
and matches an unknown idTag against registered cards both as sent and byte-reversed
(:func:`candidate_uids`).

UIDs follow ISO/IEC 14443-3 type A ("UID size"): single size 4 bytes, double size 7 bytes,
triple size 10 bytes. Ten bytes are 20 hex digits: exactly an OCPP 1.6 IdToken (CiString20).
"""

from __future__ import annotations

import builtins
import enum
import string
from dataclasses import dataclass
from typing import Literal

# ISO/IEC 14443-3 type A: single, double and triple size UIDs.
UID_LENGTHS_IN_BYTES: tuple[int, ...] = (4, 7, 10)

# What operators type between bytes: "04:A2:...", "04 A2 ...", "04-A2-...".
_SEPARATORS = frozenset(":- ")
_HEX_DIGITS = frozenset(string.hexdigits)

HexCase = Literal["upper", "lower"]


class InvalidCardUid(ValueError):
    """A typed card UID that is not a 4-, 7- or 10-byte hexadecimal UID; the message says why."""


class ByteOrder(enum.StrEnum):
    """The order in which a charger writes a card's UID bytes into the idTag."""

    # The bytes in the order the card sends them in anticollision (ISO/IEC 14443-3), which is
    # the order printed on cards and shown by phone NFC readers.
    AS_PRINTED = "as_printed"
    # Last byte first: Wallbox "reads the RFID UID as little-endian" (Wallbox OCPP setup guide).
    REVERSED = "reversed"


@dataclass(frozen=True)
class CardUid:
    """A card UID of 4, 7 or 10 bytes, in the order printed on the card.

    Raises :class:`InvalidCardUid` for any other length.
    """

    bytes: builtins.bytes

    def __post_init__(self) -> None:
        if len(self.bytes) not in UID_LENGTHS_IN_BYTES:
            raise InvalidCardUid(_wrong_length(len(self.bytes)))

    @property
    def canonical(self) -> str:
        """Upper-case hex in printed order, no separators: how ChargeDeck stores a card."""
        return self.bytes.hex().upper()

    @property
    def printed(self) -> str:
        """Upper-case hex bytes joined by colons, the common printed form, for display."""
        return self.bytes.hex(":").upper()


def parse_printed_uid(text: str) -> CardUid:
    """The UID an operator typed as printed on the card.

    Accepts hex digits in any case, with or without ``:``, ``-`` or space between bytes (any mix,
    as long as every separator falls between two bytes), and an optional leading ``0x``.
    Raises :class:`InvalidCardUid` with a sentence that says what was wrong and where.
    """
    stripped = text.strip()
    body = stripped[2:] if stripped[:2].lower() == "0x" else stripped
    offset = len(text) - len(text.lstrip()) + (len(stripped) - len(body))
    if not body.strip("".join(_SEPARATORS)):
        raise InvalidCardUid(f"a card UID needs hexadecimal digits, got {text!r}")
    for index, char in enumerate(body):
        if char not in _HEX_DIGITS and char not in _SEPARATORS:
            raise InvalidCardUid(
                f"{char!r} at position {offset + index + 1} of {text!r} is not a hexadecimal "
                "digit (0-9, A-F) or a separator (':', '-', space)"
            )
    groups = [group for group in _split_on_separators(body) if group]
    if len(groups) > 1:
        for group in groups:
            if len(group) % 2:
                raise InvalidCardUid(
                    f"a separator in {text!r} splits a byte: {group!r} has {len(group)} "
                    "hex digits, but each part between separators must be whole bytes "
                    "(2 hex digits each)"
                )
    digits = "".join(groups)
    if len(digits) % 2:
        raise InvalidCardUid(
            f"{text!r} has an odd number of hex digits ({len(digits)}); each byte is 2 digits"
        )
    return CardUid(builtins.bytes.fromhex(digits))


def id_tag_for(uid: CardUid, byte_order: ByteOrder, case: HexCase = "upper") -> str:
    """The idTag a charger that writes UIDs in ``byte_order`` and ``case`` sends for ``uid``.

    At most 20 characters (a 10-byte UID), so it is always a valid OCPP 1.6 IdToken.
    """
    ordered = uid.bytes if byte_order is ByteOrder.AS_PRINTED else uid.bytes[::-1]
    digits = ordered.hex()
    return digits.upper() if case == "upper" else digits


def candidate_uids(id_tag: str) -> tuple[CardUid, ...]:
    """The card UIDs an idTag received from a charger may stand for, as sent first.

    An idTag of 8, 14 or 20 hex digits (any case) may be a 4-, 7- or 10-byte UID in printed
    order or byte-reversed (wallbox-field-notes G8: "match a card both as printed and
    byte-reversed"); a palindromic UID gives one candidate. Any other idTag (a PIN, an account
    number, ``NoAuthorization``) stands for no card: the answer is empty.
    """
    if len(id_tag) // 2 not in UID_LENGTHS_IN_BYTES or len(id_tag) % 2:
        return ()
    if not all(char in _HEX_DIGITS for char in id_tag):
        return ()
    as_sent = CardUid(builtins.bytes.fromhex(id_tag))
    reversed_uid = CardUid(as_sent.bytes[::-1])
    return (as_sent,) if reversed_uid == as_sent else (as_sent, reversed_uid)


def _split_on_separators(text: str) -> list[str]:
    groups = [""]
    for char in text:
        if char in _SEPARATORS:
            groups.append("")
        else:
            groups[-1] += char
    return groups


def _wrong_length(length: int) -> str:
    allowed = ", ".join(str(n) for n in UID_LENGTHS_IN_BYTES[:-1])
    return (
        f"a card UID has {allowed} or {UID_LENGTHS_IN_BYTES[-1]} bytes (ISO/IEC 14443-3 single, "
        f"double or triple size), got {length} bytes ({2 * length} hex digits)"
    )
