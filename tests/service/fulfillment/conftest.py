"""Fulfillment against real Postgres (a database of its own), the in-process Salesforce, WHMCS and
Freebit sandboxes, and identity's real AccountDirectoryService servicer over gRPC on port 0. Each
started worker comes with commerce's CDC consumer and dispatcher, as in the commerce process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import grpc
import pytest
from portal.identity.v1 import account_directory_pb2_grpc

from sandbox.freebit import RunningFreebit, start_freebit
from sandbox.salesforce import RunningSalesforce, start_salesforce
from sandbox.whmcs import RunningWhmcs, start_whmcs
from services.commerce.cdc import Consumer, Dispatcher
from services.commerce.fulfillment import Fulfillment, FulfillmentSettings, start_fulfillment
from services.commerce.fulfillment.service import Clients
from services.common.cache import Cache
from services.common.clients import (
    FreebitClient,
    FreebitConfig,
    SalesforceClient,
    SalesforceConfig,
    SalesforcePubSubClient,
    WhmcsClient,
    WhmcsConfig,
)
from services.common.clients.pubsub import PubSubConfig
from services.common.directory import Directory
from services.common.settings import ServiceSettings
from services.identity import repo as identity_repo
from services.identity.directory import Directory as IdentityDirectory
from services.identity.servicer import AccountDirectoryServicer
from tests.helpers.fixtures import private_database_fixture
from tests.helpers.grpc_servers import serving
from tests.helpers.policies import FAST
from tests.helpers.sandboxes import SandboxControl
from tests.service.fulfillment.portal import ACCOUNTS, Portal

QUICK = FulfillmentSettings(
    standby_retry_s=0.2, sweep_interval_s=0, lease_s=1.0, poll_interval_s=0.2,
    retry_initial_s=0.05, retry_max_s=0.2,
    give_up_after_s=1.5, activation_poll_initial_s=0.05, activation_poll_max_s=0.2,
    activation_timeout_s=5.0,
)  # fmt: skip
# Sandbox account → WHMCS client: client 1 has a card, client 3 has no pay method; Yuki is unlinked.
LINKS = {"hanako": 1, "taro": 3}
StartWorker = Callable[..., Awaitable[Fulfillment]]
Controls = tuple[SandboxControl, SandboxControl, SandboxControl]  # Salesforce, WHMCS, Freebit


database_url = private_database_fixture("portal_fulfillment", migrate=("commerce", "identity"))


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert created is not None
    yield created
    await created.close()


@pytest.fixture(scope="session")
async def sandboxes() -> AsyncIterator[tuple[RunningSalesforce, RunningWhmcs, RunningFreebit]]:
    sf = await start_salesforce(port=0, pubsub_port=0, keepalive_s=0.3)
    whmcs = await start_whmcs(port=0, webhook_url="")
    freebit = await start_freebit(port=0, activation_delay=0.1)
    yield sf, whmcs, freebit
    for running in (sf, whmcs, freebit):
        await running.stop()


@pytest.fixture(scope="session")
async def directory_target(pool: asyncpg.Pool) -> AsyncIterator[str]:
    """identity's real AccountDirectoryService servicer over our database."""
    adapter = AccountDirectoryServicer(IdentityDirectory(pool, Cache.disabled("identity")))
    async with serving(
        (account_directory_pb2_grpc.add_AccountDirectoryServiceServicer_to_server, adapter)
    ) as target:
        yield target


@pytest.fixture
async def controls(sandboxes: Any) -> Controls:
    """The Salesforce, WHMCS and Freebit sandboxes, reset before the test (in that order)."""
    sf, whmcs, freebit = sandboxes
    return (
        await SandboxControl.fresh(sf.rest_url),
        await SandboxControl.fresh(whmcs.url),
        await SandboxControl.fresh(freebit.url),
    )


def _clients(sandboxes: Any, directory_target: str) -> Clients:
    sf_box, whmcs_box, freebit_box = sandboxes
    sf = SalesforceClient(SalesforceConfig(url=sf_box.rest_url, policy=FAST, max_workers=4))
    whmcs = WhmcsClient(WhmcsConfig(url=whmcs_box.url, policy=FAST))
    freebit = FreebitClient(FreebitConfig(url=freebit_box.url, policy=FAST))
    channel = grpc.aio.insecure_channel(directory_target)
    closers = (sf.aclose, whmcs.aclose, freebit.aclose, channel.close)
    return Clients(sf, whmcs, freebit, Directory.over(channel), closers)


@dataclass
class CdcStream:
    """Commerce's CDC consumer of one replica: its dispatcher carries fulfillment's handler."""

    dispatcher: Dispatcher
    consumer: Consumer
    task: asyncio.Task[None]
    closers: tuple[Callable[[], Awaitable[None]], ...]

    @classmethod
    def start(cls, sandboxes: Any, database_url: str) -> CdcStream:
        sf_box = sandboxes[0]
        sf = SalesforceClient(SalesforceConfig(url=sf_box.rest_url, policy=FAST, max_workers=2))
        pubsub = SalesforcePubSubClient(
            PubSubConfig(target=sf_box.pubsub_target, reconnect_initial_s=0.05, policy=FAST), sf
        )
        dispatcher = Dispatcher(retry_initial_s=0.05, retry_max_s=0.2)
        consumer = Consumer(database_url, pubsub, dispatcher, standby_retry_s=0.2)
        return cls(dispatcher, consumer, asyncio.create_task(asyncio.sleep(0)),
                   (pubsub.aclose, sf.aclose))  # fmt: skip

    def run(self) -> None:
        self.task = asyncio.create_task(self.consumer.run(), name="test-cdc-consumer")

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        for close in self.closers:
            await close()


@pytest.fixture
async def portal(
    sandboxes: Any, controls: Any, pool: asyncpg.Pool, directory_target: str
) -> AsyncIterator[Portal]:
    """Fresh sandboxes, empty fulfillment tables, identity links for the seeded accounts."""
    clients = _clients(sandboxes, directory_target)
    found = Portal(clients.salesforce, clients.whmcs, clients.freebit)
    await pool.execute("TRUNCATE commerce.fulfillments, commerce.cdc_replay")
    await pool.execute("TRUNCATE identity.users CASCADE")
    for who, client_id in LINKS.items():
        new = identity_repo.NewUser(
            f"{who}@example.jp", "x", who, "test", client_id, await found.account_id(who),
            ACCOUNTS[who], "WHMCS Link",
        )  # fmt: skip
        await identity_repo.insert_user(pool, new)
    yield found
    for close in clients.closers:
        await close()


@pytest.fixture
async def start_worker(
    sandboxes: Any, database_url: str, directory_target: str, portal: Portal
) -> AsyncIterator[StartWorker]:
    """Start fulfillment workers (each with its own clients and its replica's CDC consumer); all
    stopped after the test."""
    started: list[Fulfillment] = []

    async def start(**kwargs: Any) -> Fulfillment:
        fs = kwargs.pop("settings", QUICK)
        cdc = CdcStream.start(sandboxes, database_url)
        handle = await start_fulfillment(
            ServiceSettings(database_url=database_url), fs,
            clients=_clients(sandboxes, directory_target), cdc=cdc.dispatcher, **kwargs,
        )  # fmt: skip
        cdc.run()
        handle.closers.append(cdc.stop)  # stopping the worker stops its replica's consumer too
        started.append(handle)
        if len(started) == 1:  # the first replica leads: wait until its stream is positioned
            await asyncio.wait_for(cdc.consumer.ready.wait(), 10)
        return handle

    yield start
    for handle in started:
        await handle.stop()
