"""Checkout's own new order written onto the customer's cached orders instead of dropping them.

The orders list is ``CreatedDate DESC, Id DESC`` pages by offset, never filtered
(``queries.orders_page_query``). A new order therefore changes the first page and shifts every
later one. Checkout, which reads the order back once Salesforce created it, edits the cached
first pages itself; the Order and OrderItem CREATE events of that order then leave the pages
alone (``cdc/invalidation.py``). The protocol, per user (``UserScope``):

1. Before the create, ``begin``: a hold on ``orders.list`` (``Cache.hold``, ``HOLD_S``) named
   by the request key, noted as ``request:<key>``. While the hold lives no cached page (a fill
   included) outlives it, so if checkout dies before its edit, a page that misses the order
   expires within ``HOLD_S``.
2. Once Salesforce answered the create, ``created`` notes ``order:<id>`` (the OrderItem events
   name the order, not the request key) and holds the pages ``HOLD_S`` more: a page whose
   loader read Salesforce before the commit is stored by then (a page load ends within the
   gateway's 30 s request timeout), so it cannot outlive the hold either.
3. The read-back fills the single order like a first read (``Cache.get_or_load``: the
   generations are read before Salesforce is, so an event handled in between stores nothing).
4. ``place`` edits every cached page in one compare-and-set (``Cache.patch``), releasing the
   hold in the same script (the pages get their whole TTL back when no other checkout of the
   user holds them): the order goes to its place on a page at offset 0 (the last order of a
   full page moves out, and the page gets a next-page token if it had none); a page at a later
   offset is dropped (its boundaries shift); a page that already shows the order is kept; a page
   with an order created in the same instant is dropped (the tie is broken by ``Id`` in
   Salesforce's collation).
5. Any failure after the hold (the create failing or timing out, the read-back failing, Redis
   trouble) drops the user's pages and forgets the notes (``abandon``), so the order's events
   drop them too.

The CDC handler leaves the pages alone for an Order CREATE whose ``request:`` or ``order:`` note
it finds and for an OrderItem CREATE of a noted order; anything else drops them as before. An
Order UPDATE of a noted order is applied in place like any other: if checkout has not placed the
order yet, no page shows it and the pages are dropped (``OrderPatch.missing``), so an update
read before the read-back is never lost; if it has, the versions decide (``cdc/order_patch.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from portal.commerce.v1 import order_records_pb2

from services.commerce.orders import Orders
from services.common.cache import DROP, Cache, Edit, UserScope, Variant, policy
from services.common.errors import UpstreamUnavailable

HOLD_S = 30.0
"""How long a checkout may take from the create to its edit, and how long a page may miss an
order if the checkout dies in between; at least as long as a page load may take (the gateway's
request timeout)."""

Page = order_records_pb2.OrdersPageRecord
Record = order_records_pb2.OrderRecord


def request_token(key: str) -> str:
    return f"request:{key}"


def order_token(order_id: str) -> str:
    return f"order:{order_id}"


def transaction_token(transaction_key: str) -> str:
    """A transaction that created a noted order (the CDC handler notes it for the UPDATEs of the
    same transaction still to come, such as the ``TotalAmount`` roll-up)."""
    return f"tx:{transaction_key}"


def _rank(record: Record) -> tuple[int, int, str]:
    created = record.order.created_at
    return created.seconds, created.nanos, record.order.id


def place_on_page(
    page: Page, record: Record, next_token: Callable[[int, int], str]
) -> Page | Literal[Edit.DROP] | None:
    """``page`` with ``record`` at its place, None if the page is right as it is, ``DROP`` if it
    cannot be edited correctly (see the module). ``next_token(offset, size)``: the token of the
    page after a full one."""
    if any(r.order.id == record.order.id for r in page.orders):
        return None
    if page.offset != 0 or page.size <= 0:
        return DROP
    rank = _rank(record)
    if any(_rank(r)[:2] == rank[:2] for r in page.orders):
        return DROP
    position = next((i for i, r in enumerate(page.orders) if rank > _rank(r)), len(page.orders))
    if position >= page.size:  # it goes on a later page: this one only gains a next page
        if page.next_page_token:
            return None
        page.next_page_token = next_token(page.offset, page.size)
        return page
    page.orders.insert(position, record)
    if len(page.orders) > page.size:
        del page.orders[page.size :]
        if not page.next_page_token:
            page.next_page_token = next_token(page.offset, page.size)
    return page


@dataclass(frozen=True)
class OrderPlacement:
    cache: Cache
    orders: Orders

    async def begin(self, user_id: str, key: str) -> None:
        """Hold the user's pages for a creation with request key ``key`` (best effort: without
        the hold the creation's events drop the pages)."""
        await self.cache.hold(
            policy.ORDERS_LIST, UserScope(user_id), Page, request_token(key), HOLD_S
        )

    async def created(self, user_id: str, key: str, order_id: str) -> None:
        """Note the created order and hold the pages ``HOLD_S`` more from the commit, so a page
        filled from a read made before the commit expires by then if checkout dies."""
        await self.cache.hold(
            policy.ORDERS_LIST,
            UserScope(user_id),
            Page,
            request_token(key),
            HOLD_S,
            notes=(order_token(order_id),),
        )

    async def read_back(self, user_id: str, account_id: str, order_id: str) -> Record:
        """The order as Salesforce has it, filling the user's cached copy of it."""

        async def load() -> Record:
            record = await self.orders.fresh(account_id, order_id)
            if record is None:  # created a moment ago: gone only if deleted in between
                raise UpstreamUnavailable()
            return record

        return await self.cache.get_or_load(
            policy.ORDER_DETAIL,
            UserScope(user_id),
            load,
            Record,
            variant=Variant.of(order=order_id),
        )

    async def place(self, user_id: str, key: str, record: Record) -> bool:
        """Put ``record`` on the user's cached pages and release the hold of ``key`` ("": none);
        False when the pages were dropped instead."""

        def next_token(offset: int, size: int) -> str:
            return self.orders.next_token(user_id, offset, size, True)

        return await self.cache.patch(
            policy.ORDERS_LIST,
            UserScope(user_id),
            Page,
            lambda page: place_on_page(page, record, next_token),
            release=request_token(key) if key else "",
        )

    async def abandon(self, user_id: str, key: str, order_id: str = "") -> None:
        """Drop the user's pages and forget the creation's notes and hold."""
        scope = UserScope(user_id)
        await self.cache.invalidate(scope, policy.ORDERS)
        forget = [request_token(key), *([order_token(order_id)] if order_id else [])]
        await self.cache.release(policy.ORDERS_LIST, scope, request_token(key), forget=forget)
