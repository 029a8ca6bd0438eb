"""A replica's fulfillment worker. Every commerce replica runs one; they share the orders by claim.

``work`` (every replica, until cancelled): claim open rows (``repo.claim``: ``FOR UPDATE SKIP
LOCKED``, so two workers never claim the same row) as many as the dispatcher has room for, work
each through the state machine, give it back when done (``repo.release``). The claims' leases are
renewed every ``lease_s / 6`` while the orders are worked; an order whose lease could not be
renewed is cancelled here ``lease_s / 3`` before its last lease ends, so it is never worked by two
workers at once, and AddOrder is placed only under a live lease (``repo.add_order_attempted``).
A dead worker's orders are claimed by the others once its leases have expired.

A worker looks for orders when woken: by a Postgres notification (``RETRY_CHANNEL``: the CDC
intake on whichever replica holds the stream, an operator's retry, a worker giving orders back),
by its own orders finishing or going to sleep (room in the dispatcher), and every
``poll_interval_s`` as a safety net (a notification missed, a lease expired).

``lead`` (one replica, the holder of the sweep lock): reconcile at start and every
``sweep_interval_s`` (orders approved that no event brought, ``intake.reconcile``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid

import asyncpg
import structlog

from services.commerce.fulfillment import intake, machine, repo
from services.commerce.fulfillment.deps import Deps
from services.commerce.fulfillment.dispatcher import Dispatcher
from services.commerce.fulfillment.model import FINAL, ClaimLost
from services.commerce.fulfillment.repo import RETRY_CHANNEL

log = structlog.get_logger("fulfillment")
DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


def worker_id() -> str:
    """A claim id unique to this worker: host, process, and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(self, deps: Deps, database_url: str) -> None:
        self.deps = deps
        self.id = deps.claimant or worker_id()
        self._url = database_url
        self.dispatcher = Dispatcher(self._fulfil, deps.settings.concurrency, on_room=self.wake)
        self._wake = asyncio.Event()
        # order → the monotonic time by which its lease has surely not ended (the time the
        # claim or last renewal was sent + lease_s: Postgres's now() came later)
        self._deadlines: dict[str, float] = {}
        self.listening = asyncio.Event()

    def wake(self) -> None:
        """Look for claimable orders now."""
        self._wake.set()

    async def _fulfil(self, order_id: str) -> None:
        try:
            await machine.run(self.deps, order_id)
        except ClaimLost:
            log.warning("fulfillment_claim_lost", order_id=order_id)
        except asyncio.CancelledError:
            await self._release(order_id)  # stopping (or the lease ran out): give it back
            raise
        except BaseException:
            # a crash: the claim is kept (no longer renewed) until its lease ends, so the order
            # is tried again after lease_s, not in a tight loop
            self._deadlines.pop(order_id, None)
            raise
        state = await self._release(order_id)
        if state is not None and state not in FINAL:
            self.wake()  # revived while we finished: claim it again

    async def _release(self, order_id: str) -> str | None:
        self._deadlines.pop(order_id, None)
        with contextlib.suppress(Exception):
            return await asyncio.wait_for(repo.release(self.deps.pool, self.id, order_id), 5)
        return None

    async def work(self) -> None:
        """Claim and work orders, until cancelled; then give the claimed ones back."""
        loops = [
            asyncio.create_task(self._claim_forever(), name="fulfillment-claim"),
            asyncio.create_task(self._listen_forever(), name="fulfillment-listen"),
            asyncio.create_task(self._renew_forever(), name="fulfillment-renew"),
        ]
        try:
            await asyncio.gather(*loops)
        finally:
            for loop in loops:
                loop.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            had = self.dispatcher.running
            await self.dispatcher.cancel_all()  # each releases its claim (``_fulfil``)
            if had:
                with contextlib.suppress(Exception):  # the others take them over now
                    await asyncio.wait_for(repo.notify(self.deps.pool, ""), timeout=2)

    async def _claim_forever(self) -> None:
        poll = self.deps.settings.poll_interval_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll)
            self._wake.clear()
            try:
                await self._claim()
            except DB_ERRORS as exc:
                log.warning("fulfillment_claim_failed", error=type(exc).__name__)

    async def _claim(self) -> None:
        lease_s = self.deps.settings.lease_s
        while (room := self.dispatcher.room) > 0:
            sent = time.monotonic()
            claimed = await repo.claim(self.deps.pool, self.id, room, lease_s)
            for order_id in claimed:
                self._deadlines[order_id] = sent + lease_s
                self.dispatcher.submit(order_id)
            if len(claimed) < room:
                return

    async def _listen_forever(self) -> None:
        s = self.deps.settings
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._url, timeout=5)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await conn.add_listener(RETRY_CHANNEL, lambda *_args: self.wake())
                self.listening.set()
                self.wake()  # whatever was notified while nobody here listened
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), s.poll_interval_s)
                    if not lost.is_set():
                        await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=5)
            except DB_ERRORS as exc:
                log.warning("fulfillment_listen_failed", error=type(exc).__name__)
            finally:
                self.listening.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), timeout=2)
            await asyncio.sleep(s.standby_retry_s)

    async def _renew_forever(self) -> None:
        lease_s = self.deps.settings.lease_s
        tick = lease_s / 6
        while True:
            await asyncio.sleep(tick)
            order_ids = list(self._deadlines)
            if order_ids:
                sent = time.monotonic()
                try:
                    renewed = await asyncio.wait_for(
                        repo.renew(self.deps.pool, self.id, order_ids, lease_s), timeout=tick
                    )
                    for order_id in renewed:
                        if order_id in self._deadlines:
                            self._deadlines[order_id] = sent + lease_s
                except DB_ERRORS as exc:
                    log.warning("fulfillment_lease_renewal_failed", error=type(exc).__name__)
            self._fence(lease_s / 3)

    def _fence(self, margin: float) -> None:
        """Cancel the orders whose lease may end within ``margin``: another worker may claim
        them then, and must find nobody working them."""
        now = time.monotonic()
        for order_id, until in list(self._deadlines.items()):
            if now > until - margin:
                log.warning("fulfillment_lease_expiring", order_id=order_id)
                del self._deadlines[order_id]
                self.dispatcher.cancel(order_id)

    async def lead(self) -> None:
        """The sweep (one replica, until cancelled): reconcile now and periodically."""
        await self._reconcile()
        interval = self.deps.settings.sweep_interval_s
        while interval > 0:
            await asyncio.sleep(interval)
            await self._reconcile()
        await asyncio.Event().wait()  # until cancelled

    async def _reconcile(self) -> None:
        found = await intake.reconciled(self.deps)
        if found:  # open rows: for every replica's worker to claim
            self.wake()
            await repo.notify(self.deps.pool, found[0])
