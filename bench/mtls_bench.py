"""What mutual TLS inside the mesh costs on the cached read path, measured in one run.

Starts two whole stacks side by side on free ports with throwaway databases: one with plaintext
service ports (``StackConfig.mesh_tls=False``, development only) and one with mutual TLS on every
hop (Envoy → billing, billing → identity). Links the demo customer on each, then alternates
``ROUNDS`` times between them: ``CONNECTIONS`` connections for ``DURATION`` s on the cached
``GET /v1/invoices`` (billing_bench's hot path), so both see the same machine load.

Run: .venv/bin/python bench/mtls_bench.py (~1.5 min)
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.billing_bench import CONNECTIONS, DURATION, load, show
from bench.stack import bench_stack, demo_token
from tools import signals
from tools.stack import Stack

ROUNDS = 3


async def headers_of(running: Stack) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=running.config.gateway_url, timeout=10) as gateway:
        headers = {"authorization": f"Bearer {await demo_token(gateway)}"}
        assert (await gateway.get("/v1/invoices", headers=headers)).status_code == 200  # warm
    return headers


async def main() -> None:
    async with bench_stack(mesh_tls=False) as plain, bench_stack(mesh_tls=True) as mtls:
        plain_headers, mtls_headers = await headers_of(plain), await headers_of(mtls)
        print(f"{CONNECTIONS} connections, {DURATION:.0f} s per run, cached GET /v1/invoices")
        ratios = []
        for _ in range(ROUNDS):
            before = await load(f"{plain.config.gateway_url}/v1/invoices", plain_headers)
            after = await load(f"{mtls.config.gateway_url}/v1/invoices", mtls_headers)
            show("plaintext mesh", before)
            show("mutual TLS mesh", after)
            ratios.append(after.rps / before.rps)
        print("req/s mTLS / plaintext: " + ", ".join(f"{r:.2f}" for r in ratios))


if __name__ == "__main__":
    signals.run(main())
