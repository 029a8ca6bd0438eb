"""Commerce end to end: REST through Envoy to commerce, identity's directory, billing's internal
API, Redis and the stack's Salesforce sandbox (whose REST API stands in for staff editing records).

The stack is shared by the session: nothing is reset; tests diff the sandbox's counters and use
request ids of their own.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.common.clients import SalesforceClient
from tests.helpers.accounts import HANAKO, YUKI, auth_headers
from tools.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def hanako(gateway: httpx.AsyncClient) -> dict[str, str]:
    return await auth_headers(gateway, "/v1/auth/link", HANAKO)


@dataclass
class Newcomer:
    """A customer signed up by this module: a fresh Account (SIM only), a new WHMCS client
    without a pay method, so no other module's data changes what these tests see."""

    headers: dict[str, str]
    account_id: str


@pytest.fixture(scope="module")
async def newcomer(gateway: httpx.AsyncClient, sf: SalesforceClient) -> Newcomer:
    number = f"AC-COM{uuid.uuid4().hex[:8].upper()}"
    account_id = await sf.create(
        "Account",
        {"Name": "Kana Mori", "SF_Account_No__c": number, "Portal_Status__c": "Not Registered",
         "Portal_Eligible_Categories__c": "SIM"},
    )  # fmt: skip
    email = f"kana.{uuid.uuid4().hex[:8]}@example.jp"
    await sf.create("Contact", {"AccountId": account_id, "LastName": "Mori", "Email": email})
    body = {**YUKI, "customerNumber": number, "email": email}
    return Newcomer(await auth_headers(gateway, "/v1/auth/signup", body), account_id)


