"""Concurrent clients through the gateway while a fault is injected: every answer recorded with its
status and latency, for assertions (no failures, a bounded p99) and for the report."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True)
class Sample:
    path: str
    status: int  # 0: no HTTP answer at all (connection error, client timeout)
    seconds: float
    at: float  # time.monotonic() when the request started
    body: str = ""  # kept for anything but a 2xx


@dataclass
class Load:
    samples: list[Sample] = field(default_factory=list)

    def failures(self) -> list[Sample]:
        return [s for s in self.samples if not 200 <= s.status < 300]

    def percentile(self, q: float, since: float = 0.0, until: float = math.inf) -> float:
        """The ``q`` quantile (0..1) of the latencies of requests started in [since, until)."""
        times = sorted(s.seconds for s in self.samples if since <= s.at < until)
        if not times:
            return math.nan
        return times[max(0, math.ceil(q * len(times)) - 1)]

    def summary(self, since: float = 0.0, until: float = math.inf) -> str:
        window = [s for s in self.samples if since <= s.at < until]
        failed = sum(1 for s in window if not 200 <= s.status < 300)
        return (
            f"{len(window)} requests, {failed} failed, p50 "
            f"{self.percentile(0.5, since, until) * 1000:.0f} ms, p99 "
            f"{self.percentile(0.99, since, until) * 1000:.0f} ms"
        )


async def _client(
    gateway: httpx.AsyncClient,
    paths: Sequence[str],
    headers: dict[str, str],
    offset: int,
    stop: asyncio.Event,
    load: Load,
) -> None:
    for path in itertools.islice(itertools.cycle(paths), offset, None):
        if stop.is_set():
            return
        started = time.monotonic()
        try:
            response = await gateway.get(path, headers=headers)
            status, body = response.status_code, response.text
        except httpx.HTTPError as exc:
            status, body = 0, f"{type(exc).__name__}: {exc}"
        ok = 200 <= status < 300
        load.samples.append(
            Sample(path, status, time.monotonic() - started, started, "" if ok else body)
        )


@contextlib.asynccontextmanager
async def read_load(
    gateway: httpx.AsyncClient, paths: Sequence[str], headers: dict[str, str], clients: int = 16
) -> AsyncIterator[Load]:
    """``clients`` concurrent loops of GETs over ``paths`` (each starting elsewhere in the list)
    for as long as the block runs; the samples are complete when it has left."""
    load, stop = Load(), asyncio.Event()
    tasks = [
        asyncio.create_task(_client(gateway, paths, headers, i, stop, load)) for i in range(clients)
    ]
    try:
        yield load
    finally:
        stop.set()
        await asyncio.gather(*tasks)
