"""At most one task per order, at most ``concurrency`` orders at once.

Submitting an order that is already running marks it to run once more when it finishes (its row
may have been revived meanwhile); the state machine makes the extra pass a no-op otherwise.

An order holds one of the ``concurrency`` slots while it works, not while it waits: a step that
sleeps (Freebit activation polls, the back-off after an outage) calls ``sleep_unheld``, which
gives the slot to the next order for the sleep's duration. So orders waiting minutes for a line's
activation never stall the orders behind them. An order coming back from such a sleep gets the
next free slot before orders that have not started yet (it is further along; its lag counts).

``room`` is how many more orders the dispatcher can take without one waiting for a slot: the
concurrency less the orders submitted and not asleep. The claiming worker takes that many rows,
and ``on_room`` tells it when an order finished or went to sleep.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from contextvars import ContextVar

import structlog

log = structlog.get_logger("fulfillment")


class Slots:
    """A counting limit like ``asyncio.Semaphore`` whose waiters are served by priority (lower
    first), then in arrival order."""

    def __init__(self, n: int) -> None:
        self._free = n
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrival = itertools.count()

    async def acquire(self, priority: int) -> None:
        if self._free > 0:  # free slots only while nobody waits: ``release`` serves waiters first
            self._free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._arrival), waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot just as we were cancelled: pass it on
            raise

    def release(self) -> None:
        while self._waiters:
            _, _, waiter = heapq.heappop(self._waiters)
            if not waiter.done():  # a cancelled waiter stays in the heap until popped here
                waiter.set_result(None)
                return
        self._free += 1


STARTING, RESUMING = 1, 0  # Slots priorities: a resumed order goes first


class _Held:
    """The current order's slot: whether it holds it now; its dispatcher counts it asleep."""

    def __init__(self, slots: Slots, dispatcher: Dispatcher | None = None) -> None:
        self.slots, self.held = slots, False
        self.dispatcher = dispatcher

    async def acquire(self, priority: int) -> None:
        await self.slots.acquire(priority)
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.slots.release()


_current: ContextVar[_Held | None] = ContextVar("fulfillment_slot", default=None)


async def sleep_unheld(seconds: float) -> None:
    """Sleep without holding the current order's slot (outside a dispatcher: just sleep)."""
    held = _current.get()
    if held is None or not held.held:
        await asyncio.sleep(seconds)
        return
    held.release()
    if held.dispatcher is not None:
        held.dispatcher._asleep(+1)
    try:
        await asyncio.sleep(seconds)  # cancelled here: no slot is held, none is taken back
    finally:
        if held.dispatcher is not None:
            held.dispatcher._asleep(-1)
    await held.acquire(RESUMING)


class Dispatcher:
    def __init__(
        self,
        work: Callable[[str], Awaitable[None]],
        concurrency: int,
        on_room: Callable[[], None] | None = None,
    ) -> None:
        self._work = work
        self._concurrency = concurrency
        self._slots = Slots(concurrency)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._sleeping = 0
        self._on_room = on_room

    @property
    def room(self) -> int:
        """Orders that could start now without waiting: concurrency less those awake."""
        return self._concurrency - (len(self._tasks) - self._sleeping)

    def _asleep(self, change: int) -> None:
        self._sleeping += change
        if change > 0 and self._on_room is not None:
            self._on_room()

    def submit(self, order_id: str) -> None:
        if order_id in self._tasks:
            self._again.add(order_id)
            return
        task = asyncio.create_task(self._run(order_id), name=f"fulfil:{order_id}")
        self._tasks[order_id] = task
        task.add_done_callback(lambda t: self._finished(order_id, t))

    async def _run(self, order_id: str) -> None:
        held = _Held(self._slots, self)
        _current.set(held)  # this task's own context
        while True:
            self._again.discard(order_id)
            await held.acquire(STARTING)
            try:
                await self._work(order_id)
            finally:
                held.release()
            if order_id not in self._again:
                return

    def _finished(self, order_id: str, task: asyncio.Task[None]) -> None:
        self._tasks.pop(order_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("fulfillment_task_crashed", order_id=order_id, exc_info=task.exception())
        if self._on_room is not None:
            self._on_room()

    def cancel(self, order_id: str) -> None:
        task = self._tasks.get(order_id)
        if task is not None:
            task.cancel()

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def cancel_all(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
