"""Soak: N simulated customers (default 200) for a while (default 10 min) against a whole stack of
its own (Envoy, the four services, the sandboxes; free ports, own database), with a realistic
mix of reads and writes and think time (``bench/soak_workload.py``).

Measures the error rate and p50/p99 per endpoint, upstream calls per user request (the sandboxes'
call counters: cache effectiveness) and the services' cache hit ratios, RSS and CPU of every stack
process every few seconds (growth from the first minute after warm-up to the last, > 10 % is
flagged), the load average; at the end it scans every log line of every process for the secrets
it used (``tools/logscan.py``). Writes ``bench/results/soak-<time>.json``, prints a markdown summary
and, with ``--readme``, replaces the "Soak results" block of ``bench/README.md``.
Exit status 1 when a check fails (errors above ``--max-error-rate``, RSS growth, a secret).

    make soak [SOAK_USERS=200 SOAK_SECONDS=600]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

# ``make bench BENCH=soak`` runs the script by path; ``bench``/``tools`` are not installed packages.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.soak_report import markdown, summarize, update_readme
from bench.soak_sampler import Sampler
from bench.soak_users import (
    AUTH_RATE,
    Pacer,
    Staff,
    create_records,
    customer_client,
    make_customers,
    register,
    sandbox_calls,
)
from bench.soak_workload import Recorder, User
from tools import infra, logscan, signals
from tools.stack import Ports, Stack, StackConfig
from tools.stack_secrets import configured_secrets, key_secrets, public_key_ids

HERE = Path(__file__).resolve().parent
SYSTEMS = ("salesforce", "whmcs", "freebit")
IDLE_AFTER_S = 35.0


@dataclass(frozen=True)
class SoakConfig:
    users: int = 200
    seconds: float = 600.0
    think_s: float = 4.0  # mean pause between two actions of one user (exponential)
    max_error_rate: float = 0.001
    rss_limit_pct: float = 10.0
    seed: int = 1

    @property
    def token_ttl(self) -> int:
        """Access-token lifetime for the run, short enough that users refresh during it (at
        half-life): 5 min for the 10-minute soak, 30 s for a smoke run; but at least ``users``
        seconds, so the refreshes (users / (ttl / 2) per second) stay within half of the auth
        routes' pace (AUTH_RATE = 4/s)."""
        return int(min(900, max(30, self.seconds / 2, self.users * 4 / AUTH_RATE)))

    @property
    def sample_s(self) -> float:
        return min(10.0, max(1.0, self.seconds / 20))

    @property
    def warmup_s(self) -> float:
        return min(60.0, self.seconds * 0.2)

    @property
    def steady_from_s(self) -> float:
        """When the run's second half starts: the services' counters are read then too, so the
        upstream calls per request can be told for the half in which most entries have been read
        once already (a cold cache's first reads are mostly in the first half)."""
        return self.seconds / 2

    @property
    def window_s(self) -> float:
        return min(60.0, self.seconds * 0.25)

    @property
    def idle_s(self) -> float:
        """How long the stack rests after the load before its memory is read "idle after the
        soak": a little more than the services' ``MEMORY_TRIM_INTERVAL_S`` (30 s), so each has
        had its periodic trim; a fifth of the run for a short one."""
        return min(IDLE_AFTER_S, self.seconds / 5)


