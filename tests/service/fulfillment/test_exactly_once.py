"""At-least-once delivery + idempotent steps + the state machine = one WHMCS order per order."""

from __future__ import annotations

import asyncio

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
    await start_worker(settings=QUICK.model_copy(update=backoff))
    await controls[1].fault("latency", latency_ms=2300, count=1, action="AddOrder")
    order_id = await portal.create_order("hanako", INTERNET)
    await portal.approve(order_id)
    assert (await portal.settled(order_id))["Activation_Status__c"] == "Activated"
    calls = await controls[1].calls()
    assert calls.get("AddOrder") == 1, calls  # the timed-out call, never repeated
    assert calls.get("GetOrders", 0) >= 1, calls  # the retry's look-up by note
    await _activated_once(portal, order_id)


async def test_standby_takes_over_when_the_active_worker_dies(
    portal: Portal, start_worker: StartWorker, pool: asyncpg.Pool
) -> None:
    reached = asyncio.Event()

    async def stall_before_write_back(step: str, order_id: str) -> None:
        if step == "writing_back":
            reached.set()
            await asyncio.Event().wait()  # hangs until the worker is stopped

    active = await start_worker(step_hook=stall_before_write_back)
    await asyncio.wait_for(active.leading.wait(), 5)
    standby = await start_worker()
    await asyncio.sleep(0.5)
    assert not standby.leading.is_set()

    order_id = await portal.create_order("hanako", INTERNET)
    await portal.approve(order_id)
    await asyncio.wait_for(reached.wait(), 10)
    await active.stop()

    await asyncio.wait_for(standby.leading.wait(), 5)
    await _activated_once(portal, order_id)
    state = await pool.fetchval(
        "SELECT state FROM commerce.fulfillments WHERE sf_order_id = $1", order_id
    )
    assert state == "done"


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
