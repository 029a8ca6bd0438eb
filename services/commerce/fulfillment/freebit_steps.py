"""The Freebit steps: register the line (eSIM or physical SIM), then wait for the asynchronous
activation by polling the account detail with backoff (bounded)."""

from __future__ import annotations

import hashlib
import time
from datetime import date
from typing import Any

from services.commerce.fulfillment.deps import Deps
from services.commerce.fulfillment.dispatcher import sleep_unheld
from services.commerce.fulfillment.model import (
    FREEBIT_ERROR,
    ORDER_INVALID,
    FulfillmentFailed,
    Order,
    Row,
)
from services.commerce.fulfillment.repo import allocate_msisdn
from services.common.clients import FreebitRejected

ACTIVE = "active"


def product_number(order_id: str) -> str:
    """The 15-character SIM product number of a physical-SIM order (derived from the order id
    until Salesforce carries the shipped card's number)."""
    return hashlib.sha256(order_id.encode()).hexdigest()[:15].upper()


async def _line_exists(deps: Deps, msisdn: str) -> bool:
    try:
        await deps.freebit.account_detail(msisdn)
    except FreebitRejected:
        return False  # ACCOUNT_NOT_FOUND: nothing registered yet
    return True


async def _register(deps: Deps, order: Order, msisdn: str, plan: str) -> None:
    s = deps.settings
    if order.sim_type == "eSIM":
        if not order.eid:
            raise FulfillmentFailed(ORDER_INVALID, "An eSIM order needs the EID (EID__c).")
        await deps.freebit.activate_esim(
            eid=order.eid, account=msisdn, plan_code=plan, sim_kind=s.esim_sim_kind,
            contract_line=s.esim_contract_line,
        )  # fmt: skip
        return
    await deps.freebit.add_physical_account(
        master_account=s.freebit_master_account, master_password=s.freebit_master_password,
        account=msisdn, product_number=product_number(order.id), plan_code=plan,
        ship_date=date.today(),
    )  # fmt: skip


async def provision(deps: Deps, row: Row, order: Order) -> dict[str, Any]:
    """PROVISIONING: the MSISDN is drawn (and committed) before the registration, so a later
    attempt reuses it and finds the line an earlier one registered instead of registering a
    second one; the attempt that draws it has nothing to look for."""
    sim = order.sim_item
    assert sim is not None and sim.plan_code
    msisdn, drawn = row.msisdn, False
    if msisdn is None:
        msisdn, drawn = await allocate_msisdn(deps.pool, order.id, deps.settings.msisdn_prefix)
    if not drawn and await _line_exists(deps, msisdn):  # a new MSISDN has no line yet
        return {}
    try:
        await _register(deps, order, msisdn, sim.plan_code)
    except FreebitRejected as exc:
        text = f"{exc.upstream_code} {exc.detail}".strip()
        raise FulfillmentFailed(FREEBIT_ERROR, text) from None
    return {}


async def await_activation(deps: Deps, row: Row, order: Order) -> dict[str, Any]:
    """AWAITING_ACTIVATION: poll PA03-02 until the line is active (backoff, bounded)."""
    assert row.msisdn is not None
    s = deps.settings
    deadline = time.monotonic() + s.activation_timeout_s
    delay = s.activation_poll_initial_s
    while True:
        try:
            detail = await deps.freebit.account_detail(row.msisdn)
        except FreebitRejected as exc:
            raise FulfillmentFailed(FREEBIT_ERROR, f"{exc.upstream_code} {exc.detail}") from None
        if detail.get("state") == ACTIVE:
            return {}
        if time.monotonic() + delay > deadline:
            raise FulfillmentFailed(
                FREEBIT_ERROR,
                f"Line {row.msisdn} was not active after {s.activation_timeout_s:g} s "
                f"(state {detail.get('state')!r}).",
            )
        await sleep_unheld(delay)  # the slot serves other orders meanwhile
        delay = min(delay * 2, s.activation_poll_max_s)
