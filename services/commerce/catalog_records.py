"""The portal catalog as read from Salesforce (PricebookEntry rows with their Product2): its
mapping to ``CatalogItem``."""

from __future__ import annotations

from typing import Any

from portal.commerce.v1 import catalog_pb2
from portal.common.v1 import types_pb2

from services.commerce.model import CatalogItem
from services.commerce.records import CURRENCY, money, text

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


def item_from_record(record: dict[str, Any]) -> CatalogItem:
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
