"""Entity tags for configuration writes (RFC 9110 §8.8.3, §13.1.1).

GET ``/charge-points/{id}/configuration`` and GET ``/configuration-templates/{name}`` answer an
``ETag``; a write that sends ``If-Match`` with an older one is refused with 412 instead of
overwriting what someone else changed in between. A write without ``If-Match`` is allowed:
ChargeDeck is run by one owner or a small team, scripts and the ``commands/ChangeConfiguration``
route write without reading first, and a 428 on every write would break them for a race they
rarely have. Clients that read, show and then write (the web UI, the CLI) send ``If-Match``.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import Iterable, Sequence
from http import HTTPStatus

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from chargedeck.domain.masking import masked_configuration_value
from chargedeck.server.api.common import ApiProblem
from chargedeck.store.configuration import ConfigurationKeyRecord
from chargedeck.store.configuration_memory import TemplateRecord


def _etag(parts: Iterable[object]) -> str:
    """A strong entity tag: the first 128 bits of a SHA-256 over ``parts`` (RFC 9110 §8.8.3)."""
    digest = hashlib.sha256(msgspec.json.encode(list(parts))).hexdigest()[:32]
    return f'"{digest}"'


def configuration_etag(keys: Sequence[ConfigurationKeyRecord]) -> str:
    """The ETag of a charger's configuration as the API shows it: each key, its value (secret
    values masked: a tag must not help guess a password) and its readonly flag. When a key was
    reported is left out, so a refresh that finds the same values keeps the tag."""
    return _etag(
        (k.key.casefold(), masked_configuration_value(k.key, k.value), k.readonly)
        for k in sorted(keys, key=lambda k: k.key.casefold())
    )


def template_etag(record: TemplateRecord) -> str:
    """The ETag of a configuration template: model, keys (secret values masked) and when it
    last changed (a change of a secret value alone changes ``updated_at``)."""
    keys = sorted(
        (key, masked_configuration_value(key, value)) for key, value in record.keys.items()
    )
    return _etag((record.name, record.charger_model, keys, record.updated_at.isoformat()))


def check_if_match(request: Request, current: str, what: str) -> None:
    """Refuse the write with 412 when the request's If-Match names none of ``current`` (or
    ``*``); no If-Match: allowed (see the module docstring). RFC 9110 §13.1.1: strong
    comparison, so a weak tag (``W/"..."``) never matches."""
    header = request.headers.get("if-match")
    if header is None:
        return
    tags = [tag.strip() for tag in header.split(",")]
    if "*" in tags or current in tags:
        return
    raise ApiProblem(
        HTTPStatus.PRECONDITION_FAILED,
        "precondition-failed",
        f"{what} changed since you read it (If-Match {header[:80]!r}, now {current}): "
        "read it again, check your change against it, and send the new ETag",
        {"ETag": current},
    )


def with_etag(response: Response, etag: str) -> Response:
    response.headers["ETag"] = etag
    return response


_WRITE_LOCKS: weakref.WeakKeyDictionary[object, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def write_lock(owner: object, resource: str) -> asyncio.Lock:
    """The lock that serializes the writes of ``resource`` made through ``owner`` (the API
    object of one server), so that an If-Match check and the write it guards see the same
    state."""
    return _WRITE_LOCKS.setdefault(owner, {}).setdefault(resource, asyncio.Lock())
