"""ChargeDeck's FTP endpoint for chargers that upload diagnostics only by FTP (OCPP 1.6 §8:
GetDiagnostics locations are FTP or HTTP(S) URLs; many chargers' firmware has only an FTP
client). Started only when ``ftp_enabled`` is set.

aioftp serves it in the server's event loop. Every diagnostics job is its own FTP user:
``job-<id>`` with the job's upload token as password, and the job's folder is that user's
root. The only things a logged-in charger can do are store files into that root and the
session commands around it (TYPE, PASV/EPSV, PWD, CWD /, SYST, ABOR, QUIT): no listings, no
downloads, no other paths. A stored file goes through ``csms.diagnostics.receive_upload``
exactly like an HTTP upload, under the same ``max_upload_bytes`` limit.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import Final
from urllib.parse import urlsplit

import aioftp
from aioftp.common import Connection

from chargedeck.config import Settings
from chargedeck.csms.context import CsmsServices
from chargedeck.csms.diagnostics import parse_ftp_user, receive_upload
from chargedeck.csms.files import FileTooLarge
from chargedeck.server.files import reachable_host

log = logging.getLogger("chargedeck.server")

IDLE_TIMEOUT_S: Final = 120.0
"""How long a control connection may stay silent: long enough for a slow charger to open its
data connection and start, short enough that idle connections do not pile up."""
SOCKET_TIMEOUT_S: Final = 60.0
"""How long one read or write on a connection may take before the transfer is dropped."""
MAX_CONNECTIONS: Final = 64
"""FTP connections at once: chargers upload one file now and then."""

_ROOT = PurePosixPath("/")
_CLOSED: Final = "connection closed"
"""Pseudo-command for a control connection that ended or timed out: it holds a space, so no
client line can name it (aioftp splits the command at the first space)."""


class _JobUser(aioftp.User):
    """An FTP login for one diagnostics job (None: a user name that names no job)."""

    def __init__(self, login: str, job_id: int | None) -> None:
        super().__init__(login, None, base_path=Path("/nonexistent"), home_path=_ROOT)
        self.job_id = job_id


class _JobUsers(aioftp.AbstractUserManager):
    """``job-<id>`` / upload token. Every user name is asked for a password, so that a wrong
    guess does not tell which job ids exist."""

    def __init__(self, endpoint: FtpEndpoint) -> None:
        super().__init__()
        self._endpoint = endpoint

    async def get_user(
        self, login: str
    ) -> tuple[aioftp.AbstractUserManager.GetUserResponse, aioftp.User | None, str]:
        return (
            aioftp.AbstractUserManager.GetUserResponse.PASSWORD_REQUIRED,
            _JobUser(login, parse_ftp_user(login)),
            "password required",
        )

    async def authenticate(self, user: aioftp.User, password: str) -> bool:
        services = self._endpoint.services
        if services is None or not isinstance(user, _JobUser) or user.job_id is None:
            return False
        job = await services.store.diagnostics.get_job(user.job_id)
        if job is None or not secrets.compare_digest(
            job.upload_token.encode(), password.encode("utf-8", "replace")
        ):
            log.warning("ftp: refused login as %r: wrong user name or password", user.login)
            return False
        return True


class _UploadOnlyServer(aioftp.Server):
    """aioftp's server reduced to storing files into the logged-in job's root."""

    def __init__(self, endpoint: FtpEndpoint) -> None:
        super().__init__(
            _JobUsers(endpoint),
            idle_timeout=IDLE_TIMEOUT_S,
            socket_timeout=SOCKET_TIMEOUT_S,
            maximum_connections=MAX_CONNECTIONS,
            welcome_message="ChargeDeck diagnostics upload",
        )
        self._endpoint = endpoint
        allowed = ("user", "pass", "quit", "pwd", "cwd", "type", "syst", "pasv", "epsv", "abor")
        # Everything else (LIST, MLSD, RETR, DELE, MKD, RNFR, APPE, REST, ...) answers 502.
        self.commands_mapping = {name: self.commands_mapping[name] for name in allowed}
        self.commands_mapping["stor"] = self.stor
        self.commands_mapping[_CLOSED] = self._closed

    async def parse_command(
        self, stream: aioftp.StreamIO, censor_commands: tuple[str] = ("pass",)
    ) -> tuple[str, str]:
        """aioftp raises out of its connection task when a charger hangs up, idles past
        IDLE_TIMEOUT_S or sends a line that is not UTF-8, and logs that as an ERROR with a
        traceback (or as a never-retrieved task exception after QUIT): a charger going away is
        normal, so the connection just ends."""
        try:
            return await super().parse_command(stream, censor_commands)
        except (OSError, UnicodeDecodeError):
            return _CLOSED, ""

    async def _closed(self, connection: Connection, rest: str) -> bool:
        return False

    async def user(self, connection: Connection, rest: str) -> bool:
        result = await super().user(connection, rest)
        # aioftp keeps a throttle per User object for ever; ours are one per login, unthrottled.
        self.throttle_per_user.clear()
        return result

    async def cwd(self, connection: Connection, rest: str | PurePosixPath) -> bool:
        if not connection.future.logged.done():
            connection.response("503", "not logged in")
            return True
        _, virtual_path = self.get_paths(connection, rest)
        if virtual_path == _ROOT:
            connection.response("250", "")
        else:
            connection.response("550", "only this job's folder / exists")
        return True

    async def stor(
        self, connection: Connection, rest: str | PurePosixPath, mode: str = "wb"
    ) -> bool:
        if not connection.future.logged.done():
            connection.response("503", "not logged in")
            return True
        if not connection.future.passive_server.done():
            connection.response("503", "no listen socket created (use PASV firstly)")
            return True
        services = self._endpoint.services
        _, virtual_path = self.get_paths(connection, rest)
        user = connection.user
        if (
            services is None
            or not isinstance(user, _JobUser)
            or user.job_id is None
            or virtual_path.parent != _ROOT
            or not virtual_path.name
        ):
            connection.response("550", "store the file in this job's folder: STOR <file name>")
            return True
        job = await services.store.diagnostics.get_job(user.job_id)
        if job is None:
            connection.response("550", "this diagnostics job no longer exists")
            return True

        @aioftp.ConnectionConditions(
            aioftp.ConnectionConditions.data_connection_made,
            wait=True,
            fail_code="425",
            fail_info="Can't open data connection",
        )
        @aioftp.worker
        async def stor_worker(
            server: aioftp.Server, connection: Connection, rest: str | PurePosixPath
        ) -> bool:
            stream = connection.data_connection
            del connection.data_connection

            async def chunks() -> AsyncIterator[bytes]:
                async for block in stream.iter_by_block(connection.block_size):
                    yield block

            async with stream:
                try:
                    await receive_upload(services, job, virtual_path.name, chunks())
                except FileTooLarge as exc:
                    # RFC 959 552: "Requested file action aborted. Exceeded storage allocation."
                    connection.response("552", f"upload refused: {exc}")
                    return True
                except (OSError, TimeoutError) as exc:
                    log.warning(
                        "ftp: diagnostics job %d: upload from %s broke off: %s",
                        job.id,
                        job.charge_point_id,
                        exc or type(exc).__name__,
                    )
                    connection.response("426", "connection closed; transfer aborted")
                    return True
            connection.response("226", "stored")
            return True

        async def transfer() -> None:
            await stor_worker(self, connection, rest)

        task = asyncio.create_task(transfer())
        connection.extra_workers.add(task)
        connection.response("150", "data transfer started")
        return True


class FtpEndpoint:
    """The FTP endpoint: started before the services exist (their ``ftp_base_url`` needs the
    bound port), serving logins once :meth:`attach` has given it the services."""

    def __init__(self, settings: Settings) -> None:
        self.services: CsmsServices | None = None
        self._settings = settings
        self._server = _UploadOnlyServer(self)

    async def start(self) -> tuple[str, int, str]:
        """Listen on ``ftp_host:ftp_port``; return the bound host, port and the base URL
        chargers use (``ftp://HOST:PORT``). Raises OSError."""
        host = self._settings.ftp_host or self._settings.files_host
        await self._server.start(host, self._settings.ftp_port)
        bound_host, port = self._server.server.sockets[0].getsockname()[:2]
        public_url = self._settings.files_public_url
        public_host = urlsplit(public_url).hostname if public_url else None
        if public_host is None:
            public_host = reachable_host(host)
        elif ":" in public_host:
            public_host = f"[{public_host}]"
        return bound_host, port, f"ftp://{public_host}:{port}"

    def attach(self, services: CsmsServices) -> None:
        self.services = services

    async def stop(self) -> None:
        await self._server.close()
