"""Fulfillment: single-approval lag, 200 approvals at once, and the same with a long WHMCS history.

Starts the Salesforce, WHMCS and Freebit sandboxes as separate processes, as the real stack runs
them (``--in-process`` runs them in this process's event loop instead, which makes them share
one core with the worker), identity's real AccountDirectoryService servicer, a Postgres database
of its own, and ``--workers`` worker processes (default 2), each as a commerce replica runs
fulfillment: commerce's CDC consumer (one of them holds the stream, the others stand by) with
commerce's cache-invalidation and watcher handlers (on a Redis namespace of the bench's own;
``--fulfillment-only`` leaves them out) and fulfillment's handler, and ``start_fulfillment`` with
production client settings and production
logging (JSON lines, to ``--log`` rather than the terminal); the workers share the orders by claim.
``--workers 0`` runs one consumer and worker in this process instead (the earlier layout).
Freebit's activation delay is 0.05 s. Three phases, each on orders created beforehand in Pending
Review over REST (as checkout does; a third SIM, half of those eSIM, the rest Internet +
installation or VPN), after a warm-up burst of ``--warm-up`` orders (not reported: every worker
has its connections and upstream sessions open, as a long-running replica has):

1. ``single``: ``--singles`` orders approved one at a time, each once the previous one is done
   (an idle system);
2. ``burst``: ``--orders`` orders approved at once;
3. ``history``: WHMCS client 1 (the orders' client) is first given ``--history`` orders in all,
   then ``--orders`` more are approved at once.

For each phase: the time until every order's fulfillment row is done, the lag from each
approval's CDC ``commitTimestamp`` to its write-back's, WHMCS orders per Salesforce order (must be
exactly one) and the upstream calls per order by kind, from the sandboxes' ``/__sandbox/stats``
(Salesforce's include the bench's own approval, one ``sobjects:Order:PATCH`` per order).

Run: ``make bench BENCH=fulfillment_bench`` or ``.venv/bin/python -m bench.fulfillment_bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import logging
import os
import socket
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import grpc
import httpx
from portal.identity.v1 import account_directory_pb2_grpc

from services.commerce.background import invalidation_dispatcher
from services.commerce.cdc import Consumer, Dispatcher
from services.commerce.fulfillment import (
    Clients,
    Fulfillment,
    FulfillmentSettings,
    start_fulfillment,
)
from services.commerce.order_accounts import OrderAccounts
from services.commerce.order_event_log import OrderEventLog
from services.commerce.watch import WatchHub, redis_for_pubsub
from services.commerce.watch_slots import StreamSlots
from services.common import upstreams
from services.common.cache import Cache
from services.common.cache.client import redis_from_url
from services.common.clients import ChangeEvent, SalesforceClient, SalesforceConfig, soql
from services.common.clients.pubsub import PubSubConfig, SalesforcePubSubClient
from services.common.clients.whmcs import OrderLine, WhmcsClient, WhmcsConfig
from services.common.directory import Directory as DirectoryClient
from services.common.logging import configure_logging
from services.common.metrics import UPSTREAM_LATENCY
from services.common.migrations import migrate_service
from services.common.secret import SecretStr
from services.common.settings import ServiceSettings
from services.identity import repo as identity_repo
from services.identity.directory import Directory
from services.identity.servicer import AccountDirectoryServicer

# ``make bench`` runs each script by path; ``tools`` (signals) is not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools import signals

MIX = (["INTERNET-GOLD-HOME-1G", "INTERNET-INSTALL-SINGLE"], ["SIM-DATA-10G"], ["VPN-STANDARD"])
ACTIVATION_DELAY_S = 0.05
CLIENT = 1  # the WHMCS client linked to AC-000101 in the sandboxes' seed
HISTORY_PID = 181  # a seeded WHMCS product, for the history orders


class Lag:
    """Approval and write-back commit timestamps per order, from the CDC stream."""

    def __init__(self) -> None:
        self.approved: dict[str, float] = {}
        self.activated: dict[str, float] = {}
        self.delivered: dict[str, float] = {}  # the approval's event reached this follower

    async def follow(self, pubsub: SalesforcePubSubClient, ready: asyncio.Event) -> None:
        async for item in pubsub.subscribe("/data/OrderChangeEvent"):
            ready.set()
            if not isinstance(item, ChangeEvent) or item.change_type != "UPDATE":
                continue
            stamp = item.commit_timestamp.timestamp()
            status = item.fields.get("Status")
            for order_id in item.record_ids:
                if status == "Approved":
                    self.approved.setdefault(order_id, stamp)
                    self.delivered.setdefault(order_id, time.time())
                elif status == "Activated":
                    self.activated.setdefault(order_id, stamp)

    def lags_ms(self, order_ids: list[str]) -> list[float]:
        return sorted(
            (self.activated[o] - self.approved[o]) * 1000
            for o in order_ids
            if o in self.activated and o in self.approved
        )


@dataclass
class Sandboxes:
    sf_rest: str
    sf_pubsub: str
    whmcs: str
    freebit: str
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)
    # the processes measured besides the sandboxes: name → pid (this one, the worker processes)
    measured: dict[str, int] = field(default_factory=dict)

    @property
    def stats_urls(self) -> dict[str, str]:
        return {"Salesforce": self.sf_rest, "WHMCS": self.whmcs, "Freebit": self.freebit}

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds (user + system) used so far by this process, by each worker process
        (``measured``) and by each sandbox process."""
        pids = dict(self.measured)
        pids |= {name: p.pid for name, p in zip(self.stats_urls, self.processes, strict=False)}
        out = {}
        for name, pid in pids.items():
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return out

    async def stats(self) -> dict[str, Counter[str]]:
        async with httpx.AsyncClient(timeout=10) as http:
            return {
                name: Counter((await http.get(f"{url}/__sandbox/stats")).json()["calls"])
                for name, url in self.stats_urls.items()
            }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _ready(url: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=1) as http:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{url}/__sandbox/stats")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"sandbox at {url} did not start")
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def sandbox_processes(log: TextIO) -> AsyncIterator[Sandboxes]:
    """``python -m sandbox.<name>`` processes on free ports (logging warnings only)."""
    sf, pubsub, whmcs, freebit = (_free_port() for _ in range(4))
    py = sys.executable
    commands = (
        [py, "-m", "sandbox.salesforce", "--port", str(sf), "--pubsub-port", str(pubsub)],
        [py, "-m", "sandbox.whmcs", "--port", str(whmcs), "--webhook-url", "",
         "--log-level", "WARNING"],
        [py, "-m", "sandbox.freebit", "--port", str(freebit),
         "--activation-delay", str(ACTIVATION_DELAY_S), "--log-level", "WARNING"],
    )  # fmt: skip
    env = {**os.environ, "SF_SANDBOX_LOG_LEVEL": "WARNING"}
    boxes = Sandboxes(
        f"http://127.0.0.1:{sf}", f"127.0.0.1:{pubsub}",
        f"http://127.0.0.1:{whmcs}", f"http://127.0.0.1:{freebit}",
    )  # fmt: skip
    try:
        for command in commands:
            boxes.processes.append(
                await asyncio.create_subprocess_exec(*command, env=env, stdout=log, stderr=log)
            )
        for url in boxes.stats_urls.values():
            await _ready(url)
        yield boxes
    finally:
        for process in boxes.processes:
            process.terminate()
        for process in boxes.processes:
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()


