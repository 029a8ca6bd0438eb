"""Which orders to fulfil: from CDC events, from the reconciliation query, from open rows.

Each decision ends in a committed state-machine row (``repo.request``) before the order is
handed to the dispatcher, and before the caller stores the event's replay id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import structlog

from services.commerce.fulfillment import repo, sforders
from services.commerce.fulfillment.deps import Deps
from services.commerce.fulfillment.model import FINAL
from services.common.clients import ChangeEvent
from services.common.errors import UpstreamUnavailable

log = structlog.get_logger("fulfillment")
Submit = Callable[[str], None]
ACTIVATION = "Activation_Status__c"


def _reset(event: ChangeEvent) -> bool:
    """Staff reset the activation (back to Not Started, or cleared) on an existing order."""
    if event.change_type != "UPDATE":
        return False
    return event.fields.get(ACTIVATION) == "Not Started" or ACTIVATION in event.nulled_fields


def _approved(event: ChangeEvent) -> bool:
    return event.fields.get("Status") == "Approved" and not event.fields.get("WHMCS_Order_ID__c")


async def on_event(deps: Deps, event: ChangeEvent, submit: Submit) -> None:
    await on_events(deps, [event], submit)


async def on_events(deps: Deps, events: Sequence[ChangeEvent], submit: Submit) -> None:
    """The events of a batch in delivery order. Consecutive approvals are committed together
    (one statement for their rows, ``repo.request_many``); any other action (a staff reset, a
    gap) first commits the approvals before it, so each order's events take effect in order.
    Every row is committed when this returns."""
    approved: dict[str, datetime | None] = {}
    for event in events:
        if event.entity != "Order":
            continue
        if not event.is_gap and _approved(event):
            for order_id in event.record_ids:
                known = approved.get(order_id)
                latest = event.commit_timestamp
                approved[order_id] = latest if known is None or known < latest else known
            continue
        if event.is_gap or _reset(event):
            await _request_approved(deps, approved, submit)
        if event.is_gap:
            if not event.record_ids:  # GAP_OVERFLOW: we cannot know which orders changed
                await reconcile(deps, submit)
            for order_id in event.record_ids:
                await consider(deps, order_id, submit)
        elif _reset(event):
            for order_id in event.record_ids:
                row = await repo.revive(deps.pool, order_id)
                if row is not None and row.state not in FINAL:
                    submit(order_id)
    await _request_approved(deps, approved, submit)


async def _request_approved(
    deps: Deps, approved: dict[str, datetime | None], submit: Submit
) -> None:
    if not approved:
        return
    rows = {row.sf_order_id: row for row in await repo.request_many(deps.pool, approved)}
    for order_id in approved:  # in the order the events came
        if rows[order_id].state not in FINAL:
            submit(order_id)
    approved.clear()


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


async def reconciled(deps: Deps) -> list[str]:
    """:func:`reconcile`'s orders to work; none when Salesforce is unavailable (the periodic sweep
    tries again)."""
    found: list[str] = []
    try:
        await reconcile(deps, found.append)
    except UpstreamUnavailable:
        log.warning("fulfillment_reconcile_unavailable")
    return found
