"""Infrastructure faults under load, through the real gateway, on a stack of their own (two
replicas of every service behind Envoy, a private Redis and a private Postgres; see conftest):

- Redis SIGKILLed and restarted while 16 clients read: the cache fails open (no failed request),
  latency stays bounded, and the services use Redis again once it is back;
- Postgres stopped and started: what needs it fails with the documented 503, what needs it only
  through Redis or an in-process memo keeps answering, everything recovers without a restart;
- a replica of every service SIGKILLed under reads and writes: no failed read (Envoy resends a
  read to the other replica), no write sent twice, every acknowledged write exists exactly once,
  a failed checkout retried with its request id makes one order.

The tests run in this order on one stack; each leaves it whole for the next. Measured numbers are
printed (``-s``).
"""

from __future__ import annotations

import asyncio
import collections
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.helpers.accounts import HANAKO, YUKI, post_sign_in
from tests.helpers.infra_stack import InfraStack
from tests.helpers.load import read_load
from tests.helpers.redis_servers import cli

pytestmark = pytest.mark.faults


# -- Redis --------------------------------------------------------------------------------------

# Redis: cached reads of four services (GetMe is Postgres, no cache: the control group).
READ_PATHS = (
    "/v1/invoices",
    "/v1/subscriptions",
    "/v1/payment-methods",
    "/v1/catalog/products",
    "/v1/catalog/eligibility",
    "/v1/orders",
    "/v1/me",
)
CACHED = ("/v1/invoices", "/v1/subscriptions", "/v1/payment-methods", "/v1/catalog/products")


async def upstream_calls(infra: InfraStack) -> int:
    """WHMCS calls plus Salesforce queries so far (what a cache miss costs)."""
    whmcs = await infra.control("whmcs").calls()
    salesforce = await infra.control("salesforce").calls()
    return sum(whmcs.values()) + sum(n for k, n in salesforce.items() if k.startswith("query"))


async def cache_in_use(infra: InfraStack, within: float) -> float:
    """Seconds until repeated cached reads (over both replicas) cost no upstream call."""
    started = time.monotonic()
    while True:
        before = await upstream_calls(infra)
        for _ in range(3):  # round-robin: every replica of each service serves some of them
            for path in CACHED:
                response = await infra.gateway.get(path, headers=infra.headers)
                assert response.status_code == 200, response.text
        if await upstream_calls(infra) == before:
            return time.monotonic() - started
        assert time.monotonic() - started < within, "the cache is not used again"
        await asyncio.sleep(0.5)


async def test_redis_killed_and_restarted_under_read_load(infra: InfraStack) -> None:
    for path in READ_PATHS:  # warm every cache entry
        response = await infra.gateway.get(path, headers=infra.headers)
        assert response.status_code == 200, (path, response.text)
    await cache_in_use(infra, within=15)
    assert int(cli(infra.redis.port, "DBSIZE")) > 0

    async with read_load(infra.gateway, READ_PATHS, infra.headers, clients=16) as load:
        await asyncio.sleep(2)
        killed = time.monotonic()
        await asyncio.to_thread(infra.redis.stop)  # SIGKILL
        await asyncio.sleep(4)
        restarted = time.monotonic()
        await asyncio.to_thread(infra.redis.start)  # empty: no persistence
        await asyncio.sleep(4)
    recovered_in = await cache_in_use(infra, within=30)

    report = (
        f"before: {load.summary(until=killed)}; Redis down: "
        f"{load.summary(killed, restarted)}; after restart: {load.summary(restarted)}; "
        f"cache used again {recovered_in:.1f} s after the check started"
    )
    print(report)
    assert not load.failures(), (load.failures()[:5], report)
    assert len(load.samples) > 200, report
    assert load.percentile(0.99) < 2.0, report
    assert int(cli(infra.redis.port, "DBSIZE")) > 0, "no keys written after the restart"


# -- Postgres -----------------------------------------------------------------------------------

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


def unexpected_errors(infra: InfraStack, since: int) -> list[str]:
    """Services' ``rpc_unexpected_error`` lines (an INTERNAL with a traceback) since a mark."""
    found = []
    for _, line in infra.logbook.lines[since:]:
        if "rpc_unexpected_error" in line:
            event = json.loads(line)
            last = str(event.get("exception", "")).strip().splitlines()[-1:]
            found.append(f"{event.get('rpc')}: {last[0] if last else event.get('error_type')}")
    return found


