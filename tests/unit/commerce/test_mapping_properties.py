"""Salesforce → commerce mapping (catalog entries, orders, order items) on any record Salesforce
can send (hypothesis): every field may be null or absent and picklists may hold values we do not
know; nothing raises, known values keep their meaning and text is never altered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from portal.commerce.v1 import catalog_pb2
from portal.commerce.v1 import orders_pb2 as pb
from portal.common.v1 import types_pb2

from sandbox.salesforce.ids import checksum, normalize_id
from services.commerce import mapping, wire
from services.commerce.mapping import billing_fields, whole
from services.common.money import decimal_string
from services.common.salesforce_ids import is_salesforce_id

TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
# A Salesforce text field: a string or null, or not selected at all.
MISSING = object()
NUMBER = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


def nullable(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(values, st.none(), st.just(MISSING))


def record(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not MISSING}


def picklist(known: dict[str, Any]) -> st.SearchStrategy[Any]:
    return nullable(st.sampled_from(sorted(known)) | TEXT)


def expected_text(value: Any) -> str:
    return "" if value is None or value is MISSING else str(value)


# -- catalog -----------------------------------------------------------------------------------

PRODUCT2 = st.fixed_dictionaries(
    {
        "Name": nullable(TEXT), "StockKeepingUnit": nullable(TEXT),
        "Description": nullable(TEXT),
        "Product2Categories1__c": picklist(mapping.CATEGORIES),
        "Item_Class__c": picklist(mapping.ITEM_CLASSES),
        "Billing_Cycle__c": picklist(mapping.BILLING_CYCLES),
        "Portal_Accessible__c": nullable(st.booleans()), "SIM_Plan_Code__c": nullable(TEXT),
    }
).map(lambda f: record(**f))  # fmt: skip
ENTRY = st.fixed_dictionaries(
    {
        "Id": nullable(TEXT), "Pricebook2Id": nullable(TEXT), "UnitPrice": nullable(NUMBER),
        "Product2Id": nullable(TEXT), "Product2": nullable(PRODUCT2),
    }
).map(lambda f: record(**f))  # fmt: skip


@given(ENTRY)
def test_catalog_entries_keep_every_field(entry: dict[str, Any]) -> None:
    item = mapping.catalog_item_from_record(entry)
    p, product2 = item.product, entry.get("Product2") or {}
    assert p.id == expected_text(entry.get("Product2Id", MISSING))
    assert (p.name, p.sku, p.description) == tuple(
        expected_text(product2.get(k, MISSING)) for k in ("Name", "StockKeepingUnit", "Description")
    )
    assert p.category == mapping.CATEGORIES.get(
        product2.get("Product2Categories1__c"), catalog_pb2.PRODUCT_CATEGORY_UNSPECIFIED
    )
    assert p.item_class == mapping.ITEM_CLASSES.get(
        product2.get("Item_Class__c"), catalog_pb2.ITEM_CLASS_UNSPECIFIED
    )
    assert p.billing_cycle == mapping.BILLING_CYCLES.get(
        product2.get("Billing_Cycle__c"), types_pb2.BILLING_CYCLE_UNSPECIFIED
    )
    assert p.unit_price == decimal_string(entry.get("UnitPrice"))
    assert p.currency_code == "JPY" and p.orderable is bool(product2.get("Portal_Accessible__c"))
    assert item.pricebook_entry_id == expected_text(entry.get("Id", MISSING))
    assert item.sim_plan_code == expected_text(product2.get("SIM_Plan_Code__c", MISSING))


@given(st.lists(ENTRY, max_size=5))
def test_the_cached_catalog_round_trips(entries: list[dict[str, Any]]) -> None:
    items = [mapping.catalog_item_from_record(e) for e in entries]
    assert wire.catalog_items(wire.catalog_record(items)) == items


@given(st.lists(st.sampled_from(sorted(mapping.CATEGORIES)) | TEXT, max_size=6),
       st.sampled_from([";", " ;", "; ", " ; "]))  # fmt: skip
def test_eligible_categories_are_exactly_the_known_names(names: list[str], sep: str) -> None:
    # A multi-select picklist: names joined by ";"; unknown or stray values are ignored.
    value = sep.join(names)
    found = mapping.categories_of(value)
    known = {mapping.CATEGORIES[n.strip()] for n in value.split(";")
             if n.strip() in mapping.CATEGORIES}  # fmt: skip
    assert found == sorted(known)
    assert mapping.categories_of(None) == [] == mapping.categories_of("")


# -- orders ------------------------------------------------------------------------------------

ZONES = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
INSTANTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=ZONES
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))  # Salesforce keeps ms


def sf_datetime(moment: datetime) -> str:
    """How Salesforce writes a datetime: ``2026-11-27T11:10:10.144+0000``."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{moment.microsecond // 1000:03d}+0000"
    )


