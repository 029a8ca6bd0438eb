"""A stack of its own for the upstream fault suites (tests/faults/test_upstream_*.py): short
client timeouts, a small breaker threshold and cool-down, fast fulfillment retries, a throwaway
Redis (the tests flush it to make a cache cold), and what the tests read off it: the sandboxes'
control surfaces, the services' breaker gauges, the error shape.

A factory returns a fixture function; assign it in the test module under the fixture's name
(``stack = upstream_stack_fixture()``): each module gets a stack of its own, so breakers opened
there never disturb the shared e2e stack.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from services.common.clients import SalesforceClient, SalesforceConfig
from tests.helpers.accounts import HANAKO, customer_token
from tests.helpers.logbook import LogBook
from tests.helpers.redis_servers import RedisProcess
from tests.helpers.sandboxes import SandboxControl
from tests.helpers.stacks import running_stack
from tools.stack import Stack

BREAKER_THRESHOLD = 6  # two failed reads (3 attempts each) open it
BREAKER_COOLDOWN_S = 4.0
CLIENT_TIMEOUT_S = 1.5  # every upstream's read timeout; latency faults go well beyond it
SLOW_MS = 4000  # a latency fault's delay: beyond CLIENT_TIMEOUT_S on any machine

ENV = {
    "WHMCS_TIMEOUT_S": str(CLIENT_TIMEOUT_S),
    "SALESFORCE_TIMEOUT_S": str(CLIENT_TIMEOUT_S),
    "FREEBIT_TIMEOUT_S": str(CLIENT_TIMEOUT_S),
    "FULFILLMENT_RETRY_INITIAL_S": "0.5",
    "FULFILLMENT_RETRY_MAX_S": "1.5",
    "FULFILLMENT_ACTIVATION_POLL_INITIAL_S": "0.5",
    "FULFILLMENT_ACTIVATION_POLL_MAX_S": "1",
    "FREEBIT_SANDBOX_ACTIVATION_DELAY": "1",
}
SYSTEMS = ("salesforce", "whmcs", "freebit")
SERVICES = ("identity", "billing", "commerce", "support")


def upstream_stack_fixture(*, breaker_threshold: int = BREAKER_THRESHOLD) -> Any:
    """A module fixture: a :class:`FaultStack` on a Redis of its own, stopped at the end.
    A large ``breaker_threshold`` keeps the breakers out of a suite about single requests."""
    env = {
        **ENV,
        "UPSTREAM_BREAKER_THRESHOLD": str(breaker_threshold),
        "UPSTREAM_BREAKER_COOLDOWN_S": str(BREAKER_COOLDOWN_S),
    }

    @pytest.fixture(scope="module")
    async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FaultStack]:
        run_dir: Path = tmp_path_factory.mktemp("upstream-faults")
        redis_server = RedisProcess(run_dir).start()
        logbook = LogBook()
        started = running_stack(
            run_dir, logbook, prefix="portal_upstream", redis_url=redis_server.url, extra_env=env
        )
        try:
            async with started as running, FaultStack(running, logbook, redis_server.url) as fs:
                yield fs
        finally:
            redis_server.stop()

    return stack


class FaultStack:
    """The running stack plus the handles the fault tests use."""

    def __init__(self, stack: Stack, logbook: LogBook, redis_url: str) -> None:
        self.stack = stack
        self.logbook = logbook
        ports = stack.config.ports
        self.sandbox = {
            name: SandboxControl(f"http://127.0.0.1:{getattr(ports, name)}") for name in SYSTEMS
        }
        self.redis = aioredis.from_url(redis_url)
        self.gateway = httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=30)
        self.http = httpx.AsyncClient(timeout=10)
        # Salesforce as staff see it (the sandbox's REST API), to check what was written.
        self.sf = SalesforceClient(SalesforceConfig(url=self.url("salesforce")))

    async def __aenter__(self) -> FaultStack:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.sf.aclose()
        await self.gateway.aclose()
        await self.http.aclose()
        await self.redis.aclose()

    def url(self, system: str) -> str:
        return self.sandbox[system].base_url

    async def hanako(self) -> dict[str, str]:
        """Hanako's ``authorization`` header (links her WHMCS login the first time)."""
        token = await customer_token(self.gateway, "/v1/auth/link", HANAKO)
        return {"authorization": f"Bearer {token}"}

    async def new_account(self, name: str, email: str = "") -> str:
        """A Salesforce account without a portal user (as staff make them), with a primary
        Contact of ``email`` when given; its number."""
        number = f"AC-FLT{uuid.uuid4().hex[:6].upper()}"
        account_id = await self.sf.create(
            "Account", {"Name": name, "SF_Account_No__c": number,
                        "Portal_Status__c": "Not Registered",
                        "Portal_Eligible_Categories__c": "VPN"},
        )  # fmt: skip
        if email:
            contact = {"AccountId": account_id, "LastName": name.split()[-1], "Email": email}
            await self.sf.create("Contact", contact)
        return number

    async def clear_faults(self) -> None:
        for control in self.sandbox.values():
            await control.fault("none")

    async def cold_cache(self) -> None:
        """Forget every cached copy (the stack's Redis is its own)."""
        await self.redis.flushdb()

    async def metrics(self, service: str) -> str:
        port = getattr(self.stack.config.ports, f"{service}_metrics")
        response = await self.http.get(f"http://127.0.0.1:{port}/metrics")
        assert response.status_code == 200
        return response.text

    async def breaker_open(self, service: str, system: str) -> float:
        """``portal_upstream_breaker_open{system}`` of ``service`` (0.0 when not exported)."""
        text = await self.metrics(service)
        pattern = rf'^portal_upstream_breaker_open\{{system="{system}"\}} (\S+)$'
        found = re.search(pattern, text, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    async def upstream_calls(self, service: str, system: str, outcome: str) -> float:
        """Sum of ``portal_upstream_calls_total`` of one system and outcome in ``service``."""
        text = await self.metrics(service)
        pattern = (
            rf'^portal_upstream_calls_total\{{(?=[^}}]*system="{system}")'
            rf'(?=[^}}]*outcome="{outcome}")[^}}]*\}} (\S+)$'
        )
        return sum(float(v) for v in re.findall(pattern, text, re.MULTILINE))

    def internal_errors(self) -> list[str]:
        """Service log lines of an unexpected error (INTERNAL, a traceback) so far."""
        needles = ('"code": "INTERNAL"', "rpc_unexpected_error", "Traceback")
        return [
            f"{name}: {line}"
            for name, line in self.logbook.lines
            if name.split("-")[0] in SERVICES and any(n in line for n in needles)
        ]

    async def calls(self, system: str) -> int:
        """Every call the sandbox of ``system`` received since its last reset."""
        return sum((await self.sandbox[system].calls()).values())


def assert_unavailable(response: httpx.Response) -> dict[str, Any]:
    """The documented 503: ``UPSTREAM_UNAVAILABLE`` JSON, a "try again later" message and
    nothing else (no partial payload next to the error)."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = dict(response.json())
    assert set(body) == {"code", "message", "details"}, body
    assert body["code"] == 14
    assert "try again later" in body["message"].lower(), body["message"]
    info = [d for d in body["details"] if d["@type"].endswith("google.rpc.ErrorInfo")]
    assert info and info[0]["reason"] == "UPSTREAM_UNAVAILABLE" and info[0]["domain"] == "portal"
    return body


async def eventually(
    probe: Callable[[], Awaitable[Any]],
    ok: Callable[[Any], bool],
    *,
    within: float,
    pause: float = 0.2,
) -> Any:
    """Probe until ``ok`` (then return the value) or fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if ok(value):
            return value
        assert time.monotonic() < deadline, f"still {value!r} after {within} s"
        await asyncio.sleep(pause)
