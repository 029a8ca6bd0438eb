"""The gateway end to end: real Envoy in front of the four real services."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import grpc
import httpx
import pytest
from portal.billing.v1 import billing_pb2, billing_pb2_grpc
from portal.identity.v1 import account_directory_pb2, account_directory_pb2_grpc

from tests.helpers.grpc_errors import error_info, status_of
from tests.helpers.logbook import LogBook
from tests.helpers.mesh import grpcurl_as
from tests.helpers.tokens import sign
from tools.stack import Stack

pytestmark = pytest.mark.e2e

# Every public REST route of docs/api.md: (method, path, needs a token). Written by hand from the
# docs, not generated from the protos, so a route the protos forgot or mistyped fails here.
API_ROUTES = [
    ("POST", "/v1/auth/signup:validate", False),
    ("POST", "/v1/auth/signup", False),
    ("POST", "/v1/auth/link", False),
    ("POST", "/v1/auth/login", False),
    ("POST", "/v1/auth/refresh", False),
    ("POST", "/v1/auth/logout", False),
    ("GET", "/v1/me", True),
    ("GET", "/.well-known/jwks.json", False),
    ("GET", "/v1/invoices", True),
    ("GET", "/v1/invoices/1001", True),
    ("POST", "/v1/invoices/1001/payment-link", True),
    ("GET", "/v1/payment-methods", True),
    ("GET", "/v1/payment-gateways", True),
    ("GET", "/v1/subscriptions", True),
    ("GET", "/v1/subscriptions/7", True),
    ("GET", "/v1/billing-profile", True),
    ("PATCH", "/v1/billing-profile", True),
    ("POST", "/v1/webhooks/whmcs", False),
    ("GET", "/v1/catalog/products", True),
    ("GET", "/v1/catalog/products/01t000000000001AAA", True),
    ("GET", "/v1/catalog/eligibility", True),
    ("POST", "/v1/orders", True),
    ("GET", "/v1/orders", True),
    ("GET", "/v1/orders/801000000000001AAA", True),
    ("GET", "/v1/orders:watch", True),
    ("POST", "/v1/cases", True),
    ("GET", "/v1/cases", True),
    ("GET", "/v1/cases/500000000000001AAA", True),
    ("POST", "/v1/cases/500000000000001AAA/comments", True),
]


def assert_error_shape(response: httpx.Response, status: int, code: int, reason: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    info = [d for d in body["details"] if d["@type"].endswith("google.rpc.ErrorInfo")]
    assert info and info[0]["reason"] == reason and info[0]["domain"] == "portal"
    return body


async def test_healthz(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_unknown_path_is_json_404(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/v1/nothing-here")
    assert_error_shape(response, 404, 5, "NOT_FOUND")


async def test_malformed_json_is_json_400(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post(
        "/v1/auth/login", content=b'{"email": ', headers={"content-type": "application/json"}
    )
    assert_error_shape(response, 400, 3, "VALIDATION_FAILED")


async def test_unknown_query_parameter_is_json_400(
    gateway: httpx.AsyncClient, keys_dir: Path
) -> None:
    headers = {"authorization": f"Bearer {sign(keys_dir)}"}
    response = await gateway.get("/v1/invoices?colour=blue", headers=headers)
    assert_error_shape(response, 400, 3, "VALIDATION_FAILED")


@pytest.mark.parametrize(("method", "path", "needs_token"), API_ROUTES)
async def test_every_api_route_reaches_its_service(
    gateway: httpx.AsyncClient, keys_dir: Path, method: str, path: str, needs_token: bool
) -> None:
    headers = {"authorization": f"Bearer {sign(keys_dir)}"} if needs_token else {}
    body = None if method == "GET" else b"{}"
    if body is not None:
        headers["content-type"] = "application/json"
    if path == "/v1/orders:watch":
        async with gateway.stream(method, path, headers=headers) as response:
            await response.aread()
    else:
        response = await gateway.request(method, path, content=body, headers=headers)
    # Answered by the service, not by Envoy: the router forwarded it (it sets this header only
    # for upstream responses), whatever the service made of an empty request.
    assert "x-envoy-upstream-service-time" in response.headers, response.text
    assert response.headers["content-type"].startswith("application/json")
    if response.status_code >= 400:
        body = response.json()
        assert body["details"][0]["domain"] == "portal", body


async def test_protected_route_without_token_is_json_401(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/v1/invoices")
    assert_error_shape(response, 401, 16, "UNAUTHENTICATED")


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "expired", "wrong-audience"],
)
async def test_bad_tokens_are_refused_at_the_edge(
    gateway: httpx.AsyncClient, keys_dir: Path, token: str
) -> None:
    if token == "expired":
        token = sign(keys_dir, ttl=-120)
    elif token == "wrong-audience":
        token = sign(keys_dir, aud="someone-else")
    response = await gateway.get("/v1/me", headers={"authorization": f"Bearer {token}"})
    assert_error_shape(response, 401, 16, "UNAUTHENTICATED")


async def test_native_grpc_without_token_is_unauthenticated(stack: Stack) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.config.ports.gateway}") as channel:
        stub = billing_pb2_grpc.BillingServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListInvoices(billing_pb2.ListInvoicesRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_native_grpc_with_token_reaches_the_service(stack: Stack, keys_dir: Path) -> None:
    metadata = (("authorization", f"Bearer {sign(keys_dir)}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.config.ports.gateway}") as channel:
        stub = billing_pb2_grpc.BillingServiceStub(channel)
        call = stub.ListInvoices(billing_pb2.ListInvoicesRequest(), metadata=metadata, timeout=5)
        try:
            await call
        except grpc.aio.AioRpcError as err:
            # The token passed the edge; whatever the service answered carries our ErrorInfo
            # (Envoy's own replies have none).
            assert err.code() != grpc.StatusCode.UNAUTHENTICATED
            status = await status_of(call)
            assert status is not None
            assert error_info(status).domain == "portal"


async def test_internal_service_is_not_reachable_through_the_gateway(
    stack: Stack, keys_dir: Path
) -> None:
    metadata = (("authorization", f"Bearer {sign(keys_dir)}"),)
    request = account_directory_pb2.GetAccountLinksRequest(user_id="u1")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.config.ports.gateway}") as channel:
        stub = account_directory_pb2_grpc.AccountDirectoryServiceStub(channel)
        call = stub.GetAccountLinks(request, metadata=metadata, timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
    # Envoy has no route for it: the service never sees the call (it would answer with our
    # ErrorInfo detail; Envoy's own reply has none).
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert await status_of(call) is None


async def test_reflection_is_not_routed_through_the_gateway(stack: Stack, keys_dir: Path) -> None:
    grpcurl = shutil.which("grpcurl") or str(Path(__import__("sys").executable).parent / "grpcurl")
    token = sign(keys_dir)
    result = await asyncio.to_thread(
        subprocess.run,
        [
            grpcurl,
            "-plaintext",
            "-H",
            f"authorization: Bearer {token}",
            f"127.0.0.1:{stack.config.ports.gateway}",
            "list",
        ],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode != 0
    assert "portal." not in result.stdout


@pytest.mark.parametrize("service", ["identity", "billing", "commerce", "support"])
async def test_reflection_and_health_on_each_service_port(stack: Stack, service: str) -> None:
    """Operators reach health and reflection with the operator's mesh certificate."""
    grpcurl = grpcurl_as(stack, service)
    result = await asyncio.to_thread(
        subprocess.run,
        [*grpcurl, "list"],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    listed = set(result.stdout.split())
    assert "grpc.health.v1.Health" in listed
    assert "grpc.reflection.v1alpha.ServerReflection" in listed
    assert any(name.startswith(f"portal.{service}.v1.") for name in listed)
    health = await asyncio.to_thread(
        subprocess.run,
        [*grpcurl, "grpc.health.v1.Health/Check"],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    assert json.loads(health.stdout) == {"status": "SERVING"}


async def test_request_id_reaches_the_service_log(
    gateway: httpx.AsyncClient, keys_dir: Path, logbook: LogBook
) -> None:
    request_id = "e2e-request-id-0123456789"
    headers = {"authorization": f"Bearer {sign(keys_dir)}", "x-request-id": request_id}
    response = await gateway.get("/v1/payment-methods", headers=headers)
    assert response.headers["x-request-id"] == request_id
    service_lines = await logbook.wait_json("billing", request_id, within=20)
    assert service_lines and service_lines[0]["request_id"] == request_id
    assert service_lines[0]["method"] == "/portal.billing.v1.BillingService/ListPaymentMethods"
    envoy_lines = await logbook.wait_json("envoy", request_id, within=20)
    assert envoy_lines and envoy_lines[0]["path"] == "/v1/payment-methods"
    assert envoy_lines[0]["status"] == response.status_code
    assert envoy_lines[0]["upstream"] == "billing"


async def test_cors_preflight(gateway: httpx.AsyncClient) -> None:
    allowed = await gateway.options(
        "/v1/invoices",
        headers={
            "origin": "http://localhost:3000",
            "access-control-request-method": "GET",
            "access-control-request-headers": "authorization",
        },
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    other = await gateway.options(
        "/v1/invoices",
        headers={"origin": "https://evil.example", "access-control-request-method": "GET"},
    )
    assert other.status_code == 403
    assert "access-control-allow-origin" not in other.headers
    # The actual (non-preflight) call carries the CORS headers too.
    actual = await gateway.get("/v1/invoices", headers={"origin": "http://localhost:3000"})
    assert actual.status_code == 401
    assert actual.headers["access-control-allow-origin"] == "http://localhost:3000"


async def test_readyz_follows_service_health(stack: Stack, gateway: httpx.AsyncClient) -> None:
    assert (await gateway.get("/readyz")).status_code == 200
    await stack.stop_child("support")
    try:
        status = 200
        for _ in range(60):
            status = (await gateway.get("/readyz")).status_code
            if status == 503:
                break
            await asyncio.sleep(0.1)
        assert status == 503
        # Its routes answer a friendly 503 in the error shape, not a hang or a 500.
        headers = {"authorization": f"Bearer {sign(stack.config.run_dir / 'keys')}"}
        response = await gateway.get("/v1/cases", headers=headers)
        assert_error_shape(response, 503, 14, "UPSTREAM_UNAVAILABLE")
    finally:
        await stack.start_child("support", stack.children["support"].argv)
        await stack.wait_ready(within=30)
    assert (await gateway.get("/readyz")).status_code == 200
