"""WatchOrders: the caller's changed orders as they happen, heartbeats, and the end at token expiry.

A caller without a Salesforce account gets NOT_FOUND at once (nothing can ever change). The
stream opens with a heartbeat (so a client and any proxy see it is live), then sends the
current order each time the CDC consumer reports a change of one of the caller's orders (read
through the orders cache, which the consumer invalidated first), skipping a change that leaves
the order as last sent (e.g. Salesforce's TotalAmount roll-up UPDATE), and a heartbeat after
``heartbeat_s`` of silence. A mobile line's status change (``sim:<msisdn>`` from SIM
self-service) is sent as the line; so is the line an order provisioned when that order arrives
ACTIVATED. It ends normally when the access token expires: the client reconnects
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
from services.commerce.sims.lines import SimLines
from services.commerce.watch import LINE_PREFIX, WatchHub
from services.common.directory import Directory
from services.common.errors import NotFound, PortalError

log = structlog.get_logger("watch")
HEARTBEAT = orders_pb2.WatchOrdersResponse(heartbeat=True)


@dataclass(frozen=True)
class OrderWatch:
    hub: WatchHub
    orders: Orders
    directory: Directory
    heartbeat_s: float
    sims: SimLines | None = None

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
                for response in await self._changes(user_id, order_id, sent):
                    yield response
        log.info("watch_ended", reason="token_expired")

    async def _changes(
        self, user_id: str, changed: str, sent: dict[str, bytes]
    ) -> list[orders_pb2.WatchOrdersResponse]:
        """What to send for one published change, skipping what is unchanged since last sent."""
        out: list[orders_pb2.WatchOrdersResponse] = []
        if changed.startswith(LINE_PREFIX):
            sims = await self._line(user_id, changed.removeprefix(LINE_PREFIX))
        else:
            order = await current_order(self.orders, user_id, changed)
            if order is None or not _new(sent, changed, order.SerializeToString()):
                return out
            out.append(orders_pb2.WatchOrdersResponse(order=order))
            activated = order.activation_status == orders_pb2.ACTIVATION_STATUS_ACTIVATED
            sims = await self._lines_of(user_id, changed) if activated else []
        for sim in sims:
            if _new(sent, LINE_PREFIX + sim.msisdn, sim.SerializeToString()):
                out.append(orders_pb2.WatchOrdersResponse(sim=sim))
        return out

    async def _line(self, user_id: str, msisdn: str) -> list[orders_pb2.Sim]:
        if self.sims is None:
            return []
        try:
            return [await self.sims.current(await self.sims.owned(user_id, msisdn))]
        except PortalError as exc:
            log.warning("watch_line_unreadable", error=exc.reason)
            return []

    async def _lines_of(self, user_id: str, order_id: str) -> list[orders_pb2.Sim]:
        if self.sims is None:
            return []
        try:
            return await self.sims.of_order(user_id, order_id)
        except PortalError as exc:
            log.warning("watch_line_unreadable", error=exc.reason)
            return []


async def current_order(orders: Orders, user_id: str, order_id: str) -> orders_pb2.Order | None:
    """The order as it is now for a live stream, None when it cannot be read (gone, or Salesforce
    down: the next change comes anyway)."""
    try:
        return await orders.get(user_id, order_id)
    except PortalError as exc:
        log.warning("watch_order_unreadable", error=exc.reason)
        return None


def _new(sent: dict[str, bytes], key: str, raw: bytes) -> bool:
    if sent.get(key) == raw:
        return False
    sent[key] = raw
    return True
