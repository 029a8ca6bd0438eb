"""The cache-invalidation handlers: catalog, eligibility and orders (``docs/cache.md``).

- Product2 / PricebookEntry, any change: the shared catalog family.
- Account: a change of ``Portal_Eligible_Categories__c`` (or a create/delete/undelete) drops the
  eligibility family of every portal user mapped to that account (identity's directory).
- Order / OrderItem: drops the order pages of the users of the order's account (and their single
  orders, unless the event creates the order: an order that did not exist has no cached copy)
  and tells their live watchers (``OrderNotifier``). The CREATE events (the Order's and its
  OrderItems') of an order a user's own checkout places on that user's cached pages
  (``order_placement.py``: the user's notes name its request key or its id) leave that user's
  families alone; other users of the account, and any other creation, drop them. An Order
  UPDATE of the status or activation fields that carries its version is written into the users'
  cached orders in place instead (``order_patch.py``, ``Cache.patch``), which drops a family
  itself when it cannot. An UPDATE that only touches fulfillment-internal fields
  (``IGNORED_ORDER_FIELDS``: the WHMCS order id, the MSISDN, audit stamps) changes nothing the
  portal shows and is skipped.
- ``GAP_*`` events and a lost replay position drop the family for every user.

The consumer hands a batch of events at once (``handle_batch``): the catalog family is dropped
once per batch; the owners of the batch's orders are resolved together (one ``commerce.orders``
query, at most one SOQL), the directory is asked once per distinct account, each user's
families are dropped once (one Redis round trip per user), and each watcher is told once per
changed order (the watchers' log and publishes in one round trip each).

If the users cannot be resolved (Salesforce or identity down), the family is dropped for every
user instead: a few extra cache misses rather than a stale order or a stuck stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from portal.commerce.v1 import order_records_pb2

from services.commerce.cdc.order_patch import OrderChange, OrderPatch, applicable
from services.commerce.order_accounts import OrderAccounts
from services.commerce.order_placement import (
    order_token,
    request_token,
    transaction_token,
)
from services.common.cache import SHARED_CATALOG, Cache, Family, UserScope, policy
from services.common.clients.cdc import ChangeEvent
from services.common.directory import Directory
from services.common.errors import PortalError
from services.common.idempotency import KEY_FIELD

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

    async def orders_changed(self, changes: Sequence[tuple[str, str]]) -> None:
        """``order_changed`` for each ``(user id, order id)``, in order."""


class CatalogInvalidator:
    def __init__(self, cache: Cache) -> None:
        self._cache = cache

    async def handle(self, event: ChangeEvent) -> None:
        await self.handle_batch([event])

    async def handle_batch(self, events: Sequence[ChangeEvent]) -> None:
        await self._cache.invalidate(SHARED_CATALOG, policy.CATALOG)
        log.info("catalog_invalidated", entity=events[-1].entity, events=len(events))

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

    async def _users_of(self, account_ids: Iterable[str]) -> dict[str, list[str]]:
        """``account -> users``, one directory call per distinct account."""
        return {a: await self._directory.users_of_sf_account(a) for a in dict.fromkeys(account_ids)}


class EligibilityInvalidator(_PerUser):
    family = policy.ELIGIBILITY

    async def handle(self, event: ChangeEvent) -> None:
        await self.handle_batch([event])

    async def handle_batch(self, events: Sequence[ChangeEvent]) -> None:
        if any(event.is_gap for event in events):
            return await self.reset(events[-1].entity)
        accounts = [
            account
            for event in events
            if not (event.change_type == "UPDATE" and ELIGIBILITY_FIELD not in event.changed_fields)
            for account in event.record_ids
        ]
        if not accounts:
            return None
        try:
            users = sorted({u for us in (await self._users_of(accounts)).values() for u in us})
            for user in users:
                await self._cache.invalidate(UserScope(user), self.family)
        except PortalError:
            return await self.reset(events[-1].entity)
        log.info("eligibility_invalidated", accounts=len(set(accounts)), users=len(users))
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
        await self.handle_batch([event])

    async def handle_batch(self, events: Sequence[ChangeEvent]) -> None:
        gap = any(event.is_gap for event in events)
        shown = [event for event in events if not event.is_gap and not _internal_only(event)]
        if gap:
            await self.reset(events[-1].entity)
        if not shown:
            return None
        in_place = {id(e): c for e in shown if (c := applicable(e, IGNORED_ORDER_FIELDS))}
        try:
            dropping = [e for e in shown if id(e) not in in_place]
            dropped = await self._changed_orders(dropping)
            changes = list(in_place.values())
            order_ids = list(dict.fromkeys([*dropped, *(o for c in changes for o in c.order_ids)]))
            owners = await self._owners(shown, order_ids)
            users = await self._users_of(owners.values())
            placed: dict[str, set[str]] = {}
            pages_dropped = missing = 0
            if not gap:
                placed = await self._placed(creations(dropping), owners, users)
                pages_dropped, missing = await self._apply(owners, users, dropped, changes, placed)
            await self._notify.orders_changed(
                [(user, order_id) for order_id, account_id in owners.items()
                 for user in users[account_id]]
            )  # fmt: skip
        except PortalError:
            return await self.reset(events[-1].entity)
        entity = events[-1].entity
        log.info(
            "orders_invalidated", entity=entity, orders=len(owners), in_place=len(changes),
            pages_dropped=pages_dropped, updated_not_shown=missing,
            placed_by_checkout=sum(map(len, placed.values())),
        )  # fmt: skip
        return None

    async def _apply(
        self,
        owners: dict[str, str],
        users: dict[str, list[str]],
        dropped: dict[str, bool],
        changes: list[OrderChange],
        placed: dict[str, set[str]],
    ) -> tuple[int, int]:
        """Drop what the dropping events touch; edit the rest of the users' orders in place.

        A user's families once: the single orders too unless each change only created an order.
        ``placed``: per user, the orders only created in the batch that the user's checkout
        places (their events drop nothing of that user). Returns for how many users the
        dropping events dropped the pages, and for how many an UPDATE of an order no cached
        page showed did (the edits' own drops, logged by the cache, not counted)."""
        pages: dict[str, bool] = {}  # user -> whether the single orders drop too
        patches: dict[str, list[OrderChange]] = {}
        own: dict[str, set[str]] = {}  # user -> the user's orders among the batch's
        for order_id, account_id in owners.items():
            for user in users[account_id]:
                own.setdefault(user, set()).add(order_id)
                if order_id in dropped and order_id not in placed.get(user, ()):
                    pages[user] = pages.get(user, False) or dropped[order_id]
                for change in changes:
                    if order_id in change.order_ids and change not in patches.get(user, []):
                        patches.setdefault(user, []).append(change)
        for user, also_details in pages.items():
            more = self.more if also_details else ()
            await self._cache.invalidate(UserScope(user), self.family, *more)
        missing = 0
        for user, mine in patches.items():
            scope, patch = UserScope(user), OrderPatch(mine, frozenset(own[user]))
            if user not in pages:
                applied = await self._cache.patch(
                    policy.ORDERS_LIST, scope, order_records_pb2.OrdersPageRecord, patch.page
                )
                if applied and patch.missing():
                    missing += 1
                    await self._cache.invalidate(scope, self.family)
            if not pages.get(user, False):
                await self._cache.patch(
                    policy.ORDER_DETAIL, scope, order_records_pb2.OrderRecord, patch.detail
                )
        return len(pages), missing

    async def _placed(
        self, created: dict[str, Creation], owners: dict[str, str], users: dict[str, list[str]]
    ) -> dict[str, set[str]]:
        """Per user, the orders of ``created`` that the user's own checkout places: its notes
        name the request key or the order, and every UPDATE is in a transaction that created
        the order. One Redis read per user with such an order. An order found is noted by its
        id and its creating transactions, for its events still to come. Redis trouble: none
        (the events drop as usual)."""
        candidates: dict[str, list[str]] = {}
        for order_id in created:
            if order_id in owners:
                for user in users[owners[order_id]]:
                    candidates.setdefault(user, []).append(order_id)
        updates = {tx for c in created.values() for tx in c.updated}
        out: dict[str, set[str]] = {}
        for user, order_ids in candidates.items():
            scope = UserScope(user)
            notes = await self._cache.notes(policy.ORDERS_LIST, scope)
            if not notes:
                continue
            noted = {tx for tx in updates if transaction_token(tx) in notes}
            mine = {
                o for o in order_ids
                if (order_token(o) in notes
                    or (created[o].key and request_token(created[o].key) in notes))
                and created[o].within(noted)
            }  # fmt: skip
            new = {order_token(o) for o in mine}
            new |= {transaction_token(tx) for o in mine for tx in created[o].created}
            unnoted = sorted(new - notes)
            if unnoted and not await self._cache.note(policy.ORDERS_LIST, scope, unnoted):
                continue
            if mine:
                out[user] = mine
        return out

    async def _changed_orders(self, events: Sequence[ChangeEvent]) -> dict[str, bool]:
        """``order id -> whether the order itself changed`` (not only created), in event order.

        A new order changes the pages only; a change of an order or of any of its items (items
        of a new order may arrive after a watcher read the order) changes the order too."""
        changed: dict[str, bool] = {}
        item_ids: list[str] = []
        for event in events:
            if event.entity == "Order":
                new_order = event.change_type == "CREATE"
                for order_id in event.record_ids:
                    changed[order_id] = changed.get(order_id, False) or not new_order
            elif event.fields.get("OrderId"):
                changed[str(event.fields["OrderId"])] = True
            else:
                item_ids += event.record_ids
        if item_ids:
            for order_id in await self._accounts.orders_of_items(item_ids):
                changed[order_id] = True
        return changed

    async def _owners(self, events: Sequence[ChangeEvent], order_ids: list[str]) -> dict[str, str]:
        """``order id -> account id`` of ``order_ids``: from the Order events that carry
        ``AccountId`` (remembered), the rest in one look-up."""
        carried: dict[str, str] = {}
        for event in events:
            fields: dict[str, Any] = event.fields
            if event.entity == "Order" and fields.get("AccountId"):
                carried.update((rid, str(fields["AccountId"])) for rid in event.record_ids)
        if carried:
            await self._accounts.remember(carried.items())
        rest = [o for o in order_ids if o not in carried]
        looked_up = await self._accounts.of_orders(rest) if rest else {}
        return {
            o: carried.get(o) or looked_up[o] for o in order_ids if o in carried or o in looked_up
        }


@dataclass
class Creation:
    """The events of a batch about one order that may all be its creation: its CREATE (the
    Order's, one record; its OrderItems') and UPDATEs, with their transactions. An UPDATE is part
    of the creation when its transaction is the CREATE's (the roll-up of ``TotalAmount`` as the
    items are inserted), which checkout's read-back, made after the commit, shows."""

    key: str = ""  # the Order CREATE's request key ("" unknown)
    created: set[str] = field(default_factory=set)  # transactions of the CREATE events
    updated: set[str] = field(default_factory=set)  # transactions of the UPDATE events

    def within(self, transactions: set[str]) -> bool:
        """Whether every UPDATE is in a transaction that created the order."""
        return self.updated <= self.created | transactions


def creations(events: Sequence[ChangeEvent]) -> dict[str, Creation]:
    """``order id -> Creation`` of the orders whose events in ``events`` are only CREATEs and
    UPDATEs of the Order (one record each) and CREATEs of its OrderItems naming it."""
    out: dict[str, Creation] = {}
    other: set[str] = set()
    for event in events:
        kind, tx = event.change_type, event.transaction_key
        if event.entity == "Order" and len(event.record_ids) == 1 and kind in ("CREATE", "UPDATE"):
            creation = out.setdefault(event.record_ids[0], Creation())
            if kind == "CREATE":
                key = event.fields.get(KEY_FIELD)
                creation.key = key if isinstance(key, str) else ""
                creation.created.add(tx)
            else:
                creation.updated.add(tx)
        elif event.entity == "Order":
            other.update(event.record_ids)
        elif event.fields.get("OrderId") and kind == "CREATE":
            out.setdefault(str(event.fields["OrderId"]), Creation()).created.add(tx)
        elif event.fields.get("OrderId"):
            other.add(str(event.fields["OrderId"]))
    return {o: c for o, c in out.items() if o not in other}


def _internal_only(event: ChangeEvent) -> bool:
    ignored = IGNORED_ORDER_FIELDS if event.entity == "Order" else IGNORED_ORDER_ITEM_FIELDS
    return only_touches(event, ignored)
