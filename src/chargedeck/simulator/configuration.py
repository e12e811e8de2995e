"""The configuration keys one simulated charger keeps (OCPP 1.6 §9), as GetConfiguration and
ChangeConfiguration see them (§5.8, §5.3).

Key names are CiString50 and compared ignoring case (facts §1.4 "GetConfiguration"). What a
value may be is read from the key's factory value: ``true``/``false`` keys take booleans, keys
with a whole number take whole numbers of 0 or more (WebSocketPingInterval: "negative values
must be Rejected"), the measurand lists (``...Data``) take known measurands, at most
``<key>MaxLength`` of them (facts §1.4 "ChangeConfiguration"); anything else takes any text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from chargedeck.ocpp.v16.enums import ConfigurationStatus, Measurand, Phase
from chargedeck.ocpp.v16.types import KeyValue

_BOOLEANS = ("true", "false")
_MEASURANDS = frozenset(m.value.casefold() for m in Measurand)
_PHASES = frozenset(p.value.casefold() for p in Phase)
# OCPP 1.6 §9.1: the CSL keys whose items are measurands.
_MEASURAND_LIST_KEYS = frozenset(
    key.casefold()
    for key in (
        "MeterValuesAlignedData",
        "MeterValuesSampledData",
        "StopTxnAlignedData",
        "StopTxnSampledData",
    )
)


@dataclass(frozen=True)
class _Key:
    name: str
    value: str
    readonly: bool
    kind: str  # "bool", "int", "measurands" or "text"


def _kind_of(name: str, value: str) -> str:
    if name.casefold() in _MEASURAND_LIST_KEYS:
        return "measurands"
    if value.casefold() in _BOOLEANS:
        return "bool"
    if value.isascii() and value.isdigit():
        return "int"
    return "text"


# The keys of a model, built once per model and shared by every charger of a fleet: a charger
# keeps only the values that differ from its model's (50,000 chargers, one key table).
_SHARED: dict[int, tuple[Mapping[str, tuple[str, bool]], dict[str, _Key]]] = {}


def _shared_keys(defaults: Mapping[str, tuple[str, bool]]) -> dict[str, _Key]:
    found = _SHARED.get(id(defaults))
    if found is not None and found[0] is defaults:
        return found[1]
    keys = {
        name.casefold(): _Key(name, value, readonly, _kind_of(name, value))
        for name, (value, readonly) in defaults.items()
    }
    _SHARED[id(defaults)] = (defaults, keys)
    return keys


class ConfigurationKeys:
    """One charger's keys: value and readonly flag, kept in the order the model lists them."""

    def __init__(self, defaults: Mapping[str, tuple[str, bool]]) -> None:
        self._keys = _shared_keys(defaults)
        self._changed: dict[str, str] = {}

    def __contains__(self, key: str) -> bool:
        return key.casefold() in self._keys

    def get(self, key: str) -> str | None:
        """The key's value, or None if the charger does not have the key."""
        folded = key.casefold()
        found = self._keys.get(folded)
        if found is None:
            return None
        return self._changed.get(folded, found.value)

    def get_int(self, key: str, default: int) -> int:
        """A whole-number key's value; ``default`` if the charger does not have it."""
        value = self.get(key)
        return default if value is None or not value.isdigit() else int(value)

    def get_bool(self, key: str, default: bool) -> bool:
        """A boolean key's value; ``default`` if the charger does not have it."""
        value = self.get(key)
        return default if value is None else value.casefold() == "true"

    def get_list(self, key: str) -> tuple[str, ...]:
        """A comma-separated list key's items, stripped; empty if absent or empty."""
        value = self.get(key) or ""
        return tuple(item.strip() for item in value.split(",") if item.strip())

    def set_by_charger(self, key: str, value: str) -> None:
        """The charger itself sets a key it has (readonly or not), e.g. HeartbeatInterval from
        the BootNotification answer (§4.2.1) or NumberOfConnectors from its build."""
        folded = key.casefold()
        if folded in self._keys:
            self._changed[folded] = value

    def values(self) -> dict[str, str]:
        """Every key with its value, by the key's own spelling."""
        return {key.name: self._changed.get(f, key.value) for f, key in self._keys.items()}

    def read(self, keys: Iterable[str] | None) -> tuple[list[KeyValue], list[str]]:
        """GetConfiguration (§5.8): the known keys asked for (all without a list) and the
        unknown ones."""
        if keys is None:
            return [self._key_value(folded) for folded in self._keys], []
        known: list[KeyValue] = []
        unknown: list[str] = []
        for name in keys:
            if name.casefold() in self._keys:
                known.append(self._key_value(name.casefold()))
            else:
                unknown.append(name)
        return known, unknown

    def _key_value(self, folded: str) -> KeyValue:
        key = self._keys[folded]
        value = self._changed.get(folded, key.value)
        return KeyValue(key=key.name, read_only=key.readonly, value=value)

    def change(self, key: str, value: str) -> ConfigurationStatus:
        """ChangeConfiguration (§5.3): NotSupported for an unknown key, Rejected for a readonly
        key or a value of the wrong kind, else Accepted and applied (nothing here needs a
        reboot)."""
        folded = key.casefold()
        found = self._keys.get(folded)
        if found is None:
            return ConfigurationStatus.NOT_SUPPORTED
        if found.readonly or not self._acceptable(found, value):
            return ConfigurationStatus.REJECTED
        self._changed[folded] = value.strip().lower() if found.kind == "bool" else value
        return ConfigurationStatus.ACCEPTED

    def _acceptable(self, key: _Key, value: str) -> bool:
        text = value.strip()
        if key.kind == "bool":
            return text.casefold() in _BOOLEANS
        if key.kind == "int":
            return text.isascii() and text.isdigit()
        if key.kind == "measurands":
            items = [item.strip() for item in text.split(",") if item.strip()]
            most = self.get_int(f"{key.name}MaxLength", 1)
            return len(items) <= most and all(_is_measurand(item) for item in items)
        return True


def _is_measurand(item: str) -> bool:
    """A measurand, optionally with a phase (``Voltage.L1``, §9.1 MeterValuesSampledData)."""
    folded = item.casefold()
    if folded in _MEASURANDS:
        return True
    head, _, phase = folded.rpartition(".")
    return head in _MEASURANDS and phase in _PHASES
