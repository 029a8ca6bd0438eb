"""WatchOrders: the caller's changed orders as they happen, heartbeats, and the end at token expiry.

A caller without a Salesforce account gets NOT_FOUND at once (nothing can ever change). The
stream opens with a heartbeat (so a client and any proxy see it is live), then sends the
current order each time the CDC consumer reports a change of one of the caller's orders (read
through the orders cache, which the consumer invalidated first), skipping a change that leaves
the order as last sent (e.g. Salesforce's TotalAmount roll-up UPDATE), and a heartbeat after
``heartbeat_s`` of silence. It ends normally when the access token expires: the client reconnects
with a fresh token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import structlog
from portal.commerce.v1 import orders_pb2

from services.commerce.orders import Orders
from services.commerce.peers import Directory
from services.commerce.watch import WatchHub
from services.common.errors import NotFound, PortalError

log = structlog.get_logger("watch")
HEARTBEAT = orders_pb2.WatchOrdersResponse(heartbeat=True)


@dataclass(frozen=True)
class OrderWatch:
    hub: WatchHub
    orders: Orders
    directory: Directory
    heartbeat_s: float

    async def stream(
        self, user_id: str, expires_at: float
    ) -> AsyncIterator[orders_pb2.WatchOrdersResponse]:
        if await self.directory.sf_account_of(user_id) is None:
            raise NotFound("There are no orders to watch.")  # before the stream starts
        sent: dict[str, bytes] = {}
        async with self.hub.watch(user_id) as changes:
            yield HEARTBEAT
            while (left := expires_at - time.time()) > 0:
                try:
                    order_id = await asyncio.wait_for(changes.get(), min(self.heartbeat_s, left))
                except TimeoutError:
                    if expires_at - time.time() > 0:
                        yield HEARTBEAT
                    continue
                order = await self._current(user_id, order_id)
                if order is None or sent.get(order_id) == (raw := order.SerializeToString()):
                    continue
                sent[order_id] = raw
                yield orders_pb2.WatchOrdersResponse(order=order)
        log.info("watch_ended", reason="token_expired")

    async def _current(self, user_id: str, order_id: str) -> orders_pb2.Order | None:
        try:
            return await self.orders.get(user_id, order_id)
        except PortalError as exc:  # gone, or Salesforce down: the next change comes anyway
            log.warning("watch_order_unreadable", error=exc.reason)
            return None
