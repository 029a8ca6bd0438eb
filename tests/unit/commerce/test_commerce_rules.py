"""Pure commerce rules: money, ids, eligibility parsing, page tokens, checkout validation and the
composite, and which CDC updates are fulfillment-internal."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from portal.commerce.v1 import catalog_pb2
from portal.commerce.v1 import orders_pb2 as pb
from portal.common.v1 import types_pb2

from services.commerce.cdc.invalidation import IGNORED_ORDER_FIELDS, only_touches
from services.commerce.mapping import categories_of, composite_requests, money
from services.commerce.model import CatalogItem
from services.commerce.validation import Line, resolve_lines, shape_violations, sim_violations
from services.commerce.wire import catalog_items, catalog_record
from services.common.clients.cdc import ChangeEvent
from services.common.errors import ProductUnavailable, ValidationFailed
from services.common.idempotency import request_key
from services.common.salesforce_ids import is_salesforce_id

PID = "01tDp0000004C9CIAU"


def item(pid: str = PID, *, orderable: bool = True, sim: str = "", cls: int = 1) -> CatalogItem:
    product = catalog_pb2.Product(
        id=pid, sku="X", unit_price="990.00", orderable=orderable, item_class=cls,
        category=catalog_pb2.PRODUCT_CATEGORY_SIM if sim else catalog_pb2.PRODUCT_CATEGORY_INTERNET,
    )  # fmt: skip
    return CatalogItem(product, "01uDp0000004C9EIAU", sim, "01sDp0000004C8zIAE")


def test_money_and_ids() -> None:
    assert money(5980.0) == "5980.00" and money(None) == "0.00" and money(0.005) == "0.01"
    assert is_salesforce_id(PID, "01t") and is_salesforce_id(PID[:15], "01t")
    assert not is_salesforce_id(PID, "801") and not is_salesforce_id("01t' OR 1=1 --xxx", "01t")
    # An 18-character id whose case-safe suffix does not match (e.g. lower-cased): Salesforce
    # would refuse the whole query, so it is no id at all.
    assert is_salesforce_id(PID[:15] + "iau", "01t")
    assert not is_salesforce_id(PID.lower(), "01t") and not is_salesforce_id(
        PID[:15] + "AAA", "01t"
    )


def test_request_id_without_control_characters() -> None:
    line = pb.OrderLine(product_id=PID, quantity=1)
    for bad in ("r\x00", "r\n", "\x07"):
        violations = shape_violations(pb.CreateOrderRequest(request_id=bad, items=[line]))
        assert [v.field for v in violations] == ["request_id"], bad
    unicode = pb.CreateOrderRequest(request_id="注文-1", items=[line])
    assert shape_violations(unicode) == []


def test_eligible_categories_parse_a_multipicklist() -> None:
    assert categories_of("SIM;Internet;Bogus") == [
        catalog_pb2.PRODUCT_CATEGORY_INTERNET,
        catalog_pb2.PRODUCT_CATEGORY_SIM,
    ]
    assert categories_of(None) == []


def test_catalog_struct_round_trip() -> None:
    items = [item(), item("01tDp0000004C9DIAU", sim="PNEW_3G")]
    assert catalog_items(catalog_record(items)) == items


def test_shape_violations() -> None:
    ok = pb.OrderLine(product_id=PID, quantity=1)
    assert shape_violations(pb.CreateOrderRequest(request_id="r", items=[ok])) == []
    fields = {
        v.field
        for v in shape_violations(
            pb.CreateOrderRequest(items=[ok, ok, pb.OrderLine(product_id="x", quantity=0)])
        )
    }
    assert fields == {
        "request_id",
        "items[1].product_id",
        "items[2].product_id",
        "items[2].quantity",
    }


def test_lines_and_sim_rules() -> None:
    request = pb.CreateOrderRequest(
        request_id="r", items=[pb.OrderLine(product_id=PID, quantity=2)]
    )
    with pytest.raises(ProductUnavailable):
        resolve_lines(request, [item(orderable=False)])
    with pytest.raises(ProductUnavailable):
        resolve_lines(request, [])
    lines = resolve_lines(request, [item(sim="PNEW_3G")])
    with pytest.raises(ValidationFailed):
        sim_violations(request, lines)
    request.sim.CopyFrom(pb.SimDetails(sim_type=pb.SIM_TYPE_ESIM, eid="1" * 32))
    sim_violations(request, lines)


def test_request_key_is_scoped_and_bounded() -> None:
    assert request_key("001A", "abc") == "001A:abc"
    long_key = request_key("001A", "x" * 64 + "y" * 20)
    assert long_key.startswith("001A:sha256:") and len(long_key) <= 80
    assert request_key("001B", "abc") != request_key("001A", "abc")


def test_composite_is_one_order_then_its_items() -> None:
    lines = [Line(item(sim="PNEW_3G"), 2)]
    subs = composite_requests(
        account_id="001A", key="001A:r", lines=lines,
        sim=pb.SimDetails(sim_type=pb.SIM_TYPE_ESIM, eid="1" * 32),
        address=types_pb2.Address(line1="a", line2="b", city="c", postcode="p", country="JP"),
        today=date(2026, 11, 27),
    )  # fmt: skip
    order, line = subs[0]["body"], subs[1]["body"]
    assert order["Status"] == "Pending Review" and order["EffectiveDate"] == "2026-11-27"
    assert order["BillingStreet"] == "a\nb" and order["SIM_Type__c"] == "eSIM"
    assert order["Order_Type__c"] == "New" and order["Portal_Request_Key__c"] == "001A:r"
    assert line == {
        "OrderId": "@{order.id}", "PricebookEntryId": "01uDp0000004C9EIAU",
        "Quantity": 2, "UnitPrice": 990.0,
    }  # fmt: skip
    add_on = [Line(item(cls=catalog_pb2.ITEM_CLASS_ADD_ON), 1)]
    subs = composite_requests(
        account_id="001A", key="k", lines=add_on, sim=pb.SimDetails(),
        address=types_pb2.Address(), today=date(2026, 1, 1),
    )  # fmt: skip
    assert subs[0]["body"]["Order_Type__c"] == "Change" and "SIM_Type__c" not in subs[0]["body"]


def event(change: str, *fields: str) -> ChangeEvent:
    return ChangeEvent(
        entity="Order", change_type=change, record_ids=("801A",), changed_fields=fields,
        nulled_fields=(), diff_fields=(), transaction_key="t", sequence=1,
        commit_timestamp=datetime.now(UTC), commit_number=1, change_origin="", commit_user="",
        fields={}, replay_id=b"\x01",
    )  # fmt: skip


def test_fulfillment_internal_updates_are_ignored() -> None:
    assert only_touches(
        event("UPDATE", "WHMCS_Order_ID__c", "LastModifiedDate"), IGNORED_ORDER_FIELDS
    )
    assert not only_touches(event("UPDATE", "Status", "SIM_Account__c"), IGNORED_ORDER_FIELDS)
    assert not only_touches(event("CREATE", "WHMCS_Order_ID__c"), IGNORED_ORDER_FIELDS)
    assert not only_touches(event("UPDATE"), IGNORED_ORDER_FIELDS)
