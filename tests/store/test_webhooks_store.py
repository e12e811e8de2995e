"""Webhook subscriptions and deliveries (migration 0006) on SQLite and PostgreSQL: a delivery is
stored once, claimed by one node at a time, taken over when a claim runs out, and its attempts
recorded by the node that holds it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from chargedeck.store import Store
from chargedeck.store.errors import Conflict, NotFound
from chargedeck.store.webhooks import NewDelivery, WebhookRecord


async def add_webhook(store: Store, now: datetime, name: str = "ha") -> WebhookRecord:
    return await store.webhooks.add_webhook(
        name=name,
        url="http://127.0.0.1:1/hook",
        secret="whsec_x",
        event_types="*",
        charge_point_id=None,
        enabled=True,
        now=now,
    )


def delivery(webhook: WebhookRecord, event_id: str) -> NewDelivery:
    return NewDelivery(
        subscription_id=webhook.id,
        event_id=event_id,
        event_type="connector.status",
        body=f'{{"id": "{event_id}"}}',
    )


async def test_a_delivery_stored_twice_is_kept_once(store: Store, now: datetime) -> None:
    hook = await add_webhook(store, now)
    assert await store.webhooks.add_deliveries([delivery(hook, "n-a-1")], now) == 1
    stored_again = [delivery(hook, "n-a-1"), delivery(hook, "n-a-2")]
    assert await store.webhooks.add_deliveries(stored_again, now) == 1
    listed = await store.webhooks.list_deliveries(hook.id, limit=10)
    assert [d.event_id for d in listed] == ["n-a-2", "n-a-1"]


async def test_a_claimed_delivery_is_not_claimed_by_another_node_until_the_claim_runs_out(
    store: Store, now: datetime
) -> None:
    hook = await add_webhook(store, now)
    await store.webhooks.add_deliveries([delivery(hook, "n-a-1")], now)
    until = now + timedelta(seconds=40)
    [(claimed, claimed_hook)] = await store.webhooks.claim_due("node-a", now, until, 10)
    assert (claimed.claimed_by, claimed_hook.id) == ("node-a", hook.id)
    assert await store.webhooks.claim_due("node-b", now + timedelta(seconds=39), until, 10) == []
    later = now + timedelta(seconds=41)
    [(taken, _)] = await store.webhooks.claim_due("node-b", later, later + timedelta(40), 10)
    assert (taken.id, taken.claimed_by) == (claimed.id, "node-b")
    lost = await store.webhooks.record_attempt(
        claimed.id,
        "node-a",
        status="delivered",
        attempts=1,
        status_code=200,
        error=None,
        next_attempt_at=None,
        now=later,
    )
    assert lost is False


async def test_two_nodes_claiming_at_once_never_share_a_delivery(
    store: Store, now: datetime
) -> None:
    hook = await add_webhook(store, now)
    await store.webhooks.add_deliveries([delivery(hook, f"n-a-{i}") for i in range(20)], now)
    until = now + timedelta(seconds=40)
    claims = await asyncio.gather(
        *(store.webhooks.claim_due(f"node-{n}", now, until, 8) for n in "abc")
    )
    ids = [d.id for claim in claims for d, _ in claim]
    assert len(ids) == len(set(ids)) == 20  # 3 x 8 asked for, 20 there


async def test_a_retry_is_due_only_at_its_next_attempt(store: Store, now: datetime) -> None:
    hook = await add_webhook(store, now)
    await store.webhooks.add_deliveries([delivery(hook, "n-a-1")], now)
    [(claimed, _)] = await store.webhooks.claim_due("node-a", now, now + timedelta(40), 10)
    retry_at = now + timedelta(seconds=2)
    assert await store.webhooks.record_attempt(
        claimed.id,
        "node-a",
        status="pending",
        attempts=1,
        status_code=500,
        error="the receiver answered HTTP 500",
        next_attempt_at=retry_at,
        now=now,
    )
    assert await store.webhooks.next_due(now) == retry_at
    assert await store.webhooks.claim_due("node-a", now, now + timedelta(40), 10) == []
    [(again, _)] = await store.webhooks.claim_due("node-a", retry_at, now + timedelta(40), 10)
    assert (again.attempts, again.last_status_code) == (1, 500)


async def test_released_claims_are_claimable_at_once(store: Store, now: datetime) -> None:
    hook = await add_webhook(store, now)
    await store.webhooks.add_deliveries([delivery(hook, "n-a-1")], now)
    await store.webhooks.claim_due("node-a", now, now + timedelta(40), 10)
    assert await store.webhooks.release_claims("node-a") == 1
    assert len(await store.webhooks.claim_due("node-b", now, now + timedelta(40), 10)) == 1


async def test_deliveries_of_a_disabled_webhook_wait(store: Store, now: datetime) -> None:
    hook = await add_webhook(store, now)
    await store.webhooks.add_deliveries([delivery(hook, "n-a-1")], now)
    await store.webhooks.update_webhook(hook.id, {"enabled": False})
    assert await store.webhooks.claim_due("node-a", now, now + timedelta(40), 10) == []


async def test_only_a_finished_delivery_can_be_retried(store: Store, now: datetime) -> None:
    hook = await add_webhook(store, now)
    await store.webhooks.add_deliveries([delivery(hook, "n-a-1")], now)
    [(claimed, _)] = await store.webhooks.claim_due("node-a", now, now + timedelta(40), 10)
    with pytest.raises(Conflict, match="still pending"):
        await store.webhooks.retry_delivery(claimed.id, now)
    await store.webhooks.record_attempt(
        claimed.id,
        "node-a",
        status="failed",
        attempts=10,
        status_code=None,
        error="ConnectError",
        next_attempt_at=None,
        now=now,
    )
    retried = await store.webhooks.retry_delivery(claimed.id, now)
    assert (retried.status, retried.attempts) == ("pending", 0)
    with pytest.raises(NotFound):
        await store.webhooks.retry_delivery(claimed.id + 1000, now)


async def test_webhook_names_are_unique_and_deleting_one_drops_its_log(
    store: Store, now: datetime
) -> None:
    hook = await add_webhook(store, now)
    other = await add_webhook(store, now, name="other")
    with pytest.raises(Conflict, match="'ha' exists already"):
        await add_webhook(store, now)
    with pytest.raises(Conflict):
        await store.webhooks.update_webhook(other.id, {"name": "ha"})
    assert await store.webhooks.update_webhook(other.id, {}) == other
    with pytest.raises(NotFound):
        await store.webhooks.update_webhook(other.id + 1000, {"enabled": False})
    await store.webhooks.add_deliveries([delivery(hook, "n-a-1")], now)
    await store.webhooks.delete_webhook(hook.id)
    assert await store.webhooks.list_deliveries(hook.id, limit=10) == []
    assert [w.name for w in await store.webhooks.list_webhooks()] == ["other"]
    found = await store.webhooks.find_webhook(str(other.id))
    assert found is not None
    assert found.name == "other"
    with pytest.raises(NotFound):
        await store.webhooks.delete_webhook(hook.id)


async def test_a_claimed_delivery_is_next_due_when_its_claim_runs_out(
    store: Store, now: datetime
) -> None:
    hook = await add_webhook(store, now)
    assert await store.webhooks.next_due(now) is None
    await store.webhooks.add_deliveries([delivery(hook, "n-a-1")], now)
    assert await store.webhooks.next_due(now) == now
    until = now + timedelta(seconds=40)
    await store.webhooks.claim_due("node-a", now, until, 10)
    assert await store.webhooks.next_due(now) == until
    await store.webhooks.update_webhook(hook.id, {"enabled": False})
    assert await store.webhooks.next_due(now) is None
