"""The edge under abuse (each test is one reproduction of the security review): slow headers,
credentials in the query string, oversized metadata, undecodable gRPC bodies, piles of
WatchOrders streams, caching of tokens, and the docs page's headers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from pathlib import Path

import grpc
import httpx
import pytest

from services.commerce.settings import CommerceSettings
from tests.helpers.accounts import HANAKO, auth_headers
from tests.helpers.grpc_errors import error_info, status_of
from tests.helpers.logbook import LogBook
from tests.helpers.tokens import sign
from tools.envoy_config import GatewaySettings
from tools.stack import Stack

pytestmark = pytest.mark.e2e


def reason(response: httpx.Response) -> str:
    return str(response.json()["details"][0]["reason"])


async def _closed_by_peer(sock: socket.socket, within: float) -> bytes | None:
    """What the gateway sent before closing ``sock``; None when it is still open after
    ``within`` seconds (a bound on the wait, not a measurement)."""
    loop = asyncio.get_running_loop()
    received = b""
    try:
        async with asyncio.timeout(within):
            while chunk := await loop.sock_recv(sock, 4096):
                received += chunk
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return received


async def test_connections_with_unfinished_headers_are_dropped(stack: Stack) -> None:
    """The reproduction held 200 such connections open for over 40 s."""
    timeout = GatewaySettings().request_headers_timeout_s
    loop = asyncio.get_running_loop()
    sockets = []
    for _ in range(50):
        sock = socket.socket()
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", stack.config.ports.gateway))
        await loop.sock_sendall(sock, b"GET /v1/me HTTP/1.1\r\nHost: portal\r\nX-Slow: ")
        sockets.append(sock)
    try:
        answers = await asyncio.gather(*(_closed_by_peer(s, timeout + 10) for s in sockets))
    finally:
        for sock in sockets:
            sock.close()
    assert all(answer is not None for answer in answers)
    # Envoy answers 408 (in our error shape) when it times the request head out.
    assert all(a is not None and (a == b"" or a.startswith(b"HTTP/1.1 408")) for a in answers)


async def test_a_token_in_the_query_string_is_never_logged(
    gateway: httpx.AsyncClient, keys_dir: Path, logbook: LogBook
) -> None:
    token = sign(keys_dir)
    lines = []
    for path in ("/v1/me", "/v1/invoices", "/v1/nowhere"):
        request_id = f"query-token-{uuid.uuid4().hex[:8]}"
        response = await gateway.get(
            path, params={"access_token": token}, headers={"x-request-id": request_id}
        )
        assert response.status_code in (400, 401, 404)
        lines += await logbook.wait_json("envoy", request_id, within=10)
    assert [line["path"] for line in lines] == ["/v1/me", "/v1/invoices", "/v1/nowhere"]
    assert not any(token in str(line) for line in lines)
    assert not any(token in line for _, line in logbook.lines)


async def test_oversized_headers_get_the_documented_error(gateway: httpx.AsyncClient) -> None:
    """A 20 KB header answered 429 with grpc-core's text before."""
    response = await gateway.post(
        "/v1/auth/login",
        json={"email": "a@example.com", "password": "x" * 12},
        headers={"x-filler": "a" * 20_000},
    )
    assert response.status_code == 431
    assert reason(response) == "VALIDATION_FAILED"
    assert "grpc" not in response.json()["message"].lower()


async def test_an_undecodable_grpc_body_gets_the_documented_error(
    stack: Stack, keys_dir: Path
) -> None:
    """A malformed native gRPC body answered UNKNOWN with the Python exception text before."""
    token = sign(keys_dir)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.config.ports.gateway}") as channel:
        call_of = channel.unary_unary(
            "/portal.billing.v1.BillingService/GetInvoice",
            request_serializer=lambda raw: raw,
            response_deserializer=lambda raw: raw,
        )
        call = call_of(b"\xff\xff\xff\xff\x0f", metadata=(("authorization", f"Bearer {token}"),))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Error" not in (err.value.details() or "") and "parse" not in (err.value.details() or "")
    status = await status_of(call)
    assert status is not None and error_info(status).reason == "VALIDATION_FAILED"


async def test_watch_streams_per_user_are_capped(gateway: httpx.AsyncClient) -> None:
    """One token opened 1,000 /v1/orders:watch streams before."""
    hanako = await auth_headers(gateway, "/v1/auth/link", HANAKO)
    limit = CommerceSettings().watch_max_streams_per_user
    async with contextlib.AsyncExitStack() as streams:
        readers = []  # kept: a dropped line reader closes its response
        for _ in range(limit):
            response = await streams.enter_async_context(
                gateway.stream("GET", "/v1/orders:watch", headers=hanako, timeout=10)
            )
            assert response.status_code == 200
            readers.append(response.aiter_lines())
            assert "heartbeat" in await anext(readers[-1])  # the stream is live
        async with gateway.stream("GET", "/v1/orders:watch", headers=hanako, timeout=10) as refused:
            assert refused.status_code == 429
            await refused.aread()
            assert reason(refused) == "TOO_MANY_STREAMS"
    # Closed streams give their places back.
    async with gateway.stream("GET", "/v1/orders:watch", headers=hanako, timeout=10) as again:
        assert again.status_code == 200


async def test_tokens_and_links_are_not_cached(gateway: httpx.AsyncClient) -> None:
    login = await gateway.post(
        "/v1/auth/login", json={"email": HANAKO["email"], "password": HANAKO["password"]}
    )
    assert login.headers["cache-control"] == "no-store"
    refused = await gateway.get("/v1/me")
    assert refused.headers["cache-control"] == "no-store"


async def test_the_docs_page_has_a_content_security_policy(gateway: httpx.AsyncClient) -> None:
    docs = await gateway.get("/docs")
    assert docs.status_code == 200
    policy = docs.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src 'sha256-" in policy and "unsafe-inline" not in policy
    assert docs.headers["x-frame-options"] == "DENY"
    assert docs.headers["x-content-type-options"] == "nosniff"
