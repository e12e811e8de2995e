"""Files ChargeDeck keeps under ``data_dir``: firmware images and chargers' diagnostics uploads.

A file arrives as a stream of chunks and is written to ``<name>.part`` first: it only gets its
final name when it is complete and within its size limit, and a refused or broken upload leaves
nothing behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import AsyncIterable
from pathlib import Path
from typing import Final

SAFE_NAME_MAX_CHARS: Final = 120
"""Enough for any firmware or diagnostics file name seen (GetDiagnostics fileName is
CiString255, but file systems count bytes: 255 bytes of UTF-8 can be far fewer characters)."""


class FileTooLarge(Exception):
    """An upload went over its limit; the sentence names the limit and its setting."""

    def __init__(self, limit: int, setting: str) -> None:
        super().__init__(
            f"the file is larger than {limit} bytes, the limit ({setting}); nothing was kept"
        )
        self.limit = limit


def safe_file_name(name: str, fallback: str) -> str:
    """``name`` without folders and with only harmless characters, for a path on disk."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", name.replace("\\", "/").rsplit("/", 1)[-1])
    base = base.lstrip(".")[:SAFE_NAME_MAX_CHARS]
    return base or fallback


def data_path(data_dir: str, relative: str) -> Path:
    """The absolute path of a stored file (paths in the store are relative to data_dir)."""
    return Path(data_dir).resolve() / relative


async def save_stream(
    chunks: AsyncIterable[bytes], path: Path, max_bytes: int, setting: str
) -> tuple[int, str]:
    """Write ``chunks`` to ``path`` (its folder made if missing); return (size, sha256 hex).

    Raises :class:`FileTooLarge` as soon as more than ``max_bytes`` arrived, after removing
    what was written; any other failure (the client went away, a full disk) also removes it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    digest = hashlib.sha256()
    size = 0
    handle = await asyncio.to_thread(open, partial, "wb")
    try:
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise FileTooLarge(max_bytes, setting)
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
        finally:
            await asyncio.to_thread(handle.close)
        await asyncio.to_thread(os.replace, partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return size, digest.hexdigest()
