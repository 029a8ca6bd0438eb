"""ListOrders/GetOrder (ownership, paging, event-driven cache) and WatchOrders."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import grpc
import pytest
from portal.commerce.v1 import orders_pb2 as pb
from portal.commerce.v1 import orders_pb2_grpc

from services.commerce.server import Deps
from services.common.clients import SalesforceClient
from tests.helpers.grpc_errors import error_info, status_of
from tests.helpers.sandboxes import SandboxControl
from tests.service.commerce.helpers import eventually
from tests.service.commerce.test_commerce_checkout import catalog


def stub(channel: grpc.aio.Channel) -> orders_pb2_grpc.OrderServiceStub:
    return orders_pb2_grpc.OrderServiceStub(channel)


async def place(
    channel: grpc.aio.Channel, md: Any, request_id: str, sku: str = "VPN-STANDARD"
) -> pb.Order:
    line = pb.OrderLine(product_id=(await catalog(channel, md))[sku], quantity=1)
    request = pb.CreateOrderRequest(request_id=request_id, items=[line])
    return (await stub(channel).CreateOrder(request, metadata=md)).order


async def test_list_and_get_own_orders_with_paging(
    channel: grpc.aio.Channel, customer_of: Any
) -> None:
    user = await customer_of()
    md = user.metadata()
    placed = [await place(channel, md, f"r{n}") for n in range(3)]
    first = await stub(channel).ListOrders(pb.ListOrdersRequest(page_size=2), metadata=md)
    assert len(first.orders) == 2 and first.next_page_token
    rest = await stub(channel).ListOrders(
        pb.ListOrdersRequest(page_size=2, page_token=first.next_page_token), metadata=md
    )
    assert len(rest.orders) == 1 and not rest.next_page_token
    listed = [o.id for o in (*first.orders, *rest.orders)]
    assert sorted(listed) == sorted(o.id for o in placed)
    got = await stub(channel).GetOrder(pb.GetOrderRequest(order_id=placed[0].id), metadata=md)
    assert got.order == placed[0]
    assert got.order.items[0].sku == "VPN-STANDARD" and got.order.items[0].name == "VPN Standard"


async def test_another_users_order_is_not_found(
    channel: grpc.aio.Channel, customer_of: Any
) -> None:
    owner, other = await customer_of("AC-000101"), await customer_of("AC-000103")
    order = await place(channel, owner.metadata(), "mine")
    listed = await stub(channel).ListOrders(pb.ListOrdersRequest(), metadata=other.metadata())
    assert list(listed.orders) == []
    for order_id in (order.id, "801000000000000AAA", "garbage"):
        call = stub(channel).GetOrder(
            pb.GetOrderRequest(order_id=order_id), metadata=other.metadata()
        )
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        status = await status_of(call)
        assert status is not None and error_info(status).reason == "NOT_FOUND"


async def test_orders_cache_follows_salesforce_changes(
    channel: grpc.aio.Channel,
    cdc: Deps,
    customer_of: Any,
    sf: SalesforceClient,
    sf_control: SandboxControl,
) -> None:
    user = await customer_of()
    md = user.metadata()
    order = await place(channel, md, "cached")

    async def status() -> int:
        got = await stub(channel).GetOrder(pb.GetOrderRequest(order_id=order.id), metadata=md)
        return got.order.status

    await asyncio.sleep(0.5)  # the creation's own events
    await status()
    queries = (await sf_control.calls()).get("query:Order", 0)
    await sf.update("Order", order.id, {"WHMCS_Order_ID__c": "9001"})  # fulfillment-internal
    await asyncio.sleep(0.5)
    assert await status() == pb.ORDER_STATUS_PENDING_REVIEW
    assert (await sf_control.calls()).get("query:Order", 0) == queries  # still cached
    await sf.update("Order", order.id, {"Status": "Approved"})
    _, took = await eventually(status, lambda s: s == pb.ORDER_STATUS_APPROVED)
    assert took < 2.0


async def test_a_new_order_drops_the_pages_and_keeps_the_single_orders(
    channel: grpc.aio.Channel,
    cdc: Deps,
    customer_of: Any,
    sf: SalesforceClient,
    sf_control: SandboxControl,
) -> None:
    """An Order CREATE event changes the user's order pages (the new order is listed) but no
    cached single order (an order that did not exist has no cached copy); a change of an order
    drops its cached copy too."""
    user, order, detail = await _settled_order(channel, customer_of, "kept")
    md = user.metadata()

    async def listed() -> list[str]:
        page = await stub(channel).ListOrders(pb.ListOrdersRequest(), metadata=md)
        return [o.id for o in page.orders]

    cached = await detail()
    assert await listed() == [order.id]
    new = await sf.create("Order", {"AccountId": user.account_id, "Status": "Pending Review",
                                    "EffectiveDate": date.today().isoformat()})  # fmt: skip
    await eventually(listed, lambda ids: new in ids)
    queries = (await sf_control.calls()).get("query:Order", 0)
    assert await detail() == cached
    assert (await sf_control.calls()).get("query:Order", 0) == queries  # still cached
    await sf.update("Order", order.id, {"Status": "Approved"})
    _, took = await eventually(detail, lambda o: o.status == pb.ORDER_STATUS_APPROVED)
    assert took < 2.0


async def test_an_order_gap_event_drops_the_single_orders_too(
    channel: grpc.aio.Channel,
    cdc: Deps,
    customer_of: Any,
    sf: SalesforceClient,
    sf_control: SandboxControl,
) -> None:
    """A GAP event names no order and carries no values: pages and single orders are dropped for
    every user and read again (not edited in place)."""
    _, order, detail = await _settled_order(channel, customer_of, "gap")

    assert (await detail()).status == pb.ORDER_STATUS_PENDING_REVIEW
    queries = (await sf_control.calls()).get("query:Order", 0)
    await sf_control.fault("gap", count=1, action="sobjects:Order:PATCH")
    await sf.update("Order", order.id, {"Status": "Approved"})
    await eventually(detail, lambda o: o.status == pb.ORDER_STATUS_APPROVED)
    assert (await sf_control.calls()).get("query:Order", 0) > queries  # reloaded, not edited


async def test_watch_orders_sends_changes_and_heartbeats(
    channel: grpc.aio.Channel, cdc: Deps, customer_of: Any, sf: SalesforceClient
) -> None:
    user = await customer_of()
    md = user.metadata()
    order = await place(channel, md, "watched")
    await asyncio.sleep(0.5)  # let the creation's events pass
    stream = stub(channel).WatchOrders(pb.WatchOrdersRequest(), metadata=md)
    first = await stream.read()
    assert first.heartbeat
    await sf.update("Order", order.id, {"Status": "Approved"})
    changed = await _next_order(stream)
    assert changed.id == order.id and changed.status == pb.ORDER_STATUS_APPROVED
    await sf.update("Order", order.id, {"Activation_Status__c": "Activating"})
    changed = await _next_order(stream)
    assert changed.activation_status == pb.ACTIVATION_STATUS_ACTIVATING
    heartbeat = await asyncio.wait_for(stream.read(), 2)  # settings: every 0.5 s
    assert heartbeat.heartbeat
    stream.cancel()


async def test_watch_orders_ends_when_the_token_expires(
    channel: grpc.aio.Channel, deps: Deps, customer_of: Any
) -> None:
    user = await customer_of()
    stream = stub(channel).WatchOrders(pb.WatchOrdersRequest(), metadata=user.metadata(ttl=2))
    messages = [m async for m in _within(stream, 8)]
    assert messages and all(m.heartbeat for m in messages)
    assert await stream.code() == grpc.StatusCode.OK


async def _next_order(stream: Any) -> pb.Order:
    async with asyncio.timeout(2):
        while True:
            message = await stream.read()
            if not message.heartbeat:
                return message.order


async def _within(stream: Any, seconds: float) -> Any:
    async with asyncio.timeout(seconds):
        async for message in stream:
            yield message


async def test_watch_orders_without_an_account_is_not_found(
    channel: grpc.aio.Channel, deps: Deps, customer_of: Any, peers: Any
) -> None:
    user = await customer_of()
    peers.directory.accounts.clear()
    stream = stub(channel).WatchOrders(pb.WatchOrdersRequest(), metadata=user.metadata())
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stream.read()
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def _settled_order(channel: grpc.aio.Channel, customer_of: Any, name: str) -> Any:
    """A new customer's placed order once its creation's own events have passed, and a reader of
    it: ``(customer, order, detail)``."""
    user = await customer_of()
    md = user.metadata()
    order = await place(channel, md, name)
    await asyncio.sleep(0.5)  # the creation's own events

    async def detail() -> pb.Order:
        got = await stub(channel).GetOrder(pb.GetOrderRequest(order_id=order.id), metadata=md)
        return got.order

    return user, order, detail
