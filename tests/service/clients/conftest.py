"""Upstream clients against the real sandboxes, started in-process on port 0 (one per session).

Every test gets the sandbox reset (seed data, counters, faults) and fresh clients with a fast
resilience policy (short timeout, tiny backoff, breaker threshold 3 / cool-down 1 s).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from sandbox.freebit import RunningFreebit
from sandbox.salesforce import RunningSalesforce
from sandbox.whmcs import RunningWhmcs
from services.common.clients import (
    FreebitClient,
    FreebitConfig,
    Policy,
    SalesforceClient,
    SalesforceConfig,
    WhmcsClient,
    WhmcsConfig,
)
from services.common.clients.pubsub import PubSubConfig, SalesforcePubSubClient
from tests.helpers.sandboxes import (
    SandboxControl,
    freebit_sandbox_fixture,
    salesforce_sandbox_fixture,
    whmcs_sandbox_fixture,
)

# Not the suite's usual FAST policy: a low breaker threshold, as these tests open breakers.
FAST = Policy(
    timeout_s=1.0,
    read_attempts=3,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    breaker_threshold=3,
    breaker_cooldown_s=1.0,  # long enough that a loaded machine cannot skip the open state
    max_concurrency=8,
)


whmcs_sandbox = whmcs_sandbox_fixture(port=0, webhook_url="")
sf_sandbox = salesforce_sandbox_fixture(batch_size=3, keepalive_s=0.3)
freebit_sandbox = freebit_sandbox_fixture(port=0, activation_delay=0.2, cancel_delay=0.2)


@pytest_asyncio.fixture
async def whmcs_control(whmcs_sandbox: RunningWhmcs) -> SandboxControl:
    return await SandboxControl.fresh(whmcs_sandbox.url)


@pytest_asyncio.fixture
async def whmcs(
    whmcs_sandbox: RunningWhmcs, whmcs_control: SandboxControl
) -> AsyncIterator[WhmcsClient]:
    client = WhmcsClient(WhmcsConfig(url=whmcs_sandbox.url, timeout_s=1.0, policy=FAST))
    yield client
    await client.aclose()


@pytest.fixture
def fast_policy() -> Policy:
    return FAST


@pytest_asyncio.fixture
async def sf_control(sf_sandbox: RunningSalesforce) -> SandboxControl:
    return await SandboxControl.fresh(sf_sandbox.rest_url)


def sf_config(sandbox: RunningSalesforce, **overrides: Any) -> SalesforceConfig:
    args: dict[str, Any] = dict(
        url=sandbox.rest_url, timeout_s=1.0, connect_timeout_s=1.0, policy=FAST, max_workers=4
    )
    args.update(overrides)
    return SalesforceConfig(**args)


@pytest_asyncio.fixture
async def sf(
    sf_sandbox: RunningSalesforce, sf_control: SandboxControl
) -> AsyncIterator[SalesforceClient]:
    client = SalesforceClient(sf_config(sf_sandbox))
    yield client
    await client.aclose()


@pytest_asyncio.fixture
async def freebit_control(freebit_sandbox: RunningFreebit) -> SandboxControl:
    return await SandboxControl.fresh(freebit_sandbox.url)


@pytest_asyncio.fixture
async def freebit(
    freebit_sandbox: RunningFreebit, freebit_control: SandboxControl
) -> AsyncIterator[FreebitClient]:
    client = FreebitClient(FreebitConfig(url=freebit_sandbox.url, timeout_s=1.0, policy=FAST))
    yield client
    await client.aclose()


@pytest_asyncio.fixture
async def pubsub(
    sf_sandbox: RunningSalesforce, sf: SalesforceClient
) -> AsyncIterator[SalesforcePubSubClient]:
    config = PubSubConfig(
        target=sf_sandbox.pubsub_target,
        rpc_timeout_s=2.0,
        idle_timeout_s=3.0,
        reconnect_initial_s=0.05,
        reconnect_max_s=0.2,
        max_reconnects=5,
        policy=FAST,
    )
    client = SalesforcePubSubClient(config, sf)
    yield client
    await client.aclose()