async def while_postgres_is_down(
    infra: InfraStack, probes: dict[str, tuple[str, str, Any]], log_mark: int
) -> dict[str, int]:
    """Every request needing Postgres answers the clean 503 in time; the reads whose Postgres
    data is cached keep answering 200. Twice: at once, and after the pools noticed."""
    outcome: dict[str, int] = {}
    await asyncio.sleep(0.5)  # let the pools see their connections close
    for _ in range(2):
        for name, (method, path, body) in probes.items():
            started = time.monotonic()
            response = await call(infra, method, path, body)
            assert time.monotonic() - started < 10, (name, "no timely answer")
            assert response.status_code != 500, unexpected_errors(infra, log_mark)[:6]
            assert_clean_503(response)
            outcome[name] = response.status_code
        for path in (*CACHED_READS, ORDERS_MISS):
            response = await call(infra, "GET", path, None)
            assert response.status_code == 200, (path, response.text)
            outcome[path] = response.status_code
        await asyncio.sleep(1)
    return outcome


async def with_redis_down_too(infra: InfraStack) -> dict[str, int]:
    """Postgres and Redis down: billing still knows the caller's WHMCS client from its in-process
    memo (30 s) and reads WHMCS live; support asks identity's directory on every call, which can
    reach neither its Redis entry nor Postgres: the clean 503."""
    await asyncio.to_thread(infra.redis.stop)
    try:
        for _ in range(4):  # both billing replicas
            response = await call(infra, "GET", "/v1/invoices", None)
            assert response.status_code == 200, response.text
        cases = await call(infra, "GET", "/v1/cases", None)
        assert_clean_503(cases)
    finally:
        await asyncio.to_thread(infra.redis.start)
    return {"/v1/invoices (+Redis down)": 200, "/v1/cases (+Redis down)": cases.status_code}


async def test_postgres_restart_fails_cleanly_then_recovers_without_restarts(
    infra: InfraStack,
) -> None:
    login = await infra.gateway.post("/v1/auth/login", json=HANAKO)
    assert login.status_code == 200, login.text
    refresh_token = login.json()["session"]["refreshToken"]
    for path in (*CACHED_READS, "/v1/invoices", "/v1/invoices"):  # links: Redis, billing's memo
        response = await infra.gateway.get(path, headers=infra.headers)
        assert response.status_code == 200, (path, response.text)
    vpn = await product_id(infra, "VPN-STANDARD")
    first = {"requestId": uuid.uuid4().hex, "items": [{"productId": vpn, "quantity": 1}]}
    created = await call(infra, "POST", "/v1/orders", first)  # ListOrders has one to remember
    assert created.status_code == 200, created.text
    pids, leaders, log_mark = infra.pids(), background_lines(infra), len(infra.logbook.lines)
    request_id = uuid.uuid4().hex
    order = {"requestId": request_id, "items": [{"productId": vpn, "quantity": 1}]}
    probes = needs_postgres(refresh_token, order)

    await infra.postgres.stop()
    stopped = time.monotonic()
    try:
        outcome = await while_postgres_is_down(infra, probes, log_mark)
        outcome |= await with_redis_down_too(infra)
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
        if name == "signup":  # now the customer's way: a code from the mail sandbox first
            signed_up = await post_sign_in(infra.gateway, "/v1/auth/signup", YUKI)
            assert signed_up is not None, "signup:start answered as for a registered account"
            response = signed_up
        else:
            response = await call(infra, *probes[name])
        assert response.status_code == 200, (name, response.text)
    for path in CACHED_READS:
        response = await call(infra, "GET", path, None)
        assert response.status_code == 200, (path, response.text)
    # The checkout refused during the outage created nothing; its retry created exactly one.
    keys = await infra.salesforce.query("SELECT Portal_Request_Key__c FROM Order")
    mine = [r for r in keys if str(r["Portal_Request_Key__c"]).endswith(request_id)]
    assert len(mine) == 1, mine
    # The CDC consumer and the fulfillment worker lost their lock connections and lead again.
    deadline = time.monotonic() + 30
    while background_lines(infra) < leaders + 2:
        assert time.monotonic() < deadline, "commerce's background workers did not come back"
        await asyncio.sleep(0.2)
    assert infra.pids() == pids, "a process was restarted or died"
    assert not unexpected_errors(infra, log_mark)
    print(
        f"Postgres down {down_for:.1f} s: {outcome}; login 200 again "
        f"{recovered_in:.2f} s after Postgres started"
    )


# -- a replica killed ---------------------------------------------------------------------------

