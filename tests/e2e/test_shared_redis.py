"""Two whole stacks on one Redis (``make run`` and ``make test`` on one laptop): the session's stack
and a second one started beside it, each with its own cache namespace. Neither reads the other's
values nor drops them: the shared catalog and a user family (invoices), in both directions.

The catalog differs on purpose: the second stack's Salesforce sandbox has another price for one
product. Invalidations are made as the services make them, through the cache library on the same
Redis in the stack's namespace (what a CDC gap or a webhook does), and every "was it a hit"
question is answered by the stack's own sandbox counters.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.common.cache import SHARED_CATALOG, Cache, policy
from services.common.clients import SalesforceClient, SalesforceConfig
from tests.helpers.accounts import HANAKO, auth_headers
from tests.helpers.logbook import LogBook
from tests.helpers.stacks import running_stack
from tools import infra
from tools.stack import Stack

pytestmark = pytest.mark.e2e

SKU = "INTERNET-GOLD-HOME-1G"
OTHER_PRICE = 7777.0


@dataclass
class Side:
    """One stack as a customer and its staff see it."""

    stack: Stack
    gateway: httpx.AsyncClient
    headers: dict[str, str]

    @property
    def namespace(self) -> str:
        return self.stack.config.cache_namespace

    async def calls(self, system: str, name: str) -> int:
        url = f"http://127.0.0.1:{getattr(self.stack.config.ports, system)}/__sandbox/stats"
        async with httpx.AsyncClient(timeout=5) as http:
            return int((await http.get(url)).json()["calls"].get(name, 0))

    async def catalog_queries(self) -> int:
        return await self.calls("salesforce", "query:PricebookEntry")

    async def invoice_loads(self) -> int:
        return await self.calls("whmcs", "GetInvoices")

    async def price(self) -> str:
        response = await self.gateway.get("/v1/catalog/products", headers=self.headers)
        assert response.status_code == 200, response.text
        return next(p["unitPrice"] for p in response.json()["products"] if p["sku"] == SKU)

    async def invoices(self) -> object:
        response = await self.gateway.get("/v1/invoices", headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def invalidate(self, action: Callable[[Cache], Awaitable[bool]]) -> None:
        """Drop cache entries in this stack's namespace, as its services would."""
        _, redis_url = infra.urls_from_env()
        cache = Cache.from_url(redis_url, service="test", namespace=self.namespace, timeout=2.0)
        try:
            assert await action(cache)
        finally:
            await cache.aclose()


@pytest.fixture(scope="module")
async def here(stack: Stack, gateway: httpx.AsyncClient) -> Side:
    return Side(stack, gateway, await auth_headers(gateway, "/v1/auth/link", HANAKO))


@pytest.fixture(scope="module")
async def there(tmp_path_factory: pytest.TempPathFactory, here: Side) -> AsyncIterator[Side]:
    """A second stack on the same Redis, started while the session's stack runs; its catalog
    has another price for ``SKU`` before anything reads it."""
    run_dir: Path = tmp_path_factory.mktemp("run-second")
    async with (
        running_stack(run_dir, LogBook(), prefix="portal_e2e_two") as second,
        httpx.AsyncClient(base_url=second.config.gateway_url, timeout=10) as gateway,
    ):
        assert second.config.redis_url == here.stack.config.redis_url
        assert second.config.cache_namespace != here.namespace
        sf = SalesforceClient(
            SalesforceConfig(url=f"http://127.0.0.1:{second.config.ports.salesforce}")
        )
        try:
            rows = await sf.query(
                "SELECT Id FROM PricebookEntry WHERE Pricebook2.Name = 'Portal Pricebook' "
                f"AND Product2.StockKeepingUnit = '{SKU}'"
            )
            await sf.update("PricebookEntry", rows[0]["Id"], {"UnitPrice": OTHER_PRICE})
        finally:
            await sf.aclose()
        yield Side(second, gateway, await auth_headers(gateway, "/v1/auth/link", HANAKO))


async def eventually(read: Callable[[], Awaitable[str]], want: str, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while (got := await read()) != want:
        assert time.monotonic() < deadline, f"still {got!r}, want {want!r}"
        await asyncio.sleep(0.1)


async def test_each_stack_serves_its_own_catalog(here: Side, there: Side) -> None:
    original = await here.price()
    assert original != f"{OTHER_PRICE:.2f}"
    # the second stack's own price (its CDC event may still be on the way: wait for it)
    await eventually(there.price, f"{OTHER_PRICE:.2f}")
    queries = await here.catalog_queries()
    assert await here.price() == original  # not the other stack's value...
    assert await here.catalog_queries() == queries  # ...and its own was not dropped by it
    assert await there.price() == f"{OTHER_PRICE:.2f}"


async def test_catalog_invalidations_stay_in_their_namespace(here: Side, there: Side) -> None:
    await here.price(), await there.price()  # both warm
    here_q, there_q = await here.catalog_queries(), await there.catalog_queries()
    await there.invalidate(lambda c: c.invalidate(SHARED_CATALOG, policy.CATALOG))
    await here.price(), await there.price()
    assert (await here.catalog_queries(), await there.catalog_queries()) == (here_q, there_q + 1)
    await here.invalidate(lambda c: c.invalidate_all(policy.CATALOG))
    await here.price(), await there.price()
    assert (await here.catalog_queries(), await there.catalog_queries()) == (
        here_q + 1,
        there_q + 1,
    )


async def test_user_family_invalidations_stay_in_their_namespace(here: Side, there: Side) -> None:
    await here.invoices(), await there.invoices()  # both warm
    here_n, there_n = await here.invoice_loads(), await there.invoice_loads()
    assert await here.invoices() and await there.invoices()
    assert (await here.invoice_loads(), await there.invoice_loads()) == (here_n, there_n)
    # every user's invoices dropped in the second stack (a WHMCS webhook storm, a CDC gap)
    await there.invalidate(lambda c: c.invalidate_all(policy.INVOICES))
    await here.invoices(), await there.invoices()
    assert (await here.invoice_loads(), await there.invoice_loads()) == (here_n, there_n + 1)
    # and the other way round
    await here.invalidate(lambda c: c.invalidate_all(policy.INVOICES))
    await here.invoices(), await there.invoices()
    assert (await here.invoice_loads(), await there.invoice_loads()) == (here_n + 1, there_n + 1)
