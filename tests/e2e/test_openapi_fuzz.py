"""Fuzzing the REST surface: schemathesis generates requests for every operation of
openapi/openapi.json (the document the gateway serves) and sends them through the real Envoy to
the real services and sandboxes, with a valid access token on every request.

Checks on every response: never a 5xx; the status is one the document lists and the content type
the one it declares; 2xx bodies conform to the response schema; every error body is the JSON
error shape of docs/api.md (``code``, a user-facing ``message``, a ``google.rpc.ErrorInfo`` detail
in domain ``portal`` whose reason belongs to that code, and an HTTP status that matches the code).

The stack is this module's own: fuzzing drains the gateway's auth-route rate limit and creates
cases and orders that would disturb the other e2e tests. Every positive (schema-valid) case runs
before any negative one, so the auth routes' token bucket has refilled in between.
``WatchOrders`` never ends, so it is not fuzzed but opened and closed once here (see
``test_watch_orders_opens_an_event_stream``).

What schemathesis cannot send is fuzzed by hand below, each pinning a gateway fix it led to:
odd request headers, bytes that are not UTF-8 in path and query parameters, oversized bodies.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.helpers.accounts import HANAKO, customer_token
from tests.helpers.fuzzing import (
    DOCUMENT,
    ID_SOURCES,
    OPERATIONS,
    WATCH,
    WEBHOOK,
    Fuzzer,
    assert_error_shape,
    negatable,
)
from tests.helpers.logbook import LogBook
from tests.helpers.secret_ledger import SecretLedger
from tests.helpers.stacks import running_stack
from tools.stack import Stack
from tools.stack_secrets import configured_secrets

pytestmark = pytest.mark.e2e

FUZZED = sorted(label for label in OPERATIONS if label != WATCH)
# Every positive run before any negative one (the auth routes' bucket refills in between).
PLAN = [(GenerationMode.POSITIVE, label) for label in FUZZED] + [
    (GenerationMode.NEGATIVE, label) for label in FUZZED if negatable(label)
]


@pytest.fixture(scope="module")
async def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    run_dir: Path = tmp_path_factory.mktemp("fuzz")
    async with running_stack(run_dir, LogBook(), prefix="portal_fuzz", wait_cdc=False) as stack:
        yield stack


@pytest.fixture(scope="module")
async def fuzzer(fuzz_stack: Stack, secret_ledger: SecretLedger) -> AsyncIterator[Fuzzer]:
    base_url = fuzz_stack.config.gateway_url
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as gateway:
        token = await customer_token(gateway, "/v1/auth/link", HANAKO)
        headers = {"authorization": f"Bearer {token}"}
        ids = await _own_ids(gateway, headers)
    secrets = {
        *secret_ledger.values.values(),
        *configured_secrets(fuzz_stack.config.env()).values(),
    }
    fuzzer = Fuzzer(base_url, headers, ids, tuple(sorted(secrets)))
    yield fuzzer
    # The tally, for `pytest -s`: requests per operation and mode by status.
    total = sum(o.requests for o in fuzzer.outcomes.values())
    operations = len({label for label, _ in fuzzer.outcomes})
    print(f"\nopenapi fuzz: {operations} operations, {len(fuzzer.outcomes)} runs, {total} requests")
    for (label, mode), outcome in sorted(fuzzer.outcomes.items()):
        print(f"  {mode:8} {label:45} {dict(sorted(outcome.statuses.items()))}")


async def _own_ids(gateway: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, list[str]]:
    """The customer's ids per path parameter, after creating one order and one case (the
    invoices and the subscription are seeded)."""
    products = (await gateway.get("/v1/catalog/products", headers=headers)).json()["products"]
    orderable = next(p["id"] for p in products if p["orderable"] and p["eligible"])
    order = {"requestId": "fuzz-order-1", "items": [{"productId": orderable, "quantity": 1}]}
    case = {"subject": "Fuzz", "description": "A case to fuzz.",
            "category": "CASE_CATEGORY_GENERAL", "priority": "CASE_PRIORITY_LOW"}  # fmt: skip
    for path, body in [("/v1/orders", order), ("/v1/cases", case)]:
        response = await gateway.post(path, json=body, headers=headers)
        assert response.status_code == 200, response.text
    ids: dict[str, list[str]] = {}
    for name, (path, key) in ID_SOURCES.items():
        response = await gateway.get(path, headers=headers)
        assert response.status_code == 200, response.text
        ids[name] = [item["id"] for item in response.json()[key]]
        assert ids[name], name
    return ids


def test_every_operation_of_the_document_is_covered() -> None:
    documented = {f"{m.upper()} {p}" for p, ops in DOCUMENT["paths"].items() for m in ops}
    assert documented == set(OPERATIONS)
    assert {label for _, label in PLAN} | {WATCH} == documented
    assert len(documented) >= 29  # every public RPC of docs/api.md


@pytest.mark.parametrize(("mode", "label"), PLAN, ids=[f"{m.value}-{x}" for m, x in PLAN])
async def test_fuzz_operation(fuzzer: Fuzzer, mode: GenerationMode, label: str) -> None:
    operation = OPERATIONS[label]
    outcome = await asyncio.to_thread(fuzzer.run, operation, mode)
    assert outcome.requests > 0
    assert not outcome.failures, "\n\n".join(outcome.failures.values())
    if label == WEBHOOK:  # never accepted without a valid HMAC
        assert all(400 <= s < 500 for s in outcome.statuses), outcome.statuses
    if operation.definition.raw.get("security"):  # our token is valid on every request
        assert 401 not in outcome.statuses, outcome.statuses


async def test_watch_orders_opens_an_event_stream(fuzzer: Fuzzer, fuzz_stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=fuzz_stack.config.gateway_url, timeout=30) as gateway:
        async with gateway.stream("GET", "/v1/orders:watch", headers=fuzzer.headers) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
        for params, headers, status in [
            ({}, {}, 401),
            ({"nope": "1"}, fuzzer.headers, 400),
        ]:
            response = await gateway.get("/v1/orders:watch", params=params, headers=headers)
            assert response.status_code == status, response.text
            assert_error_shape(response)


# -- request headers (the bug the fuzz found): only gRPC-valid metadata reaches the services -----

# RFC 9110 tchar: valid in an HTTP header name, partly invalid in a gRPC metadata key.
TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
# Headers httpx or Envoy treat specially (framing, routing, our token) are not fuzzed here.
SPECIAL_HEADERS = {"authorization", "content-type", "content-length", "host", "transfer-encoding",
                   "connection", "te", "expect", "upgrade"}  # fmt: skip
header_names = (
    st.text(alphabet=TCHAR, min_size=1, max_size=12)
    | st.sampled_from(["grpc-timeout", "grpc-encoding", "grpc-accept-encoding", "grpc-status"])
    | st.text(alphabet="abcxyz-", min_size=1, max_size=6).map(lambda s: f"x-{s}-bin")
).filter(lambda name: name not in SPECIAL_HEADERS)
header_values = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=12)


async def test_any_http_header_is_harmless(fuzzer: Fuzzer) -> None:
    """Header names HTTP allows but gRPC does not, ``*-bin`` values that are not base64 and
    ``grpc-*`` protocol headers on a REST call: before the gateway's header hygiene, each made
    grpc-core refuse the call (500, no ErrorInfo). Now they are dropped at the edge."""
    await asyncio.to_thread(_send_odd_headers, fuzzer)


def _send_odd_headers(fuzzer: Fuzzer) -> None:
    with httpx.Client(base_url=fuzzer.base_url, timeout=30) as client:
        plain = client.get("/v1/catalog/eligibility", headers=fuzzer.headers)
        assert plain.status_code == 200

        @given(name=header_names, value=header_values)
        @settings(max_examples=60, derandomize=True, database=None, deadline=None)
        def send(name: str, value: str) -> None:
            headers = {**fuzzer.headers, name: value}
            response = client.get("/v1/catalog/eligibility", headers=headers)
            assert (response.status_code, response.json()) == (200, plain.json()), (name, value)
            webhook = client.post("/v1/webhooks/whmcs", content=b"{}", headers={name: value})
            assert webhook.status_code == 401, (name, value, webhook.text)
            assert webhook.json()["details"][0]["reason"] == "INVALID_SIGNATURE"

        send()


# -- bytes in the URL (another bug the fuzz found): not UTF-8 → 400 at the edge, never 500 -----


def _url_slots() -> list[str]:
    """Each GET path/query string parameter as a URL template with one ``{}`` for it."""
    out = []
    for path, ops in DOCUMENT["paths"].items():
        for p in ops.get("get", {}).get("parameters", []):
            if p["schema"].get("type") != "string" or "enum" in p["schema"]:
                continue
            if p["in"] == "path":
                out.append(path.replace("{" + p["name"] + "}", "{}"))
            elif p["in"] == "query":
                out.append(f"{path}?{p['name']}={{}}")
    return sorted(out)


URL_SLOTS = _url_slots()


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


async def test_any_bytes_in_a_path_or_query_parameter_are_answered_in_shape(
    fuzzer: Fuzzer,
) -> None:
    """schemathesis only sends UTF-8. Percent-encoded bytes that are not (``/v1/orders/%FF``)
    reached the services' protobuf parser as a proto3 string: 500 with the parser's text."""
    assert len(URL_SLOTS) >= 9  # 5 resources by id, 4 page tokens
    await asyncio.to_thread(_send_odd_bytes, fuzzer)


def _send_odd_bytes(fuzzer: Fuzzer) -> None:
    with httpx.Client(base_url=fuzzer.base_url, timeout=30, headers=fuzzer.headers) as client:

        @given(slot=st.sampled_from(URL_SLOTS), raw=st.binary(min_size=1, max_size=8))
        @settings(max_examples=60, derandomize=True, database=None, deadline=None)
        def send(slot: str, raw: bytes) -> None:
            response = client.get(slot.format(quote(raw, safe="")))
            assert response.status_code < 500, (slot, raw, response.text)
            if response.status_code >= 400:
                assert_error_shape(response)
            if not _is_utf8(raw):
                assert response.status_code == 400, (slot, raw, response.text)

        send()


# -- body size (found by hand while fuzzing): above the limit 413 in shape, never a bare 429 ---


def _declare_a_huge_body(base_url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST /v1/cases announcing a 5 MiB body and sending none of it: the gateway decides on the
    declared length. (Sending the body too races Envoy's early answer and close: the client
    sees a reset instead of the 413, as with any proxy's body limit.)"""
    url = httpx.URL(base_url)
    lines = ["POST /v1/cases HTTP/1.1", f"Host: {url.host}:{url.port}",
             "Content-Type: application/json", f"Content-Length: {5 * 1024 * 1024}",
             *(f"{k}: {v}" for k, v in headers.items())]  # fmt: skip
    with socket.create_connection((url.host, url.port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.read()


async def test_a_body_too_large_for_a_grpc_message_is_413_in_shape(fuzzer: Fuzzer) -> None:
    """The gateway refuses REST bodies above 1 MiB itself (declared, or chunked once buffered):
    a body above 4 MiB would become a protobuf message above the services' gRPC limit, whose
    RESOURCE_EXHAUSTED would reach the client as a 429 with grpc-core's text and no ErrorInfo."""
    status, body = await asyncio.to_thread(_declare_a_huge_body, fuzzer.base_url, fuzzer.headers)
    assert status == 413, body
    error = json.loads(body)
    assert error["code"] == 3 and error["details"][0]["reason"] == "VALIDATION_FAILED"

    async def chunks(body: bytes) -> AsyncIterator[bytes]:  # no content-length: chunked
        for i in range(0, len(body), 100):
            yield body[i : i + 100]

    small = json.dumps({"subject": "a" * 1000}).encode()
    async with httpx.AsyncClient(base_url=fuzzer.base_url, timeout=30) as gateway:
        for content in (small, chunks(small)):  # below the limit: the service's own answer
            response = await gateway.post("/v1/cases", content=content, headers=fuzzer.headers)
            assert response.status_code == 400, response.text
            assert response.json()["message"] == "At most 255 characters."


# -- signed webhooks: a valid signature over any body is 200 or 400 in shape, never 5xx --------

WEBHOOK_SECRET = b"portal-dev-webhook-secret"  # the development default both sides use
NOW = "now"  # replaced by the current time when sent (events older than 5 minutes are refused)
EVENT_NAMES = ["InvoicePaid", "ClientEdit", "ServiceEdit", "AcceptOrder", "Nope"]
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)
EVENTS = st.fixed_dictionaries(
    {},
    optional={
        "id": st.uuids().map(str) | st.text(max_size=210) | JSONISH,
        "event": st.sampled_from(EVENT_NAMES) | JSONISH,
        "occurredAt": st.just(NOW) | st.text(max_size=30) | JSONISH,
        "clientId": st.sampled_from(["1", 1, "2", "999999"]) | JSONISH,
        "data": st.dictionaries(st.sampled_from(["invoiceid", "paymethodid", "x"]), JSONISH),
    },
)


def _signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(WEBHOOK_SECRET, body, hashlib.sha256).hexdigest()
    return {"x-portal-signature": f"sha256={digest}", "content-type": "application/json"}


async def test_signed_webhooks_of_any_shape_are_answered_in_shape(fuzzer: Fuzzer) -> None:
    """The fuzz above never has a valid signature, so it stops at INVALID_SIGNATURE; these
    bodies are signed and reach parsing, the id ledger and the cache drops."""
    await asyncio.to_thread(_send_signed_events, fuzzer)


def _send_signed_events(fuzzer: Fuzzer) -> None:
    with httpx.Client(base_url=fuzzer.base_url, timeout=30) as client:
        valid = {"id": "fuzz-evt-1", "event": "InvoicePaid", "clientId": "1", "data": {}}
        first = _post_event(client, {**valid, "occurredAt": NOW})
        assert first.status_code == 200, first.text  # a real event is accepted...
        assert _post_event(client, {**valid, "occurredAt": NOW}).status_code == 200  # ...twice

        @given(event=EVENTS | JSONISH)
        @settings(max_examples=60, derandomize=True, database=None, deadline=None)
        def send(event: object) -> None:
            response = _post_event(client, event)
            assert response.status_code in (200, 400), (event, response.text)
            if response.status_code == 400:
                assert_error_shape(response)

        send()


def _post_event(client: httpx.Client, event: object) -> httpx.Response:
    if isinstance(event, dict) and event.get("occurredAt") == NOW:
        event = {**event, "occurredAt": datetime.now(UTC).isoformat()}
    body = json.dumps(event).encode()
    return client.post("/v1/webhooks/whmcs", content=body, headers=_signed(body))
