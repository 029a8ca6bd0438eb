"""Commerce through the gateway: cached ListProducts / ListOrders, and CDC-to-visible latency.

Starts the whole stack (Envoy, the four services, the sandboxes) on free ports with a throwaway
database, links the demo customer (AC-000101), places one order, then measures, bounded (~1 min):

- **hot**: 32 connections for ``DURATION`` s on ``GET /v1/catalog/products`` (shared catalog and
  the caller's eligibility from Redis) and on ``GET /v1/orders`` (the caller's order page from
  Redis); no Salesforce call while it runs (checked with the sandbox's counters). ``wrk`` drives
  the load when installed, else an httpx pool.
- **freshness**: ``CHANGES`` price changes made through the Salesforce REST API, one at a time;
  for each, the time from the PATCH's answer until ``GET /v1/catalog/products`` shows the new
  price (polled every 10 ms through the gateway): CDC event → consumer → invalidation → reload.

Run: .venv/bin/python bench/commerce_bench.py
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import time
from pathlib import Path

import httpx

# ``make bench`` runs each script by path; ``tools`` (the stack runner) is not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.billing_bench import CONNECTIONS, DURATION, Result, load, show
from bench.stack import bench_stack, demo_token
from services.common.clients import SalesforceClient, SalesforceConfig
from tools import signals
from tools.stack import Stack

CHANGES = 100
SKU = "INTERNET-INSTALL-WEEKEND"


async def price_of(gateway: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await gateway.get("/v1/catalog/products", headers=headers)
    return str(next(p["unitPrice"] for p in response.json()["products"] if p["sku"] == SKU))


async def freshness(
    gateway: httpx.AsyncClient, headers: dict[str, str], sf: SalesforceClient
) -> list[float]:
    rows = await sf.query(
        "SELECT Id, UnitPrice FROM PricebookEntry WHERE Pricebook2.Name = 'Portal Pricebook' "
        f"AND Product2.StockKeepingUnit = '{SKU}'"
    )
    entry, base = rows[0]["Id"], int(rows[0]["UnitPrice"])
    out = []
    for n in range(1, CHANGES + 1):
        await sf.update("PricebookEntry", entry, {"UnitPrice": base + n})
        start = time.perf_counter()
        while await price_of(gateway, headers) != f"{base + n}.00":
            if time.perf_counter() - start > 5:
                raise RuntimeError(f"change {n} not visible within 5 s")
            await asyncio.sleep(0.01)
        out.append(time.perf_counter() - start)
    return out


async def salesforce_calls(sandbox: httpx.AsyncClient) -> int:
    calls = (await sandbox.get("/__sandbox/stats")).json()["calls"]
    return sum(v for k, v in calls.items() if k.startswith(("query", "sobjects", "composite")))


async def measure(stack: Stack) -> None:
    base = stack.config.gateway_url
    sf_url = f"http://127.0.0.1:{stack.config.ports.salesforce}"
    sf = SalesforceClient(SalesforceConfig(url=sf_url))
    async with (
        httpx.AsyncClient(base_url=base, timeout=10) as gateway,
        httpx.AsyncClient(base_url=sf_url, timeout=10) as sandbox,
    ):
        headers = {"authorization": f"Bearer {await demo_token(gateway)}"}
        products = (await gateway.get("/v1/catalog/products", headers=headers)).json()["products"]
        vpn = next(p["id"] for p in products if p["sku"] == "VPN-STANDARD")
        order = {"requestId": "bench-1", "items": [{"productId": vpn, "quantity": 1}]}
        assert (await gateway.post("/v1/orders", headers=headers, json=order)).status_code == 200
        await asyncio.sleep(1.0)  # the order's own CDC events
        await gateway.get("/v1/orders", headers=headers)
        print(f"load generator: {'wrk' if shutil.which('wrk') else 'httpx pool'}, "
              f"{CONNECTIONS} connections, {DURATION:.0f} s per run")  # fmt: skip
        before = await salesforce_calls(sandbox)
        hot: list[tuple[str, Result]] = [
            ("GET /v1/catalog/products", await load(f"{base}/v1/catalog/products", headers)),
            ("GET /v1/orders", await load(f"{base}/v1/orders", headers)),
        ]
        for name, result in hot:
            show(f"{name} (cached)", result)
        print(f"Salesforce calls during the hot runs: {await salesforce_calls(sandbox) - before}")
        spread = await freshness(gateway, headers, sf)
        cuts = statistics.quantiles(spread, n=100)
        print(f"CDC -> visible over {CHANGES} price changes: p50 {cuts[49] * 1000:.0f} ms  "
              f"p95 {cuts[94] * 1000:.0f} ms  max {max(spread) * 1000:.0f} ms")  # fmt: skip
    await sf.aclose()


async def main() -> None:
    async with bench_stack(wait_cdc=True) as stack:
        await measure(stack)


if __name__ == "__main__":
    signals.run(main())
