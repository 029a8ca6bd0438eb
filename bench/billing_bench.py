"""Billing through the gateway: cached ``GET /v1/invoices`` vs a no-op transcoded RPC; cold path.

Starts the whole stack (Envoy, the four services, the sandboxes) on free ports with a throwaway
database, links the demo customer (WHMCS client 1) and then measures, bounded (~1 min):

- **hot**: 32 concurrent connections, ``HOT_ROUNDS`` rounds of ``HOT_S`` s per side, alternately
  on the cached
  ``GET /v1/invoices`` (Envoy → jwt_authn → transcoder → billing: token check, account links and
  the invoice page from Redis, no WHMCS call) and on ``GET /.well-known/jwks.json`` (Envoy →
  transcoder → identity's GetJwks: public, no token, no I/O: it returns the in-memory key set), the
  "no-op" baseline of the same gateway and transcoding path. With ``wrk`` installed it drives the
  load (``--latency``); otherwise an httpx asyncio pool of 32 connections does. The verdict (the
  ``SUMMARY`` line) is the ratio of the requests each side served over all rounds; the CPU time
  per request of Envoy + the serving process (billing / identity), and of each, is printed
  beside it.
- **cold**: ``COLD`` sequential ``GET /v1/invoices?pageSize=<n>`` with a new page size each time, so
  every call misses the cache and makes one WHMCS GetInvoices call (sandbox on the same box).

Run: .venv/bin/python bench/billing_bench.py
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

# ``make bench`` runs each script by path; ``tools`` (the stack runner) is not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import bench_stack, demo_token
from tools import signals
from tools.stack import Stack

CONNECTIONS, DURATION, ROUNDS, COLD = 32, 10.0, 2, 60
# This benchmark's hot path: many short alternating runs, so a burst of other work on a shared box
# hits both sides alike; the verdict is the ratio of the summed requests (same total time each).
HOT_ROUNDS, HOT_S = 6, 4.0


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def wrk(url: str, headers: dict[str, str], duration: float = DURATION) -> Result:
    args = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{int(duration)}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Result(
        rps, _wrk_ms(out, "50%"), _wrk_ms(out, "99%"), int(errors.group(1)) if errors else 0
    )


def _wrk_ms(out: str, label: str) -> float:
    value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


async def pool(url: str, headers: dict[str, str], duration: float = DURATION) -> Result:
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=10) as http:
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                response = await http.get(url)
                latencies.append(time.perf_counter() - start)
                errors += response.status_code != 200

        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    cuts = statistics.quantiles(latencies, n=100)
    return Result(len(latencies) / duration, cuts[49] * 1000, cuts[98] * 1000, errors)


async def load(url: str, headers: dict[str, str], duration: float = DURATION) -> Result:
    if shutil.which("wrk"):
        return await asyncio.to_thread(wrk, url, headers, duration)
    return await pool(url, headers, duration)


def cpu_seconds(stack: Stack, names: tuple[str, ...]) -> dict[str, float]:
    """User + system CPU time so far of each named stack process (Linux ``/proc``)."""
    out = {}
    for name in names:
        process = stack.children[name].process
        assert process is not None
        with open(f"/proc/{process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        out[name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


async def cold(gateway: httpx.AsyncClient, headers: dict[str, str]) -> list[float]:
    out = []
    for n in range(1, COLD + 1):
        start = time.perf_counter()
        response = await gateway.get("/v1/invoices", params={"pageSize": n}, headers=headers)
        out.append(time.perf_counter() - start)
        assert response.status_code == 200, response.text
    return out


def show(name: str, r: Result) -> None:
    print(f"{name:<28} {r.rps:>9,.0f} req/s  p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms"
          f"  non-200 {r.errors}")  # fmt: skip


async def measure(stack: Stack) -> None:
    base = stack.config.gateway_url
    async with httpx.AsyncClient(base_url=base, timeout=10) as gateway:
        headers = {"authorization": f"Bearer {await demo_token(gateway)}"}
        spread = await cold(gateway, headers)
        cuts = statistics.quantiles(spread, n=100)
        print(f"cold GET /v1/invoices (miss, 1 WHMCS call) x{COLD}: "
              f"p50 {cuts[49] * 1000:.2f} ms  p99 {cuts[98] * 1000:.2f} ms")  # fmt: skip
        print(f"load generator: {'wrk' if shutil.which('wrk') else 'httpx pool'}, "
              f"{CONNECTIONS} connections, {HOT_ROUNDS} rounds of {HOT_S:.0f} s per side; "
              f"load average {os.getloadavg()[0]:.1f} before")  # fmt: skip
        sides = {
            "invoices": (f"{base}/v1/invoices", headers, ("envoy", "billing")),
            "no-op": (f"{base}/.well-known/jwks.json", {}, ("envoy", "identity")),
        }
        done = {side: 0.0 for side in sides}
        cpu = {side: dict.fromkeys(sides[side][2], 0.0) for side in sides}
        ratios, loads = [], []
        await gateway.get("/v1/invoices", headers=headers)  # warm (90 s TTL, re-read on a miss)
        for n in range(HOT_ROUNDS):
            rates = {}
            for side, (url, hdrs, processes) in sides.items():
                before = cpu_seconds(stack, processes)
                result = await load(url, hdrs, HOT_S)
                for name, seconds in cpu_seconds(stack, processes).items():
                    cpu[side][name] += seconds - before[name]
                done[side] += result.rps * HOT_S
                rates[side] = result.rps
                assert result.errors == 0, f"{side}: {result.errors} non-200 answers"
            loads.append(os.getloadavg()[0])
            ratios.append(rates["invoices"] / rates["no-op"])
            print(f"round {n + 1}: cached invoices {rates['invoices']:,.0f} req/s, no-op "
                  f"{rates['no-op']:,.0f} req/s, ratio {ratios[-1]:.2f} "
                  f"(load {loads[-1]:.1f})")  # fmt: skip
        for side in sides:
            per_request = {name: s / done[side] * 1000 for name, s in cpu[side].items()}
            parts = ", ".join(f"{name} {ms:.2f}" for name, ms in per_request.items())
            print(f"{side}: {done[side] / (HOT_ROUNDS * HOT_S):,.0f} req/s over all rounds; "
                  f"CPU of {' + '.join(sides[side][2])}: "
                  f"{sum(per_request.values()):.2f} ms per request ({parts})")  # fmt: skip
        print(f"SUMMARY ratio cached invoices / no-op (summed requests): "
              f"{done['invoices'] / done['no-op']:.2f} (goal >= 0.8); median of rounds "
              f"{statistics.median(ratios):.2f}; load average "
              f"{min(loads):.1f}-{max(loads):.1f}")  # fmt: skip


async def main() -> None:
    async with bench_stack() as stack:
        await measure(stack)


if __name__ == "__main__":
    signals.run(main())
