"""Rotating identity's signing key on a running stack, twice, with no gateway restart: Envoy reads
identity's JWKS (remote, cached, fetched again in the background), and a token signed with the
key before stays valid (that key is published as "previous" until the next rotation). A key no
longer published (dropped by a rotation or retired) is refused within the services' JWKS_MAX_AGE,
also where the gateway's start-up key file still lists it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest

from tests.e2e.test_gateway import assert_error_shape
from tests.helpers.accounts import HANAKO, customer_token
from tests.helpers.logbook import LogBook
from tests.helpers.stacks import running_stack
from tools.devkeys import retire, rotate
from tools.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def rotating_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    run_dir = tmp_path_factory.mktemp("rotation_run")
    env = {"IDENTITY_KEY_RELOAD_INTERVAL": "0.2", "JWKS_MAX_AGE": "1"}
    async with running_stack(
        run_dir, LogBook(), prefix="portal_rot", extra_env=env, wait_cdc=False, jwks_cache_s=2
    ) as stack:
        yield stack


def kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def token_signed_with(gateway: httpx.AsyncClient, wanted: str) -> str:
    """A fresh access token of Hanako, once identity signs with key ``wanted``."""
    for _ in range(150):  # identity reloads its keys every 0.2 s in this stack
        token = await customer_token(gateway, "/v1/auth/link", HANAKO)
        if kid(token) == wanted:
            return token
        await asyncio.sleep(0.2)
    raise AssertionError(f"identity never signed with {wanted}")


async def accepted(gateway: httpx.AsyncClient, token: str, within: float = 30) -> bool:
    """Whether ``/v1/me`` answers 200 for ``token`` within ``within`` seconds (Envoy fetches the
    JWKS again every couple of seconds in this stack)."""
    try:
        async with asyncio.timeout(within):
            while True:
                me = await gateway.get("/v1/me", headers={"authorization": f"Bearer {token}"})
                if me.status_code == 200:
                    return True
                await asyncio.sleep(0.2)
    except TimeoutError:
        return False


async def refused(gateway: httpx.AsyncClient, token: str, within: float = 10) -> bool:
    """Whether ``/v1/me`` answers 401 for ``token`` within ``within`` seconds."""
    try:
        async with asyncio.timeout(within):
            while True:
                me = await gateway.get("/v1/me", headers={"authorization": f"Bearer {token}"})
                if me.status_code == 401:
                    assert_error_shape(me, 401, 16, "UNAUTHENTICATED")
                    return True
                assert me.status_code == 200, me.text
                await asyncio.sleep(0.2)
    except TimeoutError:
        return False


def published(keys: Path) -> list[str]:
    return [k["kid"] for k in json.loads((keys / "jwks.json").read_text())["keys"]]


async def test_two_rotations_need_no_gateway_restart(rotating_stack: Stack) -> None:
    keys = rotating_stack.config.run_dir / "keys"
    envoy_pid = rotating_stack.children["envoy"].process.pid  # type: ignore[union-attr]
    async with httpx.AsyncClient(base_url=rotating_stack.config.gateway_url, timeout=10) as gw:
        first = await customer_token(gw, "/v1/auth/link", HANAKO)
        assert await accepted(gw, first)
        known_at_start = set(published(keys))

        rotate(keys)  # current <- next (published since the start), a fresh next
        second = await token_signed_with(gw, published(keys)[0])
        assert await accepted(gw, second)
        assert await accepted(gw, first, within=1)  # the previous key is still published

        rotate(keys)  # current <- a key the gateway's start-up files never had
        current = published(keys)[0]
        assert current not in known_at_start
        third = await token_signed_with(gw, current)
        assert await accepted(gw, third)
        assert await accepted(gw, second, within=1)

        # The first token's key left the published set with the second rotation. The gateway's
        # start-up key file still lists it, the services no longer do.
        assert kid(first) in known_at_start and kid(first) not in published(keys)
        assert await refused(gw, first)
        retire(keys)  # the previous key (the second token's) is no longer published
        assert await refused(gw, second)
        assert await accepted(gw, third, within=1)
    assert rotating_stack.children["envoy"].process.pid == envoy_pid  # type: ignore[union-attr]
    assert rotating_stack.children["envoy"].running
