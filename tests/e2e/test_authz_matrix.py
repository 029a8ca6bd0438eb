"""The authorization matrix, end to end through Envoy (REST and native gRPC): user B's token
against user A's ids, guessed ids and malformed ids, for every public RPC that takes one.

The RPCs come from the descriptors (``tests.helpers.rpc_surface``): every request field that names
a record or a position (path variables, ``*_id``, ``page_token``, nested ones too) needs an entry
in ``PROVIDERS`` below, or ``test_every_reference_field_has_a_provider`` fails: a new RPC is
covered by the matrix or breaks the build.

"Never a different timing class" is checked without a stopwatch: B asking for A's record and for
a record that does not exist (same shape) must get byte-identical answers and cause the same
upstream calls (the sandboxes' call counters). Medians: ``bench/authz_timing.py``.
"""

from __future__ import annotations

import asyncio
import json
import string
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import json_format, message_factory

from services.common.clients import SalesforceClient, SalesforceConfig
from tests.helpers import sf_ids
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
ID_REASONS = frozenset({"NOT_FOUND", "VALIDATION_FAILED"})
# reason -> (gRPC code, HTTP status)
CODES = {
    "NOT_FOUND": (5, 404),
    "VALIDATION_FAILED": (3, 400),
    "PRODUCT_UNAVAILABLE": (9, 400),
    "NOT_ELIGIBLE": (9, 400),
    "PAYMENT_METHOD_REQUIRED": (9, 400),
}
_FULLWIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in string.ascii_letters + string.digits})


@dataclass(frozen=True)
class Probe:
    kind: str  # "A's", "guessed", "malformed"
    label: str
    value: str


@dataclass(frozen=True)
class Plan:
    probes: list[Probe]
    fields: dict[str, Any] = field(default_factory=dict)  # the other request fields
    allowed: frozenset[str] = ID_REASONS
    # (A's value, a value of the same shape that names nothing) for the timing-class check
    twin: tuple[str, str] | None = None
    # A create whose key B may reuse: B gets a record of B's own (never A's) or a refusal.
    own_record_ok: bool = False


def malformed(real: str) -> list[Probe]:
    values = {
        "too long": real + "9" * 4096,
        "SOQL injection": "' OR Id != null",
        "SOQL injection after the id": f"{real}' OR Id != null OR Id = '",
        "SOQL LIKE": "%' OR Name LIKE '%",
        "path traversal": "../../v1/me",
        "path traversal after the id": f"{real}/../{real}",
        "query smuggling": f"{real}?pageSize=100",
        "full-width form": real.translate(_FULLWIDTH),
        "emoji": "\U0001f680",
        "NUL": f"{real}\x00",
        "blank": " ",
        "zero": "0",
        "negative": "-1",
        "null": "null",
        "JSON operator": '{"$ne": null}',
    }
    return [Probe("malformed", label, value) for label, value in values.items()]


def numeric_plan(kind: str, **fields: Any) -> Callable[[World], Plan]:
    """WHMCS ids (invoices, services): decimal numbers."""

    def plan(w: World) -> Plan:
        mine = w.a_ids[kind]
        assert mine, f"A has no {kind}: the matrix would test nothing"
        theirs = set(w.b_ids[kind])
        probes = [Probe("A's", f"A's {kind}", i) for i in mine]
        guesses = {int(i) + d for i in mine for d in (-2, -1, 1, 2)} | {1, 10**17}
        probes += [Probe("guessed", f"neighbour {g}", str(g)) for g in sorted(guesses)]
        probes = [p for p in probes if p.value not in theirs]
        real = mine[0]
        variants = {"exponent": "1e3", "hex": f"0x{int(real):X}", "decimal point": f"{real}.0",
                    "plus sign": f"+{real}", "19 digits": "9" * 19}  # fmt: skip
        probes += [Probe("malformed", label, v) for label, v in variants.items()]
        absent = next(str(n) for n in range(int("9" * len(real)), 0, -1) if str(n) not in w.known())
        return Plan(probes + malformed(real), dict(fields), twin=(real, absent))

    return plan


