"""Fulfillment end to end: an order placed through the gateway, approved by staff in Salesforce,
provisioned by the commerce worker in WHMCS, written back to Salesforce and streamed to the
customer; and a failure the customer and staff can both see."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest

from services.common.clients import SalesforceClient
from services.common.clients.soql import soql
from tests.helpers.accounts import HANAKO, customer_token
from tools.stack import Stack

pytestmark = pytest.mark.e2e

WHMCS_AUTH = {"identifier": "portal-dev", "secret": "portal-dev-secret", "responsetype": "json"}


@pytest.fixture(scope="module")
async def hanako(gateway: httpx.AsyncClient) -> dict[str, str]:
    return {"authorization": f"Bearer {await customer_token(gateway, '/v1/auth/link', HANAKO)}"}


async def _whmcs_orders(stack: Stack, client_id: int) -> list[dict[str, Any]]:
    form = {**WHMCS_AUTH, "action": "GetOrders", "userid": str(client_id), "limitnum": "250"}
    async with httpx.AsyncClient(timeout=10) as http:
        body = (await http.post(f"http://127.0.0.1:{stack.config.ports.whmcs}/includes/api.php",
                                data=form)).json()  # fmt: skip
    orders = body.get("orders") or {}
    return list(orders.get("order", [])) if isinstance(orders, dict) else []


async def _until(probe: Any, done: Any, within: float) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if done(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.2)


async def _sse(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    async for line in response.aiter_lines():
        if line.startswith("data:"):
            yield json.loads(line.removeprefix("data:").strip())


async def test_approved_order_is_provisioned_once_and_streamed(
    stack: Stack, gateway: httpx.AsyncClient, hanako: dict[str, str], sf: SalesforceClient
) -> None:
    products = (await gateway.get("/v1/catalog/products", headers=hanako)).json()["products"]
    plan = next(p for p in products if p["sku"] == "INTERNET-GOLD-HOME-1G")
    body = {"requestId": f"ful-{uuid.uuid4().hex[:10]}",
            "items": [{"productId": plan["id"], "quantity": 1}]}  # fmt: skip
    created = await gateway.post("/v1/orders", headers=hanako, json=body)
    assert created.status_code == 200, created.text
    order = created.json()["order"]
    assert order["activationStatus"] == "ACTIVATION_STATUS_NOT_STARTED"

    seen: list[str] = []
    async with gateway.stream("GET", "/v1/orders:watch", headers=hanako, timeout=60) as stream:
        events = _sse(stream)
        assert (await anext(events)).get("heartbeat") is True
        await sf.update("Order", order["id"], {"Status": "Approved"})  # staff approve it
        async with asyncio.timeout(45):
            async for event in events:
                mine = event.get("order", {})
                if mine.get("id") == order["id"]:
                    seen.append(mine["activationStatus"])
                    if mine["activationStatus"] == "ACTIVATION_STATUS_ACTIVATED":
                        break
    assert "ACTIVATION_STATUS_ACTIVATED" in seen

    final = (await gateway.get(f"/v1/orders/{order['id']}", headers=hanako)).json()["order"]
    assert final["status"] == "ORDER_STATUS_ACTIVATED"
    assert final["activationStatus"] == "ACTIVATION_STATUS_ACTIVATED"
    record = await sf.get("Order", order["id"])
    assert record["WHMCS_Order_ID__c"]
    mine = [o for o in await _whmcs_orders(stack, 1) if f"sfOrderId={order['id']}" in o["notes"]]
    assert len(mine) == 1 and str(mine[0]["id"]) == str(record["WHMCS_Order_ID__c"])
    assert mine[0]["status"] == "Active"


async def _new_customer(
    gateway: httpx.AsyncClient, sf: SalesforceClient
) -> tuple[str, str, dict[str, str]]:
    """A customer signed up through the portal (a new WHMCS client without a pay method):
    ``(Salesforce account id, e-mail, auth headers)``."""
    number = f"AC-FUL{uuid.uuid4().hex[:8].upper()}"
    account_id = await sf.create(
        "Account", {"Name": "Ren Aoki", "SF_Account_No__c": number,
                    "Portal_Status__c": "Not Registered", "Portal_Eligible_Categories__c": "VPN"},
    )  # fmt: skip
    email = f"ren.{uuid.uuid4().hex[:8]}@example.jp"
    await sf.create("Contact", {"AccountId": account_id, "LastName": "Aoki", "Email": email})
    signup = {"customerNumber": number, "email": email, "password": "ren-password-1",
              "firstName": "Ren", "lastName": "Aoki", "phone": "+81-90-0000-0999",
              "address": {"line1": "1-1 Chuo", "city": "Chiba", "state": "Chiba",
                          "postcode": "260-0013", "country": "JP"}}  # fmt: skip
    headers = {
        "authorization": f"Bearer {await customer_token(gateway, '/v1/auth/signup', signup)}"
    }
    return account_id, email, headers


async def _whmcs(stack: Stack, action: str, **params: Any) -> dict[str, Any]:
    """One WHMCS API call, as WHMCS staff would make it."""
    form = {**WHMCS_AUTH, "action": action, **{k: str(v) for k, v in params.items()}}
    url = f"http://127.0.0.1:{stack.config.ports.whmcs}/includes/api.php"
    async with httpx.AsyncClient(timeout=10) as http:
        body = dict((await http.post(url, data=form)).json())
    assert body["result"] == "success", body
    return body


async def _order_vpn(gateway: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """The customer orders VPN Standard through the portal's checkout; the Salesforce Order id."""
    products = (await gateway.get("/v1/catalog/products", headers=headers)).json()["products"]
    vpn = next(p for p in products if p["sku"] == "VPN-STANDARD")
    body = {"requestId": f"ful-{uuid.uuid4().hex[:10]}",
            "items": [{"productId": vpn["id"], "quantity": 1}]}  # fmt: skip
    created = await gateway.post("/v1/orders", headers=headers, json=body)
    assert created.status_code == 200, created.text
    return str(created.json()["order"]["id"])