@contextlib.asynccontextmanager
async def sandboxes_in_process() -> AsyncIterator[Sandboxes]:
    from sandbox.freebit import start_freebit
    from sandbox.salesforce import start_salesforce
    from sandbox.whmcs import start_whmcs

    sf_box = await start_salesforce(port=0, pubsub_port=0, keepalive_s=1.0)
    whmcs_box = await start_whmcs(port=0, webhook_url="")
    freebit_box = await start_freebit(port=0, activation_delay=ACTIVATION_DELAY_S)
    try:
        yield Sandboxes(sf_box.rest_url, sf_box.pubsub_target, whmcs_box.url, freebit_box.url)
    finally:
        for box in (sf_box, whmcs_box, freebit_box):
            await box.stop()


def _clients(settings: ServiceSettings) -> Clients:
    """The worker's clients as commerce builds them, closed when the worker stops."""
    sf = upstreams.salesforce(settings)
    whmcs, freebit = upstreams.whmcs(settings), upstreams.freebit(settings)
    channel = upstreams.peer_channel(settings, "identity")
    closers = (sf.aclose, whmcs.aclose, freebit.aclose, channel.close)
    return Clients(sf, whmcs, freebit, DirectoryClient.over(channel), closers)


SERVE_WORKER = "--serve-worker"  # the worker processes' command line; the config in WORKER_CONFIG
WORKER_CONFIG = "FULFILLMENT_BENCH_WORKER"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _fulfillment_settings() -> FulfillmentSettings:
    """The worker settings of every layout: production's but for the sweep (off) and the polls."""
    return FulfillmentSettings(standby_retry_s=0.5, sweep_interval_s=0,
        activation_poll_initial_s=0.05, activation_poll_max_s=0.5)  # fmt: skip


