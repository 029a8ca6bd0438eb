"""CatalogService: contents and order, eligibility overlay, NOT_FOUND, and caching."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from portal.commerce.v1 import catalog_pb2 as pb
from portal.commerce.v1 import catalog_pb2_grpc

from services.common.clients import SalesforceClient
from tests.helpers.grpc_errors import error_info, status_of
from tests.helpers.sandboxes import SandboxControl

EXPECTED_SKUS = [
    "INTERNET-SILVER-HOME-1G",
    "INTERNET-GOLD-HOME-1G",
    "INTERNET-PLATINUM-HOME-1G",
    "INTERNET-PLATINUM-HOME-10G",
    "INTERNET-INSTALL-SINGLE",
    "INTERNET-INSTALL-WEEKEND",
    "INTERNET-ADDON-HOME-PHONE",
    "SIM-DATA-3G",
    "SIM-DATA-10G",
    "SIM-VOICE-10G",
    "VPN-STANDARD",
]


def stub(channel: grpc.aio.Channel) -> catalog_pb2_grpc.CatalogServiceStub:
    return catalog_pb2_grpc.CatalogServiceStub(channel)


async def test_catalog_contents_and_order(channel: grpc.aio.Channel, customer_of: Any) -> None:
    user = await customer_of("AC-000101")
    products = (
        await stub(channel).ListProducts(pb.ListProductsRequest(), metadata=user.metadata())
    ).products
    assert [p.sku for p in products] == EXPECTED_SKUS
    gold = products[1]
    assert gold.name == "Internet Gold Home 1G"
    assert gold.unit_price == "5980.00" and gold.currency_code == "JPY"
    assert gold.category == pb.PRODUCT_CATEGORY_INTERNET
    assert gold.item_class == pb.ITEM_CLASS_SERVICE
    assert gold.orderable and gold.eligible and not gold.ineligible_reason
    assert not products[3].orderable  # Portal_Accessible__c = false


async def test_eligibility_overlay_and_category_filter(
    channel: grpc.aio.Channel, customer_of: Any
) -> None:
    user = await customer_of("AC-000104")  # SIM only
    md = user.metadata()
    eligibility = await stub(channel).GetEligibility(pb.GetEligibilityRequest(), metadata=md)
    assert list(eligibility.eligible_categories) == [pb.PRODUCT_CATEGORY_SIM]
    products = (await stub(channel).ListProducts(pb.ListProductsRequest(), metadata=md)).products
    internet = [p for p in products if p.category == pb.PRODUCT_CATEGORY_INTERNET]
    assert internet and all(not p.eligible and "Internet" in p.ineligible_reason for p in internet)
    sims = await stub(channel).ListProducts(
        pb.ListProductsRequest(category=pb.PRODUCT_CATEGORY_SIM), metadata=md
    )
    assert [p.sku for p in sims.products] == ["SIM-DATA-3G", "SIM-DATA-10G", "SIM-VOICE-10G"]
    assert all(p.eligible for p in sims.products)


async def test_get_product_and_not_found(
    channel: grpc.aio.Channel, customer_of: Any, sf: SalesforceClient
) -> None:
    user = await customer_of()
    md = user.metadata()
    products = (await stub(channel).ListProducts(pb.ListProductsRequest(), metadata=md)).products
    got = await stub(channel).GetProduct(
        pb.GetProductRequest(product_id=products[0].id), metadata=md
    )
    assert got.product == products[0]
    hidden = await sf.query("SELECT Id FROM Product2 WHERE StockKeepingUnit = 'STAFF-TEST-PRODUCT'")
    for product_id in (hidden[0]["Id"], "01t000000000000AAA", "nonsense", "' OR 1=1"):
        call = stub(channel).GetProduct(pb.GetProductRequest(product_id=product_id), metadata=md)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        status = await status_of(call)
        assert status is not None and error_info(status).reason == "NOT_FOUND"


async def test_catalog_is_cached(
    channel: grpc.aio.Channel, customer_of: Any, sf_control: SandboxControl
) -> None:
    user = await customer_of()
    before = await sf_control.calls()
    for _ in range(5):
        await stub(channel).ListProducts(pb.ListProductsRequest(), metadata=user.metadata())
    calls = await sf_control.calls()
    assert calls.get("query:PricebookEntry", 0) - before.get("query:PricebookEntry", 0) == 1
    assert calls.get("query:Account", 0) - before.get("query:Account", 0) == 1


async def test_unlinked_user_is_eligible_for_nothing(
    channel: grpc.aio.Channel, customer_of: Any, peers: Any
) -> None:
    user = await customer_of()
    peers.directory.accounts.clear()
    md = user.metadata()
    eligibility = await stub(channel).GetEligibility(pb.GetEligibilityRequest(), metadata=md)
    assert list(eligibility.eligible_categories) == []
