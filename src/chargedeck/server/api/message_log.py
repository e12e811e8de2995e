"""The OCPP message log in the API: frames per charger or of all chargers, and "explain".

Routes are rows of app.py's ROUTES (scope read). Lists are newest first with a numeric cursor
(the row id), like the other lists; ``since``/``until`` take a span back from now (``2h``), a
date or an ISO 8601 date-time (the operator's ``time_zone`` unless it carries an offset).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from http import HTTPStatus
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from chargedeck.csms.message_log import (
    DEFAULT_EXPLAIN_PERIOD,
    EXPLAIN_NOTE,
    explain_charge_point,
    parse_log_time,
)
from chargedeck.domain.explain import render
from chargedeck.server.api.auth import Principal
from chargedeck.server.api.common import (
    ApiHandlers,
    check_query_parameters,
    checked_charge_point_id,
    json_response,
    numeric_cursor,
    page_limit,
    path_charge_point_id,
    query_problem,
)
from chargedeck.server.api.views import Page, View
from chargedeck.store.message_log import MessageFilter, MessageRecord

_LIST_PARAMETERS = frozenset(
    {"action", "message_id", "direction", "since", "until", "q", "limit", "cursor"}
)
_EXPLAIN_PARAMETERS = frozenset({"since", "until"})
_DIRECTIONS = ("in", "out")
# A search text longer than an OCPP-J message id or action is a pasted frame: still a substring.
_MAX_QUERY_CHARS = 200


class MessageView(View, frozen=True, kw_only=True):
    """One logged frame as it crossed the wire; ``action`` is the CALL's, also on its answer."""

    id: int
    charge_point_id: str
    at: datetime
    direction: str
    """in: charger -> ChargeDeck; out: ChargeDeck -> charger."""
    message_type: int
    """2 CALL, 3 CALLRESULT, 4 CALLERROR; 0 for a frame that is not OCPP-J."""
    message_id: str
    action: str | None
    frame: str


class SentenceView(View, frozen=True, kw_only=True):
    at: datetime
    text: str


class ExplainView(View, frozen=True, kw_only=True):
    """What happened on one charger in [since, until), as sentences and as ready lines."""

    charge_point_id: str
    since: datetime
    until: datetime
    time_zone: str
    frames: int
    truncated: bool
    """True when the period held more frames than explain reads (the newest were told)."""
    sentences: list[SentenceView]
    lines: list[str]
    """``HH:MM:SS text`` in ``time_zone``."""
    note: str


def _time(params: Mapping[str, str], name: str, now: datetime, zone: ZoneInfo) -> datetime | None:
    text = params.get(name)
    if text is None:
        return None
    try:
        return parse_log_time(text, now, zone, name)
    except ValueError as exc:
        raise query_problem(str(exc)) from None


def _period(
    params: Mapping[str, str], now: datetime, zone: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    since = _time(params, "since", now, zone)
    until = _time(params, "until", now, zone)
    if since is not None and until is not None and until <= since:
        raise query_problem(
            f"until={params['until'][:32]!r} is not after since={params['since'][:32]!r}: "
            "the period is [since, until)"
        )
    return since, until


def _view(record: MessageRecord) -> MessageView:
    return MessageView(
        id=record.id,
        charge_point_id=record.charge_point_id,
        at=record.at,
        direction=record.direction,
        message_type=record.message_type,
        message_id=record.message_id,
        action=record.action,
        frame=record.frame,
    )


class MessageLogHandlers(ApiHandlers):
    """GET /messages, /charge-points/{id}/messages and /charge-points/{id}/explain."""

    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.services.settings.time_zone)

    def _search(self, params: Mapping[str, str], charge_point_id: str | None) -> MessageFilter:
        direction = params.get("direction")
        if direction is not None and direction not in _DIRECTIONS:
            raise query_problem(f"direction={direction[:32]!r}: expected in or out")
        text = params.get("q")
        if text is not None and not 1 <= len(text) <= _MAX_QUERY_CHARS:
            raise query_problem(f"q: expected 1 to {_MAX_QUERY_CHARS} characters of the frame")
        since, until = _period(params, self.services.clock.now(), self._zone())
        return MessageFilter(
            charge_point_id=charge_point_id,
            action=params.get("action"),
            message_id=params.get("message_id"),
            direction=direction,
            since=since,
            until=until,
            text=text,
        )

    async def _page(self, request: Request, search: MessageFilter) -> Response:
        limit = page_limit(request)
        records = await self.services.store.message_log.list_messages(
            search, before_id=numeric_cursor(request), limit=limit + 1
        )
        next_cursor = str(records[limit - 1].id) if len(records) > limit else None
        return json_response(
            Page(items=[_view(record) for record in records[:limit]], next_cursor=next_cursor)
        )

    async def list_charge_point_messages(self, request: Request, caller: Principal) -> Response:
        params = request.query_params
        check_query_parameters(params, _LIST_PARAMETERS)
        charge_point_id = path_charge_point_id(request)
        return await self._page(request, self._search(params, charge_point_id))

    async def list_messages(self, request: Request, caller: Principal) -> Response:
        params = request.query_params
        check_query_parameters(params, _LIST_PARAMETERS | {"charge_point_id"})
        text = params.get("charge_point_id")
        charge_point_id = (
            None if text is None else checked_charge_point_id(text, HTTPStatus.BAD_REQUEST)
        )
        return await self._page(request, self._search(params, charge_point_id))

    async def explain_charge_point(self, request: Request, caller: Principal) -> Response:
        params = request.query_params
        check_query_parameters(params, _EXPLAIN_PARAMETERS)
        charge_point_id = path_charge_point_id(request)
        zone = self._zone()
        now = self.services.clock.now()
        since, until = _period(params, now, zone)
        until = until or now
        since = since or until - DEFAULT_EXPLAIN_PERIOD
        if since >= until:
            raise query_problem(
                f"since={params['since'][:32]!r} is not before now: nothing to tell"
            )
        explained = await explain_charge_point(
            self.services.store.message_log, charge_point_id, since, until
        )
        if explained.frames == 0:
            # No frames: a charger nobody knows is a 404, a quiet known one an empty story.
            await self.known_charge_point(charge_point_id)
        return json_response(
            ExplainView(
                charge_point_id=charge_point_id,
                since=since,
                until=until,
                time_zone=self.services.settings.time_zone,
                frames=explained.frames,
                truncated=explained.truncated,
                sentences=[SentenceView(at=s.at, text=s.text) for s in explained.sentences],
                lines=[render(sentence, zone) for sentence in explained.sentences],
                note=EXPLAIN_NOTE,
            )
        )
