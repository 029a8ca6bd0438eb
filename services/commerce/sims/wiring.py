"""The SIM self-service parts, built together for the commerce server."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.commerce.peers import Directory
from services.commerce.settings import CommerceSettings
from services.commerce.sims.cancel import LineNotifier, SimCancellation
from services.commerce.sims.lines import SimLines
from services.commerce.sims.usage import SimUsageReader
from services.commerce.sims.watcher import CancellationWatcher
from services.common import upstreams
from services.common.cache import Cache
from services.common.clients import FreebitClient, SalesforceClient


@dataclass(frozen=True)
class Sims:
    freebit: FreebitClient
    lines: SimLines
    usage: SimUsageReader
    cancellation: SimCancellation
    watcher: CancellationWatcher

    async def aclose(self) -> None:
        await self.watcher.stop()
        await self.freebit.aclose()


def build_sims(
    settings: CommerceSettings,
    pool: asyncpg.Pool,
    cache: Cache,
    salesforce: SalesforceClient,
    directory: Directory,
    notify: LineNotifier,
) -> Sims:
    freebit = upstreams.freebit(settings)
    lines = SimLines(salesforce, freebit, directory)
    return Sims(
        freebit=freebit,
        lines=lines,
        usage=SimUsageReader(lines, cache, settings.sim_usage_refresh_min_s),
        cancellation=SimCancellation(lines, salesforce, pool, cache, notify),
        watcher=CancellationWatcher(pool, lines, cache, notify, settings.sim_watch_interval_s),
    )