class Lines:
    """Every output line of every stack process, in order."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, name: str, line: str) -> None:
        self.lines.append((name, line))

    async def wait_for(self, name: str, needle: str, within: float) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if any(n == name and needle in line for n, line in self.lines):
                return True
            await asyncio.sleep(0.1)
        return False


# Series of the services' /metrics the soak reads (before and after the run, every replica).
SCRAPED = {
    "portal_rpc_handled_total": ("method",),
    "portal_upstream_calls_by_rpc_total": ("system", "rpc"),
    "portal_cache_requests_total": ("entry", "result"),
    "portal_cache_misses_total": ("entry", "why", "rpc"),
    "portal_cache_near_hits_total": ("entry",),
}
_SERIES = re.compile(r"^(\w+)\{([^}]*)\}\s+([0-9.e+]+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str, into: dict[str, Counter[tuple[str, ...]]]) -> None:
    """Add the ``SCRAPED`` series of one Prometheus text page to ``into`` (by metric, then by the
    listed labels' values; other labels are summed over)."""
    for line in text.splitlines():
        m = _SERIES.match(line)
        if m is None or m.group(1) not in SCRAPED:
            continue
        labels = dict(_LABEL.findall(m.group(2)))
        key = tuple(labels.get(name, "") for name in SCRAPED[m.group(1)])
        into[m.group(1)][key] += int(float(m.group(3)))


async def service_metrics(stack: Stack) -> dict[str, dict[str, Counter[tuple[str, ...]]]]:
    """The ``SCRAPED`` series per service, summed over its replicas."""
    out: dict[str, dict[str, Counter[tuple[str, ...]]]] = {}
    async with httpx.AsyncClient(timeout=5) as http:
        for name, replicas in stack.replicas.items():
            into: dict[str, Counter[tuple[str, ...]]] = {m: Counter() for m in SCRAPED}
            for _replica, metrics_port in replicas:
                parse_metrics(
                    (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text, into
                )
            out[name] = into
    return out


def metrics_delta(
    before: dict[str, dict[str, Counter[tuple[str, ...]]]],
    after: dict[str, dict[str, Counter[tuple[str, ...]]]],
) -> dict[str, dict[str, dict[str, int]]]:
    """What the run added, per service and metric; label values joined with ``|`` (JSON keys)."""
    return {
        service: {
            metric: {"|".join(k): v for k, v in (series - before[service][metric]).items()}
            for metric, series in metrics.items()
        }
        for service, metrics in after.items()
    }


async def metrics_at(stack: Stack, when: float) -> dict[str, dict[str, Counter[tuple[str, ...]]]]:
    """The services' counters at ``when`` (``time.monotonic()``)."""
    await asyncio.sleep(max(0.0, when - time.monotonic()))
    return await service_metrics(stack)


async def all_calls(sandboxes: dict[str, httpx.AsyncClient]) -> dict[str, Counter[str]]:
    return {name: await sandbox_calls(client) for name, client in sandboxes.items()}


async def drive(stack: Stack, cfg: SoakConfig, recorder: Recorder) -> dict[str, Any]:
    """Create and register the customers, then run them; the measurements of the run."""
    p = stack.config.ports
    rng = random.Random(cfg.seed)
    tag = uuid.uuid4().hex[:6].upper()
    async with (
        contextlib.AsyncExitStack() as clients,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{p.salesforce}", timeout=30) as sf,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{p.whmcs}", timeout=30) as whmcs,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{p.freebit}", timeout=30) as freebit,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{p.mail}", timeout=30) as mail,
    ):
        sandboxes = {"salesforce": sf, "whmcs": whmcs, "freebit": freebit}
        staff = Staff(sf, whmcs, mail)
        await staff.login()
        recorder.secret("salesforce_session", sf.headers["authorization"].removeprefix("Bearer "))
        customers = make_customers(cfg.users, tag, rng)
        started = time.monotonic()
        await create_records(staff, customers)
        own = [
            await clients.enter_async_context(customer_client(c, stack.config.gateway_url))
            for c in customers
        ]
        pacer = Pacer(AUTH_RATE)
        registering = (register(gw, staff, pacer, c) for c, gw in zip(customers, own, strict=True))
        await asyncio.gather(*registering)
        await staff.settle_hooks()
        setup_s = time.monotonic() - started

        users = [
            User(c, gw, recorder, pacer, token_ttl=cfg.token_ttl, think_s=cfg.think_s,
                 seed=rng.getrandbits(32))
            for c, gw in zip(customers, own, strict=True)
        ]  # fmt: skip
        calls_before, metrics_before = await all_calls(sandboxes), await service_metrics(stack)
        sampler = Sampler({n: c.process.pid for n, c in stack.children.items() if c.process})
        sampling = asyncio.create_task(sampler.run(cfg.sample_s))
        approving = asyncio.create_task(staff.approving(cfg.sample_s))
        run_started = time.monotonic()
        deadline = run_started + cfg.seconds
        halfway = asyncio.create_task(metrics_at(stack, run_started + cfg.steady_from_s))
        try:
            await asyncio.gather(*(u.run(deadline) for u in users))
        except BaseException:
            halfway.cancel()
            raise
        duration_s = time.monotonic() - run_started
        metrics_halfway = await halfway
        recorder.recording = False
        sampling.cancel()
        approving.cancel()
        sampler.sample()
        await staff.settle_hooks()
        calls_after, metrics_after = await all_calls(sandboxes), await service_metrics(stack)
        calls_after["salesforce"] -= staff.sf_calls  # staff's own calls are not the portal's
        await asyncio.sleep(cfg.idle_s)
        idle_after = sampler.memory()
    return {
        "orders_approved": staff.approved,
        "setup_s": round(setup_s, 1),
        "duration_s": round(duration_s, 1),
        "upstream_calls": {n: dict(calls_after[n] - calls_before[n]) for n in SYSTEMS},
        "metrics": metrics_delta(metrics_before, metrics_after),
        "metrics_second_half": metrics_delta(metrics_halfway, metrics_after),
        "invoice_first_reads": recorder.first_reads,
        "samples": sampler.samples,
        "idle_after": idle_after,
    }


