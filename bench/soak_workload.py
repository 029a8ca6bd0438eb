"""What one soak user does: a session of mostly reads with some writes and think time, refreshing
the access token when half its lifetime is gone, signing in again now and then. Every request is
recorded per endpoint (path template) with its latency and, when it failed, the reason."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from bench.soak_users import Customer, Pacer


@dataclass
class Endpoint:
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


class Recorder:
    """Per-endpoint latencies and errors, plus every credential the soak saw (for the log scan)."""

    def __init__(self) -> None:
        self.endpoints: dict[str, Endpoint] = {}
        self.secrets: dict[str, str] = {}
        self.recording = True
        # Reads of an invoice its user had not read before in the run (each must miss the
        # invoice-detail cache: nothing else fills it).
        self.first_reads = 0

    def record(self, label: str, ms: float, error: str | None) -> None:
        if not self.recording:
            return
        entry = self.endpoints.setdefault(label, Endpoint())
        entry.latencies_ms.append(ms)
        if error is not None:
            entry.errors[error] += 1

    def secret(self, kind: str, value: str) -> None:
        if value:
            self.secrets[f"{kind}#{len(self.secrets)}"] = value

    def session(self, session: dict[str, Any]) -> None:
        self.secret("access_token", str(session.get("accessToken", "")))
        self.secret("refresh_token", str(session.get("refreshToken", "")))


def reason(response: httpx.Response) -> str:
    try:
        detail = response.json()["details"][0]["reason"]
    except (ValueError, KeyError, IndexError, TypeError):
        detail = response.text[:60]
    return f"{response.status_code} {detail}"


class User:
    def __init__(
        self,
        customer: Customer,
        gateway: httpx.AsyncClient,  # the customer's own (bench.soak_users.customer_client)
        recorder: Recorder,
        pacer: Pacer,
        *,
        token_ttl: float,
        think_s: float,
        seed: int,
    ) -> None:
        self.c = customer
        self.gateway = gateway
        self.recorder = recorder
        self.pacer = pacer
        self.token_ttl = token_ttl
        self.think_s = think_s
        self.rng = random.Random(seed)
        self.issued = customer.issued or time.monotonic()
        self.invoices: list[str] = []
        self.invoices_read: set[str] = set()
        self.unpaid: list[str] = []
        self.cases: list[str] = []
        self.orders: list[str] = []
        self.products: list[dict[str, Any]] = []
        recorder.secret("password", customer.password)
        recorder.session(customer.session)

    # -- plumbing ---------------------------------------------------------------------------

    def _headers(self, auth: bool = True) -> dict[str, str]:
        return {"authorization": f"Bearer {self.c.session['accessToken']}"} if auth else {}

    async def call(
        self, method: str, label: str, path: str, *, auth: bool = True, **kwargs: Any
    ) -> httpx.Response | None:
        """One request, recorded; the response when it succeeded, else None."""
        if auth and time.monotonic() - self.issued > self.token_ttl / 2:
            await self.refresh()
        started = time.perf_counter()
        try:
            response = await self.gateway.request(
                method, path, headers=self._headers(auth), **kwargs
            )
        except httpx.HTTPError as exc:
            self.recorder.record(label, (time.perf_counter() - started) * 1000, type(exc).__name__)
            return None
        ms = (time.perf_counter() - started) * 1000
        ok = 200 <= response.status_code < 300
        self.recorder.record(label, ms, None if ok else reason(response))
        return response if ok else None

    def _new_session(self, session: dict[str, Any]) -> None:
        self.c.session = {**self.c.session, **session}
        self.issued = time.monotonic()
        self.recorder.session(session)

    async def refresh(self) -> None:
        await self.pacer.wait()
        body = {"refreshToken": self.c.session["refreshToken"]}
        response = await self.call("POST", "POST /v1/auth/refresh", "/v1/auth/refresh",
                                   auth=False, json=body)  # fmt: skip
        if response is not None:
            self._new_session(response.json()["session"])

    # -- the session ------------------------------------------------------------------------

    async def run(self, deadline: float) -> None:
        # Users arrive spread over one think time, not all in the same millisecond.
        await asyncio.sleep(self.rng.uniform(0, min(self.think_s, deadline - time.monotonic())))
        await self.me()
        await self.list_invoices()
        actions = list(self.actions().items())
        weights = [w for _, (w, _) in actions]
        while time.monotonic() < deadline:
            pause = min(self.rng.expovariate(1 / self.think_s), deadline - time.monotonic())
            await asyncio.sleep(max(0.0, pause))
            if time.monotonic() >= deadline:
                return
            _, (_, action) = self.rng.choices(actions, weights)[0]
            await action()

    def actions(self) -> dict[str, tuple[float, Callable[[], Awaitable[None]]]]:
        """Name → (weight, coroutine); about 88 % reads."""
        return {
            "me": (12, self.me),
            "invoices": (13, self.list_invoices),
            "invoice": (9, self.get_invoice),
            "subscriptions": (8, self.list_subscriptions),
            "products": (10, self.list_products),
            "eligibility": (6, self.eligibility),
            "orders": (8, self.list_orders),
            "order": (3, self.get_order),
            "cases": (8, self.list_cases),
            "case": (4, self.get_case),
            "payment_methods": (6, self.payment_methods),
            "billing_profile": (3, self.billing_profile),
            "create_case": (2.5, self.create_case),
            "comment": (2, self.comment),
            "checkout": (1.5, self.checkout),
            "payment_link": (1.5, self.payment_link),
            "update_profile": (1, self.update_profile),
            "login": (0.5, self.login),
        }

    async def me(self) -> None:
        await self.call("GET", "GET /v1/me", "/v1/me")

    async def list_invoices(self) -> None:
        r = await self.call("GET", "GET /v1/invoices", "/v1/invoices", params={"pageSize": 20})
        if r is not None:
            invoices = r.json().get("invoices", [])
            self.invoices = [i["id"] for i in invoices]
            self.unpaid = [i["id"] for i in invoices if i["status"] == "INVOICE_STATUS_UNPAID"]

    async def get_invoice(self) -> None:
        if not self.invoices:
            return await self.list_invoices()
        invoice = self.rng.choice(self.invoices)
        if invoice not in self.invoices_read and self.recorder.recording:
            self.invoices_read.add(invoice)
            self.recorder.first_reads += 1
        await self.call("GET", "GET /v1/invoices/{id}", f"/v1/invoices/{invoice}")

    async def list_subscriptions(self) -> None:
        await self.call("GET", "GET /v1/subscriptions", "/v1/subscriptions")

    async def list_products(self) -> None:
        r = await self.call("GET", "GET /v1/catalog/products", "/v1/catalog/products")
        if r is not None:
            products = r.json().get("products", [])
            self.products = [p for p in products if p.get("eligible") and p.get("orderable")]

    async def eligibility(self) -> None:
        await self.call("GET", "GET /v1/catalog/eligibility", "/v1/catalog/eligibility")

    async def list_orders(self) -> None:
        r = await self.call("GET", "GET /v1/orders", "/v1/orders")
        if r is not None:
            self.orders = [o["id"] for o in r.json().get("orders", [])]

    async def get_order(self) -> None:
        if not self.orders:
            return await self.list_orders()
        order = self.rng.choice(self.orders)
        await self.call("GET", "GET /v1/orders/{id}", f"/v1/orders/{order}")

    async def list_cases(self) -> None:
        r = await self.call("GET", "GET /v1/cases", "/v1/cases")
        if r is not None:
            self.cases = [c["id"] for c in r.json().get("cases", [])]

    async def get_case(self) -> None:
        if not self.cases:
            return await self.list_cases()
        case = self.rng.choice(self.cases)
        await self.call("GET", "GET /v1/cases/{id}", f"/v1/cases/{case}")

    async def payment_methods(self) -> None:
        await self.call("GET", "GET /v1/payment-methods", "/v1/payment-methods")

    async def billing_profile(self) -> None:
        await self.call("GET", "GET /v1/billing-profile", "/v1/billing-profile")

    async def create_case(self) -> None:
        body = {"subject": f"Soak question {self.rng.randrange(10_000)}",
                "description": "My connection drops in the evening.",
                "category": self.rng.choice(["CASE_CATEGORY_TECHNICAL", "CASE_CATEGORY_BILLING"]),
                "priority": "CASE_PRIORITY_MEDIUM"}  # fmt: skip
        r = await self.call("POST", "POST /v1/cases", "/v1/cases", json=body)
        if r is not None:
            self.cases.insert(0, r.json()["case"]["id"])

    async def comment(self) -> None:
        if not self.cases:
            return await self.create_case()
        case = self.rng.choice(self.cases)
        await self.call("POST", "POST /v1/cases/{id}/comments", f"/v1/cases/{case}/comments",
                        json={"body": "Any news on this?"})  # fmt: skip

    async def checkout(self) -> None:
        if not self.products:
            return await self.list_products()
        product = self.rng.choice(self.products)
        body: dict[str, Any] = {"requestId": f"soak-{uuid.uuid4().hex}",
                                "items": [{"productId": product["id"], "quantity": 1}]}  # fmt: skip
        if product.get("category") == "PRODUCT_CATEGORY_SIM":
            body["sim"] = {"simType": "SIM_TYPE_ESIM", "eid": f"{self.rng.getrandbits(100):032d}"}
        r = await self.call("POST", "POST /v1/orders", "/v1/orders", json=body)
        if r is not None:
            self.orders.insert(0, r.json()["order"]["id"])

    async def payment_link(self) -> None:
        if not self.unpaid:
            return await self.list_invoices()
        invoice = self.rng.choice(self.unpaid)
        r = await self.call("POST", "POST /v1/invoices/{id}/payment-link",
                            f"/v1/invoices/{invoice}/payment-link", json={})  # fmt: skip
        if r is not None:
            url = str(r.json()["url"])
            self.recorder.secret("payment_link", url)
            for token in parse_qs(urlsplit(url).query).get("access_token", []):
                self.recorder.secret("sso_token", token)

    async def update_profile(self) -> None:
        phone = f"+81-3-{self.rng.randrange(10_000):04d}-{self.rng.randrange(10_000):04d}"
        body = {"profile": {"phone": phone}, "updateMask": "phone"}
        await self.call("PATCH", "PATCH /v1/billing-profile", "/v1/billing-profile", json=body)

    async def login(self) -> None:
        await self.pacer.wait()
        body = {"email": self.c.email, "password": self.c.password}
        r = await self.call("POST", "POST /v1/auth/login", "/v1/auth/login", auth=False, json=body)
        if r is not None:
            self._new_session(r.json()["session"])
