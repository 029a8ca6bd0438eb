"""Fulfillment's handler on commerce's CDC dispatcher (``/data/OrderChangeEvent``).

The commerce process holds one stream per topic (``services.commerce.cdc.Consumer``); this
handler turns each ``Order`` event into committed state-machine rows (``intake.on_event``: every
id of a merged event, every merged gap) and hands the orders to the workers (``Fulfillment.hand``:
a Postgres notification wakes every replica's worker, and one of them claims each row). The
consumer stores the event's replay id only after this returns, so an order is never lost between
the event and its row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from services.commerce.fulfillment import intake
from services.commerce.fulfillment.deps import Deps
from services.common.clients import ChangeEvent
from services.common.errors import UpstreamUnavailable

log = structlog.get_logger("fulfillment")
Hand = Callable[[list[str]], Awaitable[None]]


class FulfillmentIntake:
    def __init__(self, deps: Deps, hand: Hand) -> None:
        self._deps, self._hand = deps, hand

    async def handle(self, event: ChangeEvent) -> None:
        orders: list[str] = []
        await intake.on_event(self._deps, event, orders.append)
        await self._hand(orders)

    async def reset(self, entity: str) -> None:
        log.warning("fulfillment_replay_lost", entity=entity)
        await self._reconcile()

    async def fresh_start(self, entity: str) -> None:
        await self._reconcile()

    async def _reconcile(self) -> None:
        """Approved orders no event brought; an outage is left to the periodic sweep."""
        orders: list[str] = []
        try:
            await intake.reconcile(self._deps, orders.append)
        except UpstreamUnavailable:
            log.warning("fulfillment_reconcile_unavailable")
        await self._hand(orders)
