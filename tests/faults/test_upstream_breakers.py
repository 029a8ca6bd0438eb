"""Circuit breakers through the real gateway, and a Freebit outage during fulfillment.

Per service and system of record: repeated failures open the breaker (the service's
``portal_upstream_breaker_open{system}`` gauge is 1), requests then fail fast with the friendly
503 without calling the upstream (the sandbox's call counter stands still), and after the
cool-down one probe finds the upstream back and closes it (gauge 0, requests succeed).
Fulfillment rides out a Freebit outage: the order stays "Activating" and is retried, not failed
for good, and completes once Freebit is back.

A stack of its own (tests/helpers/upstream_faults.py): breaker threshold 6 (two failed reads of
three attempts), cool-down 4 s. The numbers measured are printed (``-s``) for the README.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import grpc
import pytest
from portal.support.v1 import support_pb2, support_pb2_grpc

from tests.helpers.grpc_errors import error_info, status_of
from tests.helpers.upstream_faults import (
    BREAKER_COOLDOWN_S,
    FaultStack,
    assert_unavailable,
    eventually,
    upstream_stack_fixture,
)

pytestmark = pytest.mark.faults

stack = upstream_stack_fixture()

FAST_FAILS = 5


@pytest.fixture(autouse=True)
async def _clear_faults(stack: FaultStack) -> AsyncIterator[None]:
    await stack.clear_faults()
    yield
    await stack.clear_faults()


@pytest.fixture(scope="module")
async def hanako(stack: FaultStack) -> dict[str, str]:
    return await stack.hanako()


async def _open_breaker(
    stack: FaultStack, service: str, system: str, request: Any, *, mode: str
) -> float:
    """Fail ``request`` until the breaker of ``system`` in ``service`` opens; returns when."""
    await stack.sandbox[system].fault(mode, seconds=120)
    for _ in range(4):
        assert_unavailable(await request())
        if await stack.breaker_open(service, system) == 1:
            return time.monotonic()
    raise AssertionError(f"{service}'s {system} breaker did not open")


async def _fast_fails(stack: FaultStack, service: str, system: str, request: Any) -> float:
    """While open: 503s without a call to the sandbox; returns the slowest answer (s)."""
    calls, refused = (
        await stack.calls(system),
        await stack.upstream_calls(service, system, "breaker_open"),
    )
    slowest = 0.0
    for _ in range(FAST_FAILS):
        started = time.monotonic()
        assert_unavailable(await request())
        slowest = max(slowest, time.monotonic() - started)
    assert await stack.calls(system) == calls  # the upstream was not asked
    assert await stack.upstream_calls(service, system, "breaker_open") >= refused + FAST_FAILS
    assert await stack.breaker_open(service, system) == 1
    return slowest


async def _closes(
    stack: FaultStack, service: str, system: str, request: Any, opened_at: float
) -> float:
    """Upstream back: the first request after the cool-down probes and closes the breaker."""
    await stack.clear_faults()

    async def status() -> int:
        return (await request()).status_code

    await eventually(status, lambda code: code == 200, within=BREAKER_COOLDOWN_S + 15, pause=0.5)
    closed_after = time.monotonic() - opened_at
    assert closed_after >= BREAKER_COOLDOWN_S * 0.9  # not before the cool-down
    assert await stack.breaker_open(service, system) == 0
    return closed_after


async def _breaker_cycle(
    stack: FaultStack, service: str, system: str, request: Any, *, mode: str = "unavailable"
) -> None:
    opened_at = await _open_breaker(stack, service, system, request, mode=mode)
    slowest = await _fast_fails(stack, service, system, request)
    # Well within the cool-down (so no probe can have gone out), and fast on any machine.
    assert slowest < 1.0, slowest
    closed_after = await _closes(stack, service, system, request, opened_at)
    print(
        f"\n{service}/{system} ({mode}): fast fail <= {slowest * 1000:.0f} ms, "
        f"closed {closed_after:.1f} s after opening (cool-down {BREAKER_COOLDOWN_S} s)"
    )


async def test_billing_whmcs_breaker_opens_fails_fast_and_closes(
    stack: FaultStack, hanako: dict[str, str]
) -> None:
    async def invoices() -> Any:
        await stack.cold_cache()  # always a miss: every request needs WHMCS
        return await stack.gateway.get("/v1/invoices", headers=hanako)

    await _breaker_cycle(stack, "billing", "whmcs", invoices)


async def test_support_salesforce_breaker_opens_on_rate_limits_and_closes(
    stack: FaultStack, hanako: dict[str, str]
) -> None:
    async def cases() -> Any:
        return await stack.gateway.get("/v1/cases", headers=hanako)

    await _breaker_cycle(stack, "support", "salesforce", cases, mode="rate_limit")


async def test_commerce_salesforce_breaker_opens_fails_fast_and_closes(
    stack: FaultStack, hanako: dict[str, str]
) -> None:
    async def orders() -> Any:
        await stack.cold_cache()
        return await stack.gateway.get("/v1/orders", headers=hanako)

    await _breaker_cycle(stack, "commerce", "salesforce", orders)


async def test_identity_salesforce_breaker_opens_fails_fast_and_closes(
    stack: FaultStack,
) -> None:
    number = await stack.new_account("Hina Abe")  # never looked up: nothing cached

    async def lookup() -> Any:
        body = {"customerNumber": number}
        return await stack.gateway.post("/v1/auth/signup:validate", json=body)

    await _breaker_cycle(stack, "identity", "salesforce", lookup)


async def test_open_breaker_fails_fast_over_native_grpc_too(
    stack: FaultStack, hanako: dict[str, str]
) -> None:
    async def cases() -> Any:
        return await stack.gateway.get("/v1/cases", headers=hanako)

    opened_at = await _open_breaker(stack, "support", "salesforce", cases, mode="unavailable")
    calls = await stack.calls("salesforce")
    target = f"127.0.0.1:{stack.stack.config.ports.gateway}"
    async with grpc.aio.insecure_channel(target) as channel:
        call = support_pb2_grpc.SupportServiceStub(channel).ListCases(
            support_pb2.ListCasesRequest(), metadata=tuple(hanako.items()), timeout=30
        )
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    status = await status_of(call)
    assert status is not None and error_info(status).reason == "UPSTREAM_UNAVAILABLE"
    assert await stack.calls("salesforce") == calls
    await _closes(stack, "support", "salesforce", cases, opened_at)


# -- fulfillment through a Freebit outage -----------------------------------------------------


async def _fulfillment(stack: FaultStack, order_id: str) -> dict[str, Any]:
    conn = await asyncpg.connect(stack.stack.config.database_url)
    try:
        row = await conn.fetchrow(
            "SELECT state, attempts, error_code FROM commerce.fulfillments WHERE sf_order_id = $1",
            order_id,
        )
    finally:
        await conn.close()
    return dict(row) if row else {}


async def test_freebit_outage_leaves_fulfillment_retrying_then_it_completes(
    stack: FaultStack, hanako: dict[str, str]
) -> None:
    products = (await stack.gateway.get("/v1/catalog/products", headers=hanako)).json()
    sim = next(p for p in products["products"] if p["sku"] == "SIM-DATA-3G")
    body = {"requestId": f"fb-{uuid.uuid4().hex[:10]}",
            "items": [{"productId": sim["id"], "quantity": 1}],
            "sim": {"simType": "SIM_TYPE_ESIM", "eid": "8" * 32}}  # fmt: skip
    created = await stack.gateway.post("/v1/orders", headers=hanako, json=body)
    assert created.status_code == 200, created.text
    order_id = created.json()["order"]["id"]

    await stack.sandbox["freebit"].fault("unavailable", seconds=120)
    await stack.sf.update("Order", order_id, {"Status": "Approved"})  # staff approve it

    async def row() -> dict[str, Any]:
        return await _fulfillment(stack, order_id)

    # WHMCS steps done, then stuck at Freebit: retried (attempts grow), the breaker opens.
    await eventually(
        row, lambda r: r.get("state") == "provisioning" and r["attempts"] >= 3, within=60
    )

    async def freebit_breaker() -> float:
        return await stack.breaker_open("commerce", "freebit")

    await eventually(freebit_breaker, lambda v: v == 1, within=10)  # (0 only while it probes)
    order = (await stack.gateway.get(f"/v1/orders/{order_id}", headers=hanako)).json()["order"]
    assert order["activationStatus"] == "ACTIVATION_STATUS_ACTIVATING"  # not failed for good
    assert not order.get("errorCode")
    assert (await stack.sandbox["freebit"].calls()).get("mvno/esim/addAcnt", 0) == 0

    # Freebit back, and its session (authKey) expired meanwhile: the client re-authenticates.
    auths = (await stack.sandbox["freebit"].calls()).get("authOem", 0)
    await stack.clear_faults()
    await stack.sandbox["freebit"].fault("expire_session", count=1)
    back = time.monotonic()

    async def order_now() -> dict[str, Any]:
        response = await stack.gateway.get(f"/v1/orders/{order_id}", headers=hanako)
        return dict(response.json()["order"])

    done = await eventually(
        order_now, lambda o: o["activationStatus"] == "ACTIVATION_STATUS_ACTIVATED", within=60
    )
    took = time.monotonic() - back
    assert done["status"] == "ORDER_STATUS_ACTIVATED"
    assert (await row())["state"] == "done"
    freebit = await stack.sandbox["freebit"].calls()
    assert freebit.get("mvno/esim/addAcnt", 0) == 1  # one line, registered once
    assert freebit.get("authOem", 0) > auths
    record = await stack.sf.get("Order", order_id)
    assert record["SIM_Account__c"] and record["Activation_Status__c"] == "Activated"
    assert await stack.breaker_open("commerce", "freebit") == 0
    print(f"\nfulfillment: activated {took:.1f} s after Freebit came back")


async def test_no_unexpected_error_in_any_service(stack: FaultStack) -> None:
    # Last in the file: every fault above ended in a typed answer, never an INTERNAL/traceback.
    assert stack.internal_errors() == []
