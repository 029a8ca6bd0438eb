"""SIM usage through the gateway: the cached ``GET /v1/sims/{msisdn}/usage`` vs a no-op RPC.

Starts the whole stack (Envoy, the four services, the sandboxes) on free ports with a throwaway
database, links the demo customer (AC-000101), orders an eSIM plan, approves it as staff and waits
until fulfillment has provisioned the line at Freebit, then alternates (``ROUNDS``) 32 connections
for ``DURATION`` s on the cached usage read (Envoy jwt_authn → transcoder → commerce: token check,
account links and the usage entry from Redis, no Freebit or Salesforce call, checked with the
sandboxes' counters) and on the no-op ``GET /.well-known/jwks.json`` (identity's in-memory key
set) through the same Envoy. ``wrk`` drives the load when installed, else an httpx pool.

Run: .venv/bin/python bench/sims_bench.py (~1.5 min)
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from pathlib import Path

import httpx

# ``make bench`` runs each script by path; ``tools`` (the stack runner) is not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.billing_bench import CONNECTIONS, DURATION, ROUNDS, load, show
from bench.stack import bench_stack, demo_token
from services.common.clients import SalesforceClient, SalesforceConfig
from tools import signals
from tools.stack import Stack


async def provisioned_line(
    gateway: httpx.AsyncClient, headers: dict[str, str], sf: SalesforceClient
) -> str:
    products = (await gateway.get("/v1/catalog/products", headers=headers)).json()["products"]
    plan = next(p["id"] for p in products if p["sku"] == "SIM-DATA-10G")
    body = {"requestId": "bench-sim-1", "items": [{"productId": plan, "quantity": 1}],
            "sim": {"simType": "SIM_TYPE_ESIM", "eid": "89049032" + "7" * 24}}  # fmt: skip
    created = await gateway.post("/v1/orders", headers=headers, json=body)
    assert created.status_code == 200, created.text
    await sf.update("Order", created.json()["order"]["id"], {"Status": "Approved"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sims = (await gateway.get("/v1/sims", headers=headers)).json().get("sims", [])
        if sims and sims[0]["status"] == "SIM_STATUS_ACTIVE":
            return str(sims[0]["msisdn"])
        await asyncio.sleep(0.5)
    raise RuntimeError("the SIM order was not provisioned within 60 s")


async def upstream_calls(http: httpx.AsyncClient, urls: list[str]) -> int:
    total = 0
    for url in urls:
        calls = (await http.get(f"{url}/__sandbox/stats")).json()["calls"]
        total += sum(v for k, v in calls.items() if not k.startswith(("pubsub", "authOem")))
    return total


async def measure(stack: Stack) -> None:
    base, ports = stack.config.gateway_url, stack.config.ports
    sandboxes = [f"http://127.0.0.1:{ports.salesforce}", f"http://127.0.0.1:{ports.freebit}"]
    sf = SalesforceClient(SalesforceConfig(url=sandboxes[0]))
    async with httpx.AsyncClient(base_url=base, timeout=10) as gateway, httpx.AsyncClient() as http:
        headers = {"authorization": f"Bearer {await demo_token(gateway)}"}
        msisdn = await provisioned_line(gateway, headers, sf)
        usage = f"{base}/v1/sims/{msisdn}/usage"
        print(f"load generator: {'wrk' if shutil.which('wrk') else 'httpx pool'}, "
              f"{CONNECTIONS} connections, {DURATION:.0f} s per run")  # fmt: skip
        ratios = []
        for _ in range(ROUNDS):
            assert (await gateway.get(usage, headers=headers)).status_code == 200  # warm (5 min)
            before = await upstream_calls(http, sandboxes)
            cached = await load(usage, headers)
            calls = await upstream_calls(http, sandboxes) - before
            noop = await load(f"{base}/.well-known/jwks.json", {})
            show("GET /v1/sims/{msisdn}/usage", cached)
            show("GET /.well-known/jwks.json", noop)
            print(f"Salesforce + Freebit calls during the cached run: {calls}")
            ratios.append(cached.rps / noop.rps)
        print("ratio req/s cached usage / no-op: " + ", ".join(f"{r:.2f}" for r in ratios))
    await sf.aclose()


async def main() -> None:
    async with bench_stack(wait_cdc=True) as stack:
        await measure(stack)


if __name__ == "__main__":
    signals.run(main())
