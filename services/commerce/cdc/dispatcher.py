"""Routes change events to the handlers subscribed to their object (no I/O of its own).

The consumer hands over a batch: the events of one topic that arrived while the previous batch
was handled, in delivery order. Each handler gets the whole batch at once (``handle_batch``, one
set of round trips for all of its events) or, if it has no ``handle_batch``, each event in order
(``handle``). The handlers of an object are independent of each other (a cache invalidation, the
fulfillment intake), so they work on a batch side by side; the batch is done when all are.

A handler must be idempotent: delivery is at least once (a reconnect may replay events, and a
handler that failed on a batch gets the whole batch again). If it raises, it is retried with
backoff and the topic waits (its replay id is not advanced), so a handler never loses an event; a
handler that can degrade (e.g. drop a whole cache family instead) should do so itself rather
than raise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from functools import partial
from itertools import groupby
from typing import Protocol

import structlog

from services.common.clients.cdc import ChangeEvent

log = structlog.get_logger("cdc")


class Handler(Protocol):
    async def handle(self, event: ChangeEvent) -> None:
        """React to one event of a subscribed object (``GAP_*`` events included)."""

    # Optional: ``async def handle_batch(self, events: Sequence[ChangeEvent]) -> None``, the
    # events of one object in delivery order; the dispatcher uses it instead of ``handle``.

    async def reset(self, entity: str) -> None:
        """The replay position of ``entity`` was lost: events may have been missed."""

    async def fresh_start(self, entity: str) -> None:
        """The topic of ``entity`` was subscribed without a stored position (from LATEST) and the
        stream answered: changes made before that moment were never delivered."""


def topic_of(entity: str) -> str:
    return f"/data/{entity}ChangeEvent"


class Dispatcher:
    def __init__(self, *, retry_initial_s: float = 0.2, retry_max_s: float = 10.0) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        self._retry = (retry_initial_s, retry_max_s)

    def subscribe(self, entity: str, handler: Handler) -> None:
        self._handlers.setdefault(entity, []).append(handler)

    @property
    def entities(self) -> tuple[str, ...]:
        return tuple(self._handlers)

    async def dispatch(self, event: ChangeEvent) -> None:
        await self.dispatch_batch([event])

    async def dispatch_batch(self, events: Sequence[ChangeEvent]) -> None:
        """Every handler of the events' object gets them, the handlers side by side (each run of
        one object in turn); the call returns once every handler finished them."""
        for entity, run in _runs(events):
            handlers = self._handlers.get(entity, ())
            await asyncio.gather(*(self._deliver(handler, entity, run) for handler in handlers))

    async def _deliver(self, handler: Handler, entity: str, run: list[ChangeEvent]) -> None:
        batch = getattr(handler, "handle_batch", None)
        if batch is not None:
            return await self._retrying(partial(batch, run), entity)
        for event in run:
            await self._retrying(partial(handler.handle, event), entity)
        return None

    async def reset(self, entity: str) -> None:
        for handler in self._handlers.get(entity, ()):
            await self._retrying(partial(handler.reset, entity), entity)

    async def fresh_start(self, entity: str) -> None:
        for handler in self._handlers.get(entity, ()):
            await self._retrying(partial(handler.fresh_start, entity), entity)

    async def _retrying(self, call: Callable[[], Awaitable[None]], entity: str) -> None:
        delay, cap = self._retry
        while True:
            try:
                await call()
                return
            except Exception:
                log.exception("cdc_handler_failed", entity=entity, retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(cap, delay * 2)


def _runs(events: Sequence[ChangeEvent]) -> Iterator[tuple[str, list[ChangeEvent]]]:
    """Consecutive events of one object (a topic carries one object, so usually one run)."""
    for entity, run in groupby(events, key=lambda event: event.entity):
        yield entity, list(run)