def scan_logs(lines: list[tuple[str, str]], stack: Stack, recorder: Recorder) -> dict[str, Any]:
    secrets = logscan.Secrets(recorder.secrets)
    secrets.update(configured_secrets(stack.config.env()))
    keys = stack.config.run_dir / "keys"
    secrets.update(key_secrets(keys))
    findings = logscan.scan(lines, secrets, allow=public_key_ids(keys))
    return {
        "scanned_lines": len(lines),
        "lines_per_process": dict(Counter(name for name, _ in lines)),
        "known_secrets": len(recorder.secrets) + len(configured_secrets(stack.config.env())),
        "findings": [str(f) for f in findings],
    }


async def run_soak(cfg: SoakConfig, run_dir: Path, logs: Path | None = None) -> dict[str, Any]:
    """One soak on a stack of its own (stopped and its database dropped at the end); ``logs``:
    a file to keep every process's lines in (``name | line``)."""
    base, redis_url = infra.urls_from_env()
    name = infra.run_name("portal_soak")
    database_url = infra.with_database(base, name)
    await infra.ensure_postgres(database_url)
    await infra.create_database(database_url)
    lines = Lines()
    config = StackConfig(
        database_url, redis_url, name, ports=Ports.free(), run_dir=run_dir,
        extra_env={"IDENTITY_ACCESS_TOKEN_TTL": str(cfg.token_ttl)},
    )  # fmt: skip
    stack = Stack(config, sink=lines)
    recorder = Recorder()
    load_before = os.getloadavg()
    try:
        startup_s = await stack.start(within=120)
        if not await lines.wait_for("commerce", '"cdc_ready"', within=60):
            raise RuntimeError("commerce's CDC consumer did not subscribe within 60 s")
        measured = await drive(stack, cfg, recorder)
    finally:
        await stack.stop()
        await infra.drop_database(database_url)
        if logs is not None:
            text = "".join(f"{name} | {line}\n" for name, line in lines.lines)
            await asyncio.to_thread(logs.write_text, text)
    return summarize(
        config=asdict(cfg) | {"token_ttl": cfg.token_ttl, "sample_s": cfg.sample_s},
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        startup_s=startup_s,
        load_before=load_before,
        endpoints=recorder.endpoints,
        measured=measured,
        secrets=scan_logs(lines.lines, stack, recorder),
        limits={"max_error_rate": cfg.max_error_rate, "rss_limit_pct": cfg.rss_limit_pct,
                "warmup_s": cfg.warmup_s, "window_s": cfg.window_s,
                "steady_from_s": cfg.steady_from_s, "idle_s": cfg.idle_s},
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description="Soak the whole stack.")
    parser.add_argument("--users", type=int, default=int(os.environ.get("SOAK_USERS", 200)))
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 600)))
    parser.add_argument("--think", type=float, default=4.0, help="mean think time, seconds")
    parser.add_argument("--max-error-rate", type=float, default=0.001)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--readme", action="store_true", help="update bench/README.md")
    parser.add_argument("--logs", type=Path, help="keep every process's log lines in this file")
    args = parser.parse_args()
    cfg = SoakConfig(users=args.users, seconds=args.seconds, think_s=args.think,
                     max_error_rate=args.max_error_rate)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="soak-") as run_dir:
        result = signals.run(run_soak(cfg, Path(run_dir), args.logs))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"soak-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    shown = path.relative_to(HERE.parent) if path.is_relative_to(HERE.parent) else path
    text = markdown(result, json_path=shown)
    print(text)
    if args.readme:
        update_readme(HERE / "README.md", text)
        print(f"bench/README.md updated; result in {path}")
    if not result["passed"]:
        sys.exit(f"soak failed: {', '.join(k for k, ok in result['checks'].items() if not ok)}")


if __name__ == "__main__":
    main()
