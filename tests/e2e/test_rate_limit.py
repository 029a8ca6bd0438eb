"""The gateway's local rate limit on the public auth routes: its error shape on a second Envoy with
a low limit in front of the same services (so that limit doesn't throttle other tests), and on the
main gateway that one client address has a budget of its own, which it cannot empty for others."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.e2e.test_gateway import assert_error_shape
from tests.e2e.test_identity import PASSWORD, new_account, signup_body
from tests.helpers.accounts import post_sign_in
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
    # Other routes are not affected by the auth routes' bucket.
    other = await strict_gateway.get("/v1/me")
    assert other.status_code == 401


def client_from(stack: Stack, source: str) -> httpx.AsyncClient:
    """A client of the main gateway whose connections come from ``source`` (another loopback
    address: to Envoy, another client)."""
    transport = httpx.AsyncHTTPTransport(local_address=source)
    return httpx.AsyncClient(base_url=stack.config.gateway_url, transport=transport, timeout=10)


async def test_one_address_cannot_empty_the_login_budget_of_another(stack: Stack) -> None:
    """Repro 4: 60 logins from one address get it limited (at the edge and in identity), while
    another address signs in, and the first one's token refresh is not in the login budget."""
    email = f"bystander.{uuid.uuid4().hex[:8]}@example.jp"
    async with client_from(stack, "127.0.0.3") as bystander:
        # The bystander signs up (its own customer) and holds a session to refresh later.
        number = await new_account(stack, email)
        body = signup_body(number, email)
        signed = await post_sign_in(bystander, "/v1/auth/signup", body)
        assert signed is not None and signed.status_code == 200, signed
        refresh = signed.json()["session"]["refreshToken"]
        async with client_from(stack, "127.0.0.2") as attacker:
            statuses = []
            for i in range(60):
                guess = {"email": f"victim{i}.{uuid.uuid4().hex[:6]}@example.jp",
                         "password": "wrong password"}  # fmt: skip
                statuses.append((await attacker.post("/v1/auth/login", json=guess)).status_code)
            assert statuses.count(429) >= 10 and set(statuses) <= {401, 429}, statuses
            mine = {"email": email, "password": PASSWORD}
            limited = await attacker.post("/v1/auth/login", json=mine)
            assert_error_shape(limited, 429, 8, "RATE_LIMITED")
            # Refresh has a budget of its own: the attacker's address can still refresh.
            own = await attacker.post("/v1/auth/refresh", json={"refreshToken": refresh})
            assert own.status_code == 200, own.text
        login = await bystander.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
