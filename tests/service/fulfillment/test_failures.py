"""Each failure mode ends with its code on the Order; staff re-approval retries the failed step."""

from __future__ import annotations

import asyncio
from datetime import date

import asyncpg

from services.common.metrics import value
from tests.service.fulfillment.conftest import QUICK, Controls, StartWorker
from tests.service.fulfillment.portal import ESIM_EID, Portal


async def _failed_with(portal: Portal, order_id: str, code: str) -> dict[str, object]:
    order = await portal.settled(order_id)
    assert (order["Activation_Status__c"], order["Activation_Error_Code__c"]) == ("Failed", code)
    assert order["Status"] == "Approved" and not order["WHMCS_Order_ID__c"]
    return order


async def test_missing_pay_method_then_staff_retry(
    portal: Portal, start_worker: StartWorker, pool: asyncpg.Pool
) -> None:
    failures_before = value("portal_fulfillment_failures_total", {"code": "PAYMENT_METHOD_MISSING"})
    await start_worker()
    order_id = await portal.create_order("taro", ["INTERNET-SILVER-HOME-1G"])
    await portal.approve(order_id)
    order = await _failed_with(portal, order_id, "PAYMENT_METHOD_MISSING")
    assert "no payment method" in str(order["Activation_Error_Message__c"])
    failures = value("portal_fulfillment_failures_total", {"code": "PAYMENT_METHOD_MISSING"})
    assert failures == failures_before + 1
    assert await portal.whmcs_orders(3, order_id) == []

    # As WHMCS staff would: a bank account stored locally (no gateway) and the client's default
    # gateway; AddOrder is then given that default gateway.
    await portal.whmcs.call("AddPayMethod", {"clientid": 3, "type": "BankAccount",
        "bank_name": "Mizuho", "bank_code": "0001", "bank_account": "1234567"})  # fmt: skip
    await portal.whmcs.call("UpdateClient", {"clientid": 3, "paymentmethod": "banktransfer"})
    await portal.sf.update("Order", order_id, {"Activation_Status__c": "Not Started"})
    order = await portal.settled(order_id)
    assert order["Activation_Status__c"] == "Activated"
    [whmcs_order] = await portal.whmcs_orders(3, order_id)
    assert whmcs_order["paymentmethod"] == "banktransfer"
    # the write-back reaches Salesforce before the row's move to done is committed
    for _ in range(50):
        state = await pool.fetchval(
            "SELECT state FROM commerce.fulfillments WHERE sf_order_id = $1", order_id
        )
        if state == "done":
            break
        await asyncio.sleep(0.1)
    assert state == "done"


async def test_unlinked_account(portal: Portal, start_worker: StartWorker) -> None:
    await start_worker()
    order_id = await portal.create_order("yuki", ["SIM-DATA-3G"], SIM_Type__c="Physical")
    await portal.approve(order_id)
    await _failed_with(portal, order_id, "WHMCS_CLIENT_MISSING")


async def test_whmcs_business_error(portal: Portal, start_worker: StartWorker) -> None:
    await start_worker()
    product = await portal.sf.create("Product2", {"Name": "Ghost", "IsActive": True,
        "Billing_Cycle__c": "Monthly", "WH_Product_ID__c": 999})  # fmt: skip
    pricebook = (await portal.entries())["INTERNET-GOLD-HOME-1G"]["Pricebook2Id"]
    entry = await portal.sf.create("PricebookEntry", {"Pricebook2Id": pricebook,
        "Product2Id": product, "UnitPrice": 100, "IsActive": True})  # fmt: skip
    order_id = await portal.sf.create("Order", {"AccountId": await portal.account_id("hanako"),
        "Status": "Pending Review", "EffectiveDate": date.today().isoformat(),
        "Pricebook2Id": pricebook})  # fmt: skip
    await portal.sf.create("OrderItem", {"OrderId": order_id, "PricebookEntryId": entry,
        "Quantity": 1, "UnitPrice": 100})  # fmt: skip
    await portal.approve(order_id)
    order = await _failed_with(portal, order_id, "WHMCS_ERROR")
    assert "Product ID Invalid" in str(order["Activation_Error_Message__c"])


async def test_freebit_business_error(
    portal: Portal, start_worker: StartWorker, controls: Controls
) -> None:
    await controls[2].fault("business_error", action="mvno/esim/addAcnt", result_code="400-310",
                            message="EID already in use")  # fmt: skip
    await start_worker()
    order_id = await portal.create_order(
        "hanako", ["SIM-DATA-3G"], SIM_Type__c="eSIM", EID__c=ESIM_EID
    )
    await portal.approve(order_id)
    order = await _failed_with(portal, order_id, "FREEBIT_ERROR")
    assert "400-310" in str(order["Activation_Error_Message__c"])
    # The WHMCS order exists and is kept: a retry resumes at the Freebit step.
    assert len(await portal.whmcs_orders(1, order_id)) == 1
    await portal.sf.update("Order", order_id, {"Activation_Status__c": "Not Started"})
    assert (await portal.settled(order_id))["Activation_Status__c"] == "Activated"
    assert len(await portal.whmcs_orders(1, order_id)) == 1


async def test_short_outage_is_retried(
    portal: Portal, start_worker: StartWorker, controls: Controls
) -> None:
    settings = QUICK.replace(give_up_after_s=10.0)
    await start_worker(settings=settings)
    await controls[1].fault("unavailable", seconds=0.8)
    order_id = await portal.create_order("hanako", ["VPN-STANDARD"])
    await portal.approve(order_id)
    assert (await portal.settled(order_id))["Activation_Status__c"] == "Activated"
    assert len(await portal.whmcs_orders(1, order_id)) == 1


async def test_long_outage_fails_after_the_budget(
    portal: Portal, start_worker: StartWorker, controls: Controls
) -> None:
    await start_worker()
    await controls[1].fault("unavailable", seconds=30, action="AddOrder")
    order_id = await portal.create_order("hanako", ["VPN-STANDARD"])
    await portal.approve(order_id)
    order = await _failed_with(portal, order_id, "UPSTREAM_UNAVAILABLE")
    assert "ordering" in str(order["Activation_Error_Message__c"])
