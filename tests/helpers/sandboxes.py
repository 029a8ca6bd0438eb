"""The in-process sandboxes (Salesforce, WHMCS, Freebit) for service tests: their ``/__sandbox/``
control surface and fixture factories that start them once per session.

A factory returns a fixture function; assign it in a conftest under the fixture's name, e.g.
``whmcs_sandbox = whmcs_sandbox_fixture(webhook_url="")``. Each conftest that does so gets a
sandbox of its own, started with its own options.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Self

import httpx
import pytest

from sandbox.freebit import start_freebit
from sandbox.mail import start_mail
from sandbox.salesforce import start_salesforce
from sandbox.whmcs import start_whmcs


class SandboxControl:
    """A sandbox's ``/__sandbox/`` surface: reset it, arm faults, read its call counters."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` as JSON; asserts a 200 and returns the JSON answer."""
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as http:
            response = await http.post(path, json=body)
            assert response.status_code == 200, response.text
            return dict(response.json())

    async def fault(self, mode: str, **body: Any) -> None:
        await self.post("/__sandbox/faults", {"mode": mode, **body})

    async def reset(self) -> None:
        """Seed data, counters and faults back to how the sandbox started."""
        await self.post("/__sandbox/reset", {})

    async def calls(self) -> dict[str, int]:
        """Calls per operation since the last reset."""
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as http:
            return dict((await http.get("/__sandbox/stats")).json()["calls"])

    @classmethod
    async def fresh(cls, base_url: str) -> Self:
        """A control of the sandbox at ``base_url``, which it has just reset (what a per-test
        control fixture returns)."""
        control = cls(base_url)
        await control.reset()
        return control


def _session_sandbox(start: Callable[..., Awaitable[Any]], options: dict[str, Any]) -> Any:
    @pytest.fixture(scope="session")
    async def sandbox() -> AsyncIterator[Any]:
        running = await start(**options)
        yield running
        await running.stop()

    return sandbox


def salesforce_sandbox_fixture(**options: Any) -> Any:
    """A session fixture: ``start_salesforce(**options)``, stopped at the end of the session."""
    return _session_sandbox(start_salesforce, options)


def whmcs_sandbox_fixture(**options: Any) -> Any:
    """A session fixture: ``start_whmcs(**options)``, stopped at the end of the session (service
    tests pass ``webhook_url=""``: no hook deliveries to a gateway that is not there)."""
    return _session_sandbox(start_whmcs, options)


def freebit_sandbox_fixture(**options: Any) -> Any:
    """A session fixture: ``start_freebit(**options)``, stopped at the end of the session."""
    return _session_sandbox(start_freebit, options)


def mail_sandbox_fixture(**options: Any) -> Any:
    """A session fixture: ``start_mail(**options)`` (SMTP and HTTP on free ports)."""
    return _session_sandbox(start_mail, options)


async def mail_messages(base_url: str, to: str = "") -> list[dict[str, Any]]:
    """The messages the mail sandbox at ``base_url`` holds (for ``to`` only, when given)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
        response = await http.get("/__sandbox/messages", params={"to": to} if to else {})
        assert response.status_code == 200, response.text
        return list(response.json()["messages"])


async def mailed_code(base_url: str, to: str, within: float = 10.0) -> str:
    """The 6-digit code of the newest message to ``to`` (waits for it to arrive)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = await mail_messages(base_url, to)
        codes = [m for m in found if re.search(r"\b\d{6}\b", m["text"])]
        if codes:
            match = re.search(r"\b(\d{6})\b", codes[-1]["text"])
            assert match is not None
            return match.group(1)
        assert asyncio.get_running_loop().time() < deadline, f"no code mailed to {to}: {found}"
        await asyncio.sleep(0.05)
