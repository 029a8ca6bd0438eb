"""``start_fulfillment``: the worker inside the commerce process, with its own clients, a small
pool and the leadership loop (standby until it holds the lock, then lead until it loses it).

Orders come from the process's one CDC dispatcher (``cdc``): its ``Order`` handler
(``cdc_intake``) commits the rows and hands the orders over (``hand``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

import asyncpg
import structlog

from services.commerce.cdc import Dispatcher
from services.commerce.fulfillment import repo
from services.commerce.fulfillment.cdc_intake import FulfillmentIntake
from services.commerce.fulfillment.deps import Deps, OrderChanged, StepHook
from services.commerce.fulfillment.leadership import Leadership, LeaseLost
from services.commerce.fulfillment.peers import WhmcsClients
from services.commerce.fulfillment.repo import RETRY_CHANNEL
from services.commerce.fulfillment.settings import FulfillmentSettings
from services.commerce.fulfillment.worker import Worker
from services.common import upstreams
from services.common.clients import FreebitClient, SalesforceClient, WhmcsClient
from services.common.db import close_pool
from services.common.settings import ServiceSettings

log = structlog.get_logger("fulfillment")
Closer = Callable[[], Awaitable[object]]


@dataclass
class Fulfillment:
    """The handle ``start_fulfillment`` returns."""

    deps: Deps
    worker: Worker
    leadership: Leadership
    task: asyncio.Task[None] | None = None
    leading: asyncio.Event = field(default_factory=asyncio.Event)
    closers: list[Closer] = field(default_factory=list)

    async def hand(self, order_ids: list[str]) -> None:
        """Orders with a committed open row: to the local worker when it leads, else to the
        leader (Postgres notification; with no leader at all, its start resumes the open rows)."""
        for order_id in order_ids:
            if self.leading.is_set():
                self.worker.submit(order_id)
            else:
                await repo.notify(self.deps.pool, order_id)

    async def order_changed(self, order_id: str) -> None:
        """The hook commerce may call (or be called through) when an order changed."""
        await self.deps.order_changed(order_id)

    async def stop(self, grace: float = 10.0) -> None:
        """Cancel the worker and close its clients; bounded, so a stuck close never blocks the
        service's shutdown (the lease and any half-done step are Postgres's to recover)."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self.task, grace)
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(close(), grace)

    async def _run(self) -> None:
        while True:
            conn = await self.leadership.acquire()
            try:
                await self._lead(conn)
            except LeaseLost:
                log.warning("fulfillment_lease_lost")
            except Exception:
                log.exception("fulfillment_worker_failed")
                await asyncio.sleep(self.deps.settings.standby_retry_s)
            finally:
                self.leading.clear()
                await _close_quietly(conn)

    async def _lead(self, conn: asyncpg.Connection) -> None:
        await conn.add_listener(RETRY_CHANNEL, lambda *args: self.worker.submit(str(args[3])))
        self.leading.set()
        holding = asyncio.create_task(self.leadership.hold(conn))
        leading = asyncio.create_task(self.worker.lead())
        try:
            done, _ = await asyncio.wait({holding, leading}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in (holding, leading):
                task.cancel()
            await asyncio.gather(holding, leading, return_exceptions=True)


async def _close_quietly(conn: asyncpg.Connection) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(conn.close(), timeout=2)


@dataclass(frozen=True)
class Clients:
    """The upstream clients the worker uses (built from the settings unless passed in)."""

    salesforce: SalesforceClient
    whmcs: WhmcsClient
    freebit: FreebitClient
    directory: WhmcsClients
    closers: tuple[Closer, ...] = ()

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> Clients:
        sf = upstreams.salesforce(settings)
        whmcs, freebit = upstreams.whmcs(settings), upstreams.freebit(settings)
        channel = upstreams.peer_channel(settings, "identity")
        closers = (sf.aclose, whmcs.aclose, freebit.aclose, channel.close)
        return cls(sf, whmcs, freebit, WhmcsClients.over(channel), closers)


async def start_fulfillment(
    settings: ServiceSettings,
    fulfillment: FulfillmentSettings | None = None,
    *,
    clients: Clients | None = None,
    order_changed: OrderChanged | None = None,
    step_hook: StepHook | None = None,
    cdc: Dispatcher | None = None,
) -> Fulfillment:
    """Build the worker and start it (standby or active); ``await handle.stop()`` ends it.
    ``cdc`` is the process's CDC dispatcher, which gets fulfillment's ``Order`` handler."""
    fs = fulfillment or FulfillmentSettings()
    url = settings.database_url.get_secret_value()
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4, command_timeout=15.0)
    assert pool is not None
    c = clients or Clients.from_settings(settings)
    extra = {"order_changed": order_changed} if order_changed is not None else {}
    deps = Deps(fs, pool, c.salesforce, c.whmcs, c.freebit, c.directory, step_hook, **extra)
    leadership = Leadership(url, fs.consumer, fs.standby_retry_s)
    handle = Fulfillment(deps, Worker(deps), leadership)
    handle.closers += [partial(close_pool, pool), *c.closers]
    if cdc is not None and fs.enabled:
        cdc.subscribe("Order", FulfillmentIntake(deps, handle.hand))
    if fs.enabled:
        handle.task = asyncio.create_task(handle._run(), name="fulfillment")
    return handle
