"""The Order / OrderItem records checkout creates in Salesforce (one ``composite`` call), from
validated lines (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from portal.commerce.v1 import catalog_pb2, orders_pb2
from portal.common.v1 import types_pb2

from services.commerce.validation import SIM_TYPES, Line
from services.common.idempotency import KEY_FIELD


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
