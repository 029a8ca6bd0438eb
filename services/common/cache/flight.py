"""Single-flight: one call per key in this process at a time; concurrent callers share its outcome.

The cache runs every miss and every live read through one (so a cold key or a Redis outage is one
upstream call, not N); other code that must not run the same work twice at once (commerce's
checkout per idempotency key) uses the same class. A caller that is cancelled while it waits does
not cancel the shared call: the others still get its outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar, cast

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K]):
    def __init__(self) -> None:
        self._inflight: dict[K, asyncio.Task[Any]] = {}

    async def run(self, key: K, call: Callable[[], Awaitable[V]]) -> V:
        """``await call()``, unless a call for ``key`` is already running: then its outcome."""
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(call())
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._landed(key, t))
        return cast(V, await asyncio.shield(task))

    def _landed(self, key: K, task: asyncio.Task[Any]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here so an unawaited failure is not logged as lost
