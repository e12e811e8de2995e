"""What the owner types into the charger's app: GET /api/v1/setup/charger-url.

The Wallbox app (Settings > External Management > OCPP; Wallbox knowledge base "OCPP –
Activation and Setup Guide" §3.2.3) asks for the CSMS "URL", the "Charge Point ID" and a
"Password"; the charger appends its id to the URL (DESIGN §1: ``ws(s)://HOST:PORT/ocpp/<ID>``).
The host is ``public_host`` when set, else the address ChargeDeck listens on for chargers when
that is one address (a loopback one comes with a warning), else the LAN address of the
interface that routes outward (found without sending a packet). The ports are the ones
actually bound (port 0 picks a free one).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final, Literal
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from chargedeck.server.api.auth import Principal
from chargedeck.server.api.common import ApiHandlers, checked_charge_point_id, json_response
from chargedeck.server.api.views import View

OCPP_PATH: Final = "/ocpp"
# Connecting a UDP socket sends nothing: the kernel only picks the route and with it the source
# address. A private address (RFC 1918) finds the LAN interface without needing the internet.
_ROUTE_PROBE: Final = ("10.255.255.255", 1)
_WILDCARDS: Final = frozenset({"", "0.0.0.0", "::", "*"})

HostSource = Literal["public_host", "ocpp_host", "lan_address"]


@dataclass(frozen=True)
class OcppPorts:
    """The charger ports as bound: ws:// and, when TLS is on, wss://."""

    ws_port: int
    wss_port: int | None


class ChargerUrlView(View, frozen=True, kw_only=True):
    """The values for the charger's OCPP settings."""

    host: str
    host_source: HostSource
    """Where the host came from: the public_host setting, the ocpp_host setting, or the LAN
    address of this machine (set public_host if chargers reach it by another name)."""
    ws_url: str
    """For security profiles 0 and 1: type this as the CSMS URL."""
    wss_url: str | None
    """For security profiles 2 and 3 (TLS); None while TLS is not configured."""
    tls_enabled: bool
    ca_certificate_url: str | None
    """Where the CA root certificate is downloaded for profile 2 (API path), when TLS is on."""
    charge_point_id: str | None = None
    ws_url_with_id: str | None = None
    """The full URL the charger will open (the URL with its id appended)."""
    wss_url_with_id: str | None = None
    warning: str | None = None
    """Why a charger on the LAN may not reach these URLs, with what to change (None: no doubt)."""


def lan_address() -> str:
    """The IPv4 address of the interface that routes to the LAN; 127.0.0.1 without a route."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(_ROUTE_PROBE)
        except OSError:
            return "127.0.0.1"
        address: str = probe.getsockname()[0]
    return address


def url_host(host: str) -> str:
    """``host`` as it goes into a URL: IPv6 literals in brackets (RFC 3986 §3.2.2)."""
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]"
    except ValueError:
        pass
    return host


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SetupHandlers(ApiHandlers):
    """The add-a-charger assistant's API."""

    ocpp_ports: OcppPorts | None = None
    """Set by build_api from the bound ports; None: the configured ones."""

    def _charger_host(self) -> tuple[str, HostSource]:
        settings = self.services.settings
        if settings.public_host.strip():
            return settings.public_host.strip(), "public_host"
        if settings.ocpp_host not in _WILDCARDS:
            return settings.ocpp_host, "ocpp_host"
        return lan_address(), "lan_address"

    def _ports(self) -> OcppPorts:
        if self.ocpp_ports is not None:
            return self.ocpp_ports
        settings = self.services.settings
        tls_on = self.server_tls is not None and self.server_tls.enabled
        return OcppPorts(settings.ocpp_port, settings.ocpp_tls_port if tls_on else None)

    async def charger_url(self, request: Request, caller: Principal | None) -> Response:
        text = request.query_params.get("charge_point_id")
        charge_point_id = (
            None if text is None else checked_charge_point_id(text, HTTPStatus.BAD_REQUEST)
        )
        host, source = self._charger_host()
        warning = None
        if source == "ocpp_host" and _is_loopback(host):
            warning = (
                f"ChargeDeck accepts chargers on {host} only, which a charger on the LAN cannot "
                "reach: set ocpp_host to 0.0.0.0 (or this machine's LAN address) and restart"
            )
        ports = self._ports()
        ws_url = f"ws://{url_host(host)}:{ports.ws_port}{OCPP_PATH}"
        wss_url = (
            None
            if ports.wss_port is None
            else f"wss://{url_host(host)}:{ports.wss_port}{OCPP_PATH}"
        )
        suffix = None if charge_point_id is None else "/" + quote(charge_point_id, safe="")
        view = ChargerUrlView(
            host=host,
            host_source=source,
            ws_url=ws_url,
            wss_url=wss_url,
            tls_enabled=wss_url is not None,
            ca_certificate_url=None if wss_url is None else "/api/v1/tls/ca.pem",
            charge_point_id=charge_point_id,
            ws_url_with_id=None if suffix is None else ws_url + suffix,
            wss_url_with_id=None if suffix is None or wss_url is None else wss_url + suffix,
            warning=warning,
        )
        return json_response(view)
