"""Logging set-up: one line per event, with the charge point id where there is one."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str) -> None:
    """Log to stderr; scripts and tests read the ``... listening on ...`` lines from there."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # websockets logs every failed handshake at INFO with a traceback; we log our own reasons.
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # aioftp logs every FTP connection and its closing at INFO; server/ftp.py logs the uploads.
    logging.getLogger("aioftp").setLevel(logging.WARNING)
