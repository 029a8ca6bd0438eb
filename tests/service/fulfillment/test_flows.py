"""Approve orders in Salesforce and see WHMCS, Freebit and the Salesforce write-back."""

from __future__ import annotations

import asyncio
from typing import Any

from sandbox.salesforce import cdc
from services.common.metrics import value
from tests.service.fulfillment.conftest import StartWorker
from tests.service.fulfillment.portal import ESIM_EID, Portal


async def _counted(name: str, labels: dict[str, str] | None, at_least: float) -> float:
    """The metric once it reached ``at_least``: Salesforce shows Activated a moment before the
    worker commits its row and counts the step."""
    for _ in range(200):
        if value(name, labels) >= at_least:
            break
        await asyncio.sleep(0.05)
    return value(name, labels)


async def test_internet_order_is_fulfilled(portal: Portal, start_worker: StartWorker) -> None:
    changed: list[str] = []

    async def record(order_id: str) -> None:
        changed.append(order_id)

    written = {"step": "writing_back", "outcome": "done"}
    written_before = value("portal_fulfillment_steps_total", written)
    lag_before = value("portal_fulfillment_lag_seconds_count")
    worker = await start_worker(order_changed=record)
    await asyncio.wait_for(worker.leading.wait(), 5)
    order_id = await portal.create_order(
        "hanako", ["INTERNET-GOLD-HOME-1G", "INTERNET-INSTALL-SINGLE"]
    )
    await portal.approve(order_id)

    order = await portal.settled(order_id)
    assert order["Activation_Status__c"] == "Activated"
    assert order["Status"] == "Activated"
    [whmcs_order] = await portal.whmcs_orders(1, order_id)
    assert order["WHMCS_Order_ID__c"] == str(whmcs_order["id"])
    assert whmcs_order["status"] == "Active"
    assert whmcs_order["paymentmethod"] == "stripe"  # client 1's default pay method (a card)
    services = {li["relid"] for li in whmcs_order["lineitems"]}
    products = (await portal.whmcs.get_clients_products(1, limitnum=100)).rows
    assert {int(p["id"]) for p in products if p["status"] == "Active"} >= services
    items = await portal.items(order_id)
    assert {int(i["WHMCS_Service_ID__c"]) for i in items} == services
    assert order_id in changed
    # Operators see it in the metrics: one more written-back order and its lag.
    steps = await _counted("portal_fulfillment_steps_total", written, written_before + 1)
    lags = await _counted("portal_fulfillment_lag_seconds_count", None, lag_before + 1)
    assert (steps, lags) == (written_before + 1, lag_before + 1)


async def test_esim_and_physical_sim_orders(portal: Portal, start_worker: StartWorker) -> None:
    await start_worker()
    esim = await portal.create_order(
        "hanako", ["SIM-DATA-10G"], SIM_Type__c="eSIM", EID__c=ESIM_EID
    )
    physical = await portal.create_order("hanako", ["SIM-VOICE-10G"], SIM_Type__c="Physical")
    await portal.approve(esim)
    await portal.approve(physical)

    for order_id, plan, kind in ((esim, "PNEW_10G", "esim"), (physical, "PNEW_V10G", "physical")):
        order = await portal.settled(order_id)
        assert order["Activation_Status__c"] == "Activated", order
        msisdn = order["SIM_Account__c"]
        assert msisdn.startswith("070") and len(msisdn) == 11
        line = await portal.freebit.account_detail(msisdn)
        assert (line["state"], line["planCode"], line["simType"]) == ("active", plan, kind)
        assert len(await portal.whmcs_orders(1, order_id)) == 1
    assert (await portal.freebit.account_detail((await portal.order(esim))["SIM_Account__c"]))[
        "eid"
    ] == ESIM_EID


async def test_orders_approved_in_one_transaction_are_all_fulfilled(
    portal: Portal, start_worker: StartWorker, sandboxes: Any
) -> None:
    bus = sandboxes[0].state.bus
    worker = await start_worker()
    await asyncio.wait_for(worker.leading.wait(), 5)
    first = await portal.create_order("hanako", ["INTERNET-GOLD-HOME-1G"])
    second = await portal.create_order("hanako", ["INTERNET-GOLD-HOME-1G"])
    replay_before = bus.last
    await portal.approve_together([first, second])
    for order_id in (first, second):
        order = await portal.settled(order_id)
        assert order["Activation_Status__c"] == "Activated"
        assert len(await portal.whmcs_orders(1, order_id)) == 1
    # Both approvals came as one event with both ids, as Salesforce merges identical changes.
    approvals = [
        header
        for e in bus.events
        if e.replay > replay_before and "/data/OrderChangeEvent" in e.topics
        for header in [cdc.decode(cdc.SCHEMAS["Order"], e.payload)["ChangeEventHeader"]]
        if header["changeType"] == "UPDATE" and set(header["recordIds"]) == {first, second}
    ]
    assert len(approvals) == 1
