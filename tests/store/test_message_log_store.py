"""The message log's store: frames stored in batches, searched newest first with a cursor, and
deleted by age and by count (oldest first), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

from chargedeck.store import Store
from chargedeck.store.message_log import MessageFilter, MessageLogRow


def frame(
    charge_point_id: str,
    at: datetime,
    direction: str = "in",
    message_type: int = 2,
    message_id: str = "1",
    action: str | None = "Heartbeat",
    text: str = '[2,"1","Heartbeat",{}]',
) -> MessageLogRow:
    return MessageLogRow(
        charge_point_id=charge_point_id,
        at=at,
        direction=direction,
        message_type=message_type,
        message_id=message_id,
        action=action,
        frame=text,
    )


def data_transfer(charge_point_id: str, at: datetime, message_id: str, data: str) -> MessageLogRow:
    text = f'[2,"{message_id}","DataTransfer",{{"data":"{data}"}}]'
    return frame(charge_point_id, at, message_id=message_id, action="DataTransfer", text=text)


def boot_exchange(charge_point_id: str, at: datetime) -> list[MessageLogRow]:
    return [
        frame(
            charge_point_id,
            at,
            message_id="b1",
            action="BootNotification",
            text='[2,"b1","BootNotification",{"chargePointVendor":"Wallbox"}]',
        ),
        frame(
            charge_point_id,
            at + timedelta(milliseconds=5),
            direction="out",
            message_type=3,
            message_id="b1",
            action="BootNotification",
            text='[3,"b1",{"status":"Accepted"}]',
        ),
    ]


async def test_searches_are_newest_first_and_narrow_by_every_filter(
    store: Store, now: datetime
) -> None:
    later = now + timedelta(minutes=10)
    await store.message_log.add_messages(
        [
            *boot_exchange("CP1", now),
            *boot_exchange("CP2", now),
            frame("CP1", later, message_id="h1", text='[2,"h1","Heartbeat",{}]'),
            data_transfer("CP1", later, "d1", "100%"),
            data_transfer("CP1", later, "d2", "1000"),
        ]
    )
    log = store.message_log

    async def ids(**search: object) -> list[tuple[str, str]]:
        found = await log.list_messages(MessageFilter(**search))  # type: ignore[arg-type]
        return [(m.charge_point_id, m.message_id) for m in found]

    newest = (await log.list_messages(MessageFilter(charge_point_id="CP2")))[0]
    assert (newest.direction, newest.message_type, newest.action) == ("out", 3, "BootNotification")
    assert newest.at == now + timedelta(milliseconds=5)
    assert newest.frame == '[3,"b1",{"status":"Accepted"}]'
    assert await ids(charge_point_id="CP2") == [("CP2", "b1"), ("CP2", "b1")]
    assert await ids(action="Heartbeat") == [("CP1", "h1")]
    assert await ids(charge_point_id="CP1", message_id="b1", direction="out") == [("CP1", "b1")]
    assert await ids(since=later, action="Heartbeat") == [("CP1", "h1")]
    assert await ids(charge_point_id="CP1", until=later) == [("CP1", "b1"), ("CP1", "b1")]
    assert await ids(text='"status":"Accepted"') == [("CP2", "b1"), ("CP1", "b1")]
    # LIKE wildcards in the text are taken literally.
    assert await ids(text="100%") == [("CP1", "d1")]


async def test_the_cursor_pages_back_and_explain_reads_oldest_first(
    store: Store, now: datetime
) -> None:
    await store.message_log.add_messages(
        [frame("CP1", now + timedelta(seconds=i), message_id=str(i)) for i in range(5)]
    )
    log = store.message_log

    first = await log.list_messages(MessageFilter(), limit=2)
    second = await log.list_messages(MessageFilter(), before_id=first[-1].id, limit=2)
    third = await log.list_messages(MessageFilter(), before_id=second[-1].id, limit=2)
    everything = await log.frames_of("CP1", None, None)
    newest = await log.frames_of("CP1", now, None, limit=2)
    # One charger's pages go by time, then row id: frames of the same microsecond too.
    await log.add_messages([frame("CP2", now, message_id=str(i)) for i in range(3)])
    one = MessageFilter(charge_point_id="CP2")
    page = await log.list_messages(one, limit=2)
    rest = await log.list_messages(one, before_id=page[-1].id, limit=2)

    assert [[m.message_id for m in page] for page in (first, second, third)] == [
        ["4", "3"],
        ["2", "1"],
        ["0"],
    ]
    assert [m.message_id for m in everything] == ["0", "1", "2", "3", "4"]
    assert [m.message_id for m in newest] == ["3", "4"]
    assert [m.message_id for m in page + rest] == ["2", "1", "0"]


async def test_retention_by_age_deletes_only_older_frames(store: Store, now: datetime) -> None:
    week_ago = now - timedelta(days=7)
    await store.message_log.add_messages(
        [
            frame("CP1", week_ago - timedelta(seconds=1), message_id="old"),
            frame("CP1", week_ago, message_id="edge"),
            frame("CP1", now, message_id="new"),
        ]
    )

    deleted = await store.message_log.delete_older_than(week_ago)

    assert deleted == 1
    kept = await store.message_log.list_messages(MessageFilter())
    assert [m.message_id for m in kept] == ["new", "edge"]


async def test_retention_by_count_keeps_the_newest_rows(store: Store, now: datetime) -> None:
    await store.message_log.add_messages([frame("CP1", now, message_id=str(i)) for i in range(10)])

    deleted = await store.message_log.delete_beyond(3)

    assert deleted == 7
    assert await store.message_log.count() == 3
    kept = await store.message_log.list_messages(MessageFilter())
    assert [m.message_id for m in kept] == ["9", "8", "7"]
    assert await store.message_log.delete_beyond(3) == 0


async def test_retention_deletes_in_chunks_until_done(store: Store, now: datetime) -> None:
    await store.message_log.add_messages([frame("CP1", now, message_id=str(i)) for i in range(10)])

    by_count = await store.message_log.delete_beyond(2, chunk=3)
    by_age = await store.message_log.delete_older_than(now + timedelta(seconds=1), chunk=1)

    assert (by_count, by_age) == (8, 2)
    assert await store.message_log.count() == 0