@contextlib.asynccontextmanager
async def replica(config: dict[str, str]) -> AsyncIterator[tuple[Fulfillment, Consumer]]:
    """What a commerce replica runs for fulfillment: commerce's CDC consumer (holding the stream
    or standing by) with fulfillment's ``Order`` handler on its dispatcher, and the worker."""
    settings = ServiceSettings(
        database_url=SecretStr(config["database_url"]), salesforce_url=config["salesforce_url"],
        salesforce_pubsub_target=config["salesforce_pubsub_target"],
        whmcs_url=config["whmcs_url"], freebit_url=config["freebit_url"],
        identity_target=config["identity_target"],
    )  # fmt: skip
    clients = _clients(settings)
    closers: list[Callable[[], Awaitable[Any]]] = []
    if config.get("cache_namespace"):
        dispatcher = await commerce_handlers(config, clients, closers)
    else:  # commerce's one CDC dispatcher with fulfillment's handler only
        dispatcher = Dispatcher()
    handle = await start_fulfillment(
        settings, _fulfillment_settings(), clients=clients, cdc=dispatcher
    )
    pubsub = SalesforcePubSubClient(
        PubSubConfig(target=config["salesforce_pubsub_target"]), clients.salesforce
    )
    consumer = Consumer(config["database_url"], pubsub, dispatcher)
    task = asyncio.create_task(consumer.run())
    try:
        yield handle, consumer
    finally:
        await _cancel(task)
        await pubsub.aclose()
        await handle.stop()
        for close in reversed(closers):
            await close()


async def commerce_handlers(
    config: dict[str, str], clients: Clients, closers: list[Callable[[], Awaitable[Any]]]
) -> Dispatcher:
    """Commerce's CDC dispatcher as ``build_deps`` wires it: the cache-invalidation handlers
    (catalog, eligibility, the orders family with the watchers' event log and publish) on the
    bench's own Redis namespace, the directory being identity's servicer in the bench process."""
    url, namespace = config["redis_url"], config["cache_namespace"]
    cache = Cache.from_url(url, service="commerce", namespace=namespace)
    await cache.connect()
    closers.append(cache.aclose)
    pool = await asyncpg.create_pool(config["database_url"], min_size=1, max_size=4)
    assert pool is not None
    closers.append(pool.close)
    watch = WatchHub(
        redis_for_pubsub(url), namespace, OrderEventLog(redis_from_url(url), namespace),
        StreamSlots(redis_from_url(url), namespace, 5), 5,
    )  # fmt: skip
    closers.append(watch.aclose)
    accounts = OrderAccounts(pool, clients.salesforce)
    return invalidation_dispatcher(cache, clients.directory, accounts, watch)


async def serve_worker(config: dict[str, str]) -> None:
    """A worker process: ``ready`` on stdout once its worker listens, ``cdc`` once it holds the
    CDC stream (one of them), then work until terminated."""
    async with replica(config) as (handle, consumer):
        await asyncio.wait_for(handle.worker.listening.wait(), 30)
        print("ready", flush=True)
        await consumer.ready.wait()
        print("cdc", flush=True)
        await asyncio.Event().wait()


def serve_worker_cli() -> None:
    config = json.loads(os.environ[WORKER_CONFIG])
    signals.die_with_parent()
    with open(config["log"], "a") as log:
        _log_to(log)
        with contextlib.suppress(signals.Terminated):
            signals.run(serve_worker(config))


