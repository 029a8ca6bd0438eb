"""``start_fulfillment``: the worker inside the commerce process, on commerce's clients and
settings (``CommerceSettings.fulfillment``), with a small pool of its own (so a burst of orders
never takes the connections commerce's RPCs need). Every replica's worker claims and works orders
(``Worker.work``); one replica at a time also runs the sweep (``Worker.lead``, under a Postgres
advisory lock: standby until it holds the lock, then lead until it loses it).

Orders come from the process's one CDC dispatcher (``cdc``): its ``Order`` handler
(``cdc_intake``, active on the replica that holds the CDC stream) commits the rows and hands the
orders over (``hand``: a Postgres notification that wakes every replica's worker)."""

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
from services.commerce.fulfillment.settings import FulfillmentSettings
from services.commerce.fulfillment.worker import Worker, worker_id
from services.common.clients import FreebitClient, SalesforceClient, WhmcsClient
from services.common.db import close_pool
from services.common.directory import Directory
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
    leading: asyncio.Event = field(default_factory=asyncio.Event)  # holds the sweep's lock
    closers: list[Closer] = field(default_factory=list)
    _notifier: asyncio.Task[None] | None = None
    _notify_again: bool = False

    async def hand(self, order_ids: list[str]) -> None:
        """Orders with a committed open row: this replica's worker looks for them at once, and
        a notification wakes every replica's (with no worker running at all, the first to start
        claims the open rows). The notification is sent in the background, one for all the
        orders handed while one is being sent: the CDC intake (one event after the other, its
        replay id stored after each) does not wait for it, and a burst of events costs a few
        notifications, not one each. One that fails is made up for by the workers' poll."""
        if not order_ids:
            return
        self.worker.wake()
        if self._notifier is not None and not self._notifier.done():
            self._notify_again = True
            return
        self._notifier = asyncio.create_task(self._notify(), name="fulfillment-notify")

    async def _notify(self) -> None:
        self._notify_again = True
        while self._notify_again:
            self._notify_again = False
            try:
                await repo.notify(self.deps.pool, "")
            except Exception as exc:
                log.warning("fulfillment_notify_failed", error=type(exc).__name__)
                return

    async def order_changed(self, order_id: str) -> None:
        """The hook commerce may call (or be called through) when an order changed."""
        await self.deps.order_changed(order_id)

    async def stop(self, grace: float = 10.0) -> None:
        """Cancel the worker and close its clients; bounded, so a stuck close never blocks the
        service's shutdown (the lease and any half-done step are Postgres's to recover)."""
        for task in (self.task, self._notifier):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(task, grace)
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(close(), grace)

    async def _run(self) -> None:
        """Work orders (every replica) and contend for the sweep, until cancelled."""
        sweep = asyncio.create_task(self._sweep(), name="fulfillment-sweep")
        try:
            await self.worker.work()
        finally:
            sweep.cancel()
            await asyncio.gather(sweep, return_exceptions=True)

    async def _sweep(self) -> None:
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


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing to send. The worker's statements are single
    autocommitted statements that leave no session state (no LISTEN, advisory lock, cursor or
    SET: the sweep's lock and the worker's listener have connections of their own, outside the
    pool), and asyncpg still rolls back a transaction left open; the default reset (``RESET
    ALL``, ``UNLISTEN *``, ...) would cost one more round trip per statement."""


async def _close_quietly(conn: asyncpg.Connection) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(conn.close(), timeout=2)


@dataclass(frozen=True)
class Clients:
    """The upstream clients the worker uses: commerce's own (closed by commerce, so no closers),
    or a test's."""

    salesforce: SalesforceClient
    whmcs: WhmcsClient
    freebit: FreebitClient
    directory: Directory
    closers: tuple[Closer, ...] = ()


async def start_fulfillment(
    settings: ServiceSettings,
    fulfillment: FulfillmentSettings,
    *,
    clients: Clients,
    order_changed: OrderChanged | None = None,
    step_hook: StepHook | None = None,
    cdc: Dispatcher | None = None,
) -> Fulfillment:
    """Build the worker and start it (standby or active); ``await handle.stop()`` ends it.
    ``cdc`` is the process's CDC dispatcher, which gets fulfillment's ``Order`` handler."""
    url = settings.database_url.get_secret_value()
    pool = await asyncpg.create_pool(
        url, min_size=1, max_size=4, command_timeout=15.0, reset=_keep_session
    )
    assert pool is not None
    extra = {"order_changed": order_changed} if order_changed is not None else {}
    deps = Deps(
        fulfillment,
        pool,
        clients.salesforce,
        clients.whmcs,
        clients.freebit,
        clients.directory,
        step_hook,
        **extra,
        claimant=worker_id(),
    )
    leadership = Leadership(url, fulfillment.consumer, fulfillment.standby_retry_s)
    handle = Fulfillment(deps, Worker(deps, url), leadership)
    handle.closers += [partial(close_pool, pool), *clients.closers]
    if cdc is not None and fulfillment.enabled:
        cdc.subscribe("Order", FulfillmentIntake(deps, handle.hand))
    if fulfillment.enabled:
        handle.task = asyncio.create_task(handle._run(), name="fulfillment")
    return handle
