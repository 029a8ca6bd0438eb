"""Checkout places its own new order on the customer's cached orders (``order_placement.py``):
real Redis, the real sandbox and its CDC stream, the real consumer, the real RPCs."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import asyncpg
import grpc
import pytest
from portal.commerce.v1 import orders_pb2 as pb

from services.commerce.server import Deps
from services.common.cache import UserScope, policy
from services.common.cache.keys import family_key
from services.common.clients import SalesforceClient
from tests.helpers.sandboxes import SandboxControl
from tests.service.commerce.helpers import eventually
from tests.service.commerce.test_commerce_orders import _settled_order, place, stub

POSITIONS = "SELECT topic, replay_id FROM commerce.cdc_replay"
TOPICS = ("/data/OrderChangeEvent", "/data/OrderItemChangeEvent")


async def calls(sf_control: SandboxControl) -> int:
    """Every call made to the Salesforce sandbox so far."""
    return sum((await sf_control.calls()).values())


async def positions(db: asyncpg.Connection) -> dict[str, bytes]:
    return {r["topic"]: bytes(r["replay_id"]) for r in await db.fetch(POSITIONS)}


async def events_handled(db: asyncpg.Connection, before: dict[str, bytes]) -> None:
    """Wait until the consumer stored a later position on both order topics (the events of a
    creation: the Order's and its OrderItems')."""

    def moved(now: dict[str, bytes]) -> bool:
        return all(now.get(t) not in (None, before.get(t)) for t in TOPICS)

    await eventually(lambda: positions(db), moved, 5)


async def listed(channel: grpc.aio.Channel, md: Any, size: int = 0, token: str = "") -> Any:
    request = pb.ListOrdersRequest(page_size=size, page_token=token)
    return await stub(channel).ListOrders(request, metadata=md)


async def got(channel: grpc.aio.Channel, md: Any, order_id: str) -> pb.Order:
    return (await stub(channel).GetOrder(pb.GetOrderRequest(order_id=order_id), metadata=md)).order


async def pages_generation(deps: Deps, user_id: str) -> bytes | None:
    key = family_key(deps.cache.namespace, UserScope(user_id), policy.ORDERS)
    client = deps.cache._client
    assert client is not None
    value = await client.get(key)
    return bytes(value) if value is not None else None


async def test_checkout_places_the_new_order_on_the_cached_pages(
    channel: grpc.aio.Channel,
    cdc: Deps,
    customer_of: Any,
    sf_control: SandboxControl,
    db: asyncpg.Connection,
) -> None:
    """After checkout the list and the order are read from the cache, the new order first; its
    own CREATE events leave the pages alone; a page at a later offset is dropped."""
    user, old, _ = await _settled_order(channel, customer_of, "first")
    md = user.metadata()
    assert [o.id for o in (await listed(channel, md)).orders] == [old.id]
    one = await listed(channel, md, 1)  # a full page of one, no next page
    assert [o.id for o in one.orders] == [old.id] and not one.next_page_token
    before, upstream = await positions(db), await calls(sf_control)
    new = await place(channel, md, "second")
    placed = await calls(sf_control)
    page = await listed(channel, md)
    assert [o.id for o in page.orders] == [new.id, old.id]
    assert page.orders[0] == new and not page.next_page_token
    one = await listed(channel, md, 1)
    assert [o.id for o in one.orders] == [new.id] and one.next_page_token
    assert await got(channel, md, new.id) == new
    assert await calls(sf_control) == placed > upstream  # served from the cache
    await events_handled(db, before)
    await asyncio.sleep(0.2)
    assert await listed(channel, md) == page  # the creation's events dropped nothing
    assert await got(channel, md, new.id) == new
    assert await calls(sf_control) == placed
    rest = await listed(channel, md, 1, one.next_page_token)  # never cached: loaded
    assert [o.id for o in rest.orders] == [old.id] and not rest.next_page_token
    assert await calls(sf_control) > placed
    # What a live read shows is what the cache showed.
    await cdc.cache.invalidate(UserScope(user.user_id), policy.ORDERS, policy.ORDER_DETAILS)
    assert await listed(channel, md) == page
    assert await got(channel, md, new.id) == new


async def test_a_later_page_is_dropped_not_edited(
    channel: grpc.aio.Channel, cdc: Deps, customer_of: Any, sf_control: SandboxControl
) -> None:
    """The second page's boundaries shift with a new order: checkout drops it."""
    user, first, _ = await _settled_order(channel, customer_of, "a")
    md = user.metadata()
    second = await place(channel, md, "b")
    await asyncio.sleep(0.5)
    page1 = await listed(channel, md, 1)
    page2 = await listed(channel, md, 1, page1.next_page_token)
    assert [o.id for o in (*page1.orders, *page2.orders)] == [second.id, first.id]
    third = await place(channel, md, "c")
    upstream = await calls(sf_control)
    page1 = await listed(channel, md, 1)
    assert [o.id for o in page1.orders] == [third.id]
    assert await calls(sf_control) == upstream
    page2 = await listed(channel, md, 1, page1.next_page_token)
    assert [o.id for o in page2.orders] == [second.id]  # reloaded, not the old second page
    assert await calls(sf_control) > upstream


