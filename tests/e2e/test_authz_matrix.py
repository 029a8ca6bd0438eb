"""The authorization matrix, end to end through Envoy (REST and native gRPC): user B's token
against user A's ids, guessed ids and malformed ids, for every public RPC that takes one.

The RPCs come from the descriptors (``tests.helpers.rpc_surface``): every request field that names
a record or a position (path variables, ``*_id``, ``page_token``, nested ones too) needs an entry
in ``PROVIDERS`` (``tests.helpers.authz_plans``), or ``test_every_reference_field_has_a_provider``
fails: a new RPC is covered by the matrix or breaks the build.

"Never a different timing class" is checked without a stopwatch: B asking for A's record and for
a record that does not exist (same shape) must get byte-identical answers and cause the same
upstream calls (the sandboxes' call counters). Medians: ``bench/authz_timing.py``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import json_format, message_factory

from services.common.clients import SalesforceClient, SalesforceConfig
from tests.helpers.authz_plans import LISTS, PROVIDERS, key
from tests.helpers.authz_world import Customer, Upstreams, World, build_world
from tests.helpers.rpc_surface import (
    Endpoint,
    Outcome,
    call_grpc,
    call_rest,
    public_endpoints,
    request_document,
)
from tools.stack import Stack

pytestmark = pytest.mark.e2e

ENDPOINTS = {e.full_name: e for e in public_endpoints()}
REFERENCES = [(e, f) for e in ENDPOINTS.values() if e.needs_token for f in e.reference_fields]
# reason -> (gRPC code, HTTP status)
CODES = {
    "NOT_FOUND": (5, 404),
    "VALIDATION_FAILED": (3, 400),
    "PRODUCT_UNAVAILABLE": (9, 400),
    "NOT_ELIGIBLE": (9, 400),
    "PAYMENT_METHOD_REQUIRED": (9, 400),
}


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
async def world(gateway: httpx.AsyncClient, stack: Stack) -> AsyncIterator[World]:
    sf = SalesforceClient(SalesforceConfig(url=f"http://127.0.0.1:{stack.config.ports.salesforce}"))
    try:
        yield await build_world(gateway, sf)
    finally:
        await sf.aclose()


@pytest.fixture(scope="module")
async def channel(stack: Stack) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.config.ports.gateway}") as ch:
        yield ch


@pytest.fixture(scope="module")
async def upstreams(stack: Stack) -> AsyncIterator[Upstreams]:
    urls = {
        "salesforce": f"http://127.0.0.1:{stack.config.ports.salesforce}",
        "whmcs": f"http://127.0.0.1:{stack.config.ports.whmcs}",
    }
    async with httpx.AsyncClient(timeout=5) as http:
        yield Upstreams(http, urls)


async def call(
    transport: str,
    gateway: httpx.AsyncClient,
    channel: grpc.aio.Channel,
    endpoint: Endpoint,
    document: dict[str, Any],
    who: Customer,
) -> Outcome:
    if transport == "rest":
        return await call_rest(gateway, endpoint, document, who.headers)
    return await call_grpc(channel, endpoint, document, who.token)


def no_leak(outcome: Outcome, w: World) -> None:
    leaks = w.markers + [i for i in w.every_a_id() if len(i) >= 4]
    assert not [m for m in leaks if m in outcome.raw], outcome.raw[:300]


def refused_cleanly(outcome: Outcome, transport: str, allowed: frozenset[str], w: World) -> None:
    assert not outcome.ok, outcome.raw[:300]
    assert outcome.reason in allowed and outcome.domain == "portal", outcome.raw[:300]
    code, http_status = CODES[outcome.reason]
    assert outcome.code == code, outcome.raw[:300]
    if transport == "rest":
        assert outcome.status == http_status, outcome.raw[:300]
    no_leak(outcome, w)


# -- tests ---------------------------------------------------------------------------------------
def test_every_reference_field_has_a_provider() -> None:
    found = {key(e, f) for e, f in REFERENCES}
    assert not found - PROVIDERS.keys(), "id-taking RPC fields without an id provider"
    assert not PROVIDERS.keys() - found, "providers for fields the protos no longer have"
    # The classifier is not vacuous: the resources are all found.
    names = {e.method.name for e, _ in REFERENCES}
    assert {"GetInvoice", "CreateInvoicePaymentLink", "GetSubscription", "GetOrder", "GetCase",
            "AddCaseComment", "GetSimUsage", "CancelSim"} <= names  # fmt: skip


@pytest.mark.parametrize("transport", ["rest", "grpc"])
@pytest.mark.parametrize(
    ("endpoint", "field_name"), REFERENCES, ids=lambda x: getattr(x, "full_name", x)
)
async def test_b_never_gets_a_record_of_a_by_any_id(
    gateway: httpx.AsyncClient,
    channel: grpc.aio.Channel,
    world: World,
    transport: str,
    endpoint: Endpoint,
    field_name: str,
) -> None:
    plan = PROVIDERS[key(endpoint, field_name)](world)
    kinds = {p.kind for p in plan.probes}
    assert {"guessed", "malformed"} <= kinds
    for probe in plan.probes:
        fields = dict(plan.fields)
        if "requestId" in fields:  # a fresh idempotency key for each attempt
            fields["requestId"] = f"authz-b-{uuid.uuid4().hex}"
        document = request_document(fields, field_name, probe.value)
        outcome = await call(transport, gateway, channel, endpoint, document, world.b)
        try:
            if plan.own_record_ok and outcome.ok:
                no_leak(outcome, world)
            else:
                refused_cleanly(outcome, transport, plan.allowed, world)
        except AssertionError as exc:
            where = f"{probe.kind} / {probe.label} {probe.value[:60]!r}"
            raise AssertionError(f"{where}: {exc}") from None


@pytest.mark.parametrize("transport", ["rest", "grpc"])
@pytest.mark.parametrize(
    ("endpoint", "field_name"),
    [(e, f) for e, f in REFERENCES if key(e, f) in PROVIDERS],
    ids=lambda x: getattr(x, "full_name", x),
)
async def test_a_record_of_a_and_no_record_look_the_same_to_b(
    gateway: httpx.AsyncClient,
    channel: grpc.aio.Channel,
    world: World,
    upstreams: Upstreams,
    transport: str,
    endpoint: Endpoint,
    field_name: str,
) -> None:
    plan = PROVIDERS[key(endpoint, field_name)](world)
    if plan.twin is None:
        assert endpoint.method.name in (
            "GetProduct",
            "CreateOrder",
            "CreateCase",
            "ListSubscriptions",
            "CancelSim",
        )
        return  # nothing of A's to compare with (shared catalog / no second page of A's)
    owned, absent = plan.twin
    await upstreams.settle()
    outcomes: list[Outcome] = []
    deltas = []
    # The first call warms B's own per-user entries (account links); then A's, none, A's.
    for value in (absent, owned, absent, owned):
        before = await upstreams.snapshot()
        document = request_document(plan.fields, field_name, value)
        outcomes.append(await call(transport, gateway, channel, endpoint, document, world.b))
        deltas.append((await upstreams.snapshot()) - before)
    assert outcomes[1].raw == outcomes[2].raw == outcomes[3].raw
    assert outcomes[1].status == outcomes[2].status == outcomes[3].status
    assert deltas[1] == deltas[2] == deltas[3], deltas


@pytest.mark.parametrize("transport", ["rest", "grpc"])
async def test_b_lists_never_hold_a_items(
    gateway: httpx.AsyncClient, channel: grpc.aio.Channel, world: World, transport: str
) -> None:
    lists = [e for e in ENDPOINTS.values() if e.needs_token and e.method.name.startswith("List")]
    assert {e.method.name for e in lists} == set(LISTS), "classify the new list RPC in LISTS"
    for endpoint in lists:
        document: dict[str, Any] = {}
        if "page_size" in endpoint.method.input_type.fields_by_name:
            document["pageSize"] = 100
        theirs = await call(transport, gateway, channel, endpoint, document, world.a)
        mine = await call(transport, gateway, channel, endpoint, document, world.b)
        assert theirs.ok and mine.ok, (theirs.raw[:200], mine.raw[:200])
        a_ids, b_ids = ids_in(theirs.raw), ids_in(mine.raw)
        if LISTS[endpoint.method.name] == "own":
            assert a_ids, f"{endpoint.method.name}: A has nothing, the check would be vacuous"
            assert not a_ids & b_ids, endpoint.method.name
            assert not [m for m in world.markers if m in mine.raw], endpoint.method.name
    # B has something of her own in at least one list: the lists are not simply empty for her.
    assert world.b_ids["case"]


async def test_b_watch_never_streams_a_order_changes(
    gateway: httpx.AsyncClient, channel: grpc.aio.Channel, world: World, stack: Stack
) -> None:
    """A's order changes first, then B's: the CDC consumer handles them in that order, so once
    B's own change has reached B's streams (SSE and native gRPC), A's would have been there too
    had it been sent to her."""
    a_order, b_order = world.a_ids["order"][0], world.b_ids["order"][0]
    endpoint = ENDPOINTS["portal.commerce.v1.OrderService.WatchOrders"]
    request_class = message_factory.GetMessageClass(endpoint.method.input_type)
    response_class = message_factory.GetMessageClass(endpoint.method.output_type)
    native = channel.unary_stream(
        endpoint.grpc_path,
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )(request_class(), metadata=(("authorization", f"Bearer {world.b.token}"),), timeout=30)
    sf = SalesforceClient(SalesforceConfig(url=f"http://127.0.0.1:{stack.config.ports.salesforce}"))
    try:
        async with (
            gateway.stream("GET", "/v1/orders:watch", headers=world.a.headers) as a_sse,
            gateway.stream("GET", "/v1/orders:watch", headers=world.b.headers) as b_sse,
        ):
            a_events, b_events = sse(a_sse), sse(b_sse)
            assert (await anext(a_events)).get("heartbeat") is True
            assert (await anext(b_events)).get("heartbeat") is True
            assert (await native.read()).heartbeat is True
            await sf.update("Order", a_order, {"Status": "Draft"})
            assert a_order in await order_ids_until(a_events, a_order)  # it was published
            await sf.update("Order", b_order, {"Status": "Draft"})
            assert a_order not in await order_ids_until(b_events, b_order)
            assert a_order not in await order_ids_until(grpc_events(native), b_order)
    finally:
        native.cancel()
        await sf.aclose()


async def sse(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    async for line in response.aiter_lines():
        if line.startswith("data:"):
            yield json.loads(line.removeprefix("data:").strip())


async def grpc_events(stream: Any) -> AsyncIterator[dict[str, Any]]:
    while True:
        message = await stream.read()
        yield json_format.MessageToDict(message)


async def order_ids_until(events: AsyncIterator[dict[str, Any]], wanted: str) -> list[str]:
    """Order ids of the events up to and including the first about ``wanted``."""
    seen: list[str] = []
    async with asyncio.timeout(20):  # a bound on a hang, not a latency check
        async for event in events:
            seen.append(str(event.get("order", {}).get("id", "")))
            if seen[-1] == wanted:
                return seen
    raise AssertionError(f"the stream ended before {wanted}: {seen}")


def ids_in(raw: str) -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("id", "msisdn") and isinstance(v, str):
                    found.add(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads(raw))
    return found