async def _settled(gateway: httpx.AsyncClient, headers: dict[str, str], order_id: str) -> Any:
    async def read() -> dict[str, Any]:
        response = await gateway.get(f"/v1/orders/{order_id}", headers=headers)
        return dict(response.json().get("order", {}))

    final = {"ACTIVATION_STATUS_ACTIVATED", "ACTIVATION_STATUS_FAILED"}
    return await _until(read, lambda o: o.get("activationStatus") in final, within=45)


async def test_local_card_orders_with_the_default_gateway(
    stack: Stack, gateway: httpx.AsyncClient, sf: SalesforceClient
) -> None:
    account_id, email, headers = await _new_customer(gateway, sf)
    client_id = int((await _whmcs(stack, "GetClientsDetails", email=email))["client"]["id"])
    # WHMCS staff store a card locally (no gateway) and set the client's default gateway.
    await _whmcs(stack, "AddPayMethod", clientid=client_id, type="CreditCard",
                 card_number="4111111111111111", card_expiry="1230")  # fmt: skip
    await _whmcs(stack, "UpdateClient", clientid=client_id, paymentmethod="banktransfer")
    listed = (await _whmcs(stack, "GetPayMethods", clientid=client_id))["paymethods"]
    assert [m["gateway_name"] for m in listed] == [""]

    order_id = await _order_vpn(gateway, headers)  # checkout accepts the local card
    await sf.update("Order", order_id, {"Status": "Approved"})
    order = await _settled(gateway, headers, order_id)
    assert order["activationStatus"] == "ACTIVATION_STATUS_ACTIVATED", order
    [placed] = [o for o in await _whmcs_orders(stack, client_id)
                if o["notes"] == f"sfOrderId={order_id}"]  # fmt: skip
    assert placed["paymentmethod"] == "banktransfer" and placed["status"] == "Active"
    assert (await sf.get("Order", order_id))["AccountId"] == account_id


