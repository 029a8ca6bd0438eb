"""The cache-invalidation handlers: catalog, eligibility and orders (``docs/cache.md``).

- Product2 / PricebookEntry, any change: the shared catalog family.
- Account: a change of ``Portal_Eligible_Categories__c`` (or a create/delete/undelete) drops the
  eligibility family of every portal user mapped to that account (identity's directory).
- Order / OrderItem: drops the order pages of the users of the order's account (and their single
  orders, unless the event creates the order: an order that did not exist has no cached copy)
  and tells their live watchers (``OrderNotifier``). An UPDATE that only touches
  fulfillment-internal fields (``IGNORED_ORDER_FIELDS``: the WHMCS order id, the MSISDN, audit
  stamps) changes nothing the portal shows and is skipped.
- ``GAP_*`` events and a lost replay position drop the family for every user.

If the users cannot be resolved (Salesforce or identity down), the family is dropped for every
user instead: a few extra cache misses rather than a stale order or a stuck stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import structlog

from services.commerce.order_accounts import OrderAccounts
from services.common.cache import SHARED_CATALOG, Cache, Family, UserScope, policy
from services.common.clients.cdc import ChangeEvent
from services.common.directory import Directory
from services.common.errors import PortalError

log = structlog.get_logger("cdc")

AUDIT_FIELDS = frozenset({"LastModifiedDate", "LastModifiedById", "SystemModstamp"})
IGNORED_ORDER_FIELDS = AUDIT_FIELDS | {"WHMCS_Order_ID__c", "SIM_Account__c"}
IGNORED_ORDER_ITEM_FIELDS = AUDIT_FIELDS | {"WHMCS_Service_ID__c"}
ELIGIBILITY_FIELD = "Portal_Eligible_Categories__c"


def only_touches(event: ChangeEvent, ignored: frozenset[str]) -> bool:
    """An UPDATE whose changed fields are all in ``ignored``."""
    changed = {name.split(".", 1)[0] for name in event.changed_fields}
    return event.change_type == "UPDATE" and bool(changed) and changed <= ignored


class OrderNotifier(Protocol):
    async def order_changed(self, user_id: str, order_id: str) -> None: ...


class CatalogInvalidator:
    def __init__(self, cache: Cache) -> None:
        self._cache = cache

    async def handle(self, event: ChangeEvent) -> None:
        await self._cache.invalidate(SHARED_CATALOG, policy.CATALOG)
        log.info("catalog_invalidated", entity=event.entity, change=event.change_type)

    async def reset(self, entity: str) -> None:
        await self._cache.invalidate(SHARED_CATALOG, policy.CATALOG)

    async def fresh_start(self, entity: str) -> None:
        return None  # entries cached before the stream expire by their TTL


class _PerUser:
    family: Family[UserScope]
    more: tuple[Family[UserScope], ...] = ()
    """Families dropped along with ``family`` on a reset (every user)."""

    def __init__(self, cache: Cache, directory: Directory) -> None:
        self._cache, self._directory = cache, directory

    async def reset(self, entity: str) -> None:
        for family in (self.family, *self.more):
            await self._cache.invalidate_all(family)
            log.info("family_dropped_for_everyone", family=family.name, entity=entity)

    async def fresh_start(self, entity: str) -> None:
        return None  # entries cached before the stream expire by their TTL

    async def _drop_users(
        self, account_ids: Sequence[str], more: tuple[Family[UserScope], ...] = ()
    ) -> list[str]:
        users = [u for a in account_ids for u in await self._directory.users_of_sf_account(a)]
        for user in users:
            await self._cache.invalidate(UserScope(user), self.family, *more)
        return users


class EligibilityInvalidator(_PerUser):
    family = policy.ELIGIBILITY

    async def handle(self, event: ChangeEvent) -> None:
        if event.is_gap:
            return await self.reset(event.entity)
        if event.change_type == "UPDATE" and ELIGIBILITY_FIELD not in event.changed_fields:
            return None
        try:
            users = await self._drop_users(event.record_ids)
        except PortalError:
            return await self.reset(event.entity)
        log.info("eligibility_invalidated", accounts=len(event.record_ids), users=len(users))
        return None


class OrderInvalidator(_PerUser):
    family = policy.ORDERS
    more = (policy.ORDER_DETAILS,)

    def __init__(
        self, cache: Cache, directory: Directory, accounts: OrderAccounts, notify: OrderNotifier
    ) -> None:
        super().__init__(cache, directory)
        self._accounts, self._notify = accounts, notify

    async def handle(self, event: ChangeEvent) -> None:
        if event.is_gap:
            return await self.reset(event.entity)
        ignored = IGNORED_ORDER_FIELDS if event.entity == "Order" else IGNORED_ORDER_ITEM_FIELDS
        if only_touches(event, ignored):
            return None
        # A new order changes the pages only; a change of an order or of any of its items (items
        # of a new order may arrive after a watcher read the order) changes the order too.
        new_order = event.entity == "Order" and event.change_type == "CREATE"
        more = () if new_order else self.more
        try:
            owners = await self._owners(event)
            for order_id, account_id in owners.items():
                for user in await self._drop_users([account_id], more):
                    await self._notify.order_changed(user, order_id)
        except PortalError:
            return await self.reset(event.entity)
        log.info("orders_invalidated", entity=event.entity, orders=len(owners))
        return None

    async def _owners(self, event: ChangeEvent) -> dict[str, str]:
        fields: dict[str, Any] = event.fields
        if event.entity == "Order":
            if fields.get("AccountId"):
                pairs = {rid: str(fields["AccountId"]) for rid in event.record_ids}
                await self._accounts.remember(pairs.items())
                return pairs
            return await self._accounts.of_orders(event.record_ids)
        order_ids = (
            [str(fields["OrderId"])]
            if fields.get("OrderId")
            else await self._accounts.orders_of_items(event.record_ids)
        )
        return await self._accounts.of_orders(order_ids) if order_ids else {}
