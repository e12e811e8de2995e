"""The message log writer: every OCPP frame in and out, buffered and stored off the reply path.

The WebSocket edge hands each frame's text to :meth:`MessageLogWriter.record` (an append to a
deque: about a microsecond, nothing parsed). A background task classifies the frames (message
type, id, action) and stores them with one executemany every ``FLUSH_INTERVAL_S`` or as soon as
``FLUSH_ROWS`` wait. The log acknowledges nothing to a charger (DESIGN §6 does not cover it), so
it never makes a charger wait: past ``MAX_BUFFERED_ROWS`` the oldest frames are dropped and
counted, and a failed write is logged and counted, not retried.

A CALLRESULT or CALLERROR carries no action (OCPP-J 1.6 §4.1.3): it takes the action of the CALL
with the same message id sent the other way on the same charger's connection (a small map per
charger and direction, bounded: an id never answered does not stay for ever).

Retention (:meth:`MessageLogWriter.prune`, hourly): frames older than
``message_log_retention_days`` and beyond ``message_log_max_rows`` (oldest first) are deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import OrderedDict, deque
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import msgspec

from chargedeck.clock import Clock
from chargedeck.config import Settings
from chargedeck.csms.reports import parse_report_time
from chargedeck.domain.explain import LoggedFrame, Sentence, explain
from chargedeck.domain.masking import MASK, is_secret_configuration_key
from chargedeck.store.errors import StoreError
from chargedeck.store.message_log import MAX_EXPLAIN_FRAMES, MessageLog, MessageLogRow

log = logging.getLogger(__name__)

# The brief of issue 10: "flush with one executemany every ~0.5 s or 500 rows". 500 rows is the
# batch size the batch writer commits in 20-40 ms on the reference machine (store/batch_writer).
FLUSH_INTERVAL_S: Final = 0.5
FLUSH_ROWS: Final = 500
# About 20 s of a 4,000 msgs/s load (two frames a message) and ~25 MB of frames at 300 bytes:
# a database that stalls longer than that loses log rows, never charger data.
MAX_BUFFERED_ROWS: Final = 100_000
# Unanswered CALL ids remembered per charger and direction: OCPP-J allows one outstanding CALL
# per direction (§4.1.1); a few more cover a charger that pipelines anyway.
MAX_OPEN_CALLS: Final = 16
# The retention task's period (issue 10: "hourly").
PRUNE_INTERVAL_S: Final = 3600.0

IN: Final = "in"
OUT: Final = "out"

_CALL, _CALLRESULT, _CALLERROR = 2, 3, 4
_RAW_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])
_INT = msgspec.json.Decoder(int)
_STR = msgspec.json.Decoder(str)
# Stored ids and actions are cut to these (OCPP-J 1.6 §4.1.3: ids are at most 36 characters):
# a garbage frame cannot make an index entry of megabytes.
_MAX_ID_CHARS: Final = 36
_MAX_ACTION_CHARS: Final = 64


class Frame(msgspec.Struct, frozen=True):
    """What the edge recorded: the classification waits for the flush."""

    charge_point_id: str
    at: datetime
    direction: str
    text: str | bytes
    """As it crossed the wire: received text, or the UTF-8 bytes the session encoded."""


def classify(text: str) -> tuple[int, str, str | None]:
    """(message type, message id, action of a CALL) of a frame; (0, "", None) for a frame that
    is not an OCPP-J array (it is logged all the same: the charger sent it)."""
    try:
        parts = _RAW_ARRAY.decode(text)
        if len(parts) < 3:
            return 0, "", None
        message_type = _INT.decode(parts[0])
        message_id = _STR.decode(parts[1])[:_MAX_ID_CHARS]
        if message_type == _CALL:
            return message_type, message_id, _STR.decode(parts[2])[:_MAX_ACTION_CHARS]
        if message_type in (_CALLRESULT, _CALLERROR):
            return message_type, message_id, None
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass
    return 0, "", None


def masked_frame(text: str, action: str | None, message_type: int) -> str:
    """``text`` with secret configuration values replaced by the mask (domain/masking.py: the
    message log keeps no AuthorizationKey): a ChangeConfiguration CALL of a secret key and a
    GetConfiguration CALLRESULT listing one. Any other frame is returned as it is."""
    if action == "ChangeConfiguration" and message_type == _CALL:
        key = "key"
    elif action == "GetConfiguration" and message_type == _CALLRESULT:
        key = "configurationKey"
    else:
        return text
    if "key" not in text.casefold() or not any(
        is_secret_configuration_key(word) for word in _words(text)
    ):
        return text
    try:
        parts = msgspec.json.decode(text)
        payload = parts[-1]
        if key == "key":
            payload["value"] = MASK
        else:
            for entry in payload.get("configurationKey", []):
                if is_secret_configuration_key(entry.get("key", "")) and "value" in entry:
                    entry["value"] = MASK
        return msgspec.json.encode(parts).decode()
    except (msgspec.DecodeError, TypeError, KeyError, AttributeError, IndexError):
        # Not the shape the action has: stored as a placeholder rather than risk a secret.
        return f'"frame of {action} not stored: it may hold a secret and is malformed"'


def _words(text: str) -> list[str]:
    """The JSON string values of a frame, roughly: every quoted token."""
    return text.split('"')[1::2]


class MessageLogWriter:
    """Buffers frames and stores them in batches; counts what it wrote and dropped (metrics)."""

    def __init__(self, messages: MessageLog, settings: Settings, clock: Clock) -> None:
        self._messages = messages
        self._settings = settings
        self._clock = clock
        self._buffer: deque[Frame] = deque()
        self._open_calls: dict[tuple[str, str], OrderedDict[str, str]] = {}
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._prune_task: asyncio.Task[None] | None = None
        self.rows_written = 0
        self.rows_dropped = 0
        """Frames lost: buffer overflow (oldest first) or a failed write."""
        self.rows_pruned = 0

    def record(self, charge_point_id: str, direction: str, text: str | bytes) -> None:
        """Keep one frame for the next flush; never waits. On the hot path: keep it an append."""
        buffer = self._buffer
        buffer.append(Frame(charge_point_id, self._clock.now(), direction, text))
        size = len(buffer)
        if size >= FLUSH_ROWS:
            if size > MAX_BUFFERED_ROWS:
                buffer.popleft()
                self.rows_dropped += 1
            self._wakeup.set()

    def forget(self, charge_point_id: str) -> None:
        """The charger's connection is gone: its unanswered call ids go with it (at the next
        flush, after the frames still buffered)."""
        self._buffer.append(Frame(charge_point_id, self._clock.now(), "", ""))

    def start(self) -> None:
        """Start the flush task and the hourly retention task on the running loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="chargedeck-message-log")
            self._prune_task = asyncio.create_task(
                self._prune_hourly(), name="chargedeck-message-log-retention"
            )

    async def close(self) -> None:
        """Store what is buffered, then stop (before the store closes). Never raises: the
        composition root closes the store after this whatever happened to the log."""
        self._closing = True
        self._wakeup.set()
        if self._prune_task is not None:
            self._prune_task.cancel()
        tasks = [task for task in (self._prune_task, self._task) if task is not None]
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                log.error("message log: stopped with an error", exc_info=result)

    async def flush(self) -> None:
        """Classify and store every buffered frame (one executemany)."""
        if not self._buffer:
            return
        frames, self._buffer = self._buffer, deque()
        rows = self._rows_of(frames)
        if not rows:
            return
        try:
            await self._messages.add_messages(rows)
        except StoreError as exc:
            # Unavailable, or rows the database refused: the log never retries (see above).
            self.rows_dropped += len(rows)
            log.warning("message log: %d frames not stored: %s", len(rows), exc)
            return
        self.rows_written += len(rows)

    def _rows_of(self, frames: deque[Frame]) -> list[MessageLogRow]:
        rows: list[MessageLogRow] = []
        for frame in frames:
            if not frame.direction:
                self._open_calls.pop((frame.charge_point_id, IN), None)
                self._open_calls.pop((frame.charge_point_id, OUT), None)
                continue
            text = (
                frame.text if isinstance(frame.text, str) else frame.text.decode("utf-8", "replace")
            )
            message_type, message_id, action = classify(text)
            if message_type == _CALL and action is not None:
                calls = self._open_calls.setdefault(
                    (frame.charge_point_id, frame.direction), OrderedDict()
                )
                calls[message_id] = action
                if len(calls) > MAX_OPEN_CALLS:
                    calls.popitem(last=False)
            elif message_type in (_CALLRESULT, _CALLERROR):
                # The CALL went the other way: a result "in" answers a CALL "out".
                call_direction = OUT if frame.direction == IN else IN
                open_calls = self._open_calls.get((frame.charge_point_id, call_direction))
                if open_calls is not None:
                    action = open_calls.pop(message_id, None)
            if action is not None:
                text = masked_frame(text, action, message_type)
            elif message_type == _CALLRESULT:
                # Its CALL is unknown (forgotten, or more than MAX_OPEN_CALLS open): it may be
                # a GetConfiguration answer all the same, so it is masked as one (the stored
                # action stays unknown).
                text = masked_frame(text, "GetConfiguration", message_type)
            rows.append(
                MessageLogRow(
                    charge_point_id=frame.charge_point_id,
                    at=frame.at,
                    direction=frame.direction,
                    message_type=message_type,
                    message_id=message_id,
                    action=action,
                    frame=text,
                )
            )
        return rows

    async def prune(self, now: datetime) -> int:
        """Delete frames older than the retention and beyond the row limit; returns how many."""
        settings = self._settings
        cutoff = now - timedelta(days=settings.message_log_retention_days)
        deleted = await self._messages.delete_older_than(cutoff)
        deleted += await self._messages.delete_beyond(settings.message_log_max_rows)
        self.rows_pruned += deleted
        if deleted:
            log.info("message log: %d frames deleted by retention", deleted)
        return deleted

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), FLUSH_INTERVAL_S)
            self._wakeup.clear()
            try:
                await self.flush()
                if self._closing:
                    await self.flush()
            except Exception:
                # A bug must not end the log silently: this batch is lost, the next is tried.
                log.exception("message log: a flush failed unexpectedly")
            if self._closing:
                return

    async def _prune_hourly(self) -> None:
        while True:
            try:
                await self.prune(self._clock.now())
            except StoreError as exc:
                log.warning("message log: retention not applied: %s", exc)
            await asyncio.sleep(PRUNE_INTERVAL_S)


