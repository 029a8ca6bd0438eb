"""The catalog and eligibility: cached event-driven reads from Salesforce, overlaid per caller.

- The catalog (every product of the portal pricebook) is one SOQL, cached in the shared catalog
  scope (``policy.CATALOG_PRODUCTS``) until a Product2/PricebookEntry change event drops it.
- Eligibility (``Account.Portal_Eligible_Categories__c``) is cached per user
  (``policy.ELIGIBILITY_ACCOUNT``) until an Account change event drops it.
- Hidden, inactive or unknown products are simply absent: ``NotFound``, same as a malformed id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from portal.commerce.v1 import catalog_pb2, catalog_records_pb2

from services.commerce.mapping import (
    CATEGORY_NAMES,
    UNSPECIFIED,
    Category,
    catalog_item_from_record,
    categories_of,
)
from services.commerce.model import CatalogItem
from services.commerce.queries import catalog_query
from services.commerce.wire import catalog_items, catalog_record
from services.common.cache import SHARED_CATALOG, Cache, UserScope, policy
from services.common.clients.salesforce import SalesforceClient
from services.common.clients.soql import soql
from services.common.directory import Directory
from services.common.errors import NotFound


def ineligible_reason(category: Category) -> str:
    name = CATEGORY_NAMES.get(category, "these")
    return f"Your account is not eligible for {name} products."


@dataclass
class Catalog:
    salesforce: SalesforceClient
    cache: Cache
    directory: Directory
    pricebook_name: str
    _memo: tuple[bytes, list[CatalogItem]] = field(default=(b"", []), init=False)

    async def items(self) -> list[CatalogItem]:
        """Every product of the portal catalog, in display order (cached)."""
        cached = await self.cache.get_or_load(
            policy.CATALOG_PRODUCTS, SHARED_CATALOG, self._load, catalog_records_pb2.CatalogRecord
        )
        raw = cached.SerializeToString(deterministic=True)
        if self._memo[0] != raw:  # decode once per catalog version, not per request
            self._memo = (raw, catalog_items(cached))
        return self._memo[1]

    async def _load(self) -> catalog_records_pb2.CatalogRecord:
        records = await self.salesforce.query(catalog_query(self.pricebook_name))
        return catalog_record([catalog_item_from_record(r) for r in records])

    async def item(self, product_id: str) -> CatalogItem:
        for item in await self.items():
            if item.product.id == product_id:
                return item
        raise NotFound("Product not found.")

    async def eligible_categories(self, user_id: str) -> list[Category]:
        response = await self.cache.get_or_load(
            policy.ELIGIBILITY_ACCOUNT,
            UserScope(user_id),
            lambda: self._load_eligibility(user_id),
            catalog_pb2.GetEligibilityResponse,
        )
        return list(response.eligible_categories)

    async def _load_eligibility(self, user_id: str) -> catalog_pb2.GetEligibilityResponse:
        account_id = await self.directory.sf_account_of(user_id)
        if account_id is None:  # no linked account: nothing is orderable
            return catalog_pb2.GetEligibilityResponse()
        rows = await self.salesforce.query(
            soql("SELECT Portal_Eligible_Categories__c FROM Account WHERE Id = {}", account_id)
        )
        value = rows[0].get("Portal_Eligible_Categories__c") if rows else None
        return catalog_pb2.GetEligibilityResponse(eligible_categories=categories_of(value))

    async def list_products(
        self, user_id: str, category: Category = UNSPECIFIED
    ) -> list[catalog_pb2.Product]:
        items, eligible = await self.items(), set(await self.eligible_categories(user_id))
        return [
            overlay(i.product, eligible)
            for i in items
            if not category or i.product.category == category
        ]

    async def product(self, user_id: str, product_id: str) -> catalog_pb2.Product:
        item = await self.item(product_id)
        return overlay(item.product, set(await self.eligible_categories(user_id)))


def overlay(product: catalog_pb2.Product, eligible: set[Category]) -> catalog_pb2.Product:
    out = catalog_pb2.Product()
    out.CopyFrom(product)
    out.eligible = product.category in eligible
    if not out.eligible:
        out.ineligible_reason = ineligible_reason(product.category)
    return out
