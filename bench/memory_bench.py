"""Memory of the four services: idle after start-up, after a mixed load, and after 1,000 streams.

Starts the whole stack (Envoy, the four services, the sandboxes) on free ports with a throwaway
database, waits for ``/readyz`` and records each process's resident memory from ``/proc``
(``VmRSS``; ``smaps_rollup`` splits it into anonymous and file-backed pages; the thread count) —
Envoy's too, for information. Then, bounded (~1 min):

- **load**: ``REQUESTS`` GETs over the main read endpoints (``/v1/me``, invoices, subscriptions,
  payment methods, billing profile, catalog, orders, SIMs, cases) as the linked demo customer
  (WHMCS client 1), ``CONCURRENCY`` at a time; RSS again, and each service's file-backed pages
  per mapped file (``/proc/<pid>/smaps``: which libraries' code the floor is made of).
- **streams**: ``STREAMS`` ``GET /v1/orders:watch`` streams (the REST form of WatchOrders, through
  Envoy) opened, read up to their first heartbeat and closed, ``BATCH`` at a time (below the
  per-user cap, ``COMMERCE_WATCH_MAX_STREAMS_PER_USER``, 5); then ``STREAMS`` more in waves of
  ``WAVE`` held open together (the bench's stack raises the cap to ``WAVE``, one token standing in
  for many users). Commerce's RSS and its ``portal_watch_open_streams`` /
  ``portal_watch_subscribed_channels`` gauges once they are closed, and again after one
  ``MEMORY_TRIM_INTERVAL_S``.

Run: .venv/bin/python bench/memory_bench.py  (or ``make bench BENCH=memory_bench``)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import httpx

# ``make bench`` runs each script by path; ``tools`` (the stack runner) is not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.soak_sampler import memory_mib
from bench.stack import bench_stack, demo_token
from tools import signals
from tools.stack import SERVICES, Stack

REQUESTS, CONCURRENCY, STREAMS, BATCH, WAVE, SETTLE_S = 400, 8, 1000, 4, 250, 3.0
TRIM_S = 30.0  # the services' default MEMORY_TRIM_INTERVAL_S
READS = [
    "/v1/me",
    "/v1/invoices",
    "/v1/subscriptions",
    "/v1/payment-methods",
    "/v1/billing-profile",
    "/v1/catalog/products",
    "/v1/orders",
    "/v1/sims",
    "/v1/cases",
]


def memory(pid: int) -> dict[str, float]:
    """RSS, its anonymous and file-backed parts (MiB) and the thread count of one process."""
    m = memory_mib(pid)
    if m is None:
        raise ProcessLookupError(pid)
    status = Path(f"/proc/{pid}/status").read_text()
    threads = float(re.search(r"Threads:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return {"Rss": m["rss"], "Anonymous": m["anon"], "File": m["file"], "Threads": threads}


def by_file(pid: int) -> dict[str, float]:
    """The file-backed resident memory of one process per mapped file (MiB): the interpreter's
    and the libraries' pages, shared with every process that maps the same file."""
    out: dict[str, float] = {}
    name, rss = "", 0
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        field, _, rest = line.partition(" ")
        if not field.endswith(":"):  # a mapping's header: address perms offset dev inode [path]
            parts = line.split(maxsplit=5)
            name = parts[5] if len(parts) == 6 and parts[5].startswith("/") else ""
        elif name and field == "Rss:":
            rss = int(rest.split()[0])
        elif name and field == "Anonymous:":
            out[name] = out.get(name, 0.0) + (rss - int(rest.split()[0])) / 1024
    return out


def files(stack: Stack) -> dict[str, dict[str, float]]:
    return {n: by_file(stack.children[n].process.pid) for n in SERVICES}  # type: ignore[union-attr]


def files_table(per: dict[str, dict[str, float]], top: int = 10) -> None:
    """The files with the most resident pages in the services, largest first, and the rest."""
    totals: dict[str, float] = {}
    for files in per.values():
        for path, mib in files.items():
            totals[path] = totals.get(path, 0.0) + mib
    largest = sorted(totals, key=lambda p: -totals[p])[:top]
    print(f"{'file-backed MiB after load':<40} " + " ".join(f"{n:>9}" for n in SERVICES))
    for path in largest:
        short = path.rsplit("/", 1)[-1][:40]
        print(f"{short:<40} " + " ".join(f"{per[n].get(path, 0.0):9.1f}" for n in SERVICES))
    rest = [sum(v for p, v in per[n].items() if p not in largest) for n in SERVICES]
    print(f"{'(every other file)':<40} " + " ".join(f"{v:9.1f}" for v in rest))


def snapshot(stack: Stack) -> dict[str, dict[str, float]]:
    names = [*SERVICES, "envoy"]
    return {n: memory(stack.children[n].process.pid) for n in names}  # type: ignore[union-attr]


def table(rows: list[tuple[str, dict[str, dict[str, float]]]]) -> None:
    print(f"{'process':<10} " + " ".join(f"{label:>22}" for label, _ in rows))
    print(f"{'':<10} " + " ".join(f"{'RSS (anon/file) thr':>22}" for _ in rows))
    for name in rows[0][1]:
        cells = []
        for _, snap in rows:
            m = snap[name]
            cells.append(
                f"{m['Rss']:6.1f} ({m['Anonymous']:5.1f}/{m['File']:4.1f}) {m['Threads']:3.0f}"
            )
        print(f"{name:<10} " + " ".join(f"{c:>22}" for c in cells))