def salesforce_plan(kind: str, prefix: str, **fields: Any) -> Callable[[World], Plan]:
    """Salesforce ids: 15 or 18 characters, key prefix, case-safe checksum."""

    def plan(w: World) -> Plan:
        mine = w.a_ids[kind]
        assert mine, f"A has no {kind}: the matrix would test nothing"
        theirs = set(w.b_ids[kind])
        probes = [Probe("A's", f"A's {kind}", i) for i in mine]
        probes += [Probe("A's", f"A's {kind}, 15-character form", i[:15]) for i in mine]
        guesses = {sf_ids.neighbour(i, d) for i in mine for d in (-2, -1, 1, 2)}
        probes += [Probe("guessed", "neighbour", g) for g in sorted(guesses - set(mine) - theirs)]
        probes += [Probe("guessed", "nobody's", sf_ids.nobodys(prefix))]
        probes += [Probe("guessed", "a third account's", i) for i in w.other_ids[kind]]
        probes += [Probe("guessed", "A's id lower-cased", mine[0].lower())]
        probes += [Probe("guessed", "A's Account id", w.a.account_id)]
        real = mine[0]
        wrong = real[:15] + ("AAA" if real[15:] != "AAA" else "BBB")
        probes += [Probe("malformed", "wrong checksum", wrong)]
        return Plan(probes + malformed(real), dict(fields), twin=(real, sf_ids.nobodys(prefix)))

    return plan


def page_token_plan(rpc: str) -> Callable[[World], Plan]:
    """Page tokens are signed and bound to the user and the list: A's are no use to B."""

    def plan(w: World) -> Plan:
        tokens = {name: t for name, t in w.a_page_tokens.items() if t}
        assert tokens, "A has no second page anywhere: the matrix would test nothing"
        probes = [Probe("A's", f"A's token of {name}", t) for name, t in tokens.items()]
        real = tokens.get(rpc) or next(iter(tokens.values()))
        middle = len(real) // 2
        forged = real[:middle] + ("A" if real[middle] != "A" else "B") + real[middle + 1 :]
        probes += [Probe("guessed", "A's token with one character changed", forged)]
        probes += [Probe("guessed", "A's token truncated", real[:-4])]
        twin = (real, forged) if rpc in tokens else None
        return Plan(probes + malformed(real), {"pageSize": 1}, twin=twin)

    return plan


def product_plan(w: World) -> Plan:
    """The catalog is shared, so there is no "A's product"; hidden, inactive and made-up ids
    must all be NOT_FOUND, never the hidden product."""
    visible = w.products["VPN-STANDARD"]
    probes = [
        Probe("guessed", f"{sku} (not in the portal catalog)", w.products[sku])
        for sku in ("SIM-ACTIVATION-FEE", "STAFF-TEST-PRODUCT", "INTERNET-BRONZE-HOME-100M")
    ]
    probes += [Probe("guessed", "nobody's", sf_ids.nobodys("01t"))]
    probes += [Probe("guessed", "A's order id", w.a_ids["order"][0])]
    return Plan(probes + malformed(visible))


def order_line_plan(w: World) -> Plan:
    """CreateOrder's product ids: unknown, hidden or malformed, never an order."""
    base = product_plan(w)
    fields = {"requestId": f"authz-b-{uuid.uuid4().hex}", "items": [{"quantity": 1}]}
    allowed = frozenset({"VALIDATION_FAILED", "PRODUCT_UNAVAILABLE"})
    return Plan(base.probes, fields, allowed)


