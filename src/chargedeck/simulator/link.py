"""Opening a simulated charger's WebSocket to its CSMS, and the failures as the charger sees them.

As a charger does (OCPP-J 1.6 §3.1): the charge point id is appended to the CSMS URL as one
percent-encoded path segment, ``ocpp1.6`` is the offered subprotocol, HTTP Basic auth carries
``id:password`` for security profiles 1 and 2 (Security Whitepaper ed.3), TLS trusts the CA
file it was given (profile 2, the Wallbox guide's "upload the CA root certificate") and shows
its own certificate for profile 3. No permessage-deflate (DESIGN §4) and no proxy: a charger
talks to its CSMS directly.

Third-party exceptions are translated here (STYLE rule 3) into the three outcomes the Wallbox
app tells apart (setup guide §3.4): :class:`HandshakeRejected` ("Connection Rejected": the CSMS
answered the upgrade with 401, 403 or 404, or would not speak OCPP 1.6),
:class:`CertificateFailed` ("Certificate Validation Failed": the server's certificate did not
verify against the CA file), and :class:`ConnectFailed` (anything else: the app stays at
"Connecting").
"""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final
from urllib.parse import quote, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI
from websockets.typing import Subprotocol

from chargedeck.ocpp.handshake import OCPP16_SUBPROTOCOL

OPEN_TIMEOUT_S: Final = 10.0
"""TCP + TLS + upgrade within this time, websockets' default and a charger's usual figure."""

CLOSE_TIMEOUT_S: Final = 2.0
"""How long a close handshake may take before the socket is dropped: stop() must be prompt."""

# OCPP-J 1.6 §3.2: 404 for an unknown charge point; 401 (bad or missing Basic credentials) and
# 403 (profile or certificate refused) from the Security Whitepaper ed.3 and DESIGN §5.
REJECTING_STATUSES: Final = frozenset(
    {HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND}
)

_MAX_REASON_CHARS: Final = 300


class LinkFailed(Exception):
    """The connection could not be opened; ``reason`` is a sentence for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HandshakeRejected(LinkFailed):
    """The CSMS refused the charger: ``status`` is the HTTP status (0: it accepted the upgrade
    but not OCPP 1.6), ``reason`` includes the server's own reason text."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class CertificateFailed(LinkFailed):
    """The server's TLS certificate did not verify against the charger's CA file."""


class ConnectFailed(LinkFailed):
    """Anything else: no route, refused port, time-out, TLS trouble, another HTTP status."""


@dataclass(frozen=True)
class LinkSettings:
    """What :func:`open_link` needs; built by the station from ChargerOptions."""

    csms_url: str
    charge_point_id: str
    password: str | None = None
    ca_file: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    ping_interval_s: float | None = None


def charger_url(csms_url: str, charge_point_id: str) -> str:
    """The URL a charger opens: the CSMS URL, ``/``, the id percent-encoded (OCPP-J §3.1.1)."""
    return f"{csms_url.rstrip('/')}/{quote(charge_point_id, safe='')}"


def basic_authorization(charge_point_id: str, password: str) -> str:
    """The ``Authorization`` header of profiles 1/2: the user name is the charge point id."""
    token = base64.b64encode(f"{charge_point_id}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def tls_context(settings: LinkSettings) -> ssl.SSLContext:
    """TLS 1.2 or later (Security Whitepaper ed.3), trusting ``ca_file`` (the system's roots
    without one), with the client certificate of profile 3 when given. Raises ConnectFailed
    naming a file that cannot be read."""
    try:
        context = ssl.create_default_context(cafile=settings.ca_file)
        if settings.client_cert_file is not None:
            context.load_cert_chain(settings.client_cert_file, settings.client_key_file)
    except (OSError, ssl.SSLError) as error:
        raise ConnectFailed(f"cannot load the charger's certificates: {error}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


async def open_link(settings: LinkSettings) -> ClientConnection:
    """Open the charger's WebSocket; raises a :class:`LinkFailed` subclass on failure."""
    url = charger_url(settings.csms_url, settings.charge_point_id)
    scheme = urlsplit(url).scheme
    headers: dict[str, str] = {}
    if settings.password is not None:
        headers["Authorization"] = basic_authorization(settings.charge_point_id, settings.password)
    context = tls_context(settings) if scheme == "wss" else None
    try:
        connection = await connect(
            url,
            subprotocols=[Subprotocol(OCPP16_SUBPROTOCOL)],
            additional_headers=headers,
            compression=None,
            proxy=None,
            ssl=context,
            open_timeout=OPEN_TIMEOUT_S,
            close_timeout=CLOSE_TIMEOUT_S,
            ping_interval=settings.ping_interval_s,
            user_agent_header="ChargeDeck simulator",
        )
    except InvalidStatus as error:
        raise _refused(error) from None
    except ssl.SSLCertVerificationError as error:
        raise CertificateFailed(
            f"the server's certificate did not verify against the charger's CA: "
            f"{error.verify_message or error.reason}"
        ) from None
    except ssl.SSLError as error:
        raise ConnectFailed(f"TLS handshake failed: {error.reason or error}") from None
    except InvalidURI as error:
        raise ConnectFailed(
            f"{settings.csms_url!r} is not a ws:// or wss:// URL: {error}"
        ) from None
    except (InvalidHandshake, OSError, TimeoutError) as error:
        raise ConnectFailed(f"cannot reach {url}: {error or type(error).__name__}") from None
    if connection.subprotocol != OCPP16_SUBPROTOCOL:
        # OCPP-J 1.6 §3.1.2: a CSMS that agrees to none of the offered subprotocols completes
        # the handshake without one and closes.
        await connection.close()
        raise HandshakeRejected(0, "the CSMS did not accept the subprotocol ocpp1.6")
    return connection


def _refused(error: InvalidStatus) -> LinkFailed:
    response = error.response
    body = (response.body or b"").decode("utf-8", "replace").strip()[:_MAX_REASON_CHARS]
    text = f"HTTP {response.status_code} {response.reason_phrase}"
    if body:
        text = f"{text}: {body}"
    if response.status_code in REJECTING_STATUSES:
        return HandshakeRejected(response.status_code, text)
    return ConnectFailed(text)
