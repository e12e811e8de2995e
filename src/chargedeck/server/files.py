"""ChargeDeck's file endpoint for chargers: firmware downloads and diagnostics uploads.

Its own listener (``files_host:files_port``, plain HTTP: the locations of OCPP 1.6
UpdateFirmware and GetDiagnostics are FTP or HTTP(S) URLs, §8, and chargers rarely check a
certificate there), served by uvicorn in the server's event loop like the operator API. The
secret tokens in the paths are the only credentials, so every path answers 404 for an unknown
token and a firmware URL answers 410 once it has expired.

- ``GET /firmware/{url_token}/{name}``: the job's firmware file, streamed.
- ``PUT /diagnostics/{upload_token}/{file name}``: the body is the file.
- ``POST /diagnostics/{upload_token}``: multipart/form-data, the first part with a filename.
Uploads over ``max_upload_bytes`` answer 413 and leave nothing on disk.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from http import HTTPStatus

import uvicorn
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from chargedeck.config import Settings
from chargedeck.csms.context import CsmsServices
from chargedeck.csms.diagnostics import receive_upload
from chargedeck.csms.files import FileTooLarge, data_path

log = logging.getLogger("chargedeck.server")

# An address outside any network (TEST-NET-1, RFC 5737): connecting a UDP socket to it sends
# nothing but makes the system pick the interface, whose address chargers on the LAN can reach.
_ROUTE_PROBE = ("192.0.2.1", 9)


class _EmbeddedUvicorn(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        return None


def _text(status: HTTPStatus, sentence: str) -> Response:
    return PlainTextResponse(sentence + "\n", status_code=status.value)


def bind_files_socket(settings: Settings) -> tuple[socket.socket, str]:
    """Bind ``files_host:files_port`` and return the socket and the base URL chargers use
    (``files_public_url``, else http://<this machine's address>:<bound port>). Raises OSError."""
    host = settings.files_host
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, settings.files_port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    port = sock.getsockname()[1]
    if settings.files_public_url:
        return sock, settings.files_public_url.rstrip("/")
    return sock, f"http://{reachable_host(host)}:{port}"


def reachable_host(host: str) -> str:
    """The address chargers reach a listener bound to ``host`` at, for a URL: this machine's
    LAN address for a wildcard address, IPv6 in brackets."""
    public_host = host
    if host in ("0.0.0.0", "::", ""):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.connect(_ROUTE_PROBE)
            public_host = probe.getsockname()[0]
        except OSError:
            public_host = "127.0.0.1"
        finally:
            probe.close()
    if ":" in public_host:
        public_host = f"[{public_host}]"
    return public_host


class _FirstFilePart:
    """Streams the first part with a filename out of a multipart/form-data body (RFC 7578),
    parsed by python-multipart as it arrives."""

    def __init__(self, boundary: bytes) -> None:
        self.filename: str | None = None
        self.done = False
        self._active = False
        self._header_field = b""
        self._header_value = b""
        self._disposition = b""
        self._pending: list[bytes] = []
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._field,
                "on_header_value": self._value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._data,
                "on_part_end": self._part_end,
            },
        )

    def _part_begin(self) -> None:
        self._disposition = b""
        self._header_field = self._header_value = b""

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_field.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_field = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        filename = options.get(b"filename")
        if filename is not None and self.filename is None and not self.done:
            self.filename = filename.decode("utf-8", "replace")
            self._active = True

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._active:
            self._pending.append(data[start:end])

    def _part_end(self) -> None:
        if self._active:
            self._active = False
            self.done = True

    def feed(self, chunk: bytes) -> list[bytes]:
        self._parser.write(chunk)
        pending, self._pending = self._pending, []
        return pending


