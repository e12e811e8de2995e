"""Secrets a charger reports back, masked wherever ChargeDeck shows or keeps them.

THE list of configuration keys whose values are secrets (STYLE rule 2: one place). Every answer
that carries configuration values (the API's GetConfiguration answer, exports, the message log)
replaces their values with :data:`MASK`.
"""

from __future__ import annotations

import re
from typing import Final

MASK: Final = "***"

# Configuration keys (compared ignoring case: OCPP 1.6 keys are CiString50, §7.29) whose values
# are secrets, with the evidence for each.
SECRET_CONFIGURATION_KEYS: Final = frozenset(
    key.casefold()
    for key in (
        # OCPP 1.6 Security Whitepaper ed.3: the Basic auth password of profiles 1 and 2;
        # write-only by the spec, but not every charger honours that.
        "AuthorizationKey",
        # Wallbox (Pulsar Plus, Commander 2; FW 5.x/6.x): the OCPP connection password is
        # readable through GetConfiguration (evcc dumps; wallbox-field-notes §2.2).
        "WebSocketPassword",
        # Wallbox: the SIM/unlock PUK, read-only but a secret (evcc dumps; field notes §2.2).
        "PUK",
    )
)


# Vendor keys not named above whose names say they hold a secret (issue 7: "Wi-Fi passwords,
# SIM PINs and such"; vendors name them freely, e.g. WifiPassword, SimPin, ApnPassword): masked
# by name. ``pin$`` spares WebSocketPingInterval and the like.
_SECRET_KEY_NAME: Final = re.compile(r"password|passwd|passphrase|secret|pin$|puk$|psk$")


def is_secret_configuration_key(key: str) -> bool:
    """True if the value of configuration key ``key`` is a secret."""
    name = key.casefold()
    return name in SECRET_CONFIGURATION_KEYS or _SECRET_KEY_NAME.search(name) is not None


def masked_configuration_value(key: str, value: str | None) -> str | None:
    """``value`` as it may be shown: :data:`MASK` for a secret key that has a value."""
    if value is not None and is_secret_configuration_key(key):
        return MASK
    return value