KILL_READS = (
    "/v1/invoices",
    "/v1/subscriptions",
    "/v1/catalog/products",
    "/v1/cases?pageSize=5",
    "/v1/orders",
    "/v1/me",
)
WRITERS = 3  # of each kind
CASE = {"description": "Sent while a replica died.", "category": "CASE_CATEGORY_GENERAL",
        "priority": "CASE_PRIORITY_LOW"}  # fmt: skip


@dataclass(frozen=True)
class Write:
    kind: str  # "case" | "order"
    key: str  # the case's subject, the order's request id
    status: int  # 0: no HTTP answer
    record_id: str  # when it succeeded
    body: str
    sent: dict[str, Any]


async def post(infra: InfraStack, path: str, body: dict[str, Any], request_id: str) -> Write:
    kind = "case" if path == "/v1/cases" else "order"
    key = body["subject"] if kind == "case" else body["requestId"]
    headers = {**infra.headers, "x-request-id": request_id}
    try:
        response = await infra.gateway.post(path, json=body, headers=headers)
    except httpx.HTTPError as exc:
        return Write(kind, key, 0, "", repr(exc), body)
    record = response.json().get(kind, {}) if response.status_code == 200 else {}
    return Write(kind, key, response.status_code, record.get("id", ""), response.text, body)


async def writer(
    make: Callable[[int], Awaitable[Write]], stop: asyncio.Event, out: list[Write]
) -> None:
    n = 0
    while not stop.is_set():
        out.append(await make(n))
        n += 1


async def test_a_replica_of_each_service_killed_under_load(infra: InfraStack) -> None:
    run = uuid.uuid4().hex[:8]
    vpn = await product_id(infra, "VPN-STANDARD")
    for path in KILL_READS:
        response = await infra.gateway.get(path, headers=infra.headers)
        assert response.status_code == 200, (path, response.text)

    def case(w: int) -> Callable[[int], Awaitable[Write]]:
        def make(n: int) -> Awaitable[Write]:
            subject = f"fault-{run}-{w}-{n}"
            body = {"subject": subject, **CASE}
            return post(infra, "/v1/cases", body, subject)

        return make

    def order(w: int) -> Callable[[int], Awaitable[Write]]:
        def make(n: int) -> Awaitable[Write]:
            request_id = f"fault-{run}-{w}-{n}"
            body = {"requestId": request_id, "items": [{"productId": vpn, "quantity": 1}]}
            return post(infra, "/v1/orders", body, request_id)

        return make

    victims = ["identity-2", "billing-2", infra.cdc_leader(), "support-2"]
    writes: list[Write] = []
    stop = asyncio.Event()
    retries_before = await infra.envoy_retries()
    async with read_load(infra.gateway, KILL_READS, infra.headers, clients=8) as load:
        tasks = [asyncio.create_task(writer(make(w), stop, writes))
                 for w in range(WRITERS) for make in (case, order)]  # fmt: skip
        await asyncio.sleep(3)
        killed = time.monotonic()
        for name in victims:
            infra.kill(name)
        await asyncio.sleep(4)
        revived = time.monotonic()
        await asyncio.gather(*(infra.revive(name) for name in victims))
        back = time.monotonic()
        await asyncio.sleep(2)
        stop.set()
        await asyncio.gather(*tasks)
    retries = {k: v - retries_before.get(k, 0) for k, v in (await infra.envoy_retries()).items()}

    failed_writes = [w for w in writes if w.status != 200]
    report = (
        f"reads before: {load.summary(until=killed)}; replicas down: "
        f"{load.summary(killed, revived)}; while restarting: {load.summary(revived, back)}; "
        f"after: {load.summary(back)}; writes: {len(writes)}, failed: "
        f"{[(w.kind, w.status) for w in failed_writes]}; replicas healthy again "
        f"{back - revived:.1f} s after restart; envoy retries: "
        f"{ {k: v for k, v in retries.items() if v} }"
    )
    print(report)
    await check_writes(infra, run, writes)
    assert not load.failures(), (
        [(s.path, s.status, s.body[:200]) for s in load.failures()][:8],
        report,
    )
    assert load.percentile(0.99) < 5.0, report
    for w in failed_writes:  # a clean, documented answer; never a 500 or a traceback
        assert w.status == 503 and '"UPSTREAM_UNAVAILABLE"' in w.body, (w, report)