# ---- reading the log: time bounds and "explain" (API and CLI) ------------------------------

_RELATIVE = re.compile(r"([0-9]{1,6})([smhd])")
_UNIT_S: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DEFAULT_EXPLAIN_PERIOD: Final = timedelta(hours=24)
"""Explain tells the last day unless asked otherwise: a day of a charger fits one screen."""
EXPLAIN_NOTE: Final = (
    "told from the logged OCPP frames only: connections, disconnections and refused "
    "handshakes are not frames (see the charger's events and rejections)"
)


def parse_log_time(text: str, now: datetime, zone: ZoneInfo, what: str) -> datetime:
    """A bound of a search: a span back from ``now`` (``90s``, ``30m``, ``2h``, ``7d``), a date,
    or an ISO 8601 date-time (on ``zone``'s wall clock unless it has an offset). ValueError with
    a sentence naming ``what``."""
    relative = _RELATIVE.fullmatch(text.strip())
    if relative is not None:
        return now - timedelta(seconds=int(relative[1]) * _UNIT_S[relative[2]])
    try:
        return parse_report_time(text, zone, what)
    except ValueError as exc:
        raise ValueError(f"{exc}, or a span back from now such as 30m, 2h or 7d") from None


class Explained(msgspec.Struct, frozen=True, kw_only=True):
    """The story of one charger over [since, until)."""

    charge_point_id: str
    since: datetime
    until: datetime
    frames: int
    truncated: bool
    """More frames matched than explain reads: the story covers the newest of them."""
    sentences: list[Sentence]


async def explain_charge_point(
    messages: MessageLog, charge_point_id: str, since: datetime, until: datetime
) -> Explained:
    """Read one charger's frames in [since, until) and tell them (domain/explain.py)."""
    records = await messages.frames_of(charge_point_id, since, until, MAX_EXPLAIN_FRAMES + 1)
    truncated = len(records) > MAX_EXPLAIN_FRAMES
    if truncated:
        records = records[1:]
    frames = [
        LoggedFrame(
            at=record.at,
            direction=record.direction,
            message_type=record.message_type,
            message_id=record.message_id,
            action=record.action,
            frame=record.frame,
        )
        for record in records
    ]
    return Explained(
        charge_point_id=charge_point_id,
        since=since,
        until=until,
        frames=len(frames),
        truncated=truncated,
        sentences=explain(frames),
    )
