"""What fulfillment reads from and writes to Salesforce: the order with its items, the
Activation_* progress fields, the one-request write-back and the reconciliation query."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from services.commerce.fulfillment.model import Item, Order
from services.common.clients import SalesforceClient, soql

ORDER_FIELDS = (
    "Id", "AccountId", "Status", "Activation_Status__c", "WHMCS_Order_ID__c", "SIM_Type__c",
    "EID__c",
)  # fmt: skip
ITEMS_QUERY = (
    "SELECT Id, Quantity, Product2.Name, Product2.WH_Product_ID__c, Product2.Billing_Cycle__c, "
    "Product2.SIM_Plan_Code__c FROM OrderItem WHERE OrderId = {} ORDER BY Id"
)
MISSED_QUERY = (
    "SELECT Id, Activation_Status__c FROM Order WHERE Status = 'Approved' "
    "AND WHMCS_Order_ID__c = null ORDER BY Id LIMIT {}"
)
CYCLES = {"Monthly": "monthly", "Onetime": "onetime", "Annually": "annually"}
MESSAGE_MAX = 255


def _item(record: Mapping[str, Any]) -> Item:
    product = record.get("Product2") or {}
    wh = product.get("WH_Product_ID__c")
    return Item(
        id=str(record["Id"]),
        product_name=str(product.get("Name") or ""),
        wh_product_id=int(wh) if wh is not None else None,  # Salesforce numbers are doubles
        billing_cycle=CYCLES.get(str(product.get("Billing_Cycle__c")), "monthly"),
        quantity=max(int(record.get("Quantity") or 1), 1),
        plan_code=product.get("SIM_Plan_Code__c") or None,
    )


async def read_order(sf: SalesforceClient, order_id: str) -> Order:
    """The order and its items, read fresh (events carry only the changed fields) in one round
    trip: a composite request of the record's GET and the items' query."""
    fields = urlencode({"fields": ",".join(ORDER_FIELDS)})
    items_query = urlencode({"q": soql(ITEMS_QUERY, order_id)})
    order_ref, items_ref = await sf.composite(
        [{"method": "GET", "url": f"sobjects/Order/{quote(order_id, safe='')}?{fields}",
          "referenceId": "order"},
         {"method": "GET", "url": f"query/?{items_query}", "referenceId": "items"}],
        all_or_none=False,
    )  # fmt: skip
    record: Mapping[str, Any] = order_ref["body"]
    page: Mapping[str, Any] = items_ref["body"]
    items = list(page.get("records") or [])
    if not page.get("done", True):  # more items than one query batch: read them all
        items = await sf.query(soql(ITEMS_QUERY, order_id))
    return order_from(record, items)


def order_from(record: Mapping[str, Any], items: Sequence[Mapping[str, Any]]) -> Order:
    """The order of an Order record (``ORDER_FIELDS``) and its OrderItem records."""
    return Order(
        id=str(record["Id"]),
        account_id=str(record.get("AccountId") or ""),
        status=str(record.get("Status") or ""),
        activation_status=str(record.get("Activation_Status__c") or ""),
        whmcs_order_id=record.get("WHMCS_Order_ID__c") or None,
        sim_type=record.get("SIM_Type__c") or None,
        eid=record.get("EID__c") or None,
        items=tuple(_item(r) for r in items),
    )


async def mark_activating(sf: SalesforceClient, order_id: str) -> None:
    await sf.update(
        "Order",
        order_id,
        {"Activation_Status__c": "Activating", "Activation_Error_Code__c": None,
         "Activation_Error_Message__c": None},
    )  # fmt: skip


async def mark_failed(sf: SalesforceClient, order_id: str, code: str, message: str) -> None:
    await sf.update(
        "Order",
        order_id,
        {"Activation_Status__c": "Failed", "Activation_Error_Code__c": code,
         "Activation_Error_Message__c": message[:MESSAGE_MAX]},
    )  # fmt: skip


def write_back_requests(
    order_id: str,
    whmcs_order_id: int,
    item_services: Mapping[str, Sequence[int]],
    msisdn: str | None,
) -> list[dict[str, Any]]:
    """The composite sub-requests: every OrderItem's service ids, then the Order itself."""
    subs: list[dict[str, Any]] = [
        {"method": "PATCH", "url": f"sobjects/OrderItem/{item_id}", "referenceId": f"item{i}",
         "body": {"WHMCS_Service_ID__c": ",".join(str(s) for s in ids)}}
        for i, (item_id, ids) in enumerate(item_services.items())
    ]  # fmt: skip
    order: dict[str, Any] = {
        "WHMCS_Order_ID__c": str(whmcs_order_id),
        "Activation_Status__c": "Activated",
        "Activation_Error_Code__c": None,
        "Activation_Error_Message__c": None,
        "Status": "Activated",
    }
    if msisdn:
        order["SIM_Account__c"] = msisdn
    subs.append(
        {"method": "PATCH", "url": f"sobjects/Order/{order_id}", "referenceId": "order",
         "body": order}
    )  # fmt: skip
    return subs


async def write_back(sf: SalesforceClient, requests: list[dict[str, Any]]) -> None:
    """One composite request, all or none: the order is Activated with everything, or unchanged."""
    await sf.composite(requests, all_or_none=True)


async def missed_orders(sf: SalesforceClient, limit: int = 2000) -> list[tuple[str, str]]:
    """Approved orders without a WHMCS order id: ``(order id, Activation_Status__c)``."""
    records = await sf.query(soql(MISSED_QUERY, limit))
    return [(str(r["Id"]), str(r.get("Activation_Status__c") or "")) for r in records]
