"""Link timing: a refused ``POST /v1/auth/link`` for an e-mail WHMCS knows vs one it does not.

WHMCS itself answers a known e-mail later (it checks the password hash); identity answers a
refused WHMCS login no sooner than ``IDENTITY_LINK_FAILURE_FLOOR_S`` after the request, so both
classes should show the same time. The e2e/service tests check the deterministic proxy (same
answer, one ``ValidateLogin`` each); this measures what a client sees. Starts the whole stack
twice on free ports (floor 0 s = no padding, then the default 0.3 s), makes ``ROUNDS`` pairs of
refused links in alternating order (paced under the gateway's per-client bucket; the per-account
and per-address limits raised for the run) and prints medians and p95 (~2 min).

Run: .venv/bin/python bench/link_timing.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

# ``make bench`` runs each script by path; the repository root is not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.helpers.logbook import LogBook
from tests.helpers.stacks import running_stack
from tools import signals

ROUNDS = 60
KNOWN = "kenji.sato@example.jp"  # a seeded WHMCS client
PACE_S = 0.25  # 4 requests/s: under the gateway's 50 per 10 s per client


def ms(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(floor: float) -> dict[str, list[float]]:
    env = {"IDENTITY_LINK_FAILURE_FLOOR_S": str(floor),
           "IDENTITY_LOGIN_MAX_FAILURES_PER_ACCOUNT": "100000",
           "IDENTITY_LINK_MAX_PER_ADDRESS": "100000"}  # fmt: skip
    samples: dict[str, list[float]] = {"known": [], "unknown": []}
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            running_stack(
                Path(tmp), LogBook(), prefix="portal_bench", wait_cdc=False, extra_env=env
            ) as s,  # fmt: skip
            httpx.AsyncClient(base_url=s.config.gateway_url, timeout=10) as gateway,
        ):
            for i in range(ROUNDS):
                pair = [("known", KNOWN), ("unknown", f"nobody{i}@example.jp")]
                for kind, email in pair if i % 2 else reversed(pair):
                    started = time.perf_counter()
                    body = {"email": email, "password": "not the password"}
                    response = await gateway.post("/v1/auth/link", json=body)
                    elapsed = time.perf_counter() - started
                    assert response.status_code == 401, response.text
                    if i >= 5:  # warm-up rounds are not counted
                        samples[kind].append(elapsed)
                    await asyncio.sleep(PACE_S)
    return samples


async def main() -> None:
    for floor in (0.0, 0.3):
        samples = await measure(floor)
        for kind, values in samples.items():
            print(f"floor {floor:.1f} s  {kind:8s} n={len(values)} median {ms(values, 0.5):6.1f} ms"
                  f"  p95 {ms(values, 0.95):6.1f} ms")  # fmt: skip


if __name__ == "__main__":
    signals.run(main())
