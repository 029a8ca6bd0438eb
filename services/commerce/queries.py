"""The SOQL commerce reads Salesforce with (no I/O): the portal catalog and the caller's orders.

Every order query is filtered to the caller's account in the SOQL itself, so another account's
order reads exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.common.clients.soql import soql

CATALOG_FIELDS = (
    "Id",
    "Pricebook2Id",
    "UnitPrice",
    "Product2Id",
    "Product2.Name",
    "Product2.StockKeepingUnit",
    "Product2.Description",
    "Product2.Product2Categories1__c",
    "Product2.Item_Class__c",
    "Product2.Billing_Cycle__c",
    "Product2.Portal_Accessible__c",
    "Product2.SIM_Plan_Code__c",
    "Product2.Display_Order__c",
)
ORDER_FIELDS = (
    "Id, OrderNumber, AccountId, Status, Activation_Status__c, Activation_Error_Code__c, "
    "Activation_Error_Message__c, CreatedDate, TotalAmount, BillingStreet, BillingCity, "
    "BillingState, BillingPostalCode, BillingCountry, LastModifiedDate"
)
ORDER_ITEM_FIELDS = (
    "Id, OrderId, Product2Id, Quantity, UnitPrice, Product2.StockKeepingUnit, Product2.Name"
)


def catalog_query(pricebook_name: str) -> str:
    """Active entries of the pricebook whose product is active and shown in the portal."""
    return soql(
        f"SELECT {', '.join(CATALOG_FIELDS)} FROM PricebookEntry "  # noqa: S608 (constant field list)
        "WHERE Pricebook2.Name = {} AND IsActive = true AND Product2.IsActive = true "
        "AND Product2.Portal_Catalog__c = true ORDER BY Product2.Display_Order__c ASC",
        pricebook_name,
    )


def orders_page_query(account_id: str, limit: int, offset: int) -> str:
    return soql(
        f"SELECT {ORDER_FIELDS} FROM Order WHERE AccountId = {{}} "  # noqa: S608 (constant fields)
        "ORDER BY CreatedDate DESC, Id DESC LIMIT {} OFFSET {}",
        account_id,
        limit,
        offset,
    )


def order_query(account_id: str, order_id: str) -> str:
    return soql(
        f"SELECT {ORDER_FIELDS} FROM Order WHERE Id = {{}} AND AccountId = {{}}",  # noqa: S608
        order_id,
        account_id,
    )


def order_items_query(order_ids: Sequence[str]) -> str:
    return soql(
        f"SELECT {ORDER_ITEM_FIELDS} FROM OrderItem WHERE OrderId IN {{}} "  # noqa: S608
        "ORDER BY OrderItemNumber ASC",
        list(order_ids),
    )
