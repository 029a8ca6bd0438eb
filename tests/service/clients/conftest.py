"""Upstream clients against the real sandboxes, started in-process on port 0 (one per session).

Every test gets the sandbox reset (seed data, counters, faults) and fresh clients with a fast
resilience policy (short timeout, tiny backoff, breaker threshold 3 / cool-down 1 s).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sandbox.freebit import RunningFreebit, start_freebit
from sandbox.salesforce import RunningSalesforce, start_salesforce
from sandbox.whmcs import RunningWhmcs, start_whmcs
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

FAST = Policy(
    timeout_s=1.0,
    read_attempts=3,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    breaker_threshold=3,
    breaker_cooldown_s=1.0,  # long enough that a loaded machine cannot skip the open state
    max_concurrency=8,
)


class Control:
    """The sandbox's ``/__sandbox/`` surface."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as http:
            resp = await http.post(path, json=body)
            assert resp.status_code == 200, resp.text
            return dict(resp.json())

    async def fault(self, mode: str, **body: Any) -> None:
        await self._post("/__sandbox/faults", {"mode": mode, **body})

    async def reset(self) -> None:
        await self._post("/__sandbox/reset", {})

    async def calls(self) -> dict[str, int]:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as http:
            resp = await http.get("/__sandbox/stats")
            return dict(resp.json()["calls"])


@pytest_asyncio.fixture(scope="session")
async def whmcs_sandbox() -> AsyncIterator[RunningWhmcs]:
    running = await start_whmcs(port=0, webhook_url="")
    yield running
    await running.stop()


@pytest_asyncio.fixture(scope="session")
async def sf_sandbox() -> AsyncIterator[RunningSalesforce]:
    running = await start_salesforce(batch_size=3, keepalive_s=0.3)
    yield running
    await running.stop()


@pytest_asyncio.fixture(scope="session")
async def freebit_sandbox() -> AsyncIterator[RunningFreebit]:
    running = await start_freebit(port=0, activation_delay=0.2, cancel_delay=0.2)
    yield running
    await running.stop()


@pytest_asyncio.fixture
async def whmcs_control(whmcs_sandbox: RunningWhmcs) -> Control:
    control = Control(whmcs_sandbox.url)
    await control.reset()
    return control


@pytest_asyncio.fixture
async def whmcs(whmcs_sandbox: RunningWhmcs, whmcs_control: Control) -> AsyncIterator[WhmcsClient]:
    client = WhmcsClient(WhmcsConfig(url=whmcs_sandbox.url, timeout_s=1.0, policy=FAST))
    yield client
    await client.aclose()


@pytest.fixture
def fast_policy() -> Policy:
    return FAST


@pytest_asyncio.fixture
async def sf_control(sf_sandbox: RunningSalesforce) -> Control:
    control = Control(sf_sandbox.rest_url)
    await control.reset()
    return control


def sf_config(sandbox: RunningSalesforce, **overrides: Any) -> SalesforceConfig:
    args: dict[str, Any] = dict(
        url=sandbox.rest_url, timeout_s=1.0, connect_timeout_s=1.0, policy=FAST, max_workers=4
    )
    args.update(overrides)
    return SalesforceConfig(**args)


@pytest_asyncio.fixture
async def sf(sf_sandbox: RunningSalesforce, sf_control: Control) -> AsyncIterator[SalesforceClient]:
    client = SalesforceClient(sf_config(sf_sandbox))
    yield client
    await client.aclose()


@pytest_asyncio.fixture
async def freebit_control(freebit_sandbox: RunningFreebit) -> Control:
    control = Control(freebit_sandbox.url)
    await control.reset()
    return control


@pytest_asyncio.fixture
async def freebit(
    freebit_sandbox: RunningFreebit, freebit_control: Control
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
