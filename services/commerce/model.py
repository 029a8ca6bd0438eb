"""Commerce's domain values (no I/O, no grpc import)."""

from __future__ import annotations

from dataclasses import dataclass

from portal.commerce.v1 import catalog_pb2


@dataclass(frozen=True)
class CatalogItem:
    """A catalog product with what checkout needs and the contract does not show."""

    product: catalog_pb2.Product  # eligible/ineligible_reason unset: they are per caller
    pricebook_entry_id: str
    sim_plan_code: str
    pricebook_id: str = ""

    @property
    def is_sim_plan(self) -> bool:
        return bool(self.sim_plan_code)