@pytest.fixture(scope="module")
async def sandbox(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    url = f"http://127.0.0.1:{stack.config.ports.salesforce}"
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        yield http


async def calls(sandbox: httpx.AsyncClient) -> dict[str, int]:
    return dict((await sandbox.get("/__sandbox/stats")).json()["calls"])


async def account_of(sf: SalesforceClient, number: str) -> str:
    rows = await sf.query(f"SELECT Id FROM Account WHERE SF_Account_No__c = '{number}'")
    return str(rows[0]["Id"])


async def products(gateway: httpx.AsyncClient, headers: dict[str, str], **params: str) -> Any:
    response = await gateway.get("/v1/catalog/products", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()["products"]


def reason(response: httpx.Response) -> str:
    return str(response.json()["details"][0]["reason"])


async def eventually(probe: Callable[[], Awaitable[Any]], ok: Callable[[Any], bool]) -> float:
    started = time.monotonic()
    while not ok(await probe()):
        assert time.monotonic() - started < 2.0, "not visible within 2 s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_catalog_contents_and_order(
    gateway: httpx.AsyncClient, hanako: dict[str, str]
) -> None:
    listed = await products(gateway, hanako)
    skus = [p["sku"] for p in listed]
    assert skus[:3] == [
        "INTERNET-SILVER-HOME-1G",
        "INTERNET-GOLD-HOME-1G",
        "INTERNET-PLATINUM-HOME-1G",
    ]
    assert "STAFF-TEST-PRODUCT" not in skus and "SIM-ACTIVATION-FEE" not in skus
    assert "INTERNET-BRONZE-HOME-100M" not in skus  # inactive
    gold = listed[1]
    assert gold["unitPrice"] == "5980.00" and gold["currencyCode"] == "JPY"
    assert gold["category"] == "PRODUCT_CATEGORY_INTERNET" and gold["eligible"] is True
    sims = await products(gateway, hanako, category="PRODUCT_CATEGORY_SIM")
    assert [p["sku"] for p in sims] == ["SIM-DATA-3G", "SIM-DATA-10G", "SIM-VOICE-10G"]
    missing = await gateway.get("/v1/catalog/products/01t000000000000AAA", headers=hanako)
    assert missing.status_code == 404 and reason(missing) == "NOT_FOUND"


async def test_price_change_visible_within_2s_without_polling(
    gateway: httpx.AsyncClient,
    hanako: dict[str, str],
    sf: SalesforceClient,
    sandbox: httpx.AsyncClient,
) -> None:
    rows = await sf.query(
        "SELECT Id, UnitPrice FROM PricebookEntry WHERE Pricebook2.Name = 'Portal Pricebook' "
        "AND Product2.StockKeepingUnit = 'INTERNET-INSTALL-WEEKEND'"
    )
    entry, old = rows[0]["Id"], rows[0]["UnitPrice"]
    await products(gateway, hanako)
    before = (await calls(sandbox)).get("query:PricebookEntry", 0)
    for _ in range(5):
        await products(gateway, hanako)
    await asyncio.sleep(1.0)
    assert (await calls(sandbox)).get("query:PricebookEntry", 0) == before  # no polling
    new = old + 1000
    try:
        await sf.update("PricebookEntry", entry, {"UnitPrice": new})

        async def price() -> str:
            listed = await products(gateway, hanako)
            return next(p["unitPrice"] for p in listed if p["sku"] == "INTERNET-INSTALL-WEEKEND")

        await eventually(price, lambda p: p == f"{new:.2f}")
    finally:
        await sf.update("PricebookEntry", entry, {"UnitPrice": old})


async def _entries(sf: SalesforceClient, skus: list[str]) -> dict[str, tuple[str, float]]:
    quoted = ", ".join(f"'{s}'" for s in skus)
    rows = await sf.query(
        "SELECT Id, UnitPrice, Product2.StockKeepingUnit FROM PricebookEntry WHERE "
        f"Pricebook2.Name = 'Portal Pricebook' AND Product2.StockKeepingUnit IN ({quoted})"
    )
    return {r["Product2"]["StockKeepingUnit"]: (r["Id"], r["UnitPrice"]) for r in rows}


async def _set_prices(sf: SalesforceClient, prices: dict[str, float]) -> None:
    """One composite (all or none): one transaction, so identical changes arrive merged."""
    await sf.composite(
        [
            {"method": "PATCH", "url": f"sobjects/PricebookEntry/{entry}",
             "referenceId": f"e{i}", "body": {"UnitPrice": price}}
            for i, (entry, price) in enumerate(prices.items())
        ]
    )  # fmt: skip


async def _prices(gateway: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    return {p["sku"]: p["unitPrice"] for p in await products(gateway, headers)}


async def test_merged_price_changes_of_several_products_all_visible(
    gateway: httpx.AsyncClient, hanako: dict[str, str], sf: SalesforceClient
) -> None:
    skus = ["SIM-DATA-3G", "SIM-DATA-10G", "SIM-VOICE-10G"]
    entries = await _entries(sf, skus)
    await _prices(gateway, hanako)  # cached
    try:
        await _set_prices(sf, {entry: 4321.0 for entry, _ in entries.values()})
        await eventually(
            lambda: _prices(gateway, hanako), lambda p: all(p[s] == "4321.00" for s in skus)
        )
    finally:
        for entry, old in entries.values():
            await sf.update("PricebookEntry", entry, {"UnitPrice": old})


async def test_change_after_a_long_idle_reaches_the_catalog(
    gateway: httpx.AsyncClient, hanako: dict[str, str], sf: SalesforceClient
) -> None:
    """The stack's sandbox closes streams without demand after 2 s, and commerce asks for one
    event at a time: a consumer that did not ask again after the first change, or did not
    resubscribe from its stored replay id when the server ended the stream, misses the second."""
    sku = "INTERNET-INSTALL-SINGLE"
    entry, old = (await _entries(sf, [sku]))[sku]
    try:
        await sf.update("PricebookEntry", entry, {"UnitPrice": old + 1})
        await eventually(lambda: _prices(gateway, hanako), lambda p: p[sku] == f"{old + 1:.2f}")
        await asyncio.sleep(5)  # more than two idle-close periods without any change
        await sf.update("PricebookEntry", entry, {"UnitPrice": old + 2})
        await eventually(lambda: _prices(gateway, hanako), lambda p: p[sku] == f"{old + 2:.2f}")
    finally:
        await sf.update("PricebookEntry", entry, {"UnitPrice": old})


async def test_eligibility_change_visible_within_2s(
    gateway: httpx.AsyncClient, newcomer: Newcomer, sf: SalesforceClient
) -> None:
    account = newcomer.account_id

    async def categories() -> list[str]:
        response = await gateway.get("/v1/catalog/eligibility", headers=newcomer.headers)
        return list(response.json()["eligibleCategories"])

    assert await categories() == ["PRODUCT_CATEGORY_SIM"]
    try:
        await sf.update("Account", account, {"Portal_Eligible_Categories__c": "SIM;VPN"})
        await eventually(
            categories, lambda c: c == ["PRODUCT_CATEGORY_SIM", "PRODUCT_CATEGORY_VPN"]
        )
    finally:
        await sf.update("Account", account, {"Portal_Eligible_Categories__c": "SIM"})
    await eventually(categories, lambda c: c == ["PRODUCT_CATEGORY_SIM"])


async def _ids(gateway: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    return {p["sku"]: p["id"] for p in await products(gateway, headers)}


async def _orders_with_key(sf: SalesforceClient, account: str, request_id: str) -> list[Any]:
    key = f"{account}:{request_id}"
    return await sf.query(f"SELECT Id FROM Order WHERE Portal_Request_Key__c = '{key}'")


async def test_checkout_refusals_create_nothing(
    gateway: httpx.AsyncClient,
    hanako: dict[str, str],
    newcomer: Newcomer,
    sf: SalesforceClient,
) -> None:
    ids = await _ids(gateway, hanako)
    sim = {"simType": "SIM_TYPE_ESIM", "eid": "8" * 32}
    hanako_account = await account_of(sf, "AC-000101")
    cases = [
        (newcomer.headers, newcomer.account_id, "INTERNET-GOLD-HOME-1G", None, "NOT_ELIGIBLE"),
        (newcomer.headers, newcomer.account_id, "SIM-DATA-3G", sim, "PAYMENT_METHOD_REQUIRED"),
        (hanako, hanako_account, "INTERNET-PLATINUM-HOME-10G", None, "PRODUCT_UNAVAILABLE"),
    ]
    for headers, account, sku, sim_details, expected in cases:
        request_id = f"refused-{uuid.uuid4().hex[:8]}"
        body: dict[str, Any] = {
            "requestId": request_id,
            "items": [{"productId": ids[sku], "quantity": 1}],
        }
        if sim_details:
            body["sim"] = sim_details
        response = await gateway.post("/v1/orders", headers=headers, json=body)
        assert response.status_code == 400 and reason(response) == expected, response.text
        assert await _orders_with_key(sf, account, request_id) == []
    bad = await gateway.post("/v1/orders", headers=hanako, json={"items": []})
    assert bad.status_code == 400 and reason(bad) == "VALIDATION_FAILED"


async def test_checkout_creates_one_order_with_the_address_snapshot(
    gateway: httpx.AsyncClient, hanako: dict[str, str], sf: SalesforceClient
) -> None:
    ids = await _ids(gateway, hanako)
    request_id = f"e2e-{uuid.uuid4().hex[:8]}"
    body = {
        "requestId": request_id,
        "items": [
            {"productId": ids["INTERNET-GOLD-HOME-1G"], "quantity": 1},
            {"productId": ids["INTERNET-INSTALL-SINGLE"], "quantity": 1},
        ],
    }
    responses = await asyncio.gather(
        *(gateway.post("/v1/orders", headers=hanako, json=body) for _ in range(5))
    )
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    order_ids = {r.json()["order"]["id"] for r in responses}
    assert len(order_ids) == 1
    order = responses[0].json()["order"]
    assert order["status"] == "ORDER_STATUS_PENDING_REVIEW"
    assert order["activationStatus"] == "ACTIVATION_STATUS_NOT_STARTED"
    assert order["totalAmount"] == "27980.00"
    account = await account_of(sf, "AC-000101")
    [record] = await sf.query(
        "SELECT Id, Status, BillingCity, BillingPostalCode, Portal_Request_Key__c FROM Order "
        f"WHERE Portal_Request_Key__c = '{account}:{request_id}'"
    )
    profile = (await gateway.get("/v1/billing-profile", headers=hanako)).json()["profile"]
    assert record["Id"] == order["id"] and record["Status"] == "Pending Review"
    assert record["BillingCity"] == profile["address"]["city"]
    assert record["BillingPostalCode"] == profile["address"]["postcode"]
    items = await sf.query(
        f"SELECT Product2Id, Quantity FROM OrderItem WHERE OrderId = '{order['id']}'"
    )
    assert sorted(i["Product2Id"] for i in items) == sorted(
        [ids["INTERNET-GOLD-HOME-1G"], ids["INTERNET-INSTALL-SINGLE"]]
    )
    listed = (await gateway.get("/v1/orders", headers=hanako)).json()["orders"]
    assert order["id"] in [o["id"] for o in listed]


async def test_another_users_order_is_not_found(
    gateway: httpx.AsyncClient, hanako: dict[str, str], newcomer: Newcomer
) -> None:
    listed = (await gateway.get("/v1/orders", headers=hanako)).json()["orders"]
    assert listed, "the checkout test places an order first"
    theirs = await gateway.get(f"/v1/orders/{listed[0]['id']}", headers=newcomer.headers)
    assert theirs.status_code == 404 and reason(theirs) == "NOT_FOUND"
    mine = await gateway.get(f"/v1/orders/{listed[0]['id']}", headers=hanako)
    assert mine.status_code == 200 and mine.json()["order"]["id"] == listed[0]["id"]


async def test_watch_orders_streams_a_status_change_as_sse(
    gateway: httpx.AsyncClient, hanako: dict[str, str], sf: SalesforceClient
) -> None:
    ids = await _ids(gateway, hanako)
    body = {
        "requestId": f"watch-{uuid.uuid4().hex[:8]}",
        "items": [{"productId": ids["VPN-STANDARD"], "quantity": 1}],
    }
    order = (await gateway.post("/v1/orders", headers=hanako, json=body)).json()["order"]
    await asyncio.sleep(0.5)  # the creation's own events
    async with gateway.stream("GET", "/v1/orders:watch", headers=hanako, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        events = _sse(response)
        assert (await anext(events)).get("heartbeat") is True
        await sf.update("Order", order["id"], {"Status": "Approved"})
        async with asyncio.timeout(5):
            async for event in events:
                if event.get("order", {}).get("id") == order["id"]:
                    assert event["order"]["status"] == "ORDER_STATUS_APPROVED"
                    break


async def _sse(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    async for line in response.aiter_lines():
        if line.startswith("data:"):
            yield json.loads(line.removeprefix("data:").strip())


async def test_salesforce_down_is_503_and_nothing_created(
    gateway: httpx.AsyncClient,
    hanako: dict[str, str],
    sf: SalesforceClient,
    sandbox: httpx.AsyncClient,
) -> None:
    ids = await _ids(gateway, hanako)
    request_id = f"down-{uuid.uuid4().hex[:8]}"
    body = {"requestId": request_id, "items": [{"productId": ids["VPN-STANDARD"], "quantity": 1}]}
    await sandbox.post(
        "/__sandbox/faults", json={"mode": "unavailable", "count": 3, "action": "composite"}
    )
    try:
        response = await gateway.post("/v1/orders", headers=hanako, json=body)
    finally:
        await sandbox.post("/__sandbox/faults", json={"mode": "none"})
    assert response.status_code == 503 and reason(response) == "UPSTREAM_UNAVAILABLE"
    assert await _orders_with_key(sf, await account_of(sf, "AC-000101"), request_id) == []
