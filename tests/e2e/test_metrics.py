"""Each service exposes Prometheus metrics; RPCs served through the gateway are counted."""

from __future__ import annotations

import re

import httpx
import pytest

from tools.stack import SERVICES, Stack

pytestmark = pytest.mark.e2e


def _sample(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and ",".join(sorted(match[1].split(","))) == want:
            return float(match[2])
    return 0.0


@pytest.mark.parametrize("service", SERVICES)
async def test_metrics_endpoint(stack: Stack, service: str) -> None:
    port = stack.config.ports.service(f"{service}_metrics")
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    assert "portal_rpc_handled_total" in response.text


def _handled(text: str, method: str) -> float:
    """portal_rpc_handled_total of one method, over all status codes."""
    label = f'method="{method}"'
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("portal_rpc_handled_total{") and label in line
    )


async def test_rpcs_through_the_gateway_are_counted(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    url = f"http://127.0.0.1:{stack.config.ports.identity_metrics}/metrics"
    method = "/portal.identity.v1.IdentityService/GetJwks"
    async with httpx.AsyncClient(timeout=5) as client:
        before = (await client.get(url)).text
        for _ in range(3):
            await gateway.get("/.well-known/jwks.json")
        after = (await client.get(url)).text
    assert _handled(after, method) == _handled(before, method) + 3
    latency = "portal_rpc_latency_seconds_count"
    assert _sample(after, latency, method=method) == _sample(before, latency, method=method) + 3
