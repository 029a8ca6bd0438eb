"""The commerce process's background work: the CDC consumer with the invalidation handlers."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from services.commerce.cdc import Consumer, Dispatcher
from services.commerce.cdc.invalidation import (
    CatalogInvalidator,
    EligibilityInvalidator,
    OrderInvalidator,
    OrderNotifier,
)
from services.commerce.order_accounts import OrderAccounts
from services.common.cache import Cache
from services.common.directory import Directory


def invalidation_dispatcher(
    cache: Cache, directory: Directory, accounts: OrderAccounts, notify: OrderNotifier
) -> Dispatcher:
    """A dispatcher with the cache handlers; fulfillment subscribes its own ``Order`` handler."""
    dispatcher = Dispatcher()
    catalog = CatalogInvalidator(cache)
    orders = OrderInvalidator(cache, directory, accounts, notify)
    dispatcher.subscribe("Product2", catalog)
    dispatcher.subscribe("PricebookEntry", catalog)
    dispatcher.subscribe("Account", EligibilityInvalidator(cache, directory))
    dispatcher.subscribe("Order", orders)
    dispatcher.subscribe("OrderItem", orders)
    return dispatcher


@dataclass
class Background:
    consumer: Consumer
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.consumer.run(), name="cdc-consumer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
