"""``GET /v1/orders:events``: the caller's order changes as Server-Sent Events for ``EventSource``.

The stream starts with a ``retry:`` hint and a comment line; then each change of one of the
caller's orders is one event, ``id: <log entry id>`` and ``data: <the order now, as JSON>``
(the default ``message`` event, so ``onmessage`` receives orders only); a comment line
(``: heartbeat``) keeps an idle connection alive without firing any handler. A client that
reconnects with ``Last-Event-ID`` first gets every change after that id (each order once, as it
is now), then the live ones. The stream ends when its ticket expires.

Subscribing to the live wake-ups comes before reading the log position, so a change that lands
in between is read from the log rather than lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import structlog
from google.protobuf import json_format
from portal.commerce.v1 import orders_pb2

from services.commerce.order_event_log import checked_event_id
from services.commerce.orders import Orders
from services.commerce.watch import WatchHub
from services.commerce.watch_stream import current_order
from services.commerce.watch_tickets import Ticket
from services.common.directory import Directory
from services.common.errors import NotFound

log = structlog.get_logger("watch")
RETRY_MS = 2000
HEARTBEAT = b": heartbeat\n\n"
CONTENT_TYPE = "text/event-stream"


def order_frame(event_id: str, order: orders_pb2.Order) -> bytes:
    data = json_format.MessageToJson(order, indent=None, always_print_fields_with_no_presence=True)
    return f"id: {event_id}\ndata: {data}\n\n".encode()


@dataclass(frozen=True)
class OrderEvents:
    hub: WatchHub
    orders: Orders
    directory: Directory
    heartbeat_s: float

    async def frames(self, ticket: Ticket, last_event_id: str) -> AsyncIterator[bytes]:
        user = ticket.user_id
        resume_from = checked_event_id(last_event_id) if last_event_id else ""
        if await self.directory.sf_account_of(user) is None:
            raise NotFound("There are no orders to watch.")  # before the stream starts
        sent: dict[str, bytes] = {}
        async with self.hub.watch(user) as wakeups:
            cursor = resume_from or await self.hub.events.latest(user)
            yield f"retry: {RETRY_MS}\n: connected\n\n".encode()
            while True:
                for event_id, order in await self._changes(user, cursor):
                    cursor = event_id
                    raw = order.SerializeToString()
                    if sent.get(order.id) != raw:
                        sent[order.id] = raw
                        yield order_frame(event_id, order)
                left = ticket.expires_at - time.time()
                if left <= 0:
                    break
                try:
                    await asyncio.wait_for(wakeups.get(), min(self.heartbeat_s, left))
                except TimeoutError:
                    if ticket.expires_at > time.time():
                        yield HEARTBEAT
        log.info("order_events_ended", reason="ticket_expired")

    async def _changes(self, user: str, cursor: str) -> list[tuple[str, orders_pb2.Order]]:
        """Each order changed after ``cursor`` once, at its newest event id, oldest first."""
        newest: dict[str, str] = {}
        for event_id, order_id in await self.hub.events.after(user, cursor):
            newest.pop(order_id, None)
            newest[order_id] = event_id
        out = []
        for order_id, event_id in newest.items():
            order = await current_order(self.orders, user, order_id)
            if order is not None:
                out.append((event_id, order))
        return out
