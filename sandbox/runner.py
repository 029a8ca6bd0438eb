"""Running a sandbox as a process: logging set-up and serving until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable
from typing import Protocol


class Running(Protocol):
    async def stop(self) -> None: ...


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")


async def serve_until_signalled(started: Awaitable[Running]) -> None:
    """Start a sandbox, wait for SIGINT or SIGTERM, stop it."""
    running = await started
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await running.stop()
