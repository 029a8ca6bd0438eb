"""At-least-once delivery + idempotent steps + the state machine = one WHMCS order per order."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import asyncpg

from tests.service.fulfillment.conftest import QUICK, Controls, StartWorker
from tests.service.fulfillment.portal import Portal

INTERNET = ["INTERNET-GOLD-HOME-1G"]


class Crash(BaseException):
    """What the test hook raises: the worker's task dies there, as in a crash."""


async def _activated_once(portal: Portal, order_id: str) -> None:
    order = await portal.settled(order_id)
    assert order["Activation_Status__c"] == "Activated", order
    [whmcs_order] = await portal.whmcs_orders(1, order_id)
    assert order["WHMCS_Order_ID__c"] == str(whmcs_order["id"])


async def test_duplicate_delivery_and_dropped_stream(
    portal: Portal, start_worker: StartWorker, controls: Controls
) -> None:
    worker = await start_worker()
    await asyncio.wait_for(worker.leading.wait(), 5)
    first = await portal.create_order("hanako", INTERNET)
    await controls[0].fault("duplicate_delivery", count=3)
    await portal.approve(first)
    await _activated_once(portal, first)

    await controls[0].fault("drop_stream", count=2)
    second = await portal.create_order("hanako", ["VPN-STANDARD"])
    await portal.approve(second)
    await _activated_once(portal, second)
    await _activated_once(portal, first)


async def test_first_attempt_places_the_order_without_a_look_up(
    portal: Portal, start_worker: StartWorker, controls: Controls
) -> None:
    """A first ORDERING attempt cannot have placed anything yet: AddOrder straight away, no
    GetOrders page through the client's history."""
    await start_worker()
    order_id = await portal.create_order("hanako", INTERNET)
    await portal.approve(order_id)
    assert (await portal.settled(order_id))["Activation_Status__c"] == "Activated"
    calls = await controls[1].calls()  # before the helper below reads GetOrders itself
    assert calls.get("AddOrder") == 1, calls
    assert calls.get("GetOrders", 0) == 0, calls
    await _activated_once(portal, order_id)


async def test_crash_after_add_order_then_restart(
    portal: Portal, start_worker: StartWorker, controls: Controls
) -> None:
    placed = asyncio.Event()

    async def crash(step: str, order_id: str) -> None:
        if step == "whmcs_order_placed":  # AddOrder answered, nothing committed yet
            placed.set()
            raise Crash()

    first = await start_worker(step_hook=crash)
    order_id = await portal.create_order("hanako", INTERNET)
    await portal.approve(order_id)
    await asyncio.wait_for(placed.wait(), 10)
    await first.stop()
    assert len(await portal.whmcs_orders(1, order_id)) == 1
    assert (await portal.order(order_id))["Activation_Status__c"] == "Activating"

    before = await controls[1].calls()
    assert before.get("AddOrder") == 1, before
    await start_worker()  # restart: resumes the open row, finds the order by its note
    assert (await portal.settled(order_id))["Activation_Status__c"] == "Activated"
    after = await controls[1].calls()
    assert after.get("GetOrders", 0) > before.get("GetOrders", 0), after  # looked up by note
    assert after.get("AddOrder") == 1, after  # and found: no second AddOrder
    await _activated_once(portal, order_id)


async def test_add_order_timed_out_but_placed_is_found_by_the_retry(
    portal: Portal, start_worker: StartWorker, controls: Controls
) -> None:
    """WHMCS places the order but answers after the client gave up (2 s): the outcome is unknown,
    so the retry looks the order up by its note and finds it instead of placing a second one."""
    # the retry waits 0.5-1 s after the 2 s timeout, so it looks after the 2.3 s AddOrder landed
    backoff = {"retry_initial_s": 1.0, "retry_max_s": 1.0, "give_up_after_s": 10.0}
    await start_worker(settings=QUICK.replace(**backoff))
    await controls[1].fault("latency", latency_ms=2300, count=1, action="AddOrder")
    order_id = await portal.create_order("hanako", INTERNET)
    await portal.approve(order_id)
    assert (await portal.settled(order_id))["Activation_Status__c"] == "Activated"
    calls = await controls[1].calls()
    assert calls.get("AddOrder") == 1, calls  # the timed-out call, never repeated
    assert calls.get("GetOrders", 0) >= 1, calls  # the retry's look-up by note
    await _activated_once(portal, order_id)


async def test_a_stopped_worker_gives_its_orders_back(
    portal: Portal, start_worker: StartWorker, pool: asyncpg.Pool
) -> None:
    reached = asyncio.Event()

    async def stall_before_write_back(step: str, order_id: str) -> None:
        if step == "writing_back":
            reached.set()
            await asyncio.Event().wait()  # hangs until the worker is stopped

    first = await start_worker(step_hook=stall_before_write_back)
    await asyncio.wait_for(first.leading.wait(), 5)
    order_id = await portal.create_order("hanako", INTERNET)
    await portal.approve(order_id)
    await asyncio.wait_for(reached.wait(), 10)
    second = await start_worker()
    await asyncio.sleep(0.5)
    assert not second.leading.is_set()  # one replica sweeps
    assert (
        await pool.fetchval(  # the order stays with the worker that claimed it
            "SELECT claimed_by FROM commerce.fulfillments WHERE sf_order_id = $1", order_id
        )
        == first.worker.id
    )
    await first.stop()

    await asyncio.wait_for(second.leading.wait(), 5)  # the sweep moves over too
    await _activated_once(portal, order_id)
    row = await pool.fetchrow(
        "SELECT state, claimed_by FROM commerce.fulfillments WHERE sf_order_id = $1", order_id
    )
    assert row is not None and row["state"] == "done"


