"""Domain values ↔ the internal messages the cache stores.

The catalog is cached as ``CatalogRecord``: the public ``Product`` plus what checkout needs and the
contract does not show (the PricebookEntry id, the SIM plan code). Being a typed message, it is
part of the cache's schema hash: a new field is never served from an old entry.
"""

from __future__ import annotations

from portal.commerce.v1 import catalog_records_pb2

from services.commerce.model import CatalogItem


def catalog_record(items: list[CatalogItem]) -> catalog_records_pb2.CatalogRecord:
    return catalog_records_pb2.CatalogRecord(
        items=[
            catalog_records_pb2.CatalogItemRecord(
                product=i.product,
                pricebook_entry_id=i.pricebook_entry_id,
                sim_plan_code=i.sim_plan_code,
                pricebook_id=i.pricebook_id,
            )
            for i in items
        ]
    )


def catalog_items(record: catalog_records_pb2.CatalogRecord) -> list[CatalogItem]:
    return [
        CatalogItem(i.product, i.pricebook_entry_id, i.sim_plan_code, i.pricebook_id)
        for i in record.items
    ]
