"""Checkout request checks that need no I/O: the request's shape, the lines against the
catalog, and the SIM details."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from portal.commerce.v1 import orders_pb2

from services.commerce.model import CatalogItem
from services.common.errors import FieldViolation, ProductUnavailable, ValidationFailed
from services.common.idempotency import request_id_violation
from services.common.salesforce_ids import is_salesforce_id

MAX_LINES, MAX_QUANTITY = 20, 10
EID = re.compile(r"^\d{32}$")
SIM_TYPES = {orders_pb2.SIM_TYPE_ESIM: "eSIM", orders_pb2.SIM_TYPE_PHYSICAL: "Physical"}


@dataclass(frozen=True)
class Line:
    item: CatalogItem
    quantity: int


def shape_violations(request: orders_pb2.CreateOrderRequest) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    bad_request_id = request_id_violation(request.request_id, required=True)
    if bad_request_id is not None:
        out.append(bad_request_id)
    if not 1 <= len(request.items) <= MAX_LINES:
        out.append(FieldViolation("items", f"Order between 1 and {MAX_LINES} products."))
    seen: set[str] = set()
    for n, line in enumerate(request.items):
        if not is_salesforce_id(line.product_id, "01t"):
            out.append(FieldViolation(f"items[{n}].product_id", "Unknown product."))
        elif line.product_id in seen:
            out.append(FieldViolation(f"items[{n}].product_id", "Each product only once."))
        seen.add(line.product_id)
        if not 1 <= line.quantity <= MAX_QUANTITY:
            out.append(FieldViolation(f"items[{n}].quantity", f"Between 1 and {MAX_QUANTITY}."))
    return out


def resolve_lines(
    request: orders_pb2.CreateOrderRequest, catalog: Sequence[CatalogItem]
) -> list[Line]:
    """The catalog item of every line; hidden, inactive or not orderable: PRODUCT_UNAVAILABLE."""
    by_id = {item.product.id: item for item in catalog}
    lines = []
    for line in request.items:
        item = by_id.get(line.product_id)
        if item is None or not item.product.orderable:
            raise ProductUnavailable(metadata={"product_id": line.product_id})
        lines.append(Line(item, line.quantity))
    return lines


def sim_violations(request: orders_pb2.CreateOrderRequest, lines: Sequence[Line]) -> None:
    if not any(line.item.is_sim_plan for line in lines):
        return
    sim = request.sim
    if sim.sim_type not in SIM_TYPES:
        raise ValidationFailed.of("sim.sim_type", "Choose an eSIM or a physical SIM.")
    if sim.sim_type == orders_pb2.SIM_TYPE_ESIM and not EID.match(sim.eid):
        raise ValidationFailed.of("sim.eid", "The EID has 32 digits.")
    if sim.sim_type == orders_pb2.SIM_TYPE_PHYSICAL and sim.eid:
        raise ValidationFailed.of("sim.eid", "An EID is only for an eSIM.")
