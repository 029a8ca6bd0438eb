"""The soak's customers: created as staff would create them in the systems of record (a Salesforce
Account with a Contact; for most, an existing WHMCS client with a card, an active service and
invoices), then registered through the gateway as customers do: three in four link their WHMCS
login (``POST /v1/auth/link``), one in four signs up (``signup:validate``, ``signup:start``, the
code from the mail sandbox, then ``signup``).

Auth routes have Envoy's local rate limit (50 per 10 s per route and client address,
``tools/envoy_config.py``); every auth call of the soak, at set-up and during the run, still goes
through one :class:`Pacer`, which keeps the whole soak under one address's budget.
"""

from __future__ import annotations

import asyncio
import base64
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import phpserialize

# Calls per second on the auth routes; Envoy allows 50 per 10 s (5/s) per gateway.
AUTH_RATE = 4.0
CATEGORIES = ("Internet;SIM;VPN", "SIM", "Internet", "Internet;VPN", "SIM;VPN")
WHMCS_PID = {"Internet": 182, "SIM": 301}  # the active service a linking customer already has
STAFF_CONCURRENCY = 8


class Pacer:
    """Spaces calls ``1 / rate`` seconds apart (a client-side token bucket of one)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_slot = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self.lock:
            now = time.monotonic()
            slot = max(now, self.next_slot)
            self.next_slot = slot + self.interval
        await asyncio.sleep(slot - now)


@dataclass
class Customer:
    index: int
    number: str
    email: str
    password: str
    first_name: str
    last_name: str
    categories: str
    links: bool  # an existing WHMCS client who links; else a new sign-up
    address: str  # the customer's own address: requests leave from it (and name it in XFF)
    whmcs_client_id: int = 0
    session: dict[str, Any] = field(default_factory=dict)
    issued: float = 0.0  # monotonic time the session's access token was issued

    def signup_body(self) -> dict[str, Any]:
        return {
            "customerNumber": self.number, "email": self.email, "password": self.password,
            "firstName": self.first_name, "lastName": self.last_name,
            "phone": f"+81-90-{self.index // 10000:04d}-{self.index % 10000:04d}",
            "address": {"line1": f"{self.index + 1}-2-3 Shiba", "city": "Minato-ku",
                        "state": "Tokyo", "postcode": "105-0014", "country": "JP"},
        }  # fmt: skip


def make_customers(n: int, tag: str, rng: random.Random) -> list[Customer]:
    return [
        Customer(
            index=i,
            number=f"AC-S{tag}{i:04d}",
            email=f"soak.{tag.lower()}.{i}@example.jp",
            password=f"soak-{tag}-{rng.getrandbits(64):016x}",
            first_name="Soak",
            last_name=f"Customer{i}",
            categories=CATEGORIES[i % len(CATEGORIES)],
            links=i % 4 != 3,
            address=f"127.77.{i // 250}.{i % 250 + 1}",
        )
        for i in range(n)
    ]


def customer_client(c: Customer, gateway_url: str) -> httpx.AsyncClient:
    """An HTTP client of the customer's own: its connections leave from the customer's loopback
    address (all of 127/8 is local), so the gateway sees one client address per customer, as
    it would on the internet (identity throttles per address); the address also goes in
    ``x-forwarded-for`` for a gateway that passes the client's header on."""
    transport = httpx.AsyncHTTPTransport(local_address=c.address)
    headers = {"x-forwarded-for": c.address}
    return httpx.AsyncClient(base_url=gateway_url, transport=transport, headers=headers, timeout=30)


class Staff:
    """The sandboxes as staff use them: Salesforce REST, the WHMCS API, the control surface."""

    def __init__(
        self, salesforce: httpx.AsyncClient, whmcs: httpx.AsyncClient, mail: httpx.AsyncClient
    ) -> None:
        self.sf = salesforce
        self.whmcs_http = whmcs
        self.mail = mail
        # Salesforce calls staff made while the soak measured (not the portal's): stats keys.
        self.sf_calls: Counter[str] = Counter()
        self.approved = 0

    async def login(self) -> None:
        response = await self.sf.post(
            "/services/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=("portal-dev", "portal-dev-secret"),
        )
        response.raise_for_status()
        self.sf.headers["authorization"] = f"Bearer {response.json()['access_token']}"

    async def mailed_code(self, email: str, within: float = 30.0) -> str:
        """The sign-up code the mail sandbox received for ``email`` (the customer reading it)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = (await self.mail.get("/__sandbox/messages", params={"to": email})).json()
            for message in reversed(found["messages"]):
                code = re.search(r"\b(\d{6})\b", message["text"])
                if code:
                    return code.group(1)
            await asyncio.sleep(0.1)
        raise RuntimeError(f"no sign-up code mailed to {email}")

    async def sf_create(self, sobject: str, body: dict[str, Any]) -> str:
        response = await self.sf.post(f"/services/data/v60.0/sobjects/{sobject}/", json=body)
        if response.status_code != 201:
            raise RuntimeError(f"Salesforce {sobject}: {response.text}")
        return str(response.json()["id"])

    async def approve_orders(self) -> None:
        """Approve the soak's orders waiting for review (the fulfillment worker then provisions
        them in WHMCS, and in Freebit for SIMs), as the back office does."""
        soql = ("SELECT Id FROM Order WHERE Status = 'Pending Review' "
                "AND Portal_Request_Key__c LIKE '%:soak-%'")  # fmt: skip
        response = await self.sf.get("/services/data/v60.0/query/", params={"q": soql})
        self.sf_calls["query:Order"] += 1
        response.raise_for_status()
        for record in response.json()["records"]:
            url = f"/services/data/v60.0/sobjects/Order/{record['Id']}"
            updated = await self.sf.patch(url, json={"Status": "Approved"})
            self.sf_calls["sobjects:Order:PATCH"] += 1
            if updated.status_code == 204:
                self.approved += 1

    async def approving(self, every: float) -> None:
        """:meth:`approve_orders` every ``every`` seconds until cancelled."""
        while True:
            await asyncio.sleep(every)
            await self.approve_orders()

    async def whmcs(self, action: str, **params: Any) -> dict[str, Any]:
        form = {"action": action, "responsetype": "json", "identifier": "portal-dev",
                "secret": "portal-dev-secret"} | {k: str(v) for k, v in params.items()}  # fmt: skip
        body = dict((await self.whmcs_http.post("/includes/api.php", data=form)).json())
        if body.get("result") != "success":
            raise RuntimeError(f"WHMCS {action}: {body}")
        return body

    async def settle_hooks(self, within: float = 60.0) -> None:
        """Wait until the WHMCS sandbox has no hook delivery pending (they reach the gateway)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            body = (await self.whmcs_http.get("/__sandbox/webhooks")).json()
            if all(d["status"] != "pending" for d in body["deliveries"]):
                return
            await asyncio.sleep(0.25)


