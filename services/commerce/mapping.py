"""Salesforce records ↔ commerce's domain (no I/O).

- Catalog: PricebookEntry rows with their Product2 → ``CatalogItem``; the account's
  ``Portal_Eligible_Categories__c`` → categories.
- Orders: Order and OrderItem rows → ``portal.commerce.v1.Order`` (the contract's message is the
  domain's order).
- Checkout: validated lines → the Order and OrderItem records created in one ``composite`` call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from google.protobuf import timestamp_pb2
from portal.commerce.v1 import catalog_pb2, order_records_pb2, orders_pb2
from portal.common.v1 import types_pb2

from services.commerce.model import CatalogItem
from services.commerce.validation import SIM_TYPES, Line
from services.common.idempotency import KEY_FIELD
from services.common.money import decimal_string

# -- shared conversions ---------------------------------------------------------------------------
CURRENCY = "JPY"


def money(value: Any) -> str:
    """A Salesforce number (a double in JSON: ``5980.0``) as a decimal string ``"5980.00"``."""
    return decimal_string(value)


def text(record: dict[str, Any], name: str) -> str:
    value = record.get(name)
    return "" if value is None else str(value)


def whole(value: Any) -> int:
    """A Salesforce double that holds a whole number (``Quantity`` ``2.0``)."""
    return int(Decimal(str(value or 0)))


# -- catalog -------------------------------------------------------------------------------------
Category = catalog_pb2.ProductCategory
UNSPECIFIED = catalog_pb2.PRODUCT_CATEGORY_UNSPECIFIED
CATEGORIES: dict[str, Category] = {
    "Internet": catalog_pb2.PRODUCT_CATEGORY_INTERNET,
    "SIM": catalog_pb2.PRODUCT_CATEGORY_SIM,
    "VPN": catalog_pb2.PRODUCT_CATEGORY_VPN,
    "Other": catalog_pb2.PRODUCT_CATEGORY_OTHER,
}
CATEGORY_NAMES = {value: name for name, value in CATEGORIES.items()}
ITEM_CLASSES = {
    "Service": catalog_pb2.ITEM_CLASS_SERVICE,
    "Installation": catalog_pb2.ITEM_CLASS_INSTALLATION,
    "Add-on": catalog_pb2.ITEM_CLASS_ADD_ON,
    "Activation": catalog_pb2.ITEM_CLASS_ACTIVATION,
}
BILLING_CYCLES = {
    "Monthly": types_pb2.BILLING_CYCLE_MONTHLY,
    "Onetime": types_pb2.BILLING_CYCLE_ONE_TIME,
    "One Time": types_pb2.BILLING_CYCLE_ONE_TIME,
    "Quarterly": types_pb2.BILLING_CYCLE_QUARTERLY,
    "Semi-Annually": types_pb2.BILLING_CYCLE_SEMI_ANNUALLY,
    "Annually": types_pb2.BILLING_CYCLE_ANNUALLY,
    "Free": types_pb2.BILLING_CYCLE_FREE,
}


def catalog_item_from_record(record: dict[str, Any]) -> CatalogItem:
    p = record.get("Product2") or {}
    product = catalog_pb2.Product(
        id=text(record, "Product2Id"),
        sku=text(p, "StockKeepingUnit"),
        name=text(p, "Name"),
        description=text(p, "Description"),
        category=CATEGORIES.get(text(p, "Product2Categories1__c"), UNSPECIFIED),
        item_class=ITEM_CLASSES.get(text(p, "Item_Class__c"), catalog_pb2.ITEM_CLASS_UNSPECIFIED),
        billing_cycle=BILLING_CYCLES.get(
            text(p, "Billing_Cycle__c"), types_pb2.BILLING_CYCLE_UNSPECIFIED
        ),
        unit_price=money(record.get("UnitPrice")),
        currency_code=CURRENCY,
        orderable=bool(p.get("Portal_Accessible__c")),
    )
    return CatalogItem(
        product, text(record, "Id"), text(p, "SIM_Plan_Code__c"), text(record, "Pricebook2Id")
    )


def categories_of(value: str | None) -> list[Category]:
    """``Portal_Eligible_Categories__c`` (a multi-select: ``"Internet;SIM"``) as enum values."""
    names = [part.strip() for part in (value or "").split(";")]
    return sorted({CATEGORIES[n] for n in names if n in CATEGORIES})


# -- orders --------------------------------------------------------------------------------------
STATUSES = {
    "Draft": orders_pb2.ORDER_STATUS_DRAFT,
    "Pending Review": orders_pb2.ORDER_STATUS_PENDING_REVIEW,
    "Approved": orders_pb2.ORDER_STATUS_APPROVED,
    "Activated": orders_pb2.ORDER_STATUS_ACTIVATED,
    "Cancelled": orders_pb2.ORDER_STATUS_CANCELLED,
}
ACTIVATION = {
    "Not Started": orders_pb2.ACTIVATION_STATUS_NOT_STARTED,
    "Activating": orders_pb2.ACTIVATION_STATUS_ACTIVATING,
    "Activated": orders_pb2.ACTIVATION_STATUS_ACTIVATED,
    "Failed": orders_pb2.ACTIVATION_STATUS_FAILED,
}


def _timestamp(value: str) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    if value:
        out.FromDatetime(datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z"))
    return out


def _address(r: dict[str, Any]) -> types_pb2.Address:
    line1, _, line2 = text(r, "BillingStreet").partition("\n")
    return types_pb2.Address(
        line1=line1,
        line2=line2,
        city=text(r, "BillingCity"),
        state=text(r, "BillingState"),
        postcode=text(r, "BillingPostalCode"),
        country=text(r, "BillingCountry"),
    )


def order_item_from_record(r: dict[str, Any]) -> orders_pb2.OrderItem:
    product = r.get("Product2") or {}
    return orders_pb2.OrderItem(
        product_id=text(r, "Product2Id"),
        sku=text(product, "StockKeepingUnit"),
        name=text(product, "Name"),
        quantity=whole(r.get("Quantity")),
        unit_price=money(r.get("UnitPrice")),
    )


def order_from_record(r: dict[str, Any], items: list[orders_pb2.OrderItem]) -> orders_pb2.Order:
    return orders_pb2.Order(
        id=text(r, "Id"),
        order_number=text(r, "OrderNumber"),
        status=STATUSES.get(text(r, "Status"), orders_pb2.ORDER_STATUS_UNSPECIFIED),
        activation_status=ACTIVATION.get(
            text(r, "Activation_Status__c"), orders_pb2.ACTIVATION_STATUS_UNSPECIFIED
        ),
        error_code=text(r, "Activation_Error_Code__c"),
        error_message=text(r, "Activation_Error_Message__c"),
        created_at=_timestamp(text(r, "CreatedDate")),
        items=items,
        total_amount=money(r.get("TotalAmount")),
        currency_code=CURRENCY,
        billing_address=_address(r),
    )


def order_record_from_record(
    r: dict[str, Any], items: list[orders_pb2.OrderItem]
) -> order_records_pb2.OrderRecord:
    """The order as cached, with its LastModifiedDate (0 when the record has none)."""
    modified = _timestamp(text(r, "LastModifiedDate"))
    return order_records_pb2.OrderRecord(
        order=order_from_record(r, items), modified_ms=modified.ToMilliseconds()
    )


# -- checkout ------------------------------------------------------------------------------------
def order_type(lines: Sequence[Line]) -> str:
    """Only add-ons change an existing service; anything else is a new order."""
    add_ons = all(line.item.product.item_class == catalog_pb2.ITEM_CLASS_ADD_ON for line in lines)
    return "Change" if add_ons else "New"


def billing_fields(address: types_pb2.Address) -> dict[str, str]:
    street = "\n".join(part for part in (address.line1, address.line2) if part)
    return {
        "BillingStreet": street,
        "BillingCity": address.city,
        "BillingState": address.state,
        "BillingPostalCode": address.postcode,
        "BillingCountry": address.country,
    }


def composite_requests(
    *,
    account_id: str,
    key: str,
    lines: Sequence[Line],
    sim: orders_pb2.SimDetails,
    address: types_pb2.Address,
    today: date,
) -> list[dict[str, Any]]:
    """The Order and its OrderItems, for ONE ``composite`` call with ``allOrNone``."""
    order: dict[str, Any] = {
        "AccountId": account_id,
        "Status": "Pending Review",
        "Activation_Status__c": "Not Started",
        "EffectiveDate": today.isoformat(),
        "Pricebook2Id": lines[0].item.pricebook_id,
        "Order_Type__c": order_type(lines),
        KEY_FIELD: key,
        **billing_fields(address),
    }
    if any(line.item.is_sim_plan for line in lines):
        order["SIM_Type__c"] = SIM_TYPES[sim.sim_type]
        if sim.eid:
            order["EID__c"] = sim.eid
    subs = [{"method": "POST", "url": "sobjects/Order", "referenceId": "order", "body": order}]
    for n, line in enumerate(lines):
        item = {
            "OrderId": "@{order.id}",
            "PricebookEntryId": line.item.pricebook_entry_id,
            "Quantity": line.quantity,
            "UnitPrice": float(line.item.product.unit_price),
        }
        subs.append(
            {"method": "POST", "url": "sobjects/OrderItem", "referenceId": f"item{n}", "body": item}
        )
    return subs
