"""Fulfillment's handler on commerce's CDC dispatcher (``/data/OrderChangeEvent``).

The commerce process holds one stream per topic (``services.commerce.cdc.Consumer``); this
handler turns each batch of ``Order`` events into committed state-machine rows
(``intake.on_events``: every id of a merged event, every merged gap; the approvals' rows in one
statement) and hands the orders to the workers (``Fulfillment.hand``: a Postgres notification
wakes every replica's worker, and one of them claims each row). The consumer stores the batch's
replay id only after this returns, so an order is never lost between the event and its row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import structlog

from services.commerce.fulfillment import intake
from services.commerce.fulfillment.deps import Deps
from services.common.clients import ChangeEvent

log = structlog.get_logger("fulfillment")
Hand = Callable[[list[str]], Awaitable[None]]


class FulfillmentIntake:
    def __init__(self, deps: Deps, hand: Hand) -> None:
        self._deps, self._hand = deps, hand

    async def handle(self, event: ChangeEvent) -> None:
        await self.handle_batch([event])

    async def handle_batch(self, events: Sequence[ChangeEvent]) -> None:
        """The batch's rows committed together (``intake.on_events``), then one hand-over."""
        orders: list[str] = []
        await intake.on_events(self._deps, events, orders.append)
        await self._hand(orders)

    async def reset(self, entity: str) -> None:
        log.warning("fulfillment_replay_lost", entity=entity)
        await self._reconcile()

    async def fresh_start(self, entity: str) -> None:
        await self._reconcile()

    async def _reconcile(self) -> None:
        """Approved orders no event brought; an outage is left to the periodic sweep."""
        await self._hand(await intake.reconciled(self._deps))
