"""The commerce service in-process on port 0, over a Postgres database of its own, a throwaway
Redis, the in-process Salesforce sandbox (reset before every test) and small real gRPC servicers
standing in for identity's AccountDirectoryService and billing's BillingInternalService."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from portal.billing.v1 import billing_pb2_grpc
from portal.identity.v1 import account_directory_pb2_grpc

from sandbox.salesforce import RunningSalesforce
from services.commerce.server import Deps, build_deps, create_commerce_server
from services.commerce.settings import CommerceSettings
from services.common.clients import SalesforceClient, SalesforceConfig
from services.common.server import GrpcServer
from tests.helpers.fixtures import dev_keys_fixture, private_database_fixture
from tests.helpers.grpc_servers import serving, started
from tests.helpers.policies import FAST
from tests.helpers.sandboxes import SandboxControl, salesforce_sandbox_fixture
from tests.helpers.tokens import sign
from tests.service.cache.conftest import RedisProcess
from tests.service.commerce.peers import FakeBilling, FakeDirectory, Peers

database_url = private_database_fixture("portal_commerce", migrate=("commerce",))
sf_sandbox = salesforce_sandbox_fixture(keepalive_s=1.0)
keys_dir = dev_keys_fixture("commerce-keys")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = RedisProcess(tmp_path_factory.mktemp("commerce-redis")).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def peers() -> AsyncIterator[Peers]:
    directory, billing = FakeDirectory(), FakeBilling()
    async with serving(
        (account_directory_pb2_grpc.add_AccountDirectoryServiceServicer_to_server, directory),
        (billing_pb2_grpc.add_BillingInternalServiceServicer_to_server, billing),
    ) as target:
        yield Peers(target, directory, billing)


@pytest.fixture
async def sf_control(sf_sandbox: RunningSalesforce, peers: Peers) -> SandboxControl:
    """The Salesforce sandbox reset, and the peers forgetting their users, before the test."""
    control = await SandboxControl.fresh(sf_sandbox.rest_url)
    peers.clear()
    return control


@pytest.fixture
async def sf(sf_sandbox: RunningSalesforce) -> AsyncIterator[SalesforceClient]:
    """A Salesforce client of the test itself (to change and inspect records)."""
    client = SalesforceClient(SalesforceConfig(url=sf_sandbox.rest_url, policy=FAST))
    yield client
    await client.aclose()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    await conn.execute("TRUNCATE commerce.cdc_replay, commerce.orders")
    yield conn
    await conn.close()


def make_settings(
    database_url: str,
    redis_url: str,
    keys_dir: Path,
    sf: RunningSalesforce,
    peers: Peers,
    **kw: Any,
) -> CommerceSettings:
    values: dict[str, Any] = dict(
        port=0,
        database_url=database_url,
        redis_url=redis_url,
        jwks_file=keys_dir / "jwks.json",
        salesforce_url=sf.rest_url,
        salesforce_pubsub_target=sf.pubsub_target,
        identity_target=peers.target,
        billing_target=peers.target,
        watch_heartbeat_s=0.5,
        cdc_standby_retry_s=0.2,
    )
    values.update(kw)
    return CommerceSettings(**values)


@pytest.fixture
def settings(
    database_url: str,
    redis_url: str,
    keys_dir: Path,
    sf_sandbox: RunningSalesforce,
    peers: Peers,
    sf_control: SandboxControl,
    db: asyncpg.Connection,
    request: pytest.FixtureRequest,
) -> CommerceSettings:
    marker = request.node.get_closest_marker("commerce_settings")
    overrides = marker.kwargs if marker is not None else {}
    return make_settings(database_url, redis_url, keys_dir, sf_sandbox, peers, **overrides)


@pytest.fixture
async def deps(settings: CommerceSettings, redis_url: str) -> AsyncIterator[Deps]:
    flush = aioredis.from_url(redis_url)
    await flush.flushdb()
    await flush.aclose()
    built = await build_deps(settings, policy=FAST)
    yield built
    await built.aclose()


@pytest.fixture
async def server(settings: CommerceSettings, deps: Deps) -> AsyncIterator[GrpcServer]:
    async with started(create_commerce_server(settings, deps)) as built:
        yield built


@pytest.fixture
async def cdc(deps: Deps) -> AsyncIterator[Deps]:
    """The CDC consumer running and subscribed to every topic."""
    deps.background.start()
    await asyncio.wait_for(deps.background.consumer.ready.wait(), 10)
    yield deps
    await deps.background.stop()


class Customer:
    """A portal user linked to a seed Salesforce account, with an access token."""

    def __init__(self, user_id: str, account_id: str, keys_dir: Path) -> None:
        self.user_id, self.account_id, self._keys = user_id, account_id, keys_dir

    def metadata(self, ttl: int = 300) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {sign(self._keys, self.user_id, ttl=ttl)}"),)


@pytest.fixture
async def customer_of(
    sf: SalesforceClient, peers: Peers, keys_dir: Path, sf_control: SandboxControl
) -> Any:
    async def make(number: str = "AC-000101", *, pay_method: bool = True) -> Customer:
        rows = await sf.query(f"SELECT Id FROM Account WHERE SF_Account_No__c = '{number}'")
        user = Customer(str(uuid.uuid4()), rows[0]["Id"], keys_dir)
        peers.directory.link(user.user_id, user.account_id)
        peers.billing.set_profile(user.user_id, has_payment_method=pay_method)
        return user

    return make
