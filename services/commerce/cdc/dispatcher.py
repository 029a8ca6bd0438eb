"""Routes change events to the handlers subscribed to their object (no I/O of its own).

A handler is called once per event, in delivery order per topic, and must be idempotent: delivery
is at least once (a reconnect may replay events). If it raises, the event is retried with backoff
and the topic waits (its replay id is not advanced), so a handler never loses an event; a handler
that can degrade (e.g. drop a whole cache family instead) should do so itself rather than raise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Protocol

import structlog

from services.common.clients.cdc import ChangeEvent

log = structlog.get_logger("cdc")


class Handler(Protocol):
    async def handle(self, event: ChangeEvent) -> None:
        """React to one event of a subscribed object (``GAP_*`` events included)."""

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
        for handler in self._handlers.get(event.entity, ()):
            await self._retrying(partial(handler.handle, event), event.entity)

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
