"""Which orders to fulfil: from CDC events, from the reconciliation query, from open rows.

Each decision ends in a committed state-machine row (``repo.request``) before the order is
handed to the dispatcher, and before the caller stores the event's replay id.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from services.commerce.fulfillment import repo, sforders
from services.commerce.fulfillment.deps import Deps
from services.commerce.fulfillment.model import FINAL, Row
from services.common.clients import ChangeEvent

log = structlog.get_logger("fulfillment")
Submit = Callable[[str], None]
ACTIVATION = "Activation_Status__c"


def _reset(event: ChangeEvent) -> bool:
    """Staff reset the activation (back to Not Started, or cleared) on an existing order."""
    if event.change_type != "UPDATE":
        return False
    return event.fields.get(ACTIVATION) == "Not Started" or ACTIVATION in event.nulled_fields


async def on_event(deps: Deps, event: ChangeEvent, submit: Submit) -> None:
    if event.entity != "Order":
        return
    if event.is_gap:
        if not event.record_ids:  # GAP_OVERFLOW: we cannot know which orders changed
            await reconcile(deps, submit)
        for order_id in event.record_ids:
            await consider(deps, order_id, submit)
        return
    approved = event.fields.get("Status") == "Approved" and not event.fields.get(
        "WHMCS_Order_ID__c"
    )
    for order_id in event.record_ids:
        row: Row | None
        if approved:
            row = await repo.request(deps.pool, order_id, requested_at=event.commit_timestamp)
        elif _reset(event):
            row = await repo.revive(deps.pool, order_id)
        else:
            continue
        if row is not None and row.state not in FINAL:
            submit(order_id)


async def consider(deps: Deps, order_id: str, submit: Submit) -> None:
    """An order we know nothing reliable about (GAP event): read it and decide."""
    order = await deps.orders.read(order_id)
    if order.status == "Approved" and not order.whmcs_order_id:
        await _request(deps, order_id, order.activation_status, submit)


async def _request(deps: Deps, order_id: str, activation_status: str, submit: Submit) -> None:
    # Salesforce no longer says Failed: staff reset it (or our failure write never landed).
    row = await repo.request(deps.pool, order_id, reset=activation_status != "Failed")
    if row.state not in FINAL:
        submit(order_id)


async def reconcile(deps: Deps, submit: Submit) -> int:
    """Approved orders without a WHMCS order id that no event brought us, plus open rows."""
    missed = await sforders.missed_orders(deps.salesforce)
    for order_id, activation_status in missed:
        await _request(deps, order_id, activation_status, submit)
    open_rows = await repo.open_orders(deps.pool)
    for order_id in open_rows:
        submit(order_id)
    log.info("fulfillment_reconciled", approved_unfulfilled=len(missed), open=len(open_rows))
    return len(missed)