async def test_two_workers_share_orders_and_work_each_once(
    portal: Portal, start_worker: StartWorker, pool: asyncpg.Pool
) -> None:
    """Two replicas on one database: each order is claimed by one worker at a time, each step
    runs once, both workers work orders, one WHMCS order per Salesforce order."""
    seen: list[tuple[str, str, str]] = []  # (worker, step, order)

    def recorder(name: str) -> Callable[[str, str], Awaitable[None]]:
        async def hook(step: str, order_id: str) -> None:
            seen.append((name, step, order_id))
            await asyncio.sleep(0.05)  # a step's upstream latency: both workers get room to claim

        return hook

    two = QUICK.replace(concurrency=2)
    workers = [await start_worker(settings=two, step_hook=recorder(n)) for n in ("a", "b")]
    for worker in workers:
        await asyncio.wait_for(worker.worker.listening.wait(), 5)
    order_ids = [await portal.create_order("hanako", ["VPN-STANDARD"]) for _ in range(8)]
    await asyncio.gather(*(portal.approve(o) for o in order_ids))
    for order_id in order_ids:
        await _activated_once(portal, order_id)

    by_order: dict[str, set[str]] = {}
    steps = Counter((step, order_id) for _, step, order_id in seen)
    for name, _, order_id in seen:
        by_order.setdefault(order_id, set()).add(name)
    assert all(len(by_order[o]) == 1 for o in order_ids), by_order  # never moved between workers
    assert {n for names in by_order.values() for n in names} == {"a", "b"}, by_order  # shared
    assert all(count == 1 for count in steps.values()), steps  # no step worked twice
    states = await pool.fetch(
        "SELECT state, claimed_by FROM commerce.fulfillments WHERE sf_order_id = ANY($1)",
        order_ids,
    )
    assert [(r["state"], r["claimed_by"]) for r in states] == [("done", None)] * len(order_ids)


async def test_a_dead_workers_order_is_finished_by_another_after_its_lease(
    portal: Portal, start_worker: StartWorker, controls: Controls, pool: asyncpg.Pool
) -> None:
    """The worker dies right after AddOrder (its claim stays, no longer renewed): another worker
    takes the order over only once the lease has expired, and finds the WHMCS order by its note."""
    died = asyncio.Event()
    died_at = taken_over_at = 0.0

    async def die_after_add_order(step: str, order_id: str) -> None:
        nonlocal died_at
        if step == "whmcs_order_placed":
            died_at = time.monotonic()
            died.set()
            raise Crash()

    async def note_take_over(step: str, order_id: str) -> None:
        nonlocal taken_over_at
        taken_over_at = taken_over_at or time.monotonic()

    settings = QUICK.replace(lease_s=2.0)
    dying = await start_worker(settings=settings, step_hook=die_after_add_order)
    order_id = await portal.create_order("hanako", INTERNET)
    await portal.approve(order_id)
    await asyncio.wait_for(died.wait(), 10)
    row = await pool.fetchrow(
        "SELECT claimed_by, extract(epoch FROM lease_until - now())::float8 AS left_s "
        "FROM commerce.fulfillments WHERE sf_order_id = $1",
        order_id,
    )
    assert row is not None and row["claimed_by"] == dying.worker.id and row["left_s"] > 0
    await dying.stop()  # the rest of the dead worker goes too; its claim on the order stays
    assert (
        await pool.fetchval(
            "SELECT claimed_by FROM commerce.fulfillments WHERE sf_order_id = $1", order_id
        )
        == dying.worker.id
    )
    await start_worker(settings=settings, step_hook=note_take_over)

    await _activated_once(portal, order_id)
    assert taken_over_at - died_at >= row["left_s"] - 0.1  # not before the lease ran out
    calls = await controls[1].calls()
    assert calls.get("AddOrder") == 1, calls  # the dead worker's, found again by its note


async def test_lost_replay_position_reconciles(
    portal: Portal, start_worker: StartWorker, pool: asyncpg.Pool
) -> None:
    order_id = await portal.create_order("hanako", INTERNET)
    await portal.approve(order_id)  # approved while no worker ran
    await pool.execute(
        "INSERT INTO commerce.cdc_replay (topic, replay_id) VALUES ('/data/OrderChangeEvent', $1)",
        b"\x00" * 8,
    )
    await start_worker()
    await _activated_once(portal, order_id)
    stored = await pool.fetchval("SELECT replay_id FROM commerce.cdc_replay")
    assert stored != b"\x00" * 8