async def check_writes(infra: InfraStack, run: str, writes: list[Write]) -> None:
    """Salesforce holds each acknowledged write exactly once; a failed checkout retried with its
    request id returns the one order (created now, or by the attempt whose answer was lost)."""
    cases = await infra.salesforce.query(
        f"SELECT Id, Subject FROM Case WHERE Subject LIKE 'fault-{run}-%'"
    )
    case_count = collections.Counter(str(c["Subject"]) for c in cases)
    assert all(n == 1 for n in case_count.values()), "a case was created twice"
    case_ids = {str(c["Subject"]): str(c["Id"]) for c in cases}
    for w in writes:
        if w.kind == "case" and w.status == 200:
            assert case_ids.get(w.key) == w.record_id, w
    for w in writes:
        if w.kind == "order" and w.status != 200:  # the client retries with the same id
            again = await post(infra, "/v1/orders", w.sent, w.key)
            assert again.status == 200, again
    orders = await infra.salesforce.query(
        "SELECT Id, Portal_Request_Key__c FROM Order"
        f" WHERE Portal_Request_Key__c LIKE '%:fault-{run}-%'"
    )
    per_key = collections.Counter(str(o["Portal_Request_Key__c"]).split(":", 1)[1] for o in orders)
    assert all(n == 1 for n in per_key.values()), "an order was created twice"
    order_keys = {w.key for w in writes if w.kind == "order"}
    assert set(per_key) == order_keys, "an acknowledged or retried order is missing"


async def kill_with_calls_in_flight(
    infra: InfraStack, calls: Sequence[Awaitable[Any]], service: str = "support"
) -> tuple[list[Any], int, int]:
    """Start ``calls`` (slowed down in Salesforce), SIGKILL replica 2 of ``service`` once Envoy
    has some of them in flight there; return their results, how many were in flight on the
    killed replica, and how many times Envoy retried on the cluster meanwhile."""
    before = (await infra.envoy_retries()).get(f"cluster.{service}.upstream_rq_retry", 0)
    tasks = [asyncio.ensure_future(c) for c in calls]
    deadline = time.monotonic() + 5
    while await infra.active_on(service, 0) + await infra.active_on(service, 1) < len(tasks):
        assert time.monotonic() < deadline, "the calls did not all reach a replica"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # the slow Salesforce calls are under way
    in_flight = await infra.active_on(service, 1)
    assert in_flight >= 1, "round-robin sent nothing to the second replica"
    infra.kill(f"{service}-2")
    results = await asyncio.gather(*tasks)
    after = (await infra.envoy_retries()).get(f"cluster.{service}.upstream_rq_retry", 0)
    await infra.revive(f"{service}-2")
    return results, in_flight, after - before


async def test_a_call_in_flight_on_a_killed_replica(infra: InfraStack) -> None:
    """Deterministic: Salesforce answers slowly, so calls are in flight when the replica dies.
    A read is retried on the other replica; a create is not (its answer was lost, but it may
    have reached Salesforce: sending it again would make a second case)."""
    salesforce, run = infra.control("salesforce"), uuid.uuid4().hex[:8]
    await salesforce.fault("latency", latency_ms=2500, action="sobjects:Case:POST", count=6)
    bodies = [{"subject": f"inflight-{run}-{i}", **CASE} for i in range(6)]
    writes, in_flight, retried = await kill_with_calls_in_flight(
        infra, [post(infra, "/v1/cases", b, b["subject"]) for b in bodies]
    )
    lost = [w for w in writes if w.status != 200]
    assert retried == 0 and len(lost) == in_flight, (retried, in_flight, writes)
    for w in lost:
        assert w.status == 503 and '"UPSTREAM_UNAVAILABLE"' in w.body, w
    cases = await infra.salesforce.query(
        f"SELECT Id, Subject FROM Case WHERE Subject LIKE 'inflight-{run}-%'"
    )
    per_subject = collections.Counter(str(c["Subject"]) for c in cases)
    assert all(n == 1 for n in per_subject.values()), per_subject
    assert {w.key for w in writes if w.status == 200} <= set(per_subject)

    await salesforce.fault("latency", latency_ms=1500, action="query:Case", count=6)
    reads = [infra.gateway.get("/v1/cases?pageSize=3", headers=infra.headers) for _ in range(6)]
    answers, read_in_flight, read_retried = await kill_with_calls_in_flight(infra, reads)
    assert [r.status_code for r in answers] == [200] * 6, [r.text for r in answers]
    assert read_retried >= read_in_flight >= 1
    print(
        f"in flight on the killed replica: {in_flight} creates -> {len(lost)} x 503, not retried,"
        f" {sum(1 for w in lost if w.key in per_subject)} of them created in Salesforce anyway;"
        f" {read_in_flight} reads -> retried {read_retried} x, all 200"
    )
