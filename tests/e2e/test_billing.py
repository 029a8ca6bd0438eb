"""Billing end to end: REST through Envoy to billing, identity's directory, Redis and the stack's
WHMCS sandbox. Data is created as WHMCS staff would (the sandbox's API); the sandbox posts its own
signed hook webhooks to the gateway, which is a real delivery path tested here too.

The stack is shared by the session: nothing is reset; tests create their own invoices, diff the
sandbox's call counters, and wait for the sandbox's hook deliveries to settle before measuring.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.helpers.accounts import HANAKO, YUKI, auth_headers, mail_url_of
from tests.helpers.sandboxes import mailed_code
from tools.stack import Stack

pytestmark = pytest.mark.e2e

DEV_WEBHOOK_SECRET = b"portal-dev-webhook-secret"


class Whmcs:
    """The stack's WHMCS sandbox: its API as staff use it, its counters and hook deliveries."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def api(self, action: str, **params: Any) -> dict[str, Any]:
        form = {"action": action, "responsetype": "json", "identifier": "portal-dev"}
        form |= {"secret": "portal-dev-secret", **{k: str(v) for k, v in params.items()}}
        body = dict((await self.http.post("/includes/api.php", data=form)).json())
        assert body["result"] == "success", body
        return body

    async def calls(self) -> Counter[str]:
        return Counter((await self.http.get("/__sandbox/stats")).json()["calls"])

    async def fault(self, mode: str, **body: Any) -> None:
        response = await self.http.post("/__sandbox/faults", json={"mode": mode, **body})
        assert response.status_code == 200, response.text

    async def deliveries(self) -> list[dict[str, Any]]:
        return list((await self.http.get("/__sandbox/webhooks")).json()["deliveries"])

    async def settle(self, within: float = 10.0) -> list[dict[str, Any]]:
        """Wait until every hook delivery is finished (delivered or failed)."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            deliveries = await self.deliveries()
            if all(d["status"] != "pending" for d in deliveries):
                return deliveries
            assert asyncio.get_running_loop().time() < deadline, deliveries
            await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
async def whmcs(stack: Stack) -> AsyncIterator[Whmcs]:
    url = f"http://127.0.0.1:{stack.config.ports.whmcs}"
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        yield Whmcs(http)


@pytest.fixture(scope="module")
async def hanako(gateway: httpx.AsyncClient) -> dict[str, str]:
    return await auth_headers(gateway, "/v1/auth/link", HANAKO)


@pytest.fixture(scope="module")
async def yuki(gateway: httpx.AsyncClient) -> dict[str, str]:
    return await auth_headers(gateway, "/v1/auth/signup", YUKI)


@pytest.fixture(scope="module")
async def yuki_client(whmcs: Whmcs, yuki: dict[str, str]) -> int:
    return int((await whmcs.api("GetClientsDetails", email=YUKI["email"]))["client"]["id"])


def reason(response: httpx.Response) -> str:
    return str(response.json()["details"][0]["reason"])


def signed(body: bytes, secret: bytes = DEV_WEBHOOK_SECRET) -> dict[str, str]:
    digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return {"content-type": "application/json", "x-portal-signature": f"sha256={digest}"}


def event(client_id: int, name: str = "InvoicePaid", age: timedelta = timedelta(0)) -> bytes:
    moment = (datetime.now(UTC) - age).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"id": f"evt_e2e_{uuid.uuid4().hex}", "event": name, "occurredAt": moment,
            "clientId": str(client_id), "data": {}}  # fmt: skip
    return json.dumps(body).encode()


async def new_invoice(whmcs: Whmcs, client_id: int, amount: str = "1980") -> str:
    created = await whmcs.api(
        "CreateInvoice", userid=client_id, itemdescription1="SIM Data 10GB", itemamount1=amount,
        itemtaxed1=0, duedate=(datetime.now(UTC) + timedelta(days=14)).date().isoformat(),
    )  # fmt: skip
    await whmcs.settle()
    return str(created["invoiceid"])


async def test_invoices_through_the_gateway(
    gateway: httpx.AsyncClient, whmcs: Whmcs, hanako: dict[str, str]
) -> None:
    invoice_id = await new_invoice(whmcs, 1)
    listed = await gateway.get("/v1/invoices", params={"pageSize": 100}, headers=hanako)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    ours = next(i for i in body["invoices"] if i["id"] == invoice_id)
    assert (ours["status"], ours["total"], ours["currencyCode"]) == (
        "INVOICE_STATUS_UNPAID", "1980.00", "JPY",
    )  # fmt: skip
    assert body["totalSize"] == len(body["invoices"]) >= 4 and "paidAt" not in ours
    single = await gateway.get(f"/v1/invoices/{invoice_id}", headers=hanako)
    assert single.json()["invoice"]["items"] == [
        {"description": "SIM Data 10GB", "amount": "1980.00", "type": "Item"}
    ]
    page = await gateway.get("/v1/invoices", params={"pageSize": 1}, headers=hanako)
    token = page.json()["nextPageToken"]
    assert token
    tampered = await gateway.get(
        "/v1/invoices", params={"pageSize": 1, "pageToken": token[:-2] + "xx"}, headers=hanako
    )
    assert tampered.status_code == 400 and reason(tampered) == "VALIDATION_FAILED"


async def test_cache_hits_and_signed_webhook_invalidation(
    gateway: httpx.AsyncClient, whmcs: Whmcs, hanako: dict[str, str]
) -> None:
    await whmcs.settle()
    await gateway.get("/v1/invoices", headers=hanako)
    before = await whmcs.calls()
    again = await gateway.get("/v1/invoices", headers=hanako)
    assert again.status_code == 200
    assert (await whmcs.calls())["GetInvoices"] == before["GetInvoices"]
    hook = event(1)
    delivered = await gateway.post("/v1/webhooks/whmcs", content=hook, headers=signed(hook))
    assert delivered.status_code == 200, delivered.text
    assert delivered.json() in ({}, {"duplicate": False})
    await gateway.get("/v1/invoices", headers=hanako)
    await gateway.get("/v1/invoices", headers=hanako)
    assert (await whmcs.calls())["GetInvoices"] == before["GetInvoices"] + 1
    duplicate = await gateway.post("/v1/webhooks/whmcs", content=hook, headers=signed(hook))
    assert duplicate.json() == {"duplicate": True}
    await gateway.get("/v1/invoices", headers=hanako)
    assert (await whmcs.calls())["GetInvoices"] == before["GetInvoices"] + 1


async def test_forged_or_stale_webhooks_are_refused_and_change_nothing(
    gateway: httpx.AsyncClient, whmcs: Whmcs, hanako: dict[str, str]
) -> None:
    await gateway.get("/v1/invoices", headers=hanako)
    before = await whmcs.calls()
    hook = event(1)
    forged = await gateway.post("/v1/webhooks/whmcs", content=hook, headers=signed(hook, b"nope"))
    assert forged.status_code == 401 and reason(forged) == "INVALID_SIGNATURE"
    unsigned = await gateway.post(
        "/v1/webhooks/whmcs", content=hook, headers={"content-type": "application/json"}
    )
    assert unsigned.status_code == 401 and reason(unsigned) == "INVALID_SIGNATURE"
    stale = event(1, age=timedelta(minutes=30))
    old = await gateway.post("/v1/webhooks/whmcs", content=stale, headers=signed(stale))
    assert old.status_code == 400 and reason(old) == "VALIDATION_FAILED"
    await gateway.get("/v1/invoices", headers=hanako)
    assert (await whmcs.calls())["GetInvoices"] == before["GetInvoices"]


async def test_sandbox_hook_delivery_refreshes_a_paid_invoice(
    gateway: httpx.AsyncClient, whmcs: Whmcs, hanako: dict[str, str]
) -> None:
    invoice_id = await new_invoice(whmcs, 1, amount="550")
    first = await gateway.get(f"/v1/invoices/{invoice_id}", headers=hanako)
    assert first.json()["invoice"]["status"] == "INVOICE_STATUS_UNPAID"
    await whmcs.api(
        "AddInvoicePayment", invoiceid=invoice_id, transid=f"e2e-{uuid.uuid4().hex}",
        gateway="mailin", date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
    )  # fmt: skip
    deliveries = await whmcs.settle()
    mine = [d for d in deliveries if d["payload"]["data"].get("invoiceid") == invoice_id]
    assert {d["event"] for d in mine} >= {"InvoiceCreated", "AddInvoicePayment", "InvoicePaid"}
    assert all(d["status"] == "delivered" and d["responses"][-1] == 200 for d in mine)
    paid = (await gateway.get(f"/v1/invoices/{invoice_id}", headers=hanako)).json()["invoice"]
    assert paid["status"] == "INVOICE_STATUS_PAID" and paid["balance"] == "0.00"
    assert "paidAt" in paid


async def test_payment_link_opens_the_invoice_once(
    gateway: httpx.AsyncClient, whmcs: Whmcs, hanako: dict[str, str]
) -> None:
    invoice_id = await new_invoice(whmcs, 1)
    link = await gateway.post(f"/v1/invoices/{invoice_id}/payment-link", json={}, headers=hanako)
    assert link.status_code == 200, link.text
    url = link.json()["url"]
    expires = datetime.fromisoformat(link.json()["expiresAt"].replace("Z", "+00:00"))
    assert timedelta(seconds=50) < expires - datetime.now(UTC) <= timedelta(seconds=61)
    async with httpx.AsyncClient(follow_redirects=True, timeout=10) as browser:
        opened = await browser.get(url)
        assert opened.status_code == 200 and f"Invoice #{invoice_id}" in opened.text
    async with httpx.AsyncClient(follow_redirects=True, timeout=10) as browser:
        assert (await browser.get(url)).status_code == 403
    paid = await gateway.post("/v1/invoices/1001/payment-link", json={}, headers=hanako)
    assert paid.status_code == 400 and reason(paid) == "INVOICE_NOT_PAYABLE"


async def test_other_users_data_is_not_found(
    gateway: httpx.AsyncClient, whmcs: Whmcs, hanako: dict[str, str], yuki: dict[str, str]
) -> None:
    invoice_id = await new_invoice(whmcs, 1)
    missing = await gateway.get("/v1/invoices/99999999", headers=yuki)
    for path in (f"/v1/invoices/{invoice_id}", "/v1/subscriptions/1"):
        response = await gateway.get(path, headers=yuki)
        assert response.status_code == 404 and reason(response) == "NOT_FOUND"
    foreign = await gateway.get(f"/v1/invoices/{invoice_id}", headers=yuki)
    assert foreign.json()["message"] == missing.json()["message"]
    link = await gateway.post(f"/v1/invoices/{invoice_id}/payment-link", json={}, headers=yuki)
    assert link.status_code == 404


async def test_subscriptions_pay_methods_gateways(
    gateway: httpx.AsyncClient, whmcs: Whmcs, hanako: dict[str, str], yuki: dict[str, str],
    yuki_client: int,
) -> None:  # fmt: skip
    subs = (await gateway.get("/v1/subscriptions", headers=hanako)).json()
    gold = next(s for s in subs["subscriptions"] if s["id"] == "1")
    assert (gold["productName"], gold["billingCycle"], gold["recurringAmount"]) == (
        "Internet Gold Home 1G", "BILLING_CYCLE_MONTHLY", "6500.00",
    )  # fmt: skip
    one = (await gateway.get("/v1/subscriptions/1", headers=hanako)).json()["subscription"]
    assert one == gold
    # A card stored with a tokenising gateway is a remote card of that gateway.
    await whmcs.api("AddPayMethod", clientid=yuki_client, type="CreditCard",
                    card_number="4111111111111111", card_expiry="1229",
                    gateway_module_name="stripe")  # fmt: skip
    # Another e2e module may have cached Yuki's empty list: an empty list is rechecked live.
    methods = (await gateway.get("/v1/payment-methods", headers=yuki)).json()["paymentMethods"]
    assert [(m["type"], m["lastFour"], m["expiry"]) for m in methods] == [
        ("PAYMENT_METHOD_TYPE_REMOTE_CARD", "1111", "12/29")
    ]
    assert methods[0]["gatewayName"] == "stripe"
    gateways = (await gateway.get("/v1/payment-gateways", headers=yuki)).json()["gateways"]
    assert {"name": "stripe", "displayName": "Credit Card"} in gateways


async def test_profile_write_then_reads_are_hits(
    gateway: httpx.AsyncClient, whmcs: Whmcs, yuki: dict[str, str], yuki_client: int
) -> None:
    profile = (await gateway.get("/v1/billing-profile", headers=yuki)).json()["profile"]
    assert profile["email"] == YUKI["email"]
    patch = {"profile": {"phone": "+81 52 000 0104", "address": {"city": "Chikusa-ku"}},
             "updateMask": "phone,address.city"}  # fmt: skip
    updated = await gateway.patch("/v1/billing-profile", json=patch, headers=yuki)
    assert updated.status_code == 200, updated.text
    assert updated.json()["profile"]["address"]["city"] == "Chikusa-ku"
    assert updated.json()["profile"]["address"]["line1"] == YUKI["address"]["line1"]  # type: ignore[index]
    # The update read the profile back; the sandbox's own ClientEdit hook, back through the
    # gateway, reports the same fields and keeps it.
    await whmcs.settle()
    before = await whmcs.calls()
    fresh = (await gateway.get("/v1/billing-profile", headers=yuki)).json()["profile"]
    await gateway.get("/v1/billing-profile", headers=yuki)
    assert fresh["phone"] == "+81 52 000 0104"
    assert (await whmcs.calls())["GetClientsDetails"] == before["GetClientsDetails"]
    client = (await whmcs.api("GetClientsDetails", clientid=yuki_client))["client"]
    assert client["city"] == "Chikusa-ku"
    assert fresh == updated.json()["profile"]
    assert (fresh["phone"], fresh["address"]["city"]) == (client["phonenumber"], client["city"])
    bad = {"profile": {"address": {"country": "Japan"}, "email": "x"},
           "updateMask": "address.country,email"}  # fmt: skip
    refused = await gateway.patch("/v1/billing-profile", json=bad, headers=yuki)
    assert refused.status_code == 400 and reason(refused) == "VALIDATION_FAILED"
    violations = refused.json()["details"][1]["fieldViolations"]
    assert {v["field"] for v in violations} == {"profile.address.country", "profile.email"}


async def test_an_unconfirmed_billing_email_never_reaches_whmcs(
    gateway: httpx.AsyncClient, whmcs: Whmcs, yuki: dict[str, str], yuki_client: int
) -> None:
    """Repro 5: putting someone else's address on one's WHMCS client needs that address's code."""
    squatted = f"someone.{uuid.uuid4().hex[:8]}@example.jp"
    patch = {"profile": {"email": squatted}, "updateMask": "email"}
    answer = await gateway.patch("/v1/billing-profile", json=patch, headers=yuki)
    assert answer.status_code == 200, answer.text
    assert answer.json()["pendingEmail"] == squatted
    assert answer.json()["profile"]["email"] == YUKI["email"]
    client = (await whmcs.api("GetClientsDetails", clientid=yuki_client))["client"]
    assert client["email"] == YUKI["email"]
    code = await mailed_code(mail_url_of(gateway), squatted)
    guess = {"code": f"{(int(code) + 1) % 10**6:06d}"}
    wrong = await gateway.post("/v1/billing-profile/email:confirm", json=guess, headers=yuki)
    assert wrong.status_code == 400 and reason(wrong) == "VERIFICATION_CODE_INVALID"
    client = (await whmcs.api("GetClientsDetails", clientid=yuki_client))["client"]
    assert client["email"] == YUKI["email"]
    # The address's owner confirms with the mailed code: only then is it written.
    done = await gateway.post("/v1/billing-profile/email:confirm", json={"code": code},
                              headers=yuki)  # fmt: skip
    assert done.status_code == 200, done.text
    assert done.json()["profile"]["email"] == squatted
    client = (await whmcs.api("GetClientsDetails", clientid=yuki_client))["client"]
    assert client["email"] == squatted
    back = {"profile": {"email": YUKI["email"]}, "updateMask": "email"}
    await gateway.patch("/v1/billing-profile", json=back, headers=yuki)
    code = await mailed_code(mail_url_of(gateway), str(YUKI["email"]))
    restored = await gateway.post("/v1/billing-profile/email:confirm", json={"code": code},
                                  headers=yuki)  # fmt: skip
    assert restored.status_code == 200, restored.text


async def test_whmcs_down_is_503_without_partial_list(
    gateway: httpx.AsyncClient, whmcs: Whmcs, hanako: dict[str, str]
) -> None:
    await whmcs.fault("unavailable", seconds=20)
    try:
        response = await gateway.get(
            "/v1/invoices", params={"status": "INVOICE_STATUS_DRAFT", "pageSize": 7}, headers=hanako
        )
    finally:
        await whmcs.fault("none")
    assert response.status_code == 503
    body = response.json()
    assert reason(response) == "UPSTREAM_UNAVAILABLE" and "invoices" not in body
    assert "try again later" in body["message"]
    # The service's answer: when to try again, as a header and as a RetryInfo detail.
    assert response.headers["retry-after"] == "5"
    retry = [d for d in body["details"] if d["@type"].endswith("google.rpc.RetryInfo")]
    assert [d["retryDelay"] for d in retry] == ["5s"]