async def test_closed_client_order_fails_with_whmcs_message(
    stack: Stack, gateway: httpx.AsyncClient, sf: SalesforceClient
) -> None:
    _account_id, email, headers = await _new_customer(gateway, sf)
    client_id = int((await _whmcs(stack, "GetClientsDetails", email=email))["client"]["id"])
    await _whmcs(stack, "AddPayMethod", clientid=client_id, type="CreditCard",
                 card_number="4111111111111111", card_expiry="1230")  # fmt: skip
    order_id = await _order_vpn(gateway, headers)
    await _whmcs(stack, "CloseClient", clientid=client_id)  # WHMCS staff close the account
    await sf.update("Order", order_id, {"Status": "Approved"})
    order = await _settled(gateway, headers, order_id)
    assert order["activationStatus"] == "ACTIVATION_STATUS_FAILED", order
    assert order["errorCode"] == "WHMCS_ERROR"
    assert order["errorMessage"] == "Unable to add order when client status is Closed"
    record = await sf.get("Order", order_id)
    assert record["Activation_Error_Code__c"] == "WHMCS_ERROR"
    assert not record["WHMCS_Order_ID__c"]
    assert await _whmcs_orders(stack, client_id) == []


async def test_missing_pay_method_fails_visibly(
    gateway: httpx.AsyncClient, sf: SalesforceClient
) -> None:
    # A customer whose WHMCS client has no pay method; staff enter an order for them directly.
    account_id, _email, headers = await _new_customer(gateway, sf)
    entry = (await sf.query(soql(
        "SELECT Id, Pricebook2Id, UnitPrice FROM PricebookEntry "
        "WHERE Product2.StockKeepingUnit = {} AND Pricebook2.Name = {}",
        "VPN-STANDARD", "Portal Pricebook",
    )))[0]  # fmt: skip
    order_id = await sf.create("Order", {
        "AccountId": account_id, "Status": "Pending Review", "Pricebook2Id": entry["Pricebook2Id"],
        "EffectiveDate": date.today().isoformat(), "Activation_Status__c": "Not Started",
    })  # fmt: skip
    await sf.create("OrderItem", {"OrderId": order_id, "PricebookEntryId": entry["Id"],
                                  "Quantity": 1, "UnitPrice": entry["UnitPrice"]})  # fmt: skip
    await sf.update("Order", order_id, {"Status": "Approved"})

    async def read() -> dict[str, Any]:
        response = await gateway.get(f"/v1/orders/{order_id}", headers=headers)
        return dict(response.json().get("order", {}))

    order = await _until(read, lambda o: o.get("errorCode"), within=45)
    assert order["activationStatus"] == "ACTIVATION_STATUS_FAILED"
    assert order["errorCode"] == "PAYMENT_METHOD_MISSING"
    assert order["errorMessage"]
    record = await sf.get("Order", order_id)
    assert record["Activation_Status__c"] == "Failed"
    assert not record["WHMCS_Order_ID__c"]


async def test_orders_approved_in_one_transaction_are_both_provisioned(
    stack: Stack, gateway: httpx.AsyncClient, hanako: dict[str, str], sf: SalesforceClient
) -> None:
    """Staff approve two orders at once (one composite, all or none): Salesforce delivers one
    merged change event naming both, and both are provisioned."""
    products = (await gateway.get("/v1/catalog/products", headers=hanako)).json()["products"]
    vpn = next(p for p in products if p["sku"] == "VPN-STANDARD")
    order_ids = []
    for _ in range(2):
        body = {"requestId": f"ful-{uuid.uuid4().hex[:10]}",
                "items": [{"productId": vpn["id"], "quantity": 1}]}  # fmt: skip
        created = await gateway.post("/v1/orders", headers=hanako, json=body)
        assert created.status_code == 200, created.text
        order_ids.append(created.json()["order"]["id"])
    await sf.composite(
        [{"method": "PATCH", "url": f"sobjects/Order/{oid}", "referenceId": f"a{i}",
          "body": {"Status": "Approved"}} for i, oid in enumerate(order_ids)]
    )  # fmt: skip

    async def statuses() -> list[str]:
        out = []
        for oid in order_ids:
            response = await gateway.get(f"/v1/orders/{oid}", headers=hanako)
            out.append(response.json()["order"]["activationStatus"])
        return out

    final = await _until(
        statuses, lambda s: all(x == "ACTIVATION_STATUS_ACTIVATED" for x in s), within=45
    )
    assert final == ["ACTIVATION_STATUS_ACTIVATED"] * 2
    whmcs = await _whmcs_orders(stack, 1)
    for oid in order_ids:
        assert len([o for o in whmcs if f"sfOrderId={oid}" in o["notes"]]) == 1
