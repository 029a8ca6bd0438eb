"""Drive one order through the state machine: run the row's step, commit the next state, repeat.

Every step is idempotent, and a step's result is committed (``repo.advance`` guarded by the
current state) before the next one starts, so a crash anywhere resumes at the last committed
step and repeats at most the step that was running. Business failures end the order as
``failed`` (Salesforce gets ``Activation_Status__c = Failed`` with the code); upstream outages
retry the same step with backoff until ``give_up_after_s``, then fail with
``UPSTREAM_UNAVAILABLE``.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from services.commerce.fulfillment import freebit_steps, repo, sforders, whmcs_steps
from services.commerce.fulfillment.deps import Deps
from services.commerce.fulfillment.dispatcher import sleep_unheld
from services.commerce.fulfillment.model import (
    ACCEPTING,
    ACTIVATING,
    AWAITING_ACTIVATION,
    DONE,
    FINAL,
    ORDERING,
    PROVISIONING,
    UPSTREAM_UNAVAILABLE,
    WRITING_BACK,
    FulfillmentFailed,
    Order,
    Row,
    next_step,
)
from services.common.errors import UpstreamUnavailable
from services.common.metrics import FULFILLMENT_FAILURES, FULFILLMENT_LAG, FULFILLMENT_STEPS

log = structlog.get_logger("fulfillment")
Step = Callable[[Deps, Row, Order], Awaitable[dict[str, Any]]]


async def mark_activating(deps: Deps, row: Row, order: Order) -> dict[str, Any]:
    await deps.orders.mark_activating(order.id)
    await deps.order_changed(order.id)
    return {}


async def write_back(deps: Deps, row: Row, order: Order) -> dict[str, Any]:
    assert row.whmcs_order_id is not None
    ids = iter(row.service_ids)
    per_item = {i.id: [next(ids) for _ in range(i.quantity)] for i in order.whmcs_items}
    requests = sforders.write_back_requests(order.id, row.whmcs_order_id, per_item, row.msisdn)
    await deps.orders.write_back(order.id, requests)
    await deps.order_changed(order.id)
    return {}


STEPS: dict[str, Step] = {
    ACTIVATING: mark_activating,
    ORDERING: whmcs_steps.place_order,
    ACCEPTING: whmcs_steps.accept_order,
    PROVISIONING: freebit_steps.provision,
    AWAITING_ACTIVATION: freebit_steps.await_activation,
    WRITING_BACK: write_back,
}


async def run(deps: Deps, order_id: str) -> None:
    """Work on one order until it is done, failed, skipped, or an outage outlasts the budget."""
    order: Order | None = None
    row: Row | None = None
    while True:
        if row is None:
            row = await repo.get(deps.pool, order_id)
        if row is None or row.state in FINAL:
            return
        current, row = row, None
        await deps.at(current.state, order_id)
        try:
            if order is None:
                order = await deps.orders.read(order_id)
                if await _settled(deps, current, order):
                    return
            fields = await STEPS[current.state](deps, current, order)
            to = next_step(current.state, sim=order.sim_item is not None)
            # the committed row is the next iteration's (None: it moved meanwhile, read it again)
            row = await repo.advance(deps.pool, order_id, current.state, to, **fields)
            # per step at debug; one info line per order (a burst logs once per order, not 6x)
            log.debug("fulfillment_step_done", order_id=order_id, step=current.state, next=to)
            FULFILLMENT_STEPS.labels(current.state, "done").inc()
            if to == DONE:
                lag = max((datetime.now(UTC) - current.created_at).total_seconds(), 0.0)
                FULFILLMENT_LAG.observe(lag)
                log.info("fulfillment_done", order_id=order_id, seconds=round(lag, 3))
        except FulfillmentFailed as failed:
            await _fail(deps, current, failed)
            return
        except UpstreamUnavailable as exc:
            if not await _back_off(deps, current, exc):
                return
            # row stays None: read again, an operator may have moved it while we slept


async def _settled(deps: Deps, row: Row, order: Order) -> bool:
    """True when the order needs nothing (more) from us: finished elsewhere, or no longer
    approved before anything was done."""
    if order.whmcs_order_id and order.status == "Activated":
        await repo.advance(deps.pool, order.id, row.state, DONE)
        return True
    if order.status != "Approved" and row.state == ACTIVATING:
        await repo.skip(deps.pool, order.id, row.state, f"Status is {order.status!r}")
        log.info("fulfillment_skipped", order_id=order.id, status=order.status)
        return True
    if row.state != ACTIVATING and order.activation_status != "Activating":
        await mark_activating(deps, row, order)  # a retried order shows progress again
    return False


async def _fail(deps: Deps, row: Row, failed: FulfillmentFailed) -> None:
    """Tell Salesforce first, then commit the failure: a crash in between repeats the step."""
    log.warning("fulfillment_failed", order_id=row.sf_order_id, step=row.state, code=failed.code)
    FULFILLMENT_STEPS.labels(row.state, "failed").inc()
    FULFILLMENT_FAILURES.labels(failed.code).inc()
    for attempt in range(3):
        try:
            await sforders.mark_failed(
                deps.salesforce, row.sf_order_id, failed.code, failed.message
            )
            await deps.order_changed(row.sf_order_id)
            break
        except UpstreamUnavailable:
            await sleep_unheld(deps.settings.retry_initial_s * 2**attempt)
    else:
        log.error("fulfillment_failure_not_written", order_id=row.sf_order_id, code=failed.code)
    await repo.fail(deps.pool, row.sf_order_id, row.state, failed.code, failed.message)


async def _back_off(deps: Deps, row: Row, exc: UpstreamUnavailable) -> bool:
    """Record a transient failure and sleep; False when the budget is spent (order failed)."""
    s = deps.settings
    noted = await repo.note_transient(deps.pool, row.sf_order_id, row.state, type(exc).__name__)
    if noted is None:
        return True  # the row moved on (operator or another worker): re-read it
    row, stuck_for = noted
    if stuck_for >= s.give_up_after_s:
        message = f"An upstream system was unavailable for {stuck_for:.0f} s at step {row.state}."
        await _fail(deps, row, FulfillmentFailed(UPSTREAM_UNAVAILABLE, message))
        return False
    delay = min(s.retry_max_s, s.retry_initial_s * 2 ** max(row.attempts - 1, 0))
    log.info("fulfillment_retry_later", order_id=row.sf_order_id, step=row.state, delay=delay)
    FULFILLMENT_STEPS.labels(row.state, "retry").inc()
    await sleep_unheld(random.uniform(delay / 2, delay))
    return True