ORDER = st.fixed_dictionaries(
    {
        "Id": nullable(TEXT), "OrderNumber": nullable(TEXT),
        "Status": picklist(mapping.STATUSES),
        "Activation_Status__c": picklist(mapping.ACTIVATION),
        "Activation_Error_Code__c": nullable(TEXT), "Activation_Error_Message__c": nullable(TEXT),
        "CreatedDate": nullable(INSTANTS.map(sf_datetime)), "TotalAmount": nullable(NUMBER),
        "BillingStreet": nullable(TEXT), "BillingCity": nullable(TEXT),
        "BillingState": nullable(TEXT), "BillingPostalCode": nullable(TEXT),
        "BillingCountry": nullable(TEXT),
    }
).map(lambda f: record(**f))  # fmt: skip
ITEM = st.fixed_dictionaries(
    {
        "Product2Id": nullable(TEXT), "Quantity": nullable(st.integers(0, 10**6).map(float)),
        "UnitPrice": nullable(NUMBER),
        "Product2": nullable(st.fixed_dictionaries(
            {"StockKeepingUnit": nullable(TEXT), "Name": nullable(TEXT)}
        ).map(lambda f: record(**f))),
    }
).map(lambda f: record(**f))  # fmt: skip


@given(ORDER, st.lists(ITEM, max_size=4))
def test_orders_keep_every_field(order: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    items = [mapping.order_item_from_record(r) for r in rows]
    message = mapping.order_from_record(order, items)
    g = order.get
    assert (message.id, message.order_number) == (
        expected_text(g("Id")),
        expected_text(g("OrderNumber")),
    )
    assert message.status == mapping.STATUSES.get(g("Status"), pb.ORDER_STATUS_UNSPECIFIED)
    assert message.activation_status == mapping.ACTIVATION.get(
        g("Activation_Status__c"), pb.ACTIVATION_STATUS_UNSPECIFIED
    )
    assert message.error_code == expected_text(g("Activation_Error_Code__c"))
    assert message.error_message == expected_text(g("Activation_Error_Message__c"))
    assert (
        message.total_amount == decimal_string(g("TotalAmount")) and message.currency_code == "JPY"
    )
    if g("CreatedDate"):
        read = message.created_at.ToDatetime(tzinfo=UTC)
        assert sf_datetime(read) == g("CreatedDate")
    else:
        assert not message.HasField("created_at") or message.created_at.seconds == 0
    street = expected_text(g("BillingStreet"))
    a = message.billing_address
    assert a.line1 + ("\n" + a.line2 if "\n" in street else "") == street
    assert (a.city, a.state, a.postcode, a.country) == tuple(
        expected_text(g(k)) for k in ("BillingCity", "BillingState", "BillingPostalCode",
                                      "BillingCountry")
    )  # fmt: skip
    for row, item in zip(rows, message.items, strict=True):
        product = row.get("Product2") or {}
        assert item.product_id == expected_text(row.get("Product2Id"))
        assert (item.sku, item.name) == (
            expected_text(product.get("StockKeepingUnit")),
            expected_text(product.get("Name")),
        )
        assert item.quantity == int(row.get("Quantity") or 0)
        assert item.unit_price == decimal_string(row.get("UnitPrice"))


LINE = st.text(st.characters(codec="utf-8", exclude_characters="\n"), max_size=40)


@given(LINE.filter(str.strip), LINE, LINE, LINE, LINE, LINE)
def test_the_billing_address_written_at_checkout_reads_back(
    line1: str, line2: str, city: str, state: str, postcode: str, country: str
) -> None:
    # line1 is required in the billing profile; neither line holds a line break.
    address = types_pb2.Address(line1=line1, line2=line2, city=city, state=state,
                                postcode=postcode, country=country)  # fmt: skip
    order = mapping.order_from_record(billing_fields(address), [])
    assert order.billing_address == address


@given(st.integers(0, 10**12))
def test_whole_quantities(quantity: int) -> None:
    assert whole(float(quantity)) == whole(quantity) == whole(str(quantity)) == quantity
    assert whole(None) == 0


# -- ids ---------------------------------------------------------------------------------------

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BASE15 = st.text(st.sampled_from(ALNUM), min_size=12, max_size=12).map(lambda s: "801" + s)


@given(BASE15, st.text(st.sampled_from(ALNUM), min_size=3, max_size=3))
def test_ids_are_checked_like_salesforce_checks_them(base: str, suffix: str) -> None:
    full = base + checksum(base)
    assert is_salesforce_id(base, "801") and is_salesforce_id(full, "801")
    assert is_salesforce_id(full.lower()[:15] + full[15:], "801") == (base == base.lower())
    # Any suffix: accepted exactly when Salesforce (the sandbox) resolves the id.
    assert is_salesforce_id(base + suffix, "801") == (normalize_id(base + suffix) is not None)
    assert not is_salesforce_id(full, "500")


@given(st.text(max_size=20))
def test_anything_else_is_not_an_id(value: str) -> None:
    if is_salesforce_id(value, "801"):
        assert value.startswith("801") and normalize_id(value) is not None
