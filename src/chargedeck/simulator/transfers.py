"""File transfers of a simulated charger: firmware downloads (UpdateFirmware, OCPP 1.6 §5.19)
and diagnostics uploads (GetDiagnostics, §5.9), over HTTP(S) or FTP as §8 allows.

Blocking standard-library clients run in a worker thread (``asyncio.to_thread``), so a slow
server never stalls the event loop the charger's WebSocket lives on. Uploads over HTTP are
``multipart/form-data`` POSTs, the form ChargeDeck's file endpoint takes (server/files.py,
``POST /diagnostics/{token}``) and the one most CSMSs document; FTP uploads STOR the file into
the location's folder with the user and password of the URL. Every failure is a
:class:`TransferFailed` with a sentence; the library's own exceptions stop here.
"""

from __future__ import annotations

import asyncio
import ftplib
import io
import secrets
import urllib.error
import urllib.request
from typing import Final
from urllib.parse import unquote, urlsplit

TRANSFER_TIMEOUT_S: Final = 60.0
"""Socket time-out of one transfer: a charger on a slow mobile link still moves a few MB in a
minute; firmware images of a Wallbox are tens of MB (csms/firmware.py)."""

_READ_CHUNK: Final = 64 * 1024


class TransferFailed(Exception):
    """A download or upload that did not complete; the message says what and why."""


async def download(location: str, timeout_s: float = TRANSFER_TIMEOUT_S) -> int:
    """Fetch ``location`` and return how many bytes arrived (the image is not kept)."""
    return await asyncio.to_thread(_download, location, timeout_s)


async def upload(
    location: str, file_name: str, content: bytes, timeout_s: float = TRANSFER_TIMEOUT_S
) -> None:
    """Send ``content`` as ``file_name`` to ``location``."""
    await asyncio.to_thread(_upload, location, file_name, content, timeout_s)


def _download(location: str, timeout_s: float) -> int:
    parts = urlsplit(location)
    if parts.scheme == "ftp":
        received = io.BytesIO()
        with _ftp(location, timeout_s) as ftp:
            try:
                ftp.retrbinary(f"RETR {unquote(parts.path)}", received.write)
            except ftplib.all_errors as error:
                raise TransferFailed(f"FTP download of {_safe(location)} failed: {error}") from None
        return len(received.getvalue())
    _check_http(location)
    try:
        # The scheme is checked above: http or https only.
        with urllib.request.urlopen(location, timeout=timeout_s) as response:  # noqa: S310
            total = 0
            while chunk := response.read(_READ_CHUNK):
                total += len(chunk)
            return total
    except urllib.error.HTTPError as error:
        raise TransferFailed(
            f"download of {_safe(location)} answered HTTP {error.code} {error.reason}"
        ) from None
    except (urllib.error.URLError, OSError) as error:
        raise TransferFailed(f"download of {_safe(location)} failed: {error}") from None


def _upload(location: str, file_name: str, content: bytes, timeout_s: float) -> None:
    parts = urlsplit(location)
    if parts.scheme == "ftp":
        folder = unquote(parts.path) or "/"
        with _ftp(location, timeout_s) as ftp:
            try:
                ftp.cwd(folder)
                ftp.storbinary(f"STOR {file_name}", io.BytesIO(content))
            except ftplib.all_errors as error:
                raise TransferFailed(f"FTP upload to {_safe(location)} failed: {error}") from None
        return
    _check_http(location)
    boundary = secrets.token_hex(16)
    body = b"".join(
        (
            f"--{boundary}\r\n".encode(),
            f'Content-Disposition: form-data; name="file"; filename="{file_name}"\r\n'.encode(),
            b"Content-Type: text/plain\r\n\r\n",
            content,
            f"\r\n--{boundary}--\r\n".encode(),
        )
    )
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        location,
        data=body,
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s):  # noqa: S310
            return
    except urllib.error.HTTPError as error:
        raise TransferFailed(
            f"upload to {_safe(location)} answered HTTP {error.code} {error.reason}"
        ) from None
    except (urllib.error.URLError, OSError) as error:
        raise TransferFailed(f"upload to {_safe(location)} failed: {error}") from None


def _check_http(location: str) -> None:
    scheme = urlsplit(location).scheme
    if scheme not in ("http", "https"):
        raise TransferFailed(
            f"{_safe(location)}: the simulator transfers over http, https or ftp (OCPP 1.6 §8), "
            f"not {scheme or 'a location without a scheme'}"
        )


def _ftp(location: str, timeout_s: float) -> ftplib.FTP:
    parts = urlsplit(location)
    # OCPP 1.6 §8 names FTP for these transfers; the CSMS chose it in the location.
    ftp = ftplib.FTP(timeout=timeout_s)  # noqa: S321
    try:
        ftp.connect(parts.hostname or "", parts.port or 21)
        ftp.login(unquote(parts.username or "anonymous"), unquote(parts.password or ""))
    except ftplib.all_errors as error:
        ftp.close()
        raise TransferFailed(f"FTP login to {_safe(location)} failed: {error}") from None
    return ftp


def _safe(location: str) -> str:
    """The location without its password (it is a credential: STYLE rule 7)."""
    parts = urlsplit(location)
    if parts.password is None:
        return location
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()
