"""A fault suite's stack: two replicas of every service behind Envoy, a private Redis and a
private Postgres the tests kill, stop and restart, and what they look at (the sandboxes' counters,
Salesforce as staff see it, Envoy's view of the replicas)."""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass
from typing import Any

import httpx

from tests.helpers.logbook import LogBook
from tests.helpers.postgres_servers import PostgresProcess
from tests.helpers.redis_servers import RedisProcess
from tests.helpers.sandboxes import SandboxControl
from tools.stack import Stack


class Salesforce:
    """The Salesforce sandbox's REST API as staff see it (dev credentials): what really exists."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    async def query(self, soql: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as http:
            token = await http.post(
                "/services/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=("portal-dev", "portal-dev-secret"),
            )
            assert token.status_code == 200, token.text
            headers = {"authorization": f"Bearer {token.json()['access_token']}"}
            response = await http.get(
                "/services/data/v60.0/query/", params={"q": soql}, headers=headers
            )
            assert response.status_code == 200, response.text
            return list(response.json()["records"])


@dataclass
class InfraStack:
    stack: Stack
    logbook: LogBook
    redis: RedisProcess
    postgres: PostgresProcess
    gateway: httpx.AsyncClient
    headers: dict[str, str]  # Hanako's (linked once, at start)

    def control(self, sandbox: str) -> SandboxControl:
        port = getattr(self.stack.config.ports, sandbox)
        return SandboxControl(f"http://127.0.0.1:{port}")

    @property
    def salesforce(self) -> Salesforce:
        return Salesforce(f"http://127.0.0.1:{self.stack.config.ports.salesforce}")

    def pids(self) -> dict[str, int]:
        """PID of every running child: a service that was restarted has another one."""
        return {
            name: child.process.pid
            for name, child in self.stack.children.items()
            if child.process is not None and child.running
        }

    def kill(self, name: str) -> None:
        """SIGKILL a child's whole process group: no shutdown, no draining."""
        child = self.stack.children[name]
        assert child.process is not None and child.running, name
        os.killpg(child.process.pid, signal.SIGKILL)

    async def revive(self, name: str, within: float = 60.0) -> None:
        """Start a killed child again and wait until the gateway reports every host healthy."""
        child = self.stack.children[name]
        if child.process is not None:
            await child.process.wait()
        await self.stack.start_child(name, child.argv)
        await self.all_hosts_healthy(within)

    def cdc_leader(self) -> str:
        """The commerce replica that last took the lead of the CDC consumer."""
        latest = ""
        for name, line in self.logbook.lines:
            if name.startswith("commerce") and '"cdc_consumer_leading"' in line:
                latest = name
        assert latest, "no commerce replica leads the CDC consumer"
        return latest

    async def envoy_retries(self) -> dict[str, int]:
        """Envoy's ``cluster.<service>.upstream_rq_retry*`` counters."""
        url = f"http://127.0.0.1:{self.stack.config.ports.admin}/stats"
        async with httpx.AsyncClient(timeout=5) as http:
            params = {"filter": r"^cluster\.\w+\.upstream_rq_retry"}
            text = (await http.get(url, params=params)).text
        pairs = (line.split(": ") for line in text.splitlines() if ": " in line)
        return {name: int(value) for name, value in pairs}

    async def active_on(self, service: str, replica: int) -> int:
        """Requests Envoy has in flight to one replica (0-based) of ``service``."""
        port = self.stack.replicas[service][replica][0]
        url = f"http://127.0.0.1:{self.stack.config.ports.admin}/clusters"
        async with httpx.AsyncClient(timeout=5) as http:
            text = (await http.get(url)).text
        needle = f"{service}::127.0.0.1:{port}::rq_active::"
        lines = text.splitlines()
        return sum(int(line[len(needle) :]) for line in lines if line.startswith(needle))

    async def all_hosts_healthy(self, within: float = 60.0) -> None:
        """Envoy's active health checks see every replica of every service SERVING."""
        url = f"http://127.0.0.1:{self.stack.config.ports.admin}/clusters"
        deadline = asyncio.get_running_loop().time() + within
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                text = (await http.get(url)).text
                flags = [
                    line.rsplit("::", 1)[1]
                    for line in text.splitlines()
                    if "::health_flags::" in line and not line.startswith("cors_")
                ]
                if flags and all(f == "healthy" for f in flags):
                    return
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"hosts not healthy after {within} s: {flags}")
                await asyncio.sleep(0.2)
