"""Two customers and their data for the authorization matrix: user A (Hanako, linked, with
invoices, a subscription, pay methods, and orders and cases made here), user B (Yuki, signed up,
SIM only, no pay method), and records of a third, seeded account (Kenji) made by staff.
B also has a case of her own and an order staff entered for her.

Also the sandboxes' call counters, the deterministic stand-in for "the same timing class".
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.common.clients import SalesforceClient
from tests.helpers.accounts import HANAKO, YUKI, customer_token


@dataclass
class Customer:
    token: str
    account_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


@dataclass
class World:
    a: Customer
    b: Customer
    # kind (invoice, subscription, order, case) -> ids
    a_ids: dict[str, list[str]]
    b_ids: dict[str, list[str]]
    other_ids: dict[str, list[str]]  # a third account's (Kenji's) order and case
    a_request_ids: list[str]  # CreateOrder request ids A used
    a_page_tokens: dict[str, str]  # list RPC name -> A's next page token
    b_page_tokens: dict[str, str]
    products: dict[str, str]  # SKU -> Product2 id
    markers: list[str] = field(default_factory=list)  # strings of A's that B must never see
    a_case_request_ids: list[str] = field(default_factory=list)  # CreateCase request ids A used

    def every_a_id(self) -> set[str]:
        return {i for ids in self.a_ids.values() for i in ids}

    def known(self) -> set[str]:
        out = self.every_a_id() | {i for ids in self.b_ids.values() for i in ids}
        return out | {i for ids in self.other_ids.values() for i in ids}


async def _json(
    gateway: httpx.AsyncClient, method: str, path: str, who: Customer, **kw: Any
) -> Any:
    response = await gateway.request(method, path, headers=who.headers, **kw)
    assert response.status_code == 200, response.text
    return response.json()


async def _ids(gateway: httpx.AsyncClient, who: Customer, path: str, key: str) -> list[str]:
    params = {} if path == "/v1/payment-methods" else {"pageSize": 100}
    body = await _json(gateway, "GET", path, who, params=params)
    return [str(item["id"]) for item in body.get(key, [])]


async def _next_token(gateway: httpx.AsyncClient, who: Customer, path: str) -> str:
    body = await _json(gateway, "GET", path, who, params={"pageSize": 1})
    return str(body.get("nextPageToken", ""))


async def _account(sf: SalesforceClient, number: str) -> str:
    rows = await sf.query(f"SELECT Id FROM Account WHERE SF_Account_No__c = '{number}'")
    return str(rows[0]["Id"])


async def build_world(gateway: httpx.AsyncClient, sf: SalesforceClient) -> World:
    a = Customer(
        await customer_token(gateway, "/v1/auth/link", HANAKO), await _account(sf, "AC-000101")
    )
    b = Customer(
        await customer_token(gateway, "/v1/auth/signup", YUKI), await _account(sf, "AC-000104")
    )
    rows = await sf.query("SELECT Id, StockKeepingUnit FROM Product2")
    products = {str(r["StockKeepingUnit"]): str(r["Id"]) for r in rows}
    tag = uuid.uuid4().hex[:8]
    request_ids = [f"authz-{tag}-{n}" for n in range(2)]
    for request_id in request_ids:
        line = {"productId": products["VPN-STANDARD"], "quantity": 1}
        await _json(
            gateway, "POST", "/v1/orders", a, json={"requestId": request_id, "items": [line]}
        )
    subjects = [f"authz-A-{tag}-{n}" for n in range(2)]
    case_request_ids = [f"authz-case-{tag}-{n}" for n in range(2)]
    for subject, case_request_id in zip(subjects, case_request_ids, strict=True):
        await _json(
            gateway, "POST", "/v1/cases", a, json={"subject": subject, "requestId": case_request_id}
        )
    await _json(gateway, "POST", "/v1/cases", b, json={"subject": f"authz-B-{tag}"})
    kenji = await _account(sf, "AC-000103")
    pricebook = await sf.query("SELECT Id FROM Pricebook2 WHERE Name = 'Portal Pricebook'")
    other_order = await sf.create(
        "Order",
        {"AccountId": kenji, "EffectiveDate": "2026-01-05", "Status": "Pending Review",
         "Pricebook2Id": pricebook[0]["Id"]},
    )  # fmt: skip
    other_case = await sf.create(
        "Case", {"AccountId": kenji, "Subject": f"authz-C-{tag}", "Origin": "Phone"}
    )
    a_msisdn = await _staff_sim_line(sf, a.account_id, pricebook[0]["Id"], products)
    # B cannot order online (SIM only, no pay method): staff enter one for her.
    await sf.create(
        "Order",
        {"AccountId": b.account_id, "EffectiveDate": "2026-01-06", "Status": "Pending Review",
         "Pricebook2Id": pricebook[0]["Id"]},
    )  # fmt: skip
    kinds = {
        "invoice": ("/v1/invoices", "invoices"),
        "subscription": ("/v1/subscriptions", "subscriptions"),
        "order": ("/v1/orders", "orders"),
        "case": ("/v1/cases", "cases"),
        "payment_method": ("/v1/payment-methods", "paymentMethods"),
    }
    a_ids = {k: await _ids(gateway, a, path, key) for k, (path, key) in kinds.items()}
    a_ids["sim"] = [a_msisdn]
    b_ids = {k: await _ids(gateway, b, path, key) for k, (path, key) in kinds.items()}
    b_ids["sim"] = []
    lists = {"ListInvoices": "/v1/invoices", "ListOrders": "/v1/orders", "ListCases": "/v1/cases"}
    lists["ListSubscriptions"] = "/v1/subscriptions"
    a_tokens = {rpc: await _next_token(gateway, a, path) for rpc, path in lists.items()}
    b_tokens = {rpc: await _next_token(gateway, b, path) for rpc, path in lists.items()}
    markers = [
        "hanako",
        "Hanako",
        "Yamada",
        "AC-000101",
        a.account_id,
        a.account_id[:15],
        "Router light blinking red",  # her seeded case
        *subjects,
    ]
    return World(
        a, b, a_ids, b_ids, {"order": [other_order], "case": [other_case]}, request_ids,
        a_tokens, b_tokens, products, markers, case_request_ids,
    )  # fmt: skip


async def _staff_sim_line(
    sf: SalesforceClient, account_id: str, pricebook_id: str, products: dict[str, str]
) -> str:
    """A's mobile line, as fulfillment leaves one: an order carrying the MSISDN and its SIM plan
    item (made here by staff, to spare the matrix a provisioning run; the e2e SIM test runs the
    real one). Freebit need not know it: B is refused before Freebit is asked."""
    msisdn = f"080{uuid.uuid4().int % 10**8:08d}"
    order = await sf.create(
        "Order",
        {"AccountId": account_id, "EffectiveDate": "2026-01-07", "Status": "Pending Review",
         "Pricebook2Id": pricebook_id, "SIM_Account__c": msisdn, "SIM_Type__c": "Physical"},
    )  # fmt: skip
    entry = await sf.query(
        "SELECT Id, UnitPrice FROM PricebookEntry WHERE Pricebook2Id = "
        f"'{pricebook_id}' AND Product2Id = '{products['SIM-DATA-10G']}'"
    )
    await sf.create(
        "OrderItem",
        {"OrderId": order, "PricebookEntryId": entry[0]["Id"], "Quantity": 1,
         "UnitPrice": entry[0]["UnitPrice"]},
    )  # fmt: skip
    return msisdn


# -- upstream call counters ----------------------------------------------------------------------
class Upstreams:
    """The Salesforce and WHMCS sandboxes' ``/__sandbox/stats`` counters, together."""

    def __init__(self, http: httpx.AsyncClient, urls: dict[str, str]) -> None:
        self.http, self.urls = http, urls

    async def snapshot(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for name, url in self.urls.items():
            calls = (await self.http.get(f"{url}/__sandbox/stats")).json()["calls"]
            # The Pub/Sub stream is the CDC consumer's, not a request's.
            out.update({f"{name}:{k}": v for k, v in calls.items() if not k.startswith("pubsub")})
        return out

    async def settle(self, quiet: float = 0.5, within: float = 15.0) -> None:
        """Wait until no counter moved for ``quiet`` seconds (background work after a sign-up,
        an order or a case: the outbox, the CDC consumer)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        last = await self.snapshot()
        while loop.time() < deadline:
            await asyncio.sleep(quiet)
            now = await self.snapshot()
            if now == last:
                return
            last = now
        raise AssertionError(f"the sandboxes never went quiet: {last}")