async def test_an_order_created_by_someone_else_drops_the_pages(
    channel: grpc.aio.Channel,
    cdc: Deps,
    customer_of: Any,
    sf: SalesforceClient,
    sf_control: SandboxControl,
) -> None:
    """An Order CREATE no checkout of the user noted (an agent's order in Salesforce) drops the
    pages, and so does a checkout's for another user of the same account."""
    user, order, _ = await _settled_order(channel, customer_of, "mine")
    other = await customer_of()  # the same account, another portal user
    md, other_md = user.metadata(), other.metadata()
    assert [o.id for o in (await listed(channel, md)).orders] == [order.id]
    assert [o.id for o in (await listed(channel, other_md)).orders] == [order.id]
    agent = await sf.create("Order", {"AccountId": user.account_id, "Status": "Pending Review",
                                      "EffectiveDate": date.today().isoformat()})  # fmt: skip
    page, _ = await eventually(lambda: listed(channel, md), lambda p: len(p.orders) == 2, 3)
    assert [o.id for o in page.orders] == [agent, order.id]
    await listed(channel, other_md)
    new = await place(channel, md, "again")
    upstream = await calls(sf_control)
    assert [o.id for o in (await listed(channel, md)).orders] == [new.id, agent, order.id]
    assert await calls(sf_control) == upstream
    page, _ = await eventually(lambda: listed(channel, other_md), lambda p: len(p.orders) == 3, 3)
    assert page.orders[0].id == new.id
    assert await calls(sf_control) > upstream  # the other user's pages were dropped


async def test_checkout_failing_after_the_create_drops_the_pages(
    channel: grpc.aio.Channel,
    cdc: Deps,
    customer_of: Any,
    sf: SalesforceClient,
    sf_control: SandboxControl,
    db: asyncpg.Connection,
) -> None:
    """The order was created but could not be read back: checkout fails (try again), the pages
    are dropped and the creation's events drop them too; the next read shows the order."""
    user, order, _ = await _settled_order(channel, customer_of, "before")
    md = user.metadata()
    assert [o.id for o in (await listed(channel, md)).orders] == [order.id]
    before = await positions(db)
    await sf_control.fault("unavailable", count=2, action="query:Order")  # both read attempts
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await place(channel, md, "lost")
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    created = await sf.query(
        f"SELECT Id FROM Order WHERE AccountId = '{user.account_id}' AND Id != '{order.id}'"
    )
    assert len(created) == 1
    upstream = await calls(sf_control)
    page = await listed(channel, md)
    assert [o.id for o in page.orders] == [created[0]["Id"], order.id]
    assert await calls(sf_control) > upstream  # reloaded
    await events_handled(db, before)
    upstream = await calls(sf_control)
    await listed(channel, md)
    assert await calls(sf_control) == upstream


async def test_an_update_handled_before_the_order_is_placed_is_not_lost(
    channel: grpc.aio.Channel,
    cdc: Deps,
    customer_of: Any,
    sf: SalesforceClient,
    sf_control: SandboxControl,
    db: asyncpg.Connection,
) -> None:
    """The race: the creation's events, and an approval of the new order, are handled while
    checkout is still reading the order back (its items wait 1.5 s). Checkout returns what it
    read (not yet approved); the list and the order then show the approval."""
    user, order, _ = await _settled_order(channel, customer_of, "earlier")
    md = user.metadata()
    assert [o.id for o in (await listed(channel, md)).orders] == [order.id]
    before = await positions(db)
    orders_read = (await sf_control.calls()).get("query:Order", 0)
    await sf_control.fault("latency", count=1, action="query:OrderItem", latency_ms=1500)
    checkout = asyncio.create_task(place(channel, md, "raced"))
    await eventually(
        sf_control.calls, lambda c: c.get("query:Order", 0) > orders_read, 3
    )  # the read-back has read the Order and waits for its items
    await events_handled(db, before)  # the creation's events came meanwhile
    generation = await pages_generation(cdc, user.user_id)
    (created,) = await sf.query(
        f"SELECT Id FROM Order WHERE AccountId = '{user.account_id}' AND Id != '{order.id}'"
    )
    await sf.update("Order", created["Id"], {"Status": "Approved"})
    await eventually(lambda: pages_generation(cdc, user.user_id), lambda g: g != generation, 3)
    assert not checkout.done()
    new = await checkout
    assert new.id == created["Id"] and new.status == pb.ORDER_STATUS_PENDING_REVIEW
    page = await listed(channel, md)
    assert [o.id for o in page.orders] == [new.id, order.id]
    assert page.orders[0].status == pb.ORDER_STATUS_APPROVED
    assert (await got(channel, md, new.id)).status == pb.ORDER_STATUS_APPROVED


async def test_the_creation_events_during_the_read_back_leave_the_placed_page(
    channel: grpc.aio.Channel,
    cdc: Deps,
    customer_of: Any,
    sf_control: SandboxControl,
    db: asyncpg.Connection,
) -> None:
    """The creation's events handled while checkout still reads the order back do not drop the
    pages; checkout then places the order, and the list is served from the cache."""
    user, order, _ = await _settled_order(channel, customer_of, "prior")
    md = user.metadata()
    assert [o.id for o in (await listed(channel, md)).orders] == [order.id]
    before = await positions(db)
    generation = await pages_generation(cdc, user.user_id)
    await sf_control.fault("latency", count=1, action="query:OrderItem", latency_ms=1500)
    checkout = asyncio.create_task(place(channel, md, "slow"))
    await events_handled(db, before)
    assert not checkout.done()
    assert await pages_generation(cdc, user.user_id) == generation  # nothing dropped
    new = await checkout
    upstream = await calls(sf_control)
    assert [o.id for o in (await listed(channel, md)).orders] == [new.id, order.id]
    assert await got(channel, md, new.id) == new
    assert await calls(sf_control) == upstream
