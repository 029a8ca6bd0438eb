"""Instructions per request of the cached ``GET /v1/invoices`` and of the no-op, per process.

Wall-clock req/s and CPU time on a shared box move with everything else that runs on it; the
number of instructions a process executes for a fixed number of requests does not. The box's
virtual CPUs expose no hardware counters to ``perf``, so this counts them with Valgrind's
callgrind (``apt-get install -y valgrind``): one process at a time is restarted under it
(instrumentation off while it starts, on for the measurement), given ``WARM`` requests, its
counters zeroed, then ``REQUESTS`` requests on ``CONNECTIONS`` keep-alive connections, and its
total dumped (every thread). The other processes run natively. Envoy is measured for both paths
in one run; billing on the cached read, identity on the no-op.

Under callgrind the measured process runs ~50x slower, so it is the bottleneck and sees the
requests queued (as a saturated process does in ``billing_bench``): the counts are those of a
busy process, which batches wake-ups. ``--profile`` keeps the callgrind files (in ``--out``) for
``callgrind_annotate``.

Run: .venv/bin/python bench/billing_instructions.py [--requests N] [--only billing,envoy]
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import bench_stack, demo_token
from tools import signals
from tools.stack import Stack

CONNECTIONS, WARM, REQUESTS = 32, 200, 2000
VALGRIND = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]


async def _client(
    host: str, port: int, request: bytes, count: list[int], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while count[0] > 0:
            count[0] -= 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def drive(
    base: str, path: str, headers: dict[str, str], n: int, *, check: bool = True
) -> None:
    """``n`` GETs of ``path`` on ``CONNECTIONS`` keep-alive HTTP/1.1 connections; all 200
    (unless ``check`` is false: a warm-up)."""
    host, port = base.removeprefix("http://").split(":")
    lines = [f"GET {path} HTTP/1.1", f"host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    count: list[int] = [n]
    errors: list[int] = []
    await asyncio.gather(
        *(_client(host, int(port), request, count, errors) for _ in range(CONNECTIONS))
    )
    assert not (check and errors), f"{path}: {len(errors)} non-200 answers: {sorted(set(errors))}"


def control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def total(pattern: str) -> int:
    """The instruction total of the newest callgrind dump matching ``pattern``."""
    newest = max(glob.glob(pattern), key=os.path.getmtime)
    with open(newest) as dump:
        for line in dump:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"no total in {newest}")


# A process under callgrind answers ~50x slower: the measured service keeps its cache deadline
# (50 ms of wall-clock time) and Envoy its health-check timeouts (1 s) from failing it. Neither
# value changes the work done per request, only when a slow answer is given up.
SLOW_CACHE = (
    "import runpy, sys; from services.common.cache.cache import Cache; "
    "Cache.__init__.__kwdefaults__['timeout'] = 10.0; "
    "runpy.run_module(sys.argv[1], run_name='__main__')"
)


def _patient(config: Path) -> None:
    settings = yaml.safe_load(config.read_text())
    for cluster in settings["static_resources"]["clusters"]:
        for check in cluster.get("health_checks", ()):
            check.update(timeout="60s", unhealthy_threshold=100)
    config.write_text(yaml.safe_dump(settings, sort_keys=False))


async def patient_envoy(stack: Stack) -> None:
    """Envoy restarted with health checks that wait for a slow service (60 s, 100 failures)."""
    child = stack.children["envoy"]
    await asyncio.to_thread(_patient, Path(child.argv[child.argv.index("-c") + 1]))
    await stack.restart_child("envoy")


BYTECODES = (
    "import sys, bench.opcount as o; from services.common.cache.cache import Cache; "
    "Cache.__init__.__kwdefaults__['timeout'] = 10.0; o.run(sys.argv[1])"
)


def _read_counts(counts: Path) -> list[list[str]]:
    """The rows ``bench/opcount.py`` writes, once the file is complete."""
    while not counts.exists():
        time.sleep(0.5)
    time.sleep(1.0)
    return [line.rsplit(" ", 3) for line in counts.read_text().splitlines()]


async def bytecodes(
    stack: Stack, name: str, path: str, headers: dict[str, str], n: int, out: Path
) -> None:
    """Python bytecodes per request of ``name`` serving ``path`` (``bench/opcount.py``)."""
    child = stack.children[name]
    original = child.argv
    counts = out / f"{name}.opcount"
    child.argv = [original[0], "-c", BYTECODES, original[2]]
    child.env = {**child.env, "OPCOUNT_OUT": str(counts)}
    await stack.stop_child(name)
    started = await stack.start_child(name, child.argv, child.env)
    assert started.process is not None
    base = stack.config.gateway_url
    await wait_ok(base, path, headers, 120)
    await drive(base, path, headers, WARM)
    counts.unlink(missing_ok=True)
    started.process.send_signal(signal.SIGUSR1)
    await drive(base, path, headers, n)
    started.process.send_signal(signal.SIGUSR2)
    rows = await asyncio.to_thread(_read_counts, counts)
    every = sum(int(r[2]) for r in rows)
    print(f"{name}: {every / n:,.0f} Python bytecodes per request; the top 40:")
    for qualname, where, ops, calls in rows[:40]:
        print(f"  {int(ops) / n:>8.1f} ops {int(calls) / n:>6.2f} calls  {qualname}  {where}")
    child.argv = original
    child.env.pop("OPCOUNT_OUT")
    await stack.restart_child(name)


async def under_callgrind(stack: Stack, name: str, out: Path) -> int:
    child = stack.children[name]
    argv = child.argv
    if argv[1:3] == ["-m", f"services.{name}"]:
        argv = [argv[0], "-c", SLOW_CACHE, argv[2]]
    child.argv = [*VALGRIND, f"--callgrind-out-file={out}/{name}.%p", *argv]
    await stack.stop_child(name)
    started = await stack.start_child(name, child.argv, child.env)
    assert started.process is not None
    return started.process.pid


async def wait_ok(base: str, path: str, headers: dict[str, str], within: float) -> None:
    import httpx

    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(path, headers=headers)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(1.0)
    raise TimeoutError(f"{path} not 200 within {within:.0f} s")


async def count(
    stack: Stack, pid: int, name: str, out: Path, path: str, headers: dict[str, str], n: int
) -> float:
    base = stack.config.gateway_url
    await drive(base, path, headers, WARM, check=False)
    control(pid, "-z")
    await drive(base, path, headers, n)
    control(pid, "-d")
    return total(f"{out}/{name}.{pid}*") / n


async def measure(stack: Stack, n: int, only: set[str], out: Path, python: bool) -> None:
    import httpx

    base = stack.config.gateway_url
    async with httpx.AsyncClient(base_url=base, timeout=10) as gateway:
        token = await demo_token(gateway)
    auth = {"authorization": f"Bearer {token}"}
    cached, noop = "/v1/invoices", "/.well-known/jwks.json"
    one = "/v1/invoices?pageSize=1"
    await patient_envoy(stack)
    await wait_ok(base, cached, auth, 30)
    Window = tuple[str, str, dict[str, str]]
    plan: list[tuple[str, list[Window]]] = [
        ("billing", [("cached read", cached, auth)]),
        ("identity", [("no-op", noop, {})]),
        ("envoy", [("cached read", cached, auth), ("cached read, 1 invoice", one, auth),
                   ("no-op", noop, {}), ("no-op + authorization", noop, auth)]),
    ]  # fmt: skip
    if python:
        for name, path, headers in (("billing", cached, auth), ("identity", noop, {})):
            if not only or name in only:
                await bytecodes(stack, name, path, headers, n, out)
        return
    print(f"{n} requests per window, {CONNECTIONS} connections, {WARM} warm-up requests; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    for name, windows in plan:
        if only and name not in only:
            continue
        original = stack.children[name].argv
        pid = await under_callgrind(stack, name, out)
        await wait_ok(base, windows[0][1], windows[0][2], 300)
        control(pid, "-i", "on")
        for label, path, headers in windows:
            per = await count(stack, pid, name, out, path, headers, n)
            print(f"{name:<9} {label:<22} {per:>12,.0f} instructions per request")
        await stack.stop_child(name)
        stack.children[name].argv = original
        await stack.start_child(name, stack.children[name].argv, stack.children[name].env)
        await wait_ok(base, cached, auth, 120)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--only", default="", help="comma-separated: billing,identity,envoy")
    parser.add_argument("--out", type=Path, help="keep the callgrind files here")
    parser.add_argument(
        "--bytecodes",
        action="store_true",
        help="count Python bytecodes per function instead (bench/opcount.py)",
    )
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install -y valgrind)")
    only = {s for s in args.only.split(",") if s}
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        async with bench_stack(within=120) as stack:
            await measure(stack, args.requests, only, out, args.bytecodes)


if __name__ == "__main__":
    signals.run(main())
