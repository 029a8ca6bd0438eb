"""Cache library benchmark: the hit path against a raw redis-py GET, and a cold-key miss storm.

Starts a throwaway ``redis-server --save ""`` on a free port (killed at the end), so it never
touches shared data. Bounded: ~10-20 s on the shared 2-core dev box.
Run: .venv/bin/python bench/cache_bench.py
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from portal.billing.v1 import billing_pb2
from redis.asyncio import Redis

# ``make bench`` runs each script by path; ``tools`` is not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from services.common.cache import Cache, UserScope, Variant, policy, redis_from_url
from services.common.cache.keys import keys_for, schema_hash
from tools import signals

ROUNDS, PER_ROUND, STORM = 6, 1500, 200
MSG = billing_pb2.ListInvoicesResponse
NAMESPACE = f"bench-cache-{uuid.uuid4().hex[:8]}"
PAGE = Variant.of(page=1)
RAW_KEY = f"{NAMESPACE}:raw"  # the plain GET's key, beside the library's


def page() -> billing_pb2.ListInvoicesResponse:
    invoices = [
        billing_pb2.Invoice(number=f"INV-{n:05d}", currency_code="JPY", total="5500", balance="0")
        for n in range(25)
    ]
    return MSG(invoices=invoices)


def start_redis(workdir: str) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    args = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir]
    proc = subprocess.Popen([*args, "--appendonly", "no"], stdout=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, port
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError("redis-server did not start")


async def timed(op: Callable[[], Awaitable[object]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        await op()
        out.append(time.perf_counter() - start)
    return out


def summary(lat: list[float]) -> str:
    q = statistics.quantiles(lat, n=100)
    return f"{len(lat) / sum(lat):8.0f} ops/s  p50 {q[49] * 1e6:6.0f} us  p99 {q[98] * 1e6:6.0f} us"


async def hit_path(url: str) -> None:
    cache = Cache(redis_from_url(url), service="bench", namespace=NAMESPACE)
    raw = Redis.from_url(url)
    scope, value = UserScope("bench-user"), page()

    async def load() -> billing_pb2.ListInvoicesResponse:
        return value

    await cache.connect()
    await cache.get_or_load(policy.INVOICES_LIST, scope, load, MSG, variant=PAGE)  # warm
    key = keys_for(
        NAMESPACE, policy.INVOICES_LIST, scope, schema_hash(MSG), PAGE, cluster=False
    ).value
    stored = await raw.get(key)
    assert isinstance(stored, bytes), "the warm-up call did not fill the cache"
    await raw.set(RAW_KEY, stored)

    async def lib() -> object:
        return await cache.get_or_load(policy.INVOICES_LIST, scope, load, MSG, variant=PAGE)

    async def plain() -> object:
        return await raw.get(RAW_KEY)

    await timed(lib, 300)
    await timed(plain, 300)
    lib_lat: list[float] = []
    raw_lat: list[float] = []
    for _ in range(ROUNDS):  # interleaved rounds: both see the same machine load
        lib_lat += await timed(lib, PER_ROUND)
        raw_lat += await timed(plain, PER_ROUND)
    print(f"value: {len(stored)} bytes ({len(value.SerializeToString())} bytes of protobuf)")
    print(f"library get_or_load (hit): {summary(lib_lat)}")
    print(f"raw redis-py GET:          {summary(raw_lat)}")
    ratio = (len(lib_lat) / sum(lib_lat)) / (len(raw_lat) / sum(raw_lat))
    print(f"ratio library/raw ops/s:   {ratio:.2f}")
    p50 = statistics.median(raw_lat) / statistics.median(lib_lat)
    print(f"ratio raw/library p50:     {p50:.2f}")
    await raw.delete(RAW_KEY)
    await raw.aclose()
    await cache.aclose()


async def miss_storm(url: str) -> None:
    cache = Cache(redis_from_url(url), service="bench", namespace=NAMESPACE)
    await cache.connect()
    calls = 0

    async def upstream() -> billing_pb2.ListInvoicesResponse:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)  # a 50 ms upstream call
        return page()

    async def one() -> float:
        start = time.perf_counter()
        await cache.get_or_load(policy.INVOICE_DETAIL, UserScope("storm"), upstream, MSG)
        return time.perf_counter() - start

    lat = await asyncio.gather(*(one() for _ in range(STORM)))
    q = statistics.quantiles(lat, n=100)
    print(
        f"miss storm: {STORM} concurrent on a cold key -> {calls} upstream call(s); "
        f"waiting requests p50 {q[49] * 1e3:.1f} ms, p99 {q[98] * 1e3:.1f} ms, "
        f"max {max(lat) * 1e3:.1f} ms (upstream 50 ms)"
    )
    await cache.aclose()


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        proc, port = start_redis(workdir)
        try:
            url = f"redis://127.0.0.1:{port}/0"
            signals.run(hit_path(url))
            signals.run(miss_storm(url))
        finally:
            proc.kill()
            proc.wait(5)


if __name__ == "__main__":
    main()
