"""At most one task per order, at most ``concurrency`` orders at once.

Submitting an order that is already running marks it to run once more when it finishes (its row
may have been revived meanwhile); the state machine makes the extra pass a no-op otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("fulfillment")


class Dispatcher:
    def __init__(self, work: Callable[[str], Awaitable[None]], concurrency: int) -> None:
        self._work = work
        self._limit = asyncio.Semaphore(concurrency)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()

    def submit(self, order_id: str) -> None:
        if order_id in self._tasks:
            self._again.add(order_id)
            return
        task = asyncio.create_task(self._run(order_id), name=f"fulfil:{order_id}")
        self._tasks[order_id] = task
        task.add_done_callback(lambda t: self._finished(order_id, t))

    async def _run(self, order_id: str) -> None:
        while True:
            self._again.discard(order_id)
            async with self._limit:
                await self._work(order_id)
            if order_id not in self._again:
                return

    def _finished(self, order_id: str, task: asyncio.Task[None]) -> None:
        self._tasks.pop(order_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("fulfillment_task_crashed", order_id=order_id, exc_info=task.exception())

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
