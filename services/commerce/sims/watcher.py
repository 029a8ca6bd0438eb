"""Tells the customer's live updates (WatchOrders) when a scheduled SIM cancellation has taken
effect at Freebit, which pushes nothing: every ``interval_s`` the open rows of
``commerce.sim_cancellations`` are checked with PA03-02, and a line found cancelled is marked in
Postgres and published once (the UPDATE decides which replica publishes).

Polling every open row, not only those whose run date has passed by our clock: Freebit's calendar
decides, and the rows are few (cancellations scheduled and not yet run).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import asyncpg
import structlog

from services.commerce.sims import repo
from services.commerce.sims.cancel import LineNotifier
from services.commerce.sims.lines import SimLines
from services.common.cache import Cache, UserScope, policy
from services.common.errors import PortalError
from services.common.outages import is_outage

log = structlog.get_logger("sims")


@dataclass
class CancellationWatcher:
    pool: asyncpg.Pool
    lines: SimLines
    cache: Cache
    notify: LineNotifier
    interval_s: float
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    async def check(self) -> int:
        """One pass; returns how many cancellations were found in effect."""
        done = 0
        for row in await repo.pending(self.pool):
            try:
                state = (await self.lines.detail(row.msisdn)).get("state")
            except PortalError as exc:
                log.warning("sim_status_unreadable", error=exc.reason)
                return done  # Freebit trouble: the next pass tries again
            if state == "cancelled" and await repo.mark_effective(self.pool, row.msisdn):
                await self.cache.invalidate(UserScope(row.user_id), policy.SIM_USAGE)
                await self.notify.line_changed(row.user_id, row.msisdn)
                log.info("sim_cancellation_effective")
                done += 1
        return done

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception as exc:
                if not is_outage(exc):
                    log.exception("sim_watcher_failed")
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        if self._task is None and self.interval_s > 0:
            self._task = asyncio.create_task(self._run(), name="sim-cancellation-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
