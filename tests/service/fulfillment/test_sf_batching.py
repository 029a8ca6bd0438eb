"""Salesforce requests shared by the orders in flight (``sfbatch``), against the Salesforce sandbox:
what concurrent orders ask for goes out as one request, each order gets its own result or error,
and a lone order's request goes out as it did alone (counted by the sandbox, not timed)."""

from __future__ import annotations

import asyncio

from services.commerce.fulfillment import sforders
from services.commerce.fulfillment.sfbatch import ORDERS_QUERY, SalesforceOrders
from services.common.errors import NotFound, PortalError
from tests.service.fulfillment.conftest import Controls
from tests.service.fulfillment.portal import Portal

MISSING_ORDER = "801000000000000AAA"  # well-formed, no such record


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


async def _orders(portal: Portal, n: int) -> list[str]:
    skus = [["INTERNET-GOLD-HOME-1G", "INTERNET-INSTALL-SINGLE"], ["INTERNET-GOLD-HOME-1G"]]
    return [await portal.create_order("hanako", skus[i % 2]) for i in range(n)]


def test_the_batched_read_asks_for_the_fields_of_the_single_read() -> None:
    assert ORDERS_QUERY.startswith("SELECT " + ", ".join(sforders.ORDER_FIELDS) + " FROM Order")


async def test_concurrent_reads_share_one_request(portal: Portal, controls: Controls) -> None:
    ids = await _orders(portal, 3)
    alone = [await sforders.read_order(portal.sf, i) for i in ids]
    orders = SalesforceOrders(portal.sf)
    before = await controls[0].calls()
    read = await asyncio.gather(
        *(orders.read(i) for i in [*ids, MISSING_ORDER]), return_exceptions=True
    )
    calls = _delta(before, await controls[0].calls())
    assert read[:3] == alone  # the same orders, items and all, as read one by one
    assert isinstance(read[3], NotFound)  # the missing order's error is its own
    assert calls == {"composite": 1, "composite:query:Order": 1, "composite:query:OrderItem": 1}


async def test_a_lone_order_goes_out_as_before(portal: Portal, controls: Controls) -> None:
    (order_id,) = await _orders(portal, 1)
    orders = SalesforceOrders(portal.sf)
    before = await controls[0].calls()
    order = await orders.read(order_id)
    calls = _delta(before, await controls[0].calls())
    assert order.id == order_id and len(order.items) == 2
    # the single-order read (record GET + items query), sent without waiting for company
    assert calls == {"composite": 1, "composite:sobjects:Order:GET": 1,
                     "composite:query:OrderItem": 1}  # fmt: skip
    assert orders.reads.flushes == 1
    before = await controls[0].calls()
    await orders.mark_activating(order_id)
    assert _delta(before, await controls[0].calls()) == {"composite:sobjects": 1}
    assert (await portal.order(order_id))["Activation_Status__c"] == "Activating"


async def test_one_order_failing_in_a_batch_does_not_touch_the_others(
    portal: Portal, controls: Controls
) -> None:
    good, bad = await _orders(portal, 2)
    orders = SalesforceOrders(portal.sf)
    before = await controls[0].calls()
    marked = await asyncio.gather(
        orders.mark_activating(good), orders.mark_activating(MISSING_ORDER), return_exceptions=True
    )
    assert marked[0] is None and isinstance(marked[1], PortalError)
    assert (await portal.order(good))["Activation_Status__c"] == "Activating"

    good_items = {i["Id"]: [100] for i in await portal.items(good)}
    bad_items = {i["Id"]: [200] for i in await portal.items(bad)}
    bad_items["802000000000000AAA"] = [201]  # no such item: this order's graph fails
    written = await asyncio.gather(
        orders.write_back(good, sforders.write_back_requests(good, 11, good_items, None)),
        orders.write_back(bad, sforders.write_back_requests(bad, 12, bad_items, None)),
        return_exceptions=True,
    )
    calls = _delta(before, await controls[0].calls())
    assert written[0] is None and isinstance(written[1], PortalError)
    assert (await portal.order(good))["Activation_Status__c"] == "Activated"
    assert (await portal.order(good))["WHMCS_Order_ID__c"] == "11"
    # the failed order's graph was rolled back as a whole: its real item is unchanged too
    assert (await portal.order(bad))["Status"] == "Pending Review"
    assert {i["WHMCS_Service_ID__c"] for i in await portal.items(bad)} == {None}
    assert calls["composite:sobjects"] == 1 and calls["composite:graph"] == 1
    assert calls.get("composite", 0) == 0 and calls.get("sobjects:Order:PATCH", 0) == 0


async def test_batches_respect_the_graph_limit(portal: Portal, controls: Controls) -> None:
    """More write-backs than one request may carry (75 graphs) go out as several requests."""
    (order_id,) = await _orders(portal, 1)
    items = {i["Id"]: [7] for i in await portal.items(order_id)}
    orders = SalesforceOrders(portal.sf)
    before = await controls[0].calls()
    requests = sforders.write_back_requests(order_id, 13, items, None)
    done = await asyncio.gather(*(orders.write_back(order_id, requests) for _ in range(80)))
    calls = _delta(before, await controls[0].calls())
    assert done == [None] * 80
    assert calls["composite:graph"] == 2