@contextlib.asynccontextmanager
async def worker_processes(
    config: dict[str, str], n: int, log: TextIO, boxes: Sandboxes
) -> AsyncIterator[None]:
    """``n`` worker processes; returns once each listens and one holds the CDC stream."""
    env = {**os.environ, WORKER_CONFIG: json.dumps(config)}
    processes: list[asyncio.subprocess.Process] = []
    said: asyncio.Queue[str] = asyncio.Queue()

    async def read(process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            said.put_nowait(line.decode().strip())

    readers: list[asyncio.Task[None]] = []
    try:
        for i in range(n):
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.fulfillment_bench", SERVE_WORKER, cwd=ROOT, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=log,
            )  # fmt: skip
            processes.append(process)
            boxes.measured[f"worker-{i + 1}"] = process.pid
            readers.append(asyncio.create_task(read(process)))
        heard: Counter[str] = Counter()
        async with asyncio.timeout(60):
            while heard["ready"] < n or not heard["cdc"]:
                heard[await said.get()] += 1
        yield
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
        for reader in readers:
            await _cancel(reader)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def create_orders(sf: SalesforceClient, account: str, n: int, first: int = 0) -> list[str]:
    """``n`` orders; ``first`` numbers them across phases (each eSIM gets an EID of its own)."""
    rows = await sf.query(
        "SELECT Id, UnitPrice, Pricebook2Id, Product2.StockKeepingUnit FROM PricebookEntry "
        "WHERE Pricebook2.Name = 'Portal Pricebook'"
    )
    entries = {r["Product2"]["StockKeepingUnit"]: r for r in rows}
    limit = asyncio.Semaphore(8)

    async def one(i: int) -> str:
        skus = MIX[i % 3]
        extra: dict[str, Any] = {}
        if i % 3 == 1:
            extra = {"SIM_Type__c": "eSIM", "EID__c": f"{89049032 * 10**24 + i:032d}"}
            if i % 2:
                extra = {"SIM_Type__c": "Physical"}
        async with limit:
            order_id = await sf.create("Order", {
                "AccountId": account, "Status": "Pending Review", "Order_Type__c": "New",
                "EffectiveDate": date.today().isoformat(),
                "Pricebook2Id": entries[skus[0]]["Pricebook2Id"], **extra})  # fmt: skip
            for sku in skus:
                await sf.create("OrderItem", {"OrderId": order_id, "Quantity": 1,
                    "PricebookEntryId": entries[sku]["Id"],
                    "UnitPrice": entries[sku]["UnitPrice"]})  # fmt: skip
        return order_id

    return list(await asyncio.gather(*(one(i) for i in range(first, first + n))))


async def approve_all(sf: SalesforceClient, order_ids: list[str]) -> None:
    limit = asyncio.Semaphore(8)

    async def one(order_id: str) -> None:
        async with limit:
            await sf.update("Order", order_id, {"Status": "Approved"})

    await asyncio.gather(*(one(o) for o in order_ids))


