"""Authorization timing: user B asking for user A's record vs for a record that does not exist.

The e2e matrix (``tests/e2e/test_authz_matrix.py``) checks the deterministic proxy (identical
answers, identical upstream calls); this measures what a client would see. Starts the whole stack
on free ports (its own database), builds the matrix's world (A = Hanako with invoices, a
subscription, orders and cases; B = Yuki), then for every id-taking RPC with a "twin" (A's id,
and an absent id of the same shape) makes ``ROUNDS`` pairs of REST calls through the gateway as
B, in alternating order, and prints the medians and p95 of both classes (~1 min).

Run: .venv/bin/python bench/authz_timing.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

# ``make bench`` runs each script by path; the repository root is not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from services.common.clients import SalesforceClient, SalesforceConfig
from tests.e2e.test_authz_matrix import REFERENCES
from tests.helpers.authz_plans import PROVIDERS, key
from tests.helpers.authz_world import build_world
from tests.helpers.logbook import LogBook
from tests.helpers.rpc_surface import call_rest, request_document
from tests.helpers.stacks import running_stack
from tools import signals

ROUNDS = 60


def ms(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with running_stack(Path(tmp), LogBook(), prefix="portal_bench", wait_cdc=False) as s:
            sf = SalesforceClient(
                SalesforceConfig(url=f"http://127.0.0.1:{s.config.ports.salesforce}")
            )
            async with httpx.AsyncClient(base_url=s.config.gateway_url, timeout=10) as gateway:
                world = await build_world(gateway, sf)
                await asyncio.sleep(2)  # let the outbox and CDC settle
                probes = 0
                rows = []
                for endpoint, field in REFERENCES:
                    plan = PROVIDERS[key(endpoint, field)](world)
                    probes += len(plan.probes)
                    if plan.twin is None:
                        continue
                    samples: dict[str, list[float]] = {"A's": [], "absent": []}
                    owned, absent = plan.twin
                    order = [("absent", absent), ("A's", owned)]
                    doc = request_document(plan.fields, field, absent)
                    await call_rest(gateway, endpoint, doc, world.b.headers)  # warm B's entries
                    for n in range(ROUNDS):
                        for label, value in order if n % 2 else reversed(order):
                            doc = request_document(plan.fields, field, value)
                            started = time.perf_counter()
                            await call_rest(gateway, endpoint, doc, world.b.headers)
                            samples[label].append(time.perf_counter() - started)
                    rows.append((f"{endpoint.method.name} `{field}`", samples))
            await sf.aclose()
    print(f"{len(REFERENCES)} id-taking (RPC, field) pairs, {probes} probes per transport")
    print("| RPC, field | A's id: median / p95 | absent id: median / p95 | median diff |")
    print("|---|---|---|---|")
    for name, samples in rows:
        a, none = samples["A's"], samples["absent"]
        diff = 1000 * (statistics.median(a) - statistics.median(none))
        print(
            f"| {name} | {ms(a, 0.5):.2f} / {ms(a, 0.95):.2f} ms "
            f"| {ms(none, 0.5):.2f} / {ms(none, 0.95):.2f} ms | {diff:+.2f} ms |"
        )


if __name__ == "__main__":
    signals.run(main())
