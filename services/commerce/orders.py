"""The caller's orders, read from Salesforce and cached per user (``policy.ORDERS``).

Every read is filtered to the caller's account in the SOQL itself, so another account's order is
NOT_FOUND exactly like a missing one (and a malformed id never reaches Salesforce). The cache is
event-driven: the CDC consumer edits the user's cached orders in place on an Order UPDATE it can
apply, drops the families on any other Order/OrderItem change (``cdc/order_patch.py``), and
checkout places the order it created on the user's cached pages (``order_placement.py``; the
pages are dropped when it cannot). A cached page records its offset and size, which that edit
needs. The cache holds ``OrderRecord``s: the order and
its LastModifiedDate, the version an event is compared with. Orders read are remembered with
their account (``commerce.orders``), so the consumer can resolve an UPDATE event without calling
Salesforce.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.commerce.v1 import order_records_pb2, orders_pb2

from services.commerce.mapping import order_item_from_record, order_record_from_record
from services.commerce.order_accounts import OrderAccounts
from services.commerce.queries import order_items_query, order_query, orders_page_query
from services.common import pages
from services.common.cache import Cache, UserScope, Variant, policy
from services.common.clients.salesforce import SalesforceClient
from services.common.directory import Directory
from services.common.errors import NotFound
from services.common.pages import PageTokens
from services.common.salesforce_ids import is_salesforce_id

# Salesforce's OFFSET stops at 2,000.


@dataclass(frozen=True)
class Orders:
    salesforce: SalesforceClient
    cache: Cache
    directory: Directory
    accounts: OrderAccounts
    # Bound to the caller's user id (pages are cached per user too).
    tokens: PageTokens

    async def page(
        self, user_id: str, page_size: int, page_token: str
    ) -> orders_pb2.ListOrdersResponse:
        size = pages.page_size(page_size)
        offset = self.tokens.decode(page_token, "orders", user_id)
        page = await self.cache.get_or_load(
            policy.ORDERS_LIST,
            UserScope(user_id),
            lambda: self._load_page(user_id, size, offset),
            order_records_pb2.OrdersPageRecord,
            variant=Variant.of(size=size, offset=offset),
        )
        return orders_pb2.ListOrdersResponse(
            orders=[r.order for r in page.orders], next_page_token=page.next_page_token
        )

    async def get(self, user_id: str, order_id: str) -> orders_pb2.Order:
        if not is_salesforce_id(order_id, "801"):
            raise NotFound("Order not found.")
        record = await self.cache.get_or_load(
            policy.ORDER_DETAIL,
            UserScope(user_id),
            lambda: self._load_one(user_id, order_id),
            order_records_pb2.OrderRecord,
            variant=Variant.of(order=order_id),
        )
        return record.order

    async def fresh(self, account_id: str, order_id: str) -> order_records_pb2.OrderRecord | None:
        """One order straight from Salesforce (after checkout), None if absent."""
        orders = await self._read(order_query(account_id, order_id), account_id)
        return orders[0] if orders else None

    async def _load_page(
        self, user_id: str, size: int, offset: int
    ) -> order_records_pb2.OrdersPageRecord:
        account_id = await self.directory.sf_account_of(user_id)
        if account_id is None:
            return order_records_pb2.OrdersPageRecord(offset=offset, size=size)
        orders = await self._read(orders_page_query(account_id, size + 1, offset), account_id)
        more = len(orders) > size
        after = self.next_token(user_id, offset, size, more)
        return order_records_pb2.OrdersPageRecord(
            orders=orders[:size], next_page_token=after, offset=offset, size=size
        )

    def next_token(self, user_id: str, offset: int, size: int, more: bool) -> str:
        """The token of the page after the one at ``offset`` (``""``: none)."""
        return self.tokens.after(offset, size, more, "orders", user_id)

    async def _load_one(self, user_id: str, order_id: str) -> order_records_pb2.OrderRecord:
        account_id = await self.directory.sf_account_of(user_id)
        if account_id is None:
            raise NotFound("Order not found.")
        orders = await self._read(order_query(account_id, order_id), account_id)
        if not orders:
            raise NotFound("Order not found.")
        return orders[0]

    async def _read(self, query: str, account_id: str) -> list[order_records_pb2.OrderRecord]:
        records = await self.salesforce.query(query)
        if not records:
            return []
        ids = [str(r["Id"]) for r in records]
        items: dict[str, list[orders_pb2.OrderItem]] = {i: [] for i in ids}
        for row in await self.salesforce.query(order_items_query(ids)):
            items[str(row["OrderId"])].append(order_item_from_record(row))
        await self.accounts.remember((i, account_id) for i in ids)
        return [order_record_from_record(r, items[str(r["Id"])]) for r in records]
