"""The web UI's files (server/web/): ``/`` answers index.html, ``/web/<file>`` the rest.

No build step (DESIGN §8): the files are plain HTML, CSS and ES modules shipped as package data
and read once when the API is built. They hold no data (every datum comes from the API with
credentials), so they are served without authentication. There are no content hashes in the
file names, so browsers revalidate every time (``Cache-Control: no-cache``) and a matching ETag
answers 304: an upgrade shows on the next load, an unchanged file costs no body.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

WEB_DIR: Final = Path(__file__).resolve().parent.parent / "web"
MEDIA_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
# Same-origin everything: the UI loads no third-party code (no CDN), is never framed, and its
# inline-free modules run under a strict policy (MDN "Content-Security-Policy").
_CSP: Final = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_HEADERS: Final = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": _CSP,
}


@dataclass(frozen=True)
class WebFile:
    body: bytes
    media_type: str
    etag: str


def load_web_files(root: Path = WEB_DIR) -> dict[str, WebFile]:
    """Every servable file under ``root`` by its path relative to it ("pages/login.js");
    files of other kinds are not served."""
    files: dict[str, WebFile] = {}
    for path in sorted(root.rglob("*")):
        media_type = MEDIA_TYPES.get(path.suffix)
        if media_type is None or not path.is_file():
            continue
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        files[path.relative_to(root).as_posix()] = WebFile(body, media_type, etag)
    return files


def _answer(request: Request, file: WebFile) -> Response:
    headers = {**_HEADERS, "ETag": file.etag}
    if file.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(file.body, media_type=file.media_type, headers=headers)


def web_routes(files: dict[str, WebFile] | None = None) -> list[Route]:
    """Routes for ``/`` and ``/web/{path}``; an unknown file is the API's 404 problem."""
    served = load_web_files() if files is None else files

    async def index(request: Request) -> Response:
        return _answer(request, served["index.html"])

    async def asset(request: Request) -> Response:
        name: str = request.path_params["path"]
        file = served.get(name)
        if file is None:
            raise HTTPException(404)
        return _answer(request, file)

    return [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/web/{path:path}", asset, methods=["GET", "HEAD"]),
    ]
