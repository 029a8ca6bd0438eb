"""Order UPDATE events written into the cached orders in place (``cdc/order_patch.py``): real
Redis, the real sandbox and its CDC stream, the real consumer."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import grpc
from portal.commerce.v1 import order_records_pb2
from portal.commerce.v1 import orders_pb2 as pb

from services.commerce.server import Deps
from services.common.cache import UserScope, Variant, policy
from services.common.clients import SalesforceClient
from tests.helpers.sandboxes import SandboxControl
from tests.service.commerce.helpers import eventually
from tests.service.commerce.test_commerce_orders import _settled_order, place, stub

REPLAY = "SELECT replay_id FROM commerce.cdc_replay WHERE topic = '/data/OrderChangeEvent'"


async def order_queries(sf_control: SandboxControl) -> int:
    return (await sf_control.calls()).get("query:Order", 0)


async def listed(channel: grpc.aio.Channel, md: Any) -> dict[str, pb.Order]:
    page = await stub(channel).ListOrders(pb.ListOrdersRequest(), metadata=md)
    return {o.id: o for o in page.orders}


async def cached_detail(deps: Deps, user_id: str, order_id: str) -> order_records_pb2.OrderRecord:
    """The cached copy of one order (a hit, or the test fails: the loader is never called)."""

    async def no_load() -> order_records_pb2.OrderRecord:
        raise AssertionError("expected a cached order")

    return await deps.cache.get_or_load(
        policy.ORDER_DETAIL,
        UserScope(user_id),
        no_load,
        order_records_pb2.OrderRecord,
        variant=Variant.of(order=order_id),
    )


async def test_a_status_change_is_applied_in_place(
    channel: grpc.aio.Channel,
    cdc: Deps,
    customer_of: Any,
    sf: SalesforceClient,
    sf_control: SandboxControl,
) -> None:
    """The status and activation fields change in the cached page and order without a reload."""
    user, order, detail = await _settled_order(channel, customer_of, "in-place")
    md = user.metadata()
    assert (await detail()).status == pb.ORDER_STATUS_PENDING_REVIEW
    assert (await listed(channel, md))[order.id].status == pb.ORDER_STATUS_PENDING_REVIEW
    queries = await order_queries(sf_control)
    before = (await cached_detail(cdc, user.user_id, order.id)).modified_ms
    await sf.update("Order", order.id, {"Status": "Approved"})
    _, took = await eventually(detail, lambda o: o.status == pb.ORDER_STATUS_APPROVED)
    assert took < 2.0
    await sf.update(
        "Order", order.id, {"Activation_Status__c": "Failed", "Activation_Error_Code__c": "E42"}
    )
    got, _ = await eventually(detail, lambda o: o.activation_status == pb.ACTIVATION_STATUS_FAILED)
    assert got.error_code == "E42" and got.status == pb.ORDER_STATUS_APPROVED
    page = await listed(channel, md)
    assert page[order.id].status == pb.ORDER_STATUS_APPROVED
    assert page[order.id].activation_status == pb.ACTIVATION_STATUS_FAILED
    assert await order_queries(sf_control) == queries  # edited in place: no reload
    assert (await cached_detail(cdc, user.user_id, order.id)).modified_ms > before
    await sf.update("Order", order.id, {"BillingCity": "Osaka"})  # not applicable: dropped
    await eventually(detail, lambda o: o.billing_address.city == "Osaka")
    assert await order_queries(sf_control) > queries


async def test_an_event_older_than_the_cached_order_is_ignored(
    channel: grpc.aio.Channel,
    cdc: Deps,
    customer_of: Any,
    sf: SalesforceClient,
    sf_control: SandboxControl,
    db: asyncpg.Connection,
) -> None:
    """Events the consumer missed while it was down arrive after a reader cached a newer copy:
    they are older than it and neither change it nor drop it."""
    user, order, detail = await _settled_order(channel, customer_of, "older")
    position = await db.fetchval(REPLAY)
    await cdc.background.stop()
    await sf.update("Order", order.id, {"Status": "Approved"})
    await sf.update("Order", order.id, {"Activation_Status__c": "Activating"})
    await sf.update("Order", order.id, {"WHMCS_Order_ID__c": "77"})  # internal: no shown change
    # Checkout cached the order it created: drop it, so the next read is a first read.
    await cdc.cache.invalidate(UserScope(user.user_id), policy.ORDER_DETAILS)
    newest = await detail()  # first read, at the version of the internal change
    assert newest.status == pb.ORDER_STATUS_APPROVED
    assert newest.activation_status == pb.ACTIVATION_STATUS_ACTIVATING
    cached = await cached_detail(cdc, user.user_id, order.id)
    queries = await order_queries(sf_control)
    cdc.background.start()  # resumes after the stored position: the three events arrive
    await eventually(lambda: db.fetchval(REPLAY), lambda r: r and r != position, 5)
    await asyncio.sleep(0.3)
    assert await cached_detail(cdc, user.user_id, order.id) == cached  # version kept
    assert await detail() == newest
    assert await order_queries(sf_control) == queries


async def test_a_fill_in_flight_during_an_edit_is_not_stored(
    channel: grpc.aio.Channel,
    cdc: Deps,
    customer_of: Any,
    sf: SalesforceClient,
    sf_control: SandboxControl,
) -> None:
    """A reader that read the order before the change and stores it after the event was applied
    must not leave its older copy in the cache (the edit replaces the family's generation)."""
    _, order, detail = await _settled_order(channel, customer_of, "race")
    # The first read of the order reads the Order, then waits on its items.
    await sf_control.fault("latency", count=1, action="query:OrderItem", latency_ms=1500)
    slow = asyncio.create_task(detail())
    await asyncio.sleep(0.4)
    await sf.update("Order", order.id, {"Status": "Approved"})
    assert (await slow).status == pb.ORDER_STATUS_PENDING_REVIEW  # read before the change
    got, _ = await eventually(detail, lambda o: o.status == pb.ORDER_STATUS_APPROVED, 3)
    assert got.status == pb.ORDER_STATUS_APPROVED


async def test_one_event_naming_two_customers_orders_is_applied_to_both(
    channel: grpc.aio.Channel,
    cdc: Deps,
    customer_of: Any,
    sf: SalesforceClient,
    sf_control: SandboxControl,
) -> None:
    """Salesforce merges the same change of several records into one event: each customer's
    pages show their own order only, and the change is written into both without a reload."""
    first, first_order, _ = await _settled_order(channel, customer_of, "merged-a")
    second = await customer_of("AC-000102")
    second_order = await place(channel, second.metadata(), "merged-b", "INTERNET-SILVER-HOME-1G")
    await asyncio.sleep(0.5)  # the creation's own events
    for user, order in ((first, first_order), (second, second_order)):
        assert list(await listed(channel, user.metadata())) == [order.id]
    queries = await order_queries(sf_control)
    approve = {"Status": "Approved"}
    assert await sf.update_records(
        [("Order", first_order.id, approve), ("Order", second_order.id, approve)]
    ) == [None, None]
    for user, order in ((first, first_order), (second, second_order)):
        md = user.metadata()
        for _ in range(60):
            if (await listed(channel, md))[order.id].status == pb.ORDER_STATUS_APPROVED:
                break
            await asyncio.sleep(0.05)
        assert (await listed(channel, md))[order.id].status == pb.ORDER_STATUS_APPROVED
    assert await order_queries(sf_control) == queries  # both edited in place, none dropped