def request_id_plan(w: World) -> Plan:
    """A's idempotency keys from B must start B's own checkout (which stops: B may not order
    Internet), never answer with A's order."""
    line = {"productId": w.products["VPN-STANDARD"], "quantity": 1}
    probes = [Probe("A's", "A's request id", r) for r in w.a_request_ids]
    probes += [Probe("guessed", "A's order id as request id", w.a_ids["order"][0])]
    allowed = frozenset({"VALIDATION_FAILED", "NOT_ELIGIBLE", "PAYMENT_METHOD_REQUIRED"})
    return Plan(probes + malformed(w.a_request_ids[0]), {"items": [line]}, allowed)


def case_request_id_plan(w: World) -> Plan:
    """A's CreateCase idempotency keys from B file a case of B's own, never answer A's case
    (the key is scoped to the account); malformed keys are VALIDATION_FAILED."""
    probes = [Probe("A's", "A's case request id", r) for r in w.a_case_request_ids]
    probes += [Probe("guessed", "A's order request id", r) for r in w.a_request_ids]
    probes += [Probe("guessed", "A's case id as request id", w.a_ids["case"][0])]
    fields = {"subject": "B's own question"}
    return Plan(probes + malformed(w.a_case_request_ids[0]), fields, own_record_ok=True)


PROVIDERS: dict[str, Callable[[World], Plan]] = {
    "portal.billing.v1.BillingService.ListInvoices:page_token": page_token_plan("ListInvoices"),
    "portal.billing.v1.BillingService.GetInvoice:invoice_id": numeric_plan("invoice"),
    "portal.billing.v1.BillingService.CreateInvoicePaymentLink:invoice_id": numeric_plan("invoice"),
    "portal.billing.v1.BillingService.ListSubscriptions:page_token": page_token_plan(
        "ListSubscriptions"
    ),
    "portal.billing.v1.BillingService.GetSubscription:subscription_id": numeric_plan(
        "subscription"
    ),
    "portal.commerce.v1.CatalogService.GetProduct:product_id": product_plan,
    "portal.commerce.v1.OrderService.CreateOrder:request_id": request_id_plan,
    "portal.commerce.v1.OrderService.CreateOrder:items.product_id": order_line_plan,
    "portal.commerce.v1.OrderService.ListOrders:page_token": page_token_plan("ListOrders"),
    "portal.commerce.v1.OrderService.GetOrder:order_id": salesforce_plan("order", "801"),
    "portal.support.v1.SupportService.CreateCase:request_id": case_request_id_plan,
    "portal.support.v1.SupportService.ListCases:page_token": page_token_plan("ListCases"),
    "portal.support.v1.SupportService.GetCase:case_id": salesforce_plan("case", "500"),
    "portal.support.v1.SupportService.AddCaseComment:case_id": salesforce_plan(
        "case", "500", body="A comment B should never be able to leave."
    ),
}
# Lists: whose items they hold. A new list RPC must be added here.
LISTS = {
    "ListInvoices": "own",
    "ListSubscriptions": "own",
    "ListOrders": "own",
    "ListCases": "own",
    "ListPaymentMethods": "own",
    "ListProducts": "shared",
    "ListPaymentGateways": "shared",
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


def key(endpoint: Endpoint, field_name: str) -> str:
    return f"{endpoint.full_name}:{field_name}"


# -- tests ---------------------------------------------------------------------------------------
def test_every_reference_field_has_a_provider() -> None:
    found = {key(e, f) for e, f in REFERENCES}
    assert not found - PROVIDERS.keys(), "id-taking RPC fields without an id provider"
    assert not PROVIDERS.keys() - found, "providers for fields the protos no longer have"
    # The classifier is not vacuous: the resources are all found.
    names = {e.method.name for e, _ in REFERENCES}
    assert {"GetInvoice", "CreateInvoicePaymentLink", "GetSubscription", "GetOrder", "GetCase",
            "AddCaseComment"} <= names  # fmt: skip


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
                if k == "id" and isinstance(v, str):
                    found.add(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads(raw))
    return found
