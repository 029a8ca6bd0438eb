"""The WHMCS steps: create the order (carrying the note ``sfOrderId=<id>``), then accept it.

Exactly one WHMCS order per Salesforce order: before each AddOrder the step commits that an
attempt is under way (``repo.add_order_attempted``). A later attempt of the step (a retry after an
outage or a timeout, a restart after a crash between AddOrder and committing its result) sees that
mark and first looks the order up by its note in the client's order history; a first attempt has
nothing to find and goes straight to AddOrder, so its cost does not grow with the history."""

from __future__ import annotations

from typing import Any

from services.commerce.fulfillment.deps import Deps
from services.commerce.fulfillment.model import (
    PAYMENT_METHOD_MISSING,
    WHMCS_CLIENT_MISSING,
    WHMCS_ERROR,
    ClaimLost,
    FulfillmentFailed,
    Order,
    Row,
)
from services.commerce.fulfillment.repo import add_order_attempted, still_claimed
from services.common.clients import WhmcsClient
from services.common.clients.whmcs import OrderLine
from services.common.clients.whmcs_gateway import order_gateway
from services.common.clients.whmcs_wire import as_int
from services.common.errors import NotFound, UpstreamRejected

PAGE = 100


def note_of(order_id: str) -> str:
    return f"sfOrderId={order_id}"


async def find_order(whmcs: WhmcsClient, client_id: int, order_id: str) -> dict[str, Any] | None:
    """The client's WHMCS order carrying our note, if an earlier attempt created it."""
    start, note = 0, note_of(order_id)
    while True:
        page = await whmcs.get_orders(user_id=client_id, limitstart=start, limitnum=PAGE)
        for found in page.rows:
            if str(found.get("notes") or "").strip() == note:
                return found
        start += len(page.rows)
        if not page.rows or start >= page.total:
            return None


async def client_of(deps: Deps, row: Row, order: Order) -> int:
    client = row.whmcs_client_id or await deps.directory.whmcs_client_of_sf_account(
        order.account_id
    )
    if not client:
        raise FulfillmentFailed(
            WHMCS_CLIENT_MISSING, "No billing account is linked to this Salesforce account."
        )
    return client


async def gateway_of(whmcs: WhmcsClient, client_id: int) -> str:
    """The ``paymentmethod`` for AddOrder, by the rule checkout applied (``whmcs_gateway``)."""
    try:
        methods = await whmcs.get_pay_methods(client_id)
        gateways = [str(m.get("gateway_name") or "") for m in methods]
        gateway = await order_gateway(whmcs, client_id, gateways)
    except NotFound:
        raise FulfillmentFailed(WHMCS_ERROR, f"WHMCS client {client_id} was not found.") from None
    if gateway is None:
        raise FulfillmentFailed(
            PAYMENT_METHOD_MISSING,
            f"WHMCS client {client_id} has no payment method on file; provisioning is paused "
            "until one is added and the order is approved again.",
        )
    return gateway


def _lines(order: Order) -> list[OrderLine]:
    return [OrderLine(pid=i.wh_product_id or 0, billingcycle=i.billing_cycle, qty=i.quantity)
            for i in order.whmcs_items]  # fmt: skip


async def place_order(deps: Deps, row: Row, order: Order) -> dict[str, Any]:
    """ORDERING: a new WHMCS order; after an earlier attempt that may have placed it, the
    order with our note if there is one."""
    client = await client_of(deps, row, order)
    if row.add_order_at is not None:
        existing = await find_order(deps.whmcs, client, order.id)
        if existing is not None:
            ids = [as_int(li.get("relid")) for li in existing.get("lineitems", [])]
            return {"whmcs_client_id": client, "whmcs_order_id": as_int(existing["id"]),
                    "service_ids": ids}  # fmt: skip
    gateway = await gateway_of(deps.whmcs, client)
    if not await add_order_attempted(deps.pool, order.id, client, deps.claimant):
        claimant = deps.claimant
        if claimant is not None and not await still_claimed(deps.pool, order.id, claimant):
            raise ClaimLost(order.id)  # another worker may hold the row now: stop here
        return {}  # the row moved on meanwhile: the guarded advance fails and the row is re-read
    try:
        placed = await deps.whmcs.add_order(
            client, _lines(order), payment_method=gateway, notes=note_of(order.id), noemail=True
        )
    except NotFound:
        raise FulfillmentFailed(WHMCS_ERROR, f"WHMCS client {client} was not found.") from None
    except UpstreamRejected as exc:
        raise FulfillmentFailed(WHMCS_ERROR, exc.detail or str(exc)) from None
    await deps.at("whmcs_order_placed", order.id)
    return {"whmcs_client_id": client, "whmcs_order_id": placed.order_id,
            "service_ids": placed.service_ids}  # fmt: skip


async def accept_order(deps: Deps, row: Row, order: Order) -> dict[str, Any]:
    """ACCEPTING: AcceptOrder; an order already Active (an earlier attempt) counts as done."""
    assert row.whmcs_order_id is not None
    try:
        await deps.whmcs.accept_order(row.whmcs_order_id)
    except UpstreamRejected as exc:
        page = await deps.whmcs.get_orders(order_id=row.whmcs_order_id)
        if not (page.rows and page.rows[0].get("status") == "Active"):
            raise FulfillmentFailed(WHMCS_ERROR, exc.detail or str(exc)) from None
    return {}
