"""Postgres restarted (fast shutdown, down for a while, started again): what needs it fails
cleanly with the documented 503, what needs it only through a cache or an in-process memo keeps
working, and everything recovers without restarting a service."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.helpers.accounts import HANAKO, YUKI
from tests.helpers.infra_stack import InfraStack

pytestmark = pytest.mark.faults

# Reads whose Postgres data (the user's account links) sits in Redis, and in billing's memo.
CACHED_READS = ("/v1/invoices", "/v1/subscriptions", "/v1/catalog/products", "/v1/cases")
# Reads from Salesforce that also remember the orders' accounts in commerce's table (a lookup
# aid of the CDC consumer, not needed to answer): a page size not asked before misses the cache.
ORDERS_MISS = "/v1/orders?pageSize=7"


def assert_clean_503(response: httpx.Response) -> None:
    """The documented error shape of an outage: 503, gRPC UNAVAILABLE, UPSTREAM_UNAVAILABLE."""
    assert response.status_code == 503, (response.request.url, response.text)
    body = response.json()
    assert body["code"] == 14, body
    assert body["details"][0]["reason"] == "UPSTREAM_UNAVAILABLE", body
    assert body["details"][0]["domain"] == "portal", body
    assert "try again later" in body["message"], body
    assert "Traceback" not in response.text and "asyncpg" not in response.text


async def product_id(infra: InfraStack, sku: str) -> str:
    response = await infra.gateway.get("/v1/catalog/products", headers=infra.headers)
    return next(str(p["id"]) for p in response.json()["products"] if p["sku"] == sku)


def needs_postgres(refresh_token: str, order: dict[str, Any]) -> dict[str, tuple[str, str, Any]]:
    """Requests that read or write identity's or commerce's tables on every call."""
    return {
        "checkout": ("POST", "/v1/orders", order),
        "login": ("POST", "/v1/auth/login", HANAKO),
        "refresh": ("POST", "/v1/auth/refresh", {"refreshToken": refresh_token}),
        "signup": ("POST", "/v1/auth/signup", YUKI),
        "validate": ("POST", "/v1/auth/signup:validate", {"customerNumber": "AC-000104"}),
        "me": ("GET", "/v1/me", None),
    }


async def call(infra: InfraStack, method: str, path: str, body: Any) -> httpx.Response:
    public = path.startswith("/v1/auth/")
    return await infra.gateway.request(
        method, path, json=body, headers={} if public else infra.headers
    )


def background_lines(infra: InfraStack) -> int:
    """Commerce's background workers taking the lead (CDC consumer, fulfillment lease)."""
    needles = ('"cdc_consumer_leading"', '"fulfillment_lease_acquired"')
    lines = infra.logbook.of("commerce") + infra.logbook.of("commerce-2")
    return sum(1 for line in lines if any(n in line for n in needles))


async def test_postgres_restart_fails_cleanly_then_recovers_without_restarts(
    infra: InfraStack,
) -> None:
    login = await infra.gateway.post("/v1/auth/login", json=HANAKO)
    assert login.status_code == 200, login.text
    refresh_token = login.json()["session"]["refreshToken"]
    for path in CACHED_READS:  # the account links into Redis and billing's memo
        response = await infra.gateway.get(path, headers=infra.headers)
        assert response.status_code == 200, (path, response.text)
    vpn = await product_id(infra, "VPN-STANDARD")
    first = {"requestId": uuid.uuid4().hex, "items": [{"productId": vpn, "quantity": 1}]}
    created = await call(infra, "POST", "/v1/orders", first)  # ListOrders has one to remember
    assert created.status_code == 200, created.text
    pids, leaders = infra.pids(), background_lines(infra)
    log_mark = len(infra.logbook.lines)
    request_id = uuid.uuid4().hex
    order = {"requestId": request_id, "items": [{"productId": vpn, "quantity": 1}]}
    probes = needs_postgres(refresh_token, order)

    await infra.postgres.stop()
    stopped = time.monotonic()
    outcome: dict[str, str] = {}
    try:
        await asyncio.sleep(0.5)  # let the pools see their connections close
        for _ in range(2):  # at once, and again once the pools have noticed
            for name, (method, path, body) in probes.items():
                started = time.monotonic()
                response = await call(infra, method, path, body)
                assert time.monotonic() - started < 10, (name, "no timely answer")
                if response.status_code == 500:
                    raise AssertionError(
                        [
                            line[:400]
                            for _, line in infra.logbook.lines[log_mark:]
                            if "rpc_unexpected_error" in line
                        ][:6]
                    )
                assert_clean_503(response)
                outcome[name] = f"{response.status_code}"
            for path in (*CACHED_READS, ORDERS_MISS):
                response = await call(infra, "GET", path, None)
                assert response.status_code == 200, (path, response.text)
                outcome[path] = "200"
            await asyncio.sleep(1)
    finally:
        down_for = time.monotonic() - stopped
        await infra.postgres.start()
    restarted = time.monotonic()

    # The same requests succeed again, without restarting anything.
    while (await call(infra, *probes["login"])).status_code != 200:
        assert time.monotonic() - restarted < 30, "login did not recover"
        await asyncio.sleep(0.2)
    recovered_in = time.monotonic() - restarted
    for name in ("refresh", "validate", "me", "signup", "checkout"):
        response = await call(infra, *probes[name])
        assert response.status_code == 200, (name, response.text)
    # The checkout refused during the outage created nothing; its retry created exactly one.
    keys = await infra.salesforce.query("SELECT Portal_Request_Key__c FROM Order")
    mine = [r for r in keys if str(r["Portal_Request_Key__c"]).endswith(request_id)]
    assert len(mine) == 1, mine
    for path in CACHED_READS:
        response = await call(infra, "GET", path, None)
        assert response.status_code == 200, (path, response.text)
    # The CDC consumer and the fulfillment worker lost their lock connections and lead again.
    deadline = time.monotonic() + 30
    while background_lines(infra) < leaders + 2:
        assert time.monotonic() < deadline, "commerce's background workers did not come back"
        await asyncio.sleep(0.2)
    assert infra.pids() == pids, "a process was restarted or died"
    unexpected = [
        line[:300] for _, line in infra.logbook.lines[log_mark:] if "rpc_unexpected_error" in line
    ]
    assert not unexpected, unexpected
    print(
        f"Postgres down {down_for:.1f} s: {outcome}; login 200 again "
        f"{recovered_in:.2f} s after Postgres started"
    )
