"""What the fulfillment steps work with (passed in, never module globals)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg

from services.commerce.fulfillment.settings import FulfillmentSettings
from services.commerce.fulfillment.sfbatch import SalesforceOrders
from services.common.clients import FreebitClient, SalesforceClient, WhmcsClient
from services.common.directory import Directory

# Called with (step, sf_order_id) at every step boundary and right after AddOrder answered.
# Production passes None; tests raise from it to simulate a crash at that point.
StepHook = Callable[[str, str], Awaitable[None]]
# Called with the order id after each fulfillment write to Salesforce (cache invalidation etc.).
OrderChanged = Callable[[str], Awaitable[None]]


async def _nothing(_order_id: str) -> None:
    return None


@dataclass(frozen=True)
class Deps:
    settings: FulfillmentSettings
    pool: asyncpg.Pool
    salesforce: SalesforceClient
    whmcs: WhmcsClient
    freebit: FreebitClient
    directory: Directory
    step_hook: StepHook | None = None
    order_changed: OrderChanged = _nothing
    # The worker's claim id (``repo.claim``): AddOrder is placed only while its lease on the row
    # is live. None (steps run outside a claiming worker, e.g. in tests): no such check.
    claimant: str | None = None
    # The orders' Salesforce reads and writes, shared by the orders in flight (sfbatch).
    orders: SalesforceOrders = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "orders",
            SalesforceOrders(self.salesforce, window_s=self.settings.salesforce_batch_window_s),
        )

    async def at(self, step: str, order_id: str) -> None:
        if self.step_hook is not None:
            await self.step_hook(step, order_id)
