"""Cached-read throughput through the gateway with 1 and with 2 processes per service.

For each replica count, starts the whole stack (Envoy, N processes per service, the sandboxes) on
free ports with a throwaway database, links the demo customer (WHMCS client 1), warms the cache and
every replica's in-process memos, then drives the cached ``GET /v1/invoices`` with 32 connections
for 10 s, ``ROUNDS`` times (``wrk --latency`` when installed, otherwise an httpx asyncio pool; the
same load generator as ``billing_bench``). Prints req/s, p50/p99 and the load average per run.

Run: .venv/bin/python bench/replicas_bench.py  (~1.5 min)
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import httpx

# ``make bench`` runs each script by path; ``tools``/``bench`` are not installed packages.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.billing_bench import CONNECTIONS, DURATION, load, show
from bench.stack import bench_stack, demo_token
from tools import signals
from tools.stack import Stack

REPLICAS, ROUNDS, WARM = (1, 2), 2, 20


async def measure(stack: Stack, replicas: int) -> None:
    base = stack.config.gateway_url
    async with httpx.AsyncClient(base_url=base, timeout=10) as gateway:
        headers = {"authorization": f"Bearer {await demo_token(gateway)}"}
        for _ in range(WARM):  # the page into Redis, token + links memos into every replica
            response = await gateway.get("/v1/invoices", headers=headers)
            assert response.status_code == 200, response.text
        for n in range(ROUNDS):
            result = await load(f"{base}/v1/invoices", headers)
            load_avg = os.getloadavg()[0]
            show(f"replicas={replicas} round {n + 1} (load {load_avg:.1f})", result)


async def run(replicas: int) -> None:
    async with bench_stack(within=120, replicas=replicas) as stack:
        await measure(stack, replicas)


async def main() -> None:
    generator = "wrk" if shutil.which("wrk") else "httpx pool"
    print(f"load generator: {generator}, {CONNECTIONS} connections, {DURATION:.0f} s per run; "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    for replicas in REPLICAS:
        await run(replicas)


if __name__ == "__main__":
    signals.run(main())