class UploadRefused(Exception):
    """A multipart upload that cannot be read: the HTTP status and a sentence."""

    def __init__(self, status: HTTPStatus, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status


async def first_file_part(request: Request) -> tuple[str, AsyncIterator[bytes]]:
    """The file name and the bytes of the first part with a filename of a multipart/form-data
    request, read as they arrive. Raises :class:`UploadRefused` (415 not multipart, 400
    malformed or no file part); the iterator raises ``MultipartParseError`` on a cut body."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UploadRefused(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "expected multipart/form-data with a boundary"
        )
    part = _FirstFilePart(boundary)
    stream = request.stream()
    head: list[bytes] = []
    try:
        async for chunk in stream:
            head.extend(part.feed(chunk))
            if part.filename is not None:
                break
    except MultipartParseError as exc:
        raise UploadRefused(HTTPStatus.BAD_REQUEST, f"malformed multipart body: {exc}") from None
    if part.filename is None:
        raise UploadRefused(
            HTTPStatus.BAD_REQUEST, "the multipart body has no part with a filename"
        )

    async def chunks() -> AsyncIterator[bytes]:
        for piece in head:
            yield piece
        if part.done:
            return
        async for chunk in stream:
            for piece in part.feed(chunk):
                yield piece
            if part.done:
                return
        raise MultipartParseError("the body ended inside the file part")

    return part.filename, chunks()


def build_files_app(services: CsmsServices) -> Starlette:
    """The Starlette app of the file endpoint."""
    store = services.store

    async def get_firmware(request: Request) -> Response:
        job = await store.firmware.get_job_by_token(request.path_params["url_token"])
        if job is None:
            return _text(HTTPStatus.NOT_FOUND, "no firmware at this URL")
        if services.clock.now() >= job.url_expires_at:
            return _text(
                HTTPStatus.GONE,
                f"this firmware URL expired at {job.url_expires_at.isoformat()}; ask the "
                "operator for a new update job",
            )
        firmware_file = await store.firmware.get_file(job.firmware_file_id)
        if firmware_file is None:
            return _text(HTTPStatus.NOT_FOUND, "the firmware file of this job was removed")
        return FileResponse(
            data_path(services.settings.data_dir, firmware_file.path),
            media_type="application/octet-stream",
            filename=firmware_file.name,
        )

    async def _upload(request: Request, file_name: str, chunks: AsyncIterator[bytes]) -> Response:
        job = await store.diagnostics.get_job_by_token(request.path_params["upload_token"])
        if job is None:
            return _text(HTTPStatus.NOT_FOUND, "no diagnostics upload expected at this URL")
        try:
            await receive_upload(services, job, file_name, chunks)
        except FileTooLarge as exc:
            return _text(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"upload refused: {exc}")
        return _text(HTTPStatus.CREATED, "stored")

    async def put_diagnostics(request: Request) -> Response:
        return await _upload(request, request.path_params["file_name"], request.stream())

    async def post_diagnostics(request: Request) -> Response:
        try:
            file_name, chunks = await first_file_part(request)
        except UploadRefused as exc:
            return _text(exc.status, f"{exc}; or PUT the file to {request.url.path}/<file name>")
        try:
            return await _upload(request, file_name, chunks)
        except MultipartParseError as exc:
            return _text(HTTPStatus.BAD_REQUEST, f"malformed multipart body: {exc}")

    routes = [
        Route("/firmware/{url_token}/{name}", get_firmware, methods=["GET", "HEAD"]),
        Route("/diagnostics/{upload_token}/{file_name}", put_diagnostics, methods=["PUT"]),
        Route("/diagnostics/{upload_token}", post_diagnostics, methods=["POST"]),
    ]
    return Starlette(routes=routes)


class FileEndpoint:
    """The file endpoint's uvicorn server on an already bound socket."""

    def __init__(self, services: CsmsServices, sock: socket.socket) -> None:
        self._socket = sock
        config = uvicorn.Config(
            build_files_app(services), lifespan="off", log_level="warning", access_log=False
        )
        config.load()
        self._server = _EmbeddedUvicorn(config)
        self._server.lifespan = config.lifespan_class(config)

    async def start(self) -> tuple[str, int]:
        await self._server.startup(sockets=[self._socket])
        host, port = self._socket.getsockname()[:2]
        return host, port

    async def stop(self) -> None:
        self._server.should_exit = True
        await self._server.shutdown()
