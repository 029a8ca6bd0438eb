"""Orders as read from Salesforce: the mapping to ``portal.commerce.v1.Order``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf import timestamp_pb2
from portal.commerce.v1 import orders_pb2
from portal.common.v1 import types_pb2

from services.commerce.records import CURRENCY, money, text, whole

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


def item_from_record(r: dict[str, Any]) -> orders_pb2.OrderItem:
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
