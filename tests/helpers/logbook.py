"""Collects the output lines of the stack's child processes, for assertions on logs."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any


class LogBook:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, name: str, line: str) -> None:
        self.lines.append((name, line))

    def of(self, name: str) -> list[str]:
        return [line for n, line in self.lines if n == name]

    async def wait_json(self, name: str, needle: str, within: float = 5.0) -> list[dict[str, Any]]:
        """JSON lines of child ``name`` containing ``needle``, waiting up to ``within`` s for one
        (Envoy flushes its access log about once a second)."""
        deadline = time.monotonic() + within
        while True:
            found = [json.loads(line) for line in self.of(name) if needle in line]
            if found or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.05)