async def mixed_load(gateway: httpx.AsyncClient, headers: dict[str, str]) -> dict[int, int]:
    paths = itertools.islice(itertools.cycle(READS), REQUESTS)
    statuses: dict[int, int] = {}
    lock = asyncio.Lock()

    async def worker() -> None:
        while True:
            async with lock:
                path = next(paths, None)
            if path is None:
                return
            status = (await gateway.get(path, headers=headers)).status_code
            statuses[status] = statuses.get(status, 0) + 1

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return statuses


async def open_and_close(gateway: httpx.AsyncClient, headers: dict[str, str]) -> int:
    """One ``/v1/orders:watch`` stream: read its first chunk (the heartbeat), then hang up (leaving
    the iteration closes the response)."""
    async with gateway.stream("GET", "/v1/orders:watch", headers=headers) as response:
        if response.status_code != 200:
            await response.aread()
            return response.status_code
        async for _chunk in response.aiter_raw():
            break
        return 200


async def streams(gateway: httpx.AsyncClient, headers: dict[str, str]) -> dict[int, int]:
    statuses: dict[int, int] = {}
    for _ in range(STREAMS // BATCH):
        for status in await asyncio.gather(
            *(open_and_close(gateway, headers) for _ in range(BATCH))
        ):
            statuses[status] = statuses.get(status, 0) + 1
    return statuses


async def hold(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    held: contextlib.AsyncExitStack,
    kept: list[AsyncIterator[bytes]],
) -> int:
    """Open one stream that stays open until ``held`` closes."""
    response = await held.enter_async_context(
        http.stream("GET", "/v1/orders:watch", headers=headers)
    )
    if response.status_code == 200:
        # The first chunk; the iterator stays unfinished (leaving it early would close the
        # response) until the wave is closed.
        chunks = response.aiter_raw()
        await anext(chunks)
        kept.append(chunks)
    return response.status_code


async def waves(base: str, headers: dict[str, str]) -> dict[int, int]:
    """``WAVE`` streams open at once (each on its own connection), all closed together."""
    statuses: dict[int, int] = {}
    limits = httpx.Limits(max_connections=WAVE, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        for _ in range(STREAMS // WAVE):
            kept: list[AsyncIterator[bytes]] = []
            async with contextlib.AsyncExitStack() as held:
                wave = [hold(http, headers, held, kept) for _ in range(WAVE)]
                for status in await asyncio.gather(*wave):
                    statuses[status] = statuses.get(status, 0) + 1
    return statuses


async def gauges(http: httpx.AsyncClient, url: str) -> str:
    text = (await http.get(url)).text
    found = re.findall(r"^(portal_watch_\w+) ([\d.e+]+)$", text, re.MULTILINE)
    return ", ".join(f"{n} {float(v):.0f}" for n, v in found) or "(no portal_watch_* gauges)"


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


async def phase(
    stack: Stack, label: str, what: str, work: Awaitable[object]
) -> dict[str, dict[str, float]]:
    """Run ``work``, print how long it took and its statuses, let things settle, then read every
    process's memory."""
    started = time.perf_counter()
    statuses = await work
    took = time.perf_counter() - started
    print(f"{label}: {what}, {took:.1f} s, statuses {statuses}  (load average {loadavg()})")
    await asyncio.sleep(SETTLE_S)
    return snapshot(stack)


async def measure(stack: Stack) -> None:
    base = stack.config.gateway_url
    metrics = f"http://127.0.0.1:{stack.config.ports.commerce_metrics}/metrics"
    await asyncio.sleep(SETTLE_S)
    idle = snapshot(stack)
    async with httpx.AsyncClient(base_url=base, timeout=10) as gateway:
        headers = {"authorization": f"Bearer {await demo_token(gateway)}"}
        load = f"{REQUESTS} GETs over {len(READS)} endpoints, {CONCURRENCY} at a time"
        loaded = await phase(stack, "load", load, mixed_load(gateway, headers))
        loaded_files = files(stack)
        before = loaded["commerce"]["Rss"]
        closed = f"{STREAMS} /v1/orders:watch opened and closed, {BATCH} at a time"
        batched = await phase(stack, "streams", closed, streams(gateway, headers))
        print(f"commerce after them: {await gauges(gateway, metrics)}")
        held = f"{STREAMS} more in waves of {WAVE} held open together"
        waved = await phase(stack, "streams", held, waves(base, headers))
        print(f"commerce after them: {await gauges(gateway, metrics)}")
        await asyncio.sleep(TRIM_S)
        trimmed = snapshot(stack)
    print()
    table([("idle after start", idle), ("after load", loaded)])
    print()
    files_table(loaded_files)
    print()
    table([(f"{STREAMS} in {BATCH}s", batched), (f"{STREAMS} in {WAVE}s", waved),
           (f"+{TRIM_S:.0f} s", trimmed)])  # fmt: skip
    rss = [m["commerce"]["Rss"] - before for m in (batched, waved, trimmed)]
    print(f"\ncommerce RSS vs before the streams: {rss[0]:+.1f} MiB after {STREAMS} in {BATCH}s, "
          f"{rss[1]:+.1f} MiB after {STREAMS} more in {WAVE}s, {rss[2]:+.1f} MiB "
          f"{TRIM_S:.0f} s later  (load average {loadavg()})")  # fmt: skip


async def main() -> None:
    started = time.perf_counter()
    env = {"COMMERCE_WATCH_MAX_STREAMS_PER_USER": str(WAVE)}
    async with bench_stack(extra_env=env) as stack:
        took = time.perf_counter() - started
        print(f"stack ready in {took:.2f} s  (load average {loadavg()})")
        await measure(stack)


if __name__ == "__main__":
    signals.run(main())