async def create_records(staff: Staff, customers: list[Customer]) -> None:
    """Salesforce Account + Contact for everyone; the WHMCS side of those who link."""
    gate = asyncio.Semaphore(STAFF_CONCURRENCY)

    async def one(c: Customer) -> None:
        async with gate:
            account = await staff.sf_create("Account", {
                "Name": f"{c.first_name} {c.last_name}", "SF_Account_No__c": c.number,
                "Portal_Status__c": "Not Registered",
                "Portal_Eligible_Categories__c": c.categories,
            })  # fmt: skip
            contact = {"AccountId": account, "LastName": c.last_name,
                       "FirstName": c.first_name, "Email": c.email}  # fmt: skip
            await staff.sf_create("Contact", contact)
            if c.links:
                await _existing_whmcs_client(staff, c)

    await asyncio.gather(*(one(c) for c in customers))


async def _existing_whmcs_client(staff: Staff, c: Customer) -> None:
    fields = base64.b64encode(phpserialize.dumps({198: c.number})).decode()
    created = await staff.whmcs(
        "AddClient", firstname=c.first_name, lastname=c.last_name, email=c.email,
        password2=c.password, address1=f"{c.index + 1}-2-3 Shiba", city="Minato-ku",
        state="Tokyo", postcode="105-0014", country="JP", phonenumber="+81-3-0000-0000",
        customfields=fields,
    )  # fmt: skip
    c.whmcs_client_id = int(created["clientid"])
    await give_billing_history(staff, c)
    pid = next((p for cat, p in WHMCS_PID.items() if cat in c.categories), None)
    if pid is not None:
        order = await staff.whmcs("AddOrder", clientid=c.whmcs_client_id, paymentmethod="stripe",
                                  **{"pid[0]": pid})  # fmt: skip
        await staff.whmcs("AcceptOrder", orderid=order["orderid"], autosetup=1)


async def give_billing_history(staff: Staff, c: Customer) -> None:
    """A card on file, one paid and one unpaid invoice (a customer with a history)."""
    await staff.whmcs(
        "AddPayMethod", clientid=c.whmcs_client_id, type="CreditCard",
        card_number="4242424242424242", card_expiry="1230", gateway_module_name="stripe",
        set_as_default=1,
    )  # fmt: skip
    today = datetime.now(UTC).date()
    for status, due in (("Paid", today - timedelta(days=30)), ("Unpaid", today + timedelta(14))):
        await staff.whmcs(
            "CreateInvoice", userid=c.whmcs_client_id, status=status, duedate=due.isoformat(),
            itemdescription1="Monthly service", itemamount1="1980", itemtaxed1=0,
        )  # fmt: skip


async def register(
    gateway: httpx.AsyncClient, staff: Staff, pacer: Pacer, c: Customer
) -> dict[str, Any]:
    """Link or sign up through the gateway (``gateway``: the customer's own client); returns the
    session (a new sign-up then gets a card and invoices from staff, like a customer whose first
    month was billed)."""
    if c.links:
        await pacer.wait()
        response = await gateway.post(
            "/v1/auth/link", json={"email": c.email, "password": c.password}
        )
    else:
        await pacer.wait()
        check = await gateway.post("/v1/auth/signup:validate", json={"customerNumber": c.number})
        if check.status_code != 200:
            raise RuntimeError(f"signup:validate {c.number}: {check.status_code} {check.text}")
        await pacer.wait()
        start = {"customerNumber": c.number, "email": c.email}
        started = await gateway.post("/v1/auth/signup:start", json=start)
        if started.status_code != 200:
            raise RuntimeError(f"signup:start {c.number}: {started.status_code} {started.text}")
        code = await staff.mailed_code(c.email)
        await pacer.wait()
        response = await gateway.post("/v1/auth/signup", json={**c.signup_body(), "code": code})
    if response.status_code != 200:
        raise RuntimeError(f"registering {c.email}: {response.status_code} {response.text}")
    c.session, c.issued = dict(response.json()["session"]), time.monotonic()
    if not c.links:
        details = await staff.whmcs("GetClientsDetails", email=c.email)
        c.whmcs_client_id = int(details["client"]["id"])
        await give_billing_history(staff, c)
    return c.session


async def sandbox_calls(client: httpx.AsyncClient) -> Counter[str]:
    return Counter((await client.get("/__sandbox/stats")).json()["calls"])
