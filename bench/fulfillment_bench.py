"""Fulfillment throughput and lag: 200 approved orders (a third SIM) through the real worker.

Starts the Salesforce, WHMCS and Freebit sandboxes in-process (Freebit activation delay 0.05 s),
identity's real AccountDirectoryService servicer, a Postgres database of its own, and
``start_fulfillment`` with production client settings. Creates 200 orders in Pending Review over
REST (as checkout does), approves them all (as staff), and measures the time until every order is
Activated, the lag from each approval's CDC ``commitTimestamp`` to its write-back's, and the number
of WHMCS orders per Salesforce order (must be exactly one).

Run: ``make bench BENCH=fulfillment_bench`` or ``.venv/bin/python -m bench.fulfillment_bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
import uuid
from collections import Counter
from datetime import date
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import grpc
from portal.identity.v1 import account_directory_pb2_grpc
from pydantic import SecretStr

from sandbox.freebit import start_freebit
from sandbox.salesforce import start_salesforce
from sandbox.whmcs import start_whmcs
from services.commerce.cdc import Consumer, Dispatcher
from services.commerce.fulfillment import Clients, FulfillmentSettings, start_fulfillment
from services.common import upstreams
from services.common.cache import Cache
from services.common.clients import ChangeEvent, SalesforceClient, SalesforceConfig, soql
from services.common.clients.pubsub import PubSubConfig, SalesforcePubSubClient
from services.common.directory import Directory as DirectoryClient
from services.common.migrations import migrate_service
from services.common.settings import ServiceSettings
from services.identity import repo as identity_repo
from services.identity.directory import Directory
from services.identity.servicer import AccountDirectoryServicer
from tools import signals

MIX = (["INTERNET-GOLD-HOME-1G", "INTERNET-INSTALL-SINGLE"], ["SIM-DATA-10G"], ["VPN-STANDARD"])


class Lag:
    """Approval and write-back commit timestamps per order, from the CDC stream."""

    def __init__(self) -> None:
        self.approved: dict[str, float] = {}
        self.activated: dict[str, float] = {}

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
                elif status == "Activated":
                    self.activated.setdefault(order_id, stamp)

    def lags_ms(self) -> list[float]:
        return sorted(
            (self.activated[o] - t) * 1000 for o, t in self.approved.items() if o in self.activated
        )


def _clients(settings: ServiceSettings) -> Clients:
    """The worker's clients as commerce builds them, closed when the worker stops."""
    sf = upstreams.salesforce(settings)
    whmcs, freebit = upstreams.whmcs(settings), upstreams.freebit(settings)
    channel = upstreams.peer_channel(settings, "identity")
    closers = (sf.aclose, whmcs.aclose, freebit.aclose, channel.close)
    return Clients(sf, whmcs, freebit, DirectoryClient.over(channel), closers)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def create_orders(sf: SalesforceClient, account: str, n: int) -> list[str]:
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

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def approve_all(sf: SalesforceClient, order_ids: list[str]) -> None:
    limit = asyncio.Semaphore(8)

    async def one(order_id: str) -> None:
        async with limit:
            await sf.update("Order", order_id, {"Status": "Approved"})

    await asyncio.gather(*(one(o) for o in order_ids))


async def wait_activated(sf: SalesforceClient, n: int, within: float) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        done = await sf.query("SELECT Id FROM Order WHERE Status = 'Activated'")
        if len(done) >= n:
            return len(done)
        await asyncio.sleep(0.2)
    return len(await sf.query("SELECT Id FROM Order WHERE Status = 'Activated'"))


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
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def main(n: int) -> None:
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
        sf_box = await start_salesforce(port=0, pubsub_port=0, keepalive_s=1.0)
        whmcs_box = await start_whmcs(port=0, webhook_url="")
        freebit_box = await start_freebit(port=0, activation_delay=0.05)
        for box in (sf_box, whmcs_box, freebit_box):
            stack.push_async_callback(box.stop)
        server, target = await serve_directory(pool)
        stack.push_async_callback(server.stop, 0)

        sf = SalesforceClient(SalesforceConfig(url=sf_box.rest_url))
        stack.push_async_callback(sf.aclose)
        rows = await sf.query(soql("SELECT Id FROM Account WHERE SF_Account_No__c = {}",
                                   "AC-000101"))  # fmt: skip
        account = str(rows[0]["Id"])
        await identity_repo.insert_user(
            pool,
            identity_repo.NewUser(
                "hanako@example.jp", "x", "Hanako", "Yamada", 1, account, "AC-000101", "WHMCS Link"
            ),
        )

        settings = ServiceSettings(
            database_url=SecretStr(url), salesforce_url=sf_box.rest_url,
            salesforce_pubsub_target=sf_box.pubsub_target, whmcs_url=whmcs_box.url,
            freebit_url=freebit_box.url, identity_target=target,
        )  # fmt: skip
        fs = FulfillmentSettings(standby_retry_s=0.5, sweep_interval_s=0,
            activation_poll_initial_s=0.05, activation_poll_max_s=0.5)  # fmt: skip
        cdc_pubsub = SalesforcePubSubClient(PubSubConfig(target=sf_box.pubsub_target), sf)
        stack.push_async_callback(cdc_pubsub.aclose)
        dispatcher = Dispatcher()  # commerce's one CDC dispatcher, here with fulfillment only
        worker = await start_fulfillment(settings, fs, clients=_clients(settings), cdc=dispatcher)
        stack.push_async_callback(worker.stop)
        consumer = asyncio.create_task(Consumer(url, cdc_pubsub, dispatcher).run())
        stack.push_async_callback(_cancel, consumer)
        await asyncio.wait_for(worker.leading.wait(), 10)

        lag = Lag()
        watcher_sf = SalesforcePubSubClient(PubSubConfig(target=sf_box.pubsub_target), sf)
        stack.push_async_callback(watcher_sf.aclose)
        ready = asyncio.Event()
        follower = asyncio.create_task(lag.follow(watcher_sf, ready))
        await asyncio.wait_for(ready.wait(), 10)

        order_ids = await create_orders(sf, account, n)
        started = time.perf_counter()
        await approve_all(sf, order_ids)
        activated = await wait_activated(sf, n, within=600)
        elapsed = time.perf_counter() - started
        await asyncio.sleep(1.0)
        follower.cancel()

        whmcs_orders = await worker.deps.whmcs.get_orders(user_id=1, limitnum=10_000)
        notes = Counter(str(o.get("notes")) for o in whmcs_orders.rows)
        ours = [notes[f"sfOrderId={o}"] for o in order_ids]
        lags = lag.lags_ms()
        print(f"orders: {n} ({sum(1 for i in range(n) if i % 3 == 1)} SIM), "
              f"activated: {activated}, time to all activated: {elapsed:.1f} s "
              f"({n / elapsed:.1f} orders/s)")  # fmt: skip
        print(
            f"lag approval commit -> write-back commit: p50 {pct(lags, 50):.0f} ms, "
            f"p95 {pct(lags, 95):.0f} ms, max {lags[-1]:.0f} ms (n={len(lags)})"
        )
        print(
            f"WHMCS orders per Salesforce order: min {min(ours)}, max {max(ours)}; "
            f"duplicates: {sum(c - 1 for c in ours if c > 1)}"
        )
    finally:
        await stack.aclose()
        await _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200)
    signals.run(main(parser.parse_args().orders))
