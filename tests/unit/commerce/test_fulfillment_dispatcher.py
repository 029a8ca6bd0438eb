"""The fulfillment dispatcher's slots: an order waiting (``sleep_unheld``) lets others work, comes
back before orders not yet started, and cancellation never leaks or double-frees a slot."""

from __future__ import annotations

import asyncio

from services.commerce.fulfillment.dispatcher import Dispatcher, Slots, sleep_unheld


async def test_a_waiting_order_lets_the_next_one_run_and_resumes_first() -> None:
    events: list[str] = []
    working = 0  # orders holding a slot (not sleeping)
    most = 0

    async def work(order_id: str) -> None:
        nonlocal working, most
        working += 1
        most = max(most, working)
        events.append(f"start {order_id}")
        if order_id == "sim":
            working -= 1
            await sleep_unheld(0.05)  # a Freebit activation poll: the slot goes to "a"
            working += 1
            most = max(most, working)
            events.append("sim resumed")
        else:
            await asyncio.sleep(0.03)
        working -= 1
        events.append(f"end {order_id}")

    dispatcher = Dispatcher(work, concurrency=1)
    for order_id in ("sim", "a", "b", "c"):
        dispatcher.submit(order_id)
    await asyncio.wait_for(dispatcher.idle(), 5)

    assert most == 1  # never more than the concurrency at work
    # "a" ran while "sim" slept; "sim" came back before "c" (not started yet)
    assert events.index("start a") < events.index("sim resumed") < events.index("start c")
    assert [e for e in events if e.startswith("end")] == ["end a", "end b", "end sim", "end c"]


async def test_sleep_unheld_outside_a_dispatcher_just_sleeps() -> None:
    await asyncio.wait_for(sleep_unheld(0.01), 1)


async def test_cancelled_waiters_do_not_leak_slots() -> None:
    slots = Slots(1)
    await slots.acquire(1)
    waiter = asyncio.create_task(slots.acquire(1))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    slots.release()  # the cancelled waiter must not swallow the slot
    await asyncio.wait_for(slots.acquire(0), 1)

    # a waiter handed the slot just as it is cancelled passes it on
    handed = asyncio.create_task(slots.acquire(1))
    nxt = asyncio.create_task(slots.acquire(1))
    await asyncio.sleep(0)
    slots.release()
    handed.cancel()
    await asyncio.gather(handed, return_exceptions=True)
    await asyncio.wait_for(nxt, 1)


async def test_cancel_all_during_a_wait_frees_every_slot() -> None:
    started = asyncio.Event()

    async def work(order_id: str) -> None:
        started.set()
        await sleep_unheld(10)

    dispatcher = Dispatcher(work, concurrency=1)
    dispatcher.submit("x")
    await asyncio.wait_for(started.wait(), 1)
    await asyncio.wait_for(dispatcher.cancel_all(), 1)
    # the slot is free: a new order starts at once
    done = asyncio.Event()

    async def quick(order_id: str) -> None:
        done.set()

    dispatcher._work = quick
    dispatcher.submit("y")
    await asyncio.wait_for(done.wait(), 1)


async def test_room_counts_orders_awake_and_tells_when_it_grows() -> None:
    """The claiming worker takes ``room`` more orders: the concurrency less the orders submitted
    and not asleep; ``on_room`` fires when one goes to sleep or finishes."""
    told = 0
    go = asyncio.Event()

    def on_room() -> None:
        nonlocal told
        told += 1

    async def work(order_id: str) -> None:
        if order_id == "sim":
            await sleep_unheld(0.05)
        await go.wait()

    dispatcher = Dispatcher(work, concurrency=3, on_room=on_room)
    for order_id in ("sim", "a"):
        dispatcher.submit(order_id)
    assert dispatcher.room == 1  # submitted, not started yet: they count
    await asyncio.sleep(0.01)
    assert (dispatcher.room, told) == (2, 1)  # "sim" sleeps: its place is free
    await asyncio.sleep(0.08)
    assert dispatcher.room == 1  # awake again
    go.set()
    await asyncio.wait_for(dispatcher.idle(), 5)
    assert (dispatcher.room, told) == (3, 3)
