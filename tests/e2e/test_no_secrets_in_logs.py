"""Secrets never reach the log (Security Whitepaper A01.FR.09; issue 4): a server goes through
every flow that handles one — charger passwords set, rotated and guessed wrong, TLS keys, client
certificates, the first admin password, API tokens — and its whole output is searched for them.

The first start prints the admin password once, on the console, in a marked block (DESIGN §8):
that block is the only place it may appear.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.e2e.test_security_profiles import (
    NO_BACKOFF,
    basic,
    booted_charger,
    boots,
    client_context,
    make_pki,
    refused_status,
    tls_port,
)
from tests.support.server import running_server

CHARGER_PASSWORD = "first-Charger-Key-1"
ROTATED_PASSWORD = "second-Charger-Key-2"
WRONG_PASSWORD = "guessed-Wrong-Key-3"


async def test_no_secret_appears_in_the_server_output(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    server_key = pki.key_file.read_bytes()
    client_bundle = pki.client_certificate("SEC-3")
    database_url = f"sqlite:///{tmp_path / 'secrets.db'}"
    with running_server(database_url, (*pki.server_args(), *NO_BACKOFF)) as server:
        admin_password = server.first_admin_password()
        assert admin_password is not None
        wss_url = f"wss://127.0.0.1:{tls_port(server)}/ocpp"
        async with server.async_api_client() as api:
            added = await api.post(
                "/charge-points", json={"id": "SEC-1", "generate_password": True}
            )
            generated = added.json()["password"]
            await api.post("/charge-points", json={"id": "SEC-2", "password": CHARGER_PASSWORD})
            await api.post("/charge-points", json={"id": "SEC-3", "security_profile": 3})
            token = (await api.post("/tokens", json={"name": "script", "scope": "read"})).json()[
                "token"
            ]
        async with httpx.AsyncClient(
            base_url=server.api_url, auth=("admin", admin_password)
        ) as api:
            assert (await api.get("/me")).status_code == 200
        async with httpx.AsyncClient(
            base_url=server.api_url, headers={"Authorization": f"Bearer {token}"}
        ) as api:
            assert (await api.get("/charge-points")).status_code == 200
        await boots(server.ocpp_url, "SEC-1", headers=basic("SEC-1", generated.encode()))
        async with (
            booted_charger(
                server.ocpp_url, "SEC-2", headers=basic("SEC-2", CHARGER_PASSWORD.encode())
            ),
            server.async_api_client() as api,
        ):
            rotated = await api.put(
                "/charge-points/SEC-2/password", json={"password": ROTATED_PASSWORD}
            )
            assert rotated.json()["outcome"] == "accepted_by_charger"
        for _ in range(3):
            await refused_status(
                server.ocpp_url, "SEC-2", headers=basic("SEC-2", WRONG_PASSWORD.encode())
            )
        await boots(wss_url, "SEC-3", context=client_context(pki.ca_file, client_bundle))
        await asyncio.sleep(1.2)  # the refusals are written within a second
    output = server.log_text()
    notice_start = output.index("shown this once")
    notice = output[notice_start : output.index("====", notice_start)]
    assert admin_password in notice
    assert admin_password not in output.replace(notice, "")
    secrets = {
        "generated charger password": generated,
        "charger password": CHARGER_PASSWORD,
        "rotated charger password": ROTATED_PASSWORD,
        "rotated password as sent (hex)": ROTATED_PASSWORD.encode().hex(),
        "wrong password": WRONG_PASSWORD,
        "API token": token,
        "server private key": server_key.decode().splitlines()[1],
        "client private key": client_bundle.read_text().split("PRIVATE KEY-----")[1].split()[0],
    }
    found = {name for name, secret in secrets.items() if secret in output}
    assert found == set(), output
