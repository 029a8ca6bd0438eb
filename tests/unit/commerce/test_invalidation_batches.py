"""The order and eligibility invalidators on a batch of CDC events, with recording stand-ins for
the cache, identity's directory, the order-account look-up and the watchers (no I/O): one
directory call per distinct account, one generation bump per user, one notification per
changed order and user, and the degradations (gap, unresolvable owners) kept."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from services.commerce.cdc.invalidation import EligibilityInvalidator, OrderInvalidator
from services.common.cache import UserScope, policy
from services.common.clients.cdc import ChangeEvent
from services.common.errors import UpstreamUnavailable


def event(entity: str, change: str, ids: Sequence[str], fields: dict[str, Any],
          changed: Sequence[str] = ()) -> ChangeEvent:  # fmt: skip
    return ChangeEvent(
        entity=entity, change_type=change, record_ids=tuple(ids),
        changed_fields=tuple(changed or fields), nulled_fields=(), diff_fields=(),
        transaction_key="t", sequence=1, commit_timestamp=datetime.now(UTC), commit_number=1,
        change_origin="", commit_user="", fields=fields, replay_id=b"1",
    )  # fmt: skip


class Cache:
    def __init__(self) -> None:
        self.bumps: list[tuple[str, tuple[str, ...]]] = []
        self.dropped_for_everyone: list[str] = []

    async def invalidate(self, scope: UserScope, family: Any, *more: Any) -> bool:
        self.bumps.append((scope.user_id, tuple(f.name for f in (family, *more))))
        return True

    async def invalidate_all(self, family: Any) -> bool:
        self.dropped_for_everyone.append(family.name)
        return True

    async def notes(self, entry: Any, scope: UserScope) -> frozenset[str]:
        return frozenset()  # no checkout of these users is placing an order


class Directory:
    def __init__(self, users: dict[str, list[str]], down: bool = False) -> None:
        self.users, self.down = users, down
        self.asked: list[str] = []

    async def users_of_sf_account(self, account: str) -> list[str]:
        self.asked.append(account)
        if self.down:
            raise UpstreamUnavailable()
        return self.users.get(account, [])


class Accounts:
    def __init__(self, owners: dict[str, str], items: dict[str, str]) -> None:
        self.owners, self.items = owners, items
        self.calls: list[tuple[str, list[str]]] = []

    async def remember(self, pairs: Any) -> None:
        self.calls.append(("remember", sorted(o for o, _ in pairs)))

    async def of_orders(self, order_ids: Sequence[str]) -> dict[str, str]:
        self.calls.append(("of_orders", list(order_ids)))
        return {o: self.owners[o] for o in order_ids if o in self.owners}

    async def orders_of_items(self, item_ids: Sequence[str]) -> list[str]:
        self.calls.append(("orders_of_items", list(item_ids)))
        return sorted({self.items[i] for i in item_ids if i in self.items})


class Watchers:
    def __init__(self) -> None:
        self.told: list[tuple[str, str]] = []

    async def order_changed(self, user_id: str, order_id: str) -> None:
        self.told.append((user_id, order_id))

    async def orders_changed(self, changes: Sequence[tuple[str, str]]) -> None:
        self.told.extend(changes)


def invalidator(
    directory: Directory, accounts: Accounts
) -> tuple[OrderInvalidator, Cache, Watchers]:
    cache, watchers = Cache(), Watchers()
    handler = OrderInvalidator(cache, directory, accounts, watchers)  # type: ignore[arg-type]
    return handler, cache, watchers


ORDERS, DETAILS = policy.ORDERS.name, policy.ORDER_DETAILS.name


async def test_a_batch_asks_once_per_account_and_bumps_once_per_user() -> None:
    directory = Directory({"A1": ["u1", "u2"], "A2": ["u3"]})
    accounts = Accounts({"O1": "A1", "O2": "A1", "O3": "A2"}, {"I1": "O3"})
    handler, cache, watchers = invalidator(directory, accounts)
    await handler.handle_batch([
        event("Order", "CREATE", ["O1"], {"AccountId": "A1", "Status": "Draft"}),
        event("Order", "UPDATE", ["O2"], {"Activation_Status__c": "Activating"}),
        event("Order", "UPDATE", ["O2"], {"Activation_Status__c": "Activated"}),
        event("Order", "UPDATE", ["O1"], {"WHMCS_Order_ID__c": "7"}),  # internal only: skipped
        event("OrderItem", "UPDATE", ["I1"], {"Quantity": 2}),  # no OrderId: looked up
        event("OrderItem", "UPDATE", ["I9"], {"WHMCS_Service_ID__c": "1"}),  # internal only
    ])  # fmt: skip
    assert sorted(directory.asked) == ["A1", "A2"]
    # O1 was only created (pages), O2 changed (its details too): A1's users drop both once.
    assert sorted(cache.bumps) == [
        ("u1", (ORDERS, DETAILS)), ("u2", (ORDERS, DETAILS)), ("u3", (ORDERS, DETAILS))
    ]  # fmt: skip
    assert sorted(watchers.told) == [
        ("u1", "O1"), ("u1", "O2"), ("u2", "O1"), ("u2", "O2"), ("u3", "O3")
    ]  # fmt: skip
    assert ("orders_of_items", ["I1"]) in accounts.calls
    assert [c for c in accounts.calls if c[0] == "of_orders"] == [("of_orders", ["O2", "O3"])]
    assert cache.dropped_for_everyone == []


async def test_a_batch_of_new_orders_only_drops_the_pages() -> None:
    directory = Directory({"A1": ["u1"]})
    handler, cache, watchers = invalidator(directory, Accounts({}, {}))
    await handler.handle_batch([
        event("Order", "CREATE", ["O1"], {"AccountId": "A1"}),
        event("Order", "CREATE", ["O2"], {"AccountId": "A1"}),
    ])  # fmt: skip
    assert directory.asked == ["A1"]
    assert cache.bumps == [("u1", (ORDERS,))]
    assert watchers.told == [("u1", "O1"), ("u1", "O2")]


async def test_a_gap_in_the_batch_drops_the_family_for_everyone_and_still_tells_watchers() -> None:
    directory = Directory({"A1": ["u1"]})
    handler, cache, watchers = invalidator(directory, Accounts({"O1": "A1"}, {}))
    await handler.handle_batch([
        event("Order", "UPDATE", ["O1"], {"Status": "Approved"}),
        event("Order", "GAP_UPDATE", ["O2"], {}),
    ])  # fmt: skip
    assert cache.dropped_for_everyone == [ORDERS, DETAILS]
    assert watchers.told == [("u1", "O1")]


async def test_unresolvable_owners_drop_the_family_for_everyone() -> None:
    handler, cache, watchers = invalidator(Directory({}, down=True), Accounts({"O1": "A1"}, {}))
    await handler.handle_batch([event("Order", "UPDATE", ["O1"], {"Status": "Approved"})])
    assert cache.dropped_for_everyone == [ORDERS, DETAILS]
    assert watchers.told == []


async def test_eligibility_batch_asks_once_per_account() -> None:
    directory = Directory({"A1": ["u1"], "A2": ["u2"]})
    cache = Cache()
    handler = EligibilityInvalidator(cache, directory)  # type: ignore[arg-type]
    field = "Portal_Eligible_Categories__c"
    await handler.handle_batch([
        event("Account", "UPDATE", ["A1"], {field: "SIM"}),
        event("Account", "UPDATE", ["A1"], {field: "SIM;VPN"}),
        event("Account", "UPDATE", ["A2"], {"Name": "x"}),  # not the field: nothing
    ])  # fmt: skip
    assert directory.asked == ["A1"]
    assert cache.bumps == [("u1", (policy.ELIGIBILITY.name,))]
