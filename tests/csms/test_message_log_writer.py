"""The message log writer: frames stored in order with their kind, id and action (a result takes
its CALL's action), secrets masked, a full buffer drops its oldest frames, retention deletes
by age and by count. Against a real SQLite store under a manual clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chargedeck.clock import ManualClock
from chargedeck.config import Settings
from chargedeck.csms import message_log
from chargedeck.csms.message_log import MessageLogWriter, classify
from chargedeck.store import Store, open_store
from chargedeck.store.message_log import MessageFilter, MessageRecord

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite:///{tmp_path / 'chargedeck.db'}")
    try:
        yield opened
    finally:
        await opened.close()


def writer_of(store: Store, clock: ManualClock, **settings: object) -> MessageLogWriter:
    return MessageLogWriter(store.message_log, Settings(**settings), clock)  # type: ignore[arg-type]


async def stored(store: Store) -> list[MessageRecord]:
    return list(reversed(await store.message_log.list_messages(MessageFilter(), limit=500)))


async def test_results_and_errors_carry_the_action_of_their_call(store: Store) -> None:
    writer = writer_of(store, ManualClock(T0))
    writer.record("CP1", "in", '[2,"a","Heartbeat",{}]')
    writer.record("CP1", "out", b'[3,"a",{"currentTime":"2026-03-02T08:00:00Z"}]')
    writer.record("CP1", "out", b'[2,"1","Reset",{"type":"Soft"}]')
    writer.record("CP2", "in", '[3,"1",{"status":"Accepted"}]')  # another charger's id 1
    writer.record("CP1", "in", '[4,"1","InternalError","",{}]')
    writer.record("CP1", "in", "not json at all")

    await writer.flush()

    assert [(r.charge_point_id, r.direction, r.message_type, r.message_id, r.action)
            for r in await stored(store)] == [
        ("CP1", "in", 2, "a", "Heartbeat"),
        ("CP1", "out", 3, "a", "Heartbeat"),
        ("CP1", "out", 2, "1", "Reset"),
        ("CP2", "in", 3, "1", None),
        ("CP1", "in", 4, "1", "Reset"),
        ("CP1", "in", 0, "", None),
    ]  # fmt: skip
    assert (await stored(store))[1].frame == '[3,"a",{"currentTime":"2026-03-02T08:00:00Z"}]'
    assert writer.rows_written == 6


async def test_a_reconnected_charger_does_not_inherit_old_call_ids(store: Store) -> None:
    writer = writer_of(store, ManualClock(T0))
    writer.record("CP1", "out", b'[2,"7","Reset",{"type":"Soft"}]')
    writer.forget("CP1")
    writer.record("CP1", "in", '[3,"7",{"status":"Accepted"}]')

    await writer.flush()

    assert [r.action for r in await stored(store)] == ["Reset", None]


async def test_secret_configuration_values_are_masked(store: Store) -> None:
    writer = writer_of(store, ManualClock(T0))
    writer.record(
        "CP1",
        "out",
        b'[2,"c","ChangeConfiguration",{"key":"AuthorizationKey","value":"0123456789abcdef"}]',
    )
    writer.record("CP1", "in", '[3,"c",{"status":"Accepted"}]')
    writer.record("CP1", "out", b'[2,"g","GetConfiguration",{}]')
    writer.record(
        "CP1",
        "in",
        '[3,"g",{"configurationKey":[{"key":"WifiPassword","readonly":false,"value":"hunter22"},'
        '{"key":"HeartbeatInterval","readonly":false,"value":"300"}]}]',
    )

    await writer.flush()

    frames = [r.frame for r in await stored(store)]
    assert "0123456789abcdef" not in frames[0]
    assert '"value":"***"' in frames[0]
    assert "hunter22" not in frames[3]
    assert '"value":"300"' in frames[3]


async def test_a_result_whose_call_is_unknown_is_masked_as_a_configuration(store: Store) -> None:
    writer = writer_of(store, ManualClock(T0))
    # The GetConfiguration CALL was never seen (forgotten, or beyond MAX_OPEN_CALLS).
    writer.record(
        "CP1",
        "in",
        '[3,"g",{"configurationKey":[{"key":"AuthorizationKey","readonly":false,'
        '"value":"0123456789abcdef"},{"key":"HeartbeatInterval","readonly":false,"value":"300"}]}]',
    )

    await writer.flush()

    [record] = await stored(store)
    assert record.action is None
    assert "0123456789abcdef" not in record.frame
    assert '"value":"***"' in record.frame
    assert '"value":"300"' in record.frame


async def test_a_refused_batch_is_counted_and_the_writer_goes_on(store: Store) -> None:
    writer = writer_of(store, ManualClock(T0))
    writer.start()
    # A direction the table's CHECK refuses: a ConstraintViolation, not StoreUnavailable.
    writer.record("CP1", "sideways", '[2,"1","Heartbeat",{}]')
    deadline = asyncio.get_running_loop().time() + 5.0
    while writer.rows_dropped == 0:
        assert asyncio.get_running_loop().time() < deadline, "the refused batch was not flushed"
        await asyncio.sleep(0.02)
    writer.record("CP1", "in", '[2,"2","Heartbeat",{}]')

    await writer.close()  # does not raise

    assert [r.message_id for r in await stored(store)] == ["2"]
    assert (writer.rows_dropped, writer.rows_written) == (1, 1)


async def test_a_full_buffer_drops_its_oldest_frames(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(message_log, "FLUSH_ROWS", 2)
    monkeypatch.setattr(message_log, "MAX_BUFFERED_ROWS", 3)
    writer = writer_of(store, ManualClock(T0))
    for n in range(5):
        writer.record("CP1", "in", f'[2,"{n}","Heartbeat",{{}}]')

    await writer.flush()

    assert [r.message_id for r in await stored(store)] == ["2", "3", "4"]
    assert writer.rows_dropped == 2


async def test_retention_deletes_by_age_then_by_count(store: Store) -> None:
    clock = ManualClock(T0)
    writer = writer_of(store, clock, message_log_retention_days=1.0, message_log_max_rows=1000)
    writer.record("CP1", "in", '[2,"old","Heartbeat",{}]')
    clock.advance(86400 + 1)
    for n in range(1002):
        writer.record("CP1", "in", f'[2,"{n}","Heartbeat",{{}}]')
    await writer.flush()

    deleted = await writer.prune(clock.now())

    assert deleted == 3
    assert await store.message_log.count() == 1000
    oldest = (await store.message_log.frames_of("CP1", None, None))[0]
    assert oldest.message_id == "2"


def test_classify_reads_only_the_head_of_a_frame() -> None:
    assert classify('[2,"id","Authorize",{"idTag":"A"}]') == (2, "id", "Authorize")
    assert classify('[3,"id",{}]') == (3, "id", None)
    assert classify('[4,"id","GenericError","",{}]') == (4, "id", None)
    assert classify('[2,"' + "x" * 100 + '","A",{}]')[1] == "x" * 36
    for garbage in ("", "[]", "[2]", '{"a":1}', '["2","id","A",{}]', "[9,1,2]", "[2,1,2,{}]"):
        assert classify(garbage) == (0, "", None)
