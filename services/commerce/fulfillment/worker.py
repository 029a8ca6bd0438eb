"""The active worker: resume open rows, reconcile, sweep periodically; orders arrive through
``submit`` (from the CDC handler ``cdc_intake`` on this replica, or a Postgres notification from
the replica that holds the CDC stream)."""

from __future__ import annotations

import asyncio

import structlog

from services.commerce.fulfillment import intake, machine
from services.commerce.fulfillment.deps import Deps
from services.commerce.fulfillment.dispatcher import Dispatcher
from services.common.errors import UpstreamUnavailable

log = structlog.get_logger("fulfillment")


class Worker:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
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
            await asyncio.Event().wait()  # until cancelled
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