async def wait_finished(pool: asyncpg.Pool, order_ids: list[str], within: float) -> int:
    """Until every order's row is done or failed; returns how many failed. Polls Postgres (not
    Salesforce, so the sandboxes' counters hold the worker's calls only)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        row = await pool.fetchrow(
            "SELECT count(*) FILTER (WHERE state IN ('done', 'failed', 'skipped')) AS finished, "
            "count(*) FILTER (WHERE state <> 'done') AS not_done "
            "FROM commerce.fulfillments WHERE sf_order_id = ANY($1::text[])",
            order_ids,
        )
        assert row is not None
        if row["finished"] >= len(order_ids):
            return int(row["not_done"])
        await asyncio.sleep(0.01 if len(order_ids) == 1 else 0.1)
    raise TimeoutError(f"{len(order_ids)} orders not finished within {within:g} s")


async def top_up_history(whmcs: WhmcsClient, total: int) -> int:
    """Give the client ``total`` WHMCS orders in all (AddOrder with other notes)."""
    have = (await whmcs.get_orders(user_id=CLIENT, limitnum=1)).total
    limit = asyncio.Semaphore(16)

    async def one(i: int) -> None:
        async with limit:
            await whmcs.add_order(CLIENT, [OrderLine(pid=HISTORY_PID)], notes=f"history {i}",
                                  noemail=True)  # fmt: skip

    await asyncio.gather(*(one(i) for i in range(max(total - have, 0))))
    return int((await whmcs.get_orders(user_id=CLIENT, limitnum=1)).total)


async def serve_directory(pool: asyncpg.Pool) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server()
    adapter = AccountDirectoryServicer(Directory(pool, Cache.disabled("identity")))
    account_directory_pb2_grpc.add_AccountDirectoryServiceServicer_to_server(adapter, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(urlunsplit(urlsplit(url)._replace(path="/postgres")))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def upstream_latency() -> dict[str, tuple[float, float]]:
    """``system operation`` → (seconds, calls) of this process's upstream calls so far
    (``Upstream``'s latency histogram: the worker's calls and the bench's approvals)."""
    sums: dict[str, list[float]] = {}
    for metric in UPSTREAM_LATENCY.collect():
        for sample in metric.samples:
            if sample.name.endswith(("_sum", "_count")):
                key = f"{sample.labels['system']} {sample.labels['operation']}"
                sums.setdefault(key, [0.0, 0.0])[sample.name.endswith("_count")] += sample.value
    return {k: (v[0], v[1]) for k, v in sums.items()}


def load() -> str:
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


@dataclass
class Result:
    phase: str
    orders: int
    seconds: float
    lags: list[float]
    duplicates: int
    failed: int
    calls: dict[str, Counter[str]]
    cpu: dict[str, float]
    latency: dict[str, tuple[float, float]]
    load_before: str
    load_after: str
    history: int = 0
    intake: list[float] = field(default_factory=list)  # approval → row committed, ms
    delivery: list[float] = field(default_factory=list)  # approval → event at the follower, ms


class Bench:
    def __init__(self, sf: SalesforceClient, whmcs: WhmcsClient, pool: asyncpg.Pool,
                 boxes: Sandboxes, lag: Lag, account: str) -> None:  # fmt: skip
        self.sf, self.whmcs, self.pool, self.boxes = sf, whmcs, pool, boxes
        self.lag, self.account = lag, account
        self.created = 0
        self.profile = ""  # a path: cProfile each phase's measured window into <path>.<phase>

    async def phase(self, name: str, n: int, *, one_at_a_time: bool, history: int = 0) -> Result:
        profile = cProfile.Profile() if self.profile else None
        order_ids = await create_orders(self.sf, self.account, n, self.created)
        self.created += n
        await asyncio.sleep(1.0)  # the creations' CDC events are handled; the box settles
        load_before = load()
        before = await self.boxes.stats()
        cpu_before = self.boxes.cpu_s()
        latency_before = upstream_latency()
        if profile is not None:
            profile.enable()
        started = time.perf_counter()
        failed = 0
        if one_at_a_time:
            for order_id in order_ids:
                await approve_all(self.sf, [order_id])
                failed += await wait_finished(self.pool, [order_id], within=60)
        else:
            await approve_all(self.sf, order_ids)
            failed = await wait_finished(self.pool, order_ids, within=300)
        seconds = time.perf_counter() - started
        if profile is not None:
            profile.disable()
            profile.dump_stats(f"{self.profile}.{name}")
        load_after = load()
        cpu = {k: v - cpu_before[k] for k, v in self.boxes.cpu_s().items()}
        latency = {
            k: (total - latency_before.get(k, (0.0, 0.0))[0], n - latency_before.get(k, (0, 0))[1])
            for k, (total, n) in upstream_latency().items()
        }
        after = await self.boxes.stats()
        await asyncio.sleep(0.5)  # the last write-backs' CDC events reach the lag follower
        calls = {system: after[system] - before[system] for system in after}
        orders = await self.whmcs.get_orders(user_id=CLIENT, limitnum=100_000)
        notes = Counter(str(o.get("notes")) for o in orders.rows)
        ours = [notes[f"sfOrderId={o}"] for o in order_ids]
        rows = await self.pool.fetch(
            "SELECT sf_order_id, extract(epoch FROM created_at)::float8 AS at "
            "FROM commerce.fulfillments WHERE sf_order_id = ANY($1::text[])",
            order_ids,
        )
        intake = sorted((r["at"] - self.lag.approved[r["sf_order_id"]]) * 1000
                        for r in rows if r["sf_order_id"] in self.lag.approved)  # fmt: skip
        delivery = sorted((self.lag.delivered[o] - self.lag.approved[o]) * 1000
                          for o in order_ids if o in self.lag.delivered)  # fmt: skip
        return Result(
            name, n, seconds, self.lag.lags_ms(order_ids), sum(c - 1 for c in ours if c > 1),
            failed, calls, cpu, latency, load_before, load_after, history, intake, delivery,
        )  # fmt: skip


def report(results: list[Result], mode: str, workers: int, handlers: str) -> None:
    layout = (f"{workers} worker process(es) sharing the orders" if workers
              else "worker in the bench process")  # fmt: skip
    print(f"\nFulfillment bench ({mode} sandboxes, {layout}, CDC handlers: {handlers}, Freebit "
          f"activation delay {ACTIVATION_DELAY_S:g} s, {os.cpu_count()} CPUs)")  # fmt: skip
    print(f"{'phase':<8} {'orders':>6} {'history':>7} {'time s':>7} {'orders/s':>8} "
          f"{'lag p50':>8} {'lag p95':>8} {'lag max':>8} {'dup':>4} {'fail':>4} "
          f"{'load':>9}")  # fmt: skip
    for r in results:
        print(f"{r.phase:<8} {r.orders:>6} {r.history or '':>7} {r.seconds:>7.1f} "
              f"{r.orders / r.seconds:>8.1f} {pct(r.lags, 50):>6.0f}ms {pct(r.lags, 95):>6.0f}ms "
              f"{r.lags[-1] if r.lags else float('nan'):>6.0f}ms {r.duplicates:>4} {r.failed:>4} "
              f"{r.load_before + '→' + r.load_after:>9}")  # fmt: skip
    print("\nwhere the lag goes (ms from the approval's commit, p50 / p95): its event reaching the "
          "bench's own CDC subscriber; its row committed by the intake (the stream holder's "
          "consumer, a batch of events at a time); its write-back (claim, work)")  # fmt: skip
    for r in results:
        print(f"{r.phase:<8} delivered {pct(r.delivery, 50):.0f} / {pct(r.delivery, 95):.0f}, "
              f"row {pct(r.intake, 50):.0f} / {pct(r.intake, 95):.0f}, "
              f"written back {pct(r.lags, 50):.0f} / {pct(r.lags, 95):.0f}")  # fmt: skip
    if workers:
        print("\nCPU ms per order (user + system; worker-N = a worker process: fulfillment worker "
              "and commerce's CDC consumer, one of them holding the stream; bench = this process: "
              "directory servicer, lag follower, order creation and approval)")  # fmt: skip
    else:
        print("\nCPU ms per order (user + system; worker = this process: worker, CDC consumer, "
              "directory servicer, bench)")  # fmt: skip
    for r in results:
        print(f"{r.phase:<8} " + ", ".join(f"{k} {v * 1000 / r.orders:.1f}"
                                            for k, v in r.cpu.items()))  # fmt: skip
    print("\nupstream calls per order (sandbox counters; Salesforce includes the bench's approval)")
    for r in results:
        parts = []
        for system, counts in r.calls.items():
            total = sum(counts.values()) / r.orders
            kinds = ", ".join(f"{k} {v / r.orders:.2f}" for k, v in sorted(counts.items()) if v)
            parts.append(f"  {system} {total:.2f}: {kinds}")
        print(f"{r.phase}:")
        print("\n".join(parts))
    print("\nmean latency per upstream call in this process (ms; calls per order"
          + ("; the bench's own calls only: the workers are other processes)" if workers
             else ")"))  # fmt: skip
    for r in results:
        print(f"{r.phase}: " + ", ".join(
            f"{k} {t * 1000 / n:.0f} ({n / r.orders:.2f})"
            for k, (t, n) in sorted(r.latency.items()) if n))  # fmt: skip


async def main(args: argparse.Namespace, log: TextIO) -> None:
    name = f"portal_fulfillment_bench_{uuid.uuid4().hex[:8]}"
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/portal")
    url = urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    await _admin(url, f'CREATE DATABASE "{name}"')
    stack = contextlib.AsyncExitStack()
    try:
        await migrate_service(url, "commerce")
        await migrate_service(url, "identity")
        pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
        assert pool is not None
        stack.push_async_callback(pool.close)
        boxes = await stack.enter_async_context(
            sandboxes_in_process() if args.in_process else sandbox_processes(log)
        )
        server, target = await serve_directory(pool)
        stack.push_async_callback(server.stop, 0)

        sf = SalesforceClient(SalesforceConfig(url=boxes.sf_rest))
        stack.push_async_callback(sf.aclose)
        whmcs = WhmcsClient(WhmcsConfig(url=boxes.whmcs))
        stack.push_async_callback(whmcs.aclose)
        rows = await sf.query(soql("SELECT Id FROM Account WHERE SF_Account_No__c = {}",
                                   "AC-000101"))  # fmt: skip
        account = str(rows[0]["Id"])
        await identity_repo.insert_user(
            pool,
            identity_repo.NewUser(
                "hanako@example.jp",
                "x",
                "Hanako",
                "Yamada",
                CLIENT,
                account,
                "AC-000101",
                "WHMCS Link",
            ),
        )

        config = {
            "database_url": url, "salesforce_url": boxes.sf_rest,
            "salesforce_pubsub_target": boxes.sf_pubsub, "whmcs_url": boxes.whmcs,
            "freebit_url": boxes.freebit, "identity_target": target, "log": args.log,
            "redis_url": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "cache_namespace": "" if args.fulfillment_only else f"fbench_{uuid.uuid4().hex[:8]}",
        }  # fmt: skip
        if args.workers:
            boxes.measured["bench"] = os.getpid()
            await stack.enter_async_context(worker_processes(config, args.workers, log, boxes))
        else:
            boxes.measured["worker"] = os.getpid()
            handle, consumer = await stack.enter_async_context(replica(config))
            await asyncio.wait_for(handle.leading.wait(), 10)
            await asyncio.wait_for(consumer.ready.wait(), 10)

        lag = Lag()
        watcher_sf = SalesforcePubSubClient(PubSubConfig(target=boxes.sf_pubsub), sf)
        stack.push_async_callback(watcher_sf.aclose)
        ready = asyncio.Event()
        follower = asyncio.create_task(lag.follow(watcher_sf, ready))
        stack.push_async_callback(_cancel, follower)
        await asyncio.wait_for(ready.wait(), 10)

        bench = Bench(sf, whmcs, pool, boxes, lag, account)
        bench.profile = args.profile
        results = []
        if args.warm_up:  # every worker's connections and upstream sessions open, not reported
            await bench.phase("warm-up", args.warm_up, one_at_a_time=False)
        if args.singles:
            results.append(await bench.phase("single", args.singles, one_at_a_time=True))
        if args.orders:
            results.append(await bench.phase("burst", args.orders, one_at_a_time=False))
        if args.orders and args.history:
            history = await top_up_history(whmcs, args.history)
            results.append(await bench.phase("history", args.orders, one_at_a_time=False,
                                             history=history))  # fmt: skip
        handlers = ("fulfillment only" if args.fulfillment_only
                    else "commerce's cache invalidation and watchers + fulfillment")  # fmt: skip
        report(results, "in-process" if args.in_process else "separate-process", args.workers,
               handlers)  # fmt: skip
    finally:
        await stack.aclose()
        await _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cli() -> None:
    if sys.argv[1:] == [SERVE_WORKER]:
        serve_worker_cli()
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=200, help="orders per burst (0: none)")
    parser.add_argument("--singles", type=int, default=20, help="orders approved one at a time")
    parser.add_argument(
        "--warm-up", type=int, default=40,
        help="orders approved at once before the phases, not reported (0: none)",
    )  # fmt: skip
    parser.add_argument(
        "--history", type=int, default=1000,
        help="the client's WHMCS orders before the history burst (0: no such phase)",
    )  # fmt: skip
    parser.add_argument(
        "--in-process", action="store_true", help="run the sandboxes in this process's event loop"
    )
    parser.add_argument(
        "--workers", type=int, default=2,
        help="worker processes sharing the orders, each as a commerce replica runs fulfillment "
        "(0: one worker in this process)",
    )  # fmt: skip
    parser.add_argument(
        "--fulfillment-only", action="store_true",
        help="the CDC dispatcher with fulfillment's handler only (without commerce's cache "
        "invalidation and watcher handlers, which share the stream in production)",
    )  # fmt: skip
    parser.add_argument(
        "--log", default="/tmp/fulfillment_bench.log",
        help="where the worker's and the sandboxes' logs go",
    )  # fmt: skip
    parser.add_argument(
        "--profile", default="", help="cProfile the event loop thread of each phase to PATH.<phase>"
    )
    args = parser.parse_args()
    with open(args.log, "a") as log:
        _log_to(log)
        signals.run(main(args, log))


def _log_to(log: TextIO) -> None:
    configure_logging("commerce", "info", json=True)  # as in production, to the log file
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(log)


if __name__ == "__main__":
    cli()
