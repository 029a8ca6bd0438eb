"""The active worker: resume open rows, reconcile, then follow ``/data/OrderChangeEvent``.

The replay id is stored after each event's rows are committed (``intake.on_event``), so a
restart replays at most the events whose work was not yet durable. A lost replay position
(``ReplayIdInvalid``) resubscribes from LATEST and reconciles; a subscription from LATEST
reconciles again once the stream answers (closing the window between the query and the stream).
"""

from __future__ import annotations

import asyncio

import structlog

from services.commerce.fulfillment import intake, machine, repo
from services.commerce.fulfillment.deps import Deps
from services.commerce.fulfillment.dispatcher import Dispatcher
from services.common.clients import ChangeEvent, SalesforcePubSubClient
from services.common.errors import ReplayIdInvalid, UpstreamUnavailable

log = structlog.get_logger("fulfillment")


class Worker:
    def __init__(self, deps: Deps, pubsub: SalesforcePubSubClient) -> None:
        self.deps = deps
        self.pubsub = pubsub
        self.dispatcher = Dispatcher(self._fulfil, deps.settings.concurrency)

    async def _fulfil(self, order_id: str) -> None:
        await machine.run(self.deps, order_id)

    def submit(self, order_id: str) -> None:
        self.dispatcher.submit(order_id)

    async def lead(self) -> None:
        """Everything the active replica does, until cancelled."""
        sweeper = asyncio.create_task(self._sweep_forever())
        try:
            await self._reconcile()
            await self._consume()
        finally:
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)
            await self.dispatcher.cancel_all()

    async def _reconcile(self) -> None:
        try:
            await intake.reconcile(self.deps, self.submit)
        except UpstreamUnavailable:
            log.warning("fulfillment_reconcile_unavailable")

    async def _sweep_forever(self) -> None:
        interval = self.deps.settings.sweep_interval_s
        while interval > 0:
            await asyncio.sleep(interval)
            await self._reconcile()

    async def _consume(self) -> None:
        s, pool = self.deps.settings, self.deps.pool
        failures = 0
        while True:
            replay = await repo.load_replay(pool, s.consumer)
            try:
                await self._follow(replay)
            except ReplayIdInvalid:
                log.warning("fulfillment_replay_lost")
                await repo.forget_replay(pool, s.consumer)
                await self._reconcile()
                failures = 0
                continue
            except UpstreamUnavailable:
                failures += 1
                log.warning("fulfillment_stream_unavailable", failures=failures)
                await asyncio.sleep(min(s.retry_max_s, s.retry_initial_s * 2**failures))

    async def _follow(self, replay: bytes | None) -> None:
        s, pool = self.deps.settings, self.deps.pool
        fresh = replay is None
        stored = replay
        async for item in self.pubsub.subscribe(s.topic, replay, batch=s.batch):
            if fresh:  # from LATEST: catch what happened before the stream started
                fresh = False
                await self._reconcile()
            if isinstance(item, ChangeEvent):
                await intake.on_event(self.deps, item, self.submit)
                position = item.replay_id
            else:
                position = item.latest_replay_id
            if position and position != stored:
                await repo.store_replay(pool, s.consumer, position)
                stored = position
