"""CreateOrder: validation, refusals before Salesforce, the composite, idempotency, outages."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import grpc
import pytest
from portal.commerce.v1 import catalog_pb2, catalog_pb2_grpc, orders_pb2_grpc
from portal.commerce.v1 import orders_pb2 as pb

from services.common.clients import SalesforceClient
from tests.helpers.grpc_errors import bad_request, error_info, status_of
from tests.helpers.sandboxes import SandboxControl

EID = "8904" + "0" * 28


def stub(channel: grpc.aio.Channel) -> orders_pb2_grpc.OrderServiceStub:
    return orders_pb2_grpc.OrderServiceStub(channel)


async def catalog(channel: grpc.aio.Channel, md: Any) -> dict[str, str]:
    products = await catalog_pb2_grpc.CatalogServiceStub(channel).ListProducts(
        catalog_pb2.ListProductsRequest(), metadata=md
    )
    return {p.sku: p.id for p in products.products}


async def orders_of(sf: SalesforceClient, account_id: str) -> list[dict[str, Any]]:
    return await sf.query(
        "SELECT Id, Status, Activation_Status__c, EffectiveDate, Pricebook2Id, Order_Type__c, "
        "Portal_Request_Key__c, BillingStreet, BillingCity, BillingState, BillingPostalCode, "
        "BillingCountry, SIM_Type__c, EID__c, TotalAmount "
        f"FROM Order WHERE AccountId = '{account_id}'"
    )


async def refused(call: Any) -> tuple[grpc.StatusCode, str, Any]:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    status = await status_of(call)
    assert status is not None
    return err.value.code(), error_info(status).reason, bad_request(status)


async def test_checkout_creates_the_expected_order(
    channel: grpc.aio.Channel, customer_of: Any, sf: SalesforceClient
) -> None:
    user = await customer_of()
    md = user.metadata()
    ids = await catalog(channel, md)
    request = pb.CreateOrderRequest(
        request_id="req-1",
        items=[
            pb.OrderLine(product_id=ids["INTERNET-GOLD-HOME-1G"], quantity=1),
            pb.OrderLine(product_id=ids["INTERNET-INSTALL-SINGLE"], quantity=1),
            pb.OrderLine(product_id=ids["INTERNET-ADDON-HOME-PHONE"], quantity=2),
        ],
    )
    order = (await stub(channel).CreateOrder(request, metadata=md)).order
    assert order.status == pb.ORDER_STATUS_PENDING_REVIEW
    assert order.activation_status == pb.ACTIVATION_STATUS_NOT_STARTED
    assert [(i.sku, i.quantity, i.unit_price) for i in order.items] == [
        ("INTERNET-GOLD-HOME-1G", 1, "5980.00"),
        ("INTERNET-INSTALL-SINGLE", 1, "22000.00"),
        ("INTERNET-ADDON-HOME-PHONE", 2, "550.00"),
    ]
    assert order.total_amount == "29080.00" and order.currency_code == "JPY"
    assert order.billing_address.city == "Shibuya-ku" and order.billing_address.line2 == "Room 401"
    [record] = await orders_of(sf, user.account_id)
    assert record["Id"] == order.id
    assert record["Status"] == "Pending Review"
    assert record["Activation_Status__c"] == "Not Started"
    assert record["Order_Type__c"] == "New"
    assert record["Portal_Request_Key__c"] == f"{user.account_id}:req-1"
    assert record["BillingStreet"] == "1-2-3 Shibuya\nRoom 401"
    assert (record["BillingPostalCode"], record["BillingCountry"]) == ("150-0002", "JP")
    assert record["SIM_Type__c"] is None and record["EffectiveDate"]
    books = await sf.query("SELECT Id FROM Pricebook2 WHERE Name = 'Portal Pricebook'")
    assert record["Pricebook2Id"] == books[0]["Id"]
    items = await sf.query(
        f"SELECT Quantity, UnitPrice FROM OrderItem WHERE OrderId = '{order.id}'"
    )
    assert sorted((i["Quantity"], i["UnitPrice"]) for i in items) == [
        (1.0, 5980.0), (1.0, 22000.0), (2.0, 550.0),
    ]  # fmt: skip


async def test_sim_order_needs_sim_details(
    channel: grpc.aio.Channel, customer_of: Any, sf: SalesforceClient
) -> None:
    user = await customer_of("AC-000104")
    md = user.metadata()
    line = pb.OrderLine(product_id=(await catalog(channel, md))["SIM-DATA-10G"], quantity=1)
    for sim, field in (
        (None, "sim.simType"),
        (pb.SimDetails(sim_type=pb.SIM_TYPE_ESIM, eid="123"), "sim.eid"),
        (pb.SimDetails(sim_type=pb.SIM_TYPE_PHYSICAL, eid=EID), "sim.eid"),
    ):
        request = pb.CreateOrderRequest(request_id="sim", items=[line], sim=sim)
        code, reason, bad = await refused(stub(channel).CreateOrder(request, metadata=md))
        assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_FAILED")
        assert [v.field for v in bad.field_violations] == [field]
    sim = pb.SimDetails(sim_type=pb.SIM_TYPE_ESIM, eid=EID)
    request = pb.CreateOrderRequest(request_id="sim", items=[line], sim=sim)
    await stub(channel).CreateOrder(request, metadata=md)
    [record] = await orders_of(sf, user.account_id)
    assert (record["SIM_Type__c"], record["EID__c"]) == ("eSIM", EID)


async def test_malformed_requests(channel: grpc.aio.Channel, customer_of: Any) -> None:
    user = await customer_of()
    md = user.metadata()
    gold = (await catalog(channel, md))["INTERNET-GOLD-HOME-1G"]
    ok_line = pb.OrderLine(product_id=gold, quantity=1)
    cases = [
        (pb.CreateOrderRequest(items=[ok_line]), "requestId"),
        (pb.CreateOrderRequest(request_id="x" * 65, items=[ok_line]), "requestId"),
        (pb.CreateOrderRequest(request_id="r"), "items"),
        (pb.CreateOrderRequest(request_id="r", items=[ok_line] * 21), "items"),
        (
            pb.CreateOrderRequest(request_id="r", items=[pb.OrderLine(product_id=gold)]),
            "items[0].quantity",
        ),
        (
            pb.CreateOrderRequest(
                request_id="r", items=[pb.OrderLine(product_id=gold, quantity=11)]
            ),
            "items[0].quantity",
        ),
        (
            pb.CreateOrderRequest(
                request_id="r", items=[pb.OrderLine(product_id="nope", quantity=1)]
            ),
            "items[0].productId",
        ),
    ]
    for request, field in cases:
        code, reason, bad = await refused(stub(channel).CreateOrder(request, metadata=md))
        assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_FAILED")
        assert field in [v.field for v in bad.field_violations]


@pytest.mark.parametrize(
    ("number", "sku", "pay_method", "reason"),
    [
        ("AC-000101", "INTERNET-GOLD-HOME-1G", False, "PAYMENT_METHOD_REQUIRED"),
        ("AC-000104", "INTERNET-GOLD-HOME-1G", True, "NOT_ELIGIBLE"),
        ("AC-000101", "INTERNET-PLATINUM-HOME-10G", True, "PRODUCT_UNAVAILABLE"),
        ("AC-000101", "STAFF-TEST-PRODUCT", True, "PRODUCT_UNAVAILABLE"),
    ],
)
async def test_refusals_create_nothing(
    channel: grpc.aio.Channel,
    customer_of: Any,
    sf: SalesforceClient,
    sf_control: SandboxControl,
    number: str,
    sku: str,
    pay_method: bool,
    reason: str,
) -> None:
    user = await customer_of(number, pay_method=pay_method)
    md = user.metadata()
    rows = await sf.query(f"SELECT Id FROM Product2 WHERE StockKeepingUnit = '{sku}'")
    request = pb.CreateOrderRequest(
        request_id="refused", items=[pb.OrderLine(product_id=rows[0]["Id"], quantity=1)]
    )
    code, got, _ = await refused(stub(channel).CreateOrder(request, metadata=md))
    assert (code, got) == (grpc.StatusCode.FAILED_PRECONDITION, reason)
    assert await orders_of(sf, user.account_id) == []
    assert "composite" not in await sf_control.calls()


async def test_same_request_id_five_times_concurrently_is_one_order(
    channel: grpc.aio.Channel, customer_of: Any, sf: SalesforceClient, db: asyncpg.Connection
) -> None:
    user = await customer_of()
    md = user.metadata()
    line = pb.OrderLine(product_id=(await catalog(channel, md))["VPN-STANDARD"], quantity=1)
    request = pb.CreateOrderRequest(request_id="same-5", items=[line])
    results = await asyncio.gather(
        *(stub(channel).CreateOrder(request, metadata=md) for _ in range(5))
    )
    assert len({r.order.id for r in results}) == 1
    again = await stub(channel).CreateOrder(request, metadata=md)
    assert again.order.id == results[0].order.id
    # Another replica (no local row) retrying: Salesforce's DUPLICATE_VALUE -> the same order.
    await db.execute("TRUNCATE commerce.orders")
    replica = await stub(channel).CreateOrder(request, metadata=md)
    assert replica.order.id == results[0].order.id
    assert len(await orders_of(sf, user.account_id)) == 1
    other = pb.CreateOrderRequest(request_id="another", items=[line])
    assert (await stub(channel).CreateOrder(other, metadata=md)).order.id != again.order.id


async def test_salesforce_down_is_unavailable_and_nothing_half_created(
    channel: grpc.aio.Channel, customer_of: Any, sf: SalesforceClient, sf_control: SandboxControl
) -> None:
    user = await customer_of()
    md = user.metadata()
    ids = await catalog(channel, md)
    lines = [pb.OrderLine(product_id=ids["INTERNET-GOLD-HOME-1G"], quantity=1)]
    await sf_control.fault("unavailable", count=5, action="composite")
    request = pb.CreateOrderRequest(request_id="down", items=lines)
    code, reason, _ = await refused(stub(channel).CreateOrder(request, metadata=md))
    assert (code, reason) == (grpc.StatusCode.UNAVAILABLE, "UPSTREAM_UNAVAILABLE")
    await sf_control.fault("none")
    assert await orders_of(sf, user.account_id) == []
    # An item Salesforce refuses rolls the whole composite back (allOrNone).
    await sf.delete("PricebookEntry", await _entry(sf, "VPN-STANDARD"))  # no CDC here: the
    lines.append(pb.OrderLine(product_id=ids["VPN-STANDARD"], quantity=1))  # catalog is stale
    request = pb.CreateOrderRequest(request_id="half", items=lines)
    with pytest.raises(grpc.aio.AioRpcError):
        await stub(channel).CreateOrder(request, metadata=md)
    assert await orders_of(sf, user.account_id) == []


async def _entry(sf: SalesforceClient, sku: str) -> str:
    rows = await sf.query(
        "SELECT Id FROM PricebookEntry WHERE Pricebook2.Name = 'Portal Pricebook' "
        f"AND Product2.StockKeepingUnit = '{sku}'"
    )
    return str(rows[0]["Id"])
