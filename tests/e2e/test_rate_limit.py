"""The gateway's local rate limit on the public auth routes, on a second Envoy with a low limit
in front of the same services (so the main gateway's limit doesn't throttle other tests)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.e2e.test_gateway import assert_error_shape
from tools.envoy_config import GatewaySettings, write
from tools.stack import ROOT, SERVICES, Stack, envoy_binary, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
async def strict_gateway(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    port, admin = free_port(), free_port()
    run_dir = stack.config.run_dir
    settings = GatewaySettings(
        port=port,
        admin_port=admin,
        descriptor=ROOT / "gen" / "portal_descriptor.pb",
        jwks_file=run_dir / "keys" / "jwks.json",
        upstreams={n: [("127.0.0.1", stack.config.ports.service(n))] for n in SERVICES},
        auth_rate_limit=3,
        auth_rate_interval_s=60,
    )
    config = write(settings, run_dir / f"envoy-strict-{port}.yaml")
    process = await asyncio.create_subprocess_exec(
        envoy_binary(),
        "-c",
        str(config),
        "--disable-hot-restart",
        "--log-level",
        "error",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(100):
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            yield client
    finally:
        process.terminate()
        await process.wait()


async def test_auth_routes_are_rate_limited_in_the_error_shape(
    strict_gateway: httpx.AsyncClient,
) -> None:
    body = {"email": "someone@example.jp", "password": "wrong-password"}
    statuses = [
        (await strict_gateway.post("/v1/auth/login", json=body)).status_code for _ in range(3)
    ]
    assert 429 not in statuses
    limited = await strict_gateway.post("/v1/auth/login", json=body)
    assert_error_shape(limited, 429, 8, "RATE_LIMITED")
    assert limited.headers["retry-after"] == "10"
    retry = [d for d in limited.json()["details"] if d["@type"].endswith("google.rpc.RetryInfo")]
    assert retry == [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "10s"}]
    # Other routes are not affected by the auth routes' bucket.
    other = await strict_gateway.get("/v1/me")
    assert other.status_code == 401
