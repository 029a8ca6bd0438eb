"""The whole stack for one benchmark: a throwaway database and cache namespace, free ports, a run
directory of its own; stopped and its database dropped on leaving.

Every benchmark that drives the stack through the gateway starts it with ``bench_stack``, so they
all measure the same set-up (``tools.stack``, the one ``make run`` and the e2e tests use). This
module is a helper, not a benchmark: ``make bench`` does not run it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

# ``make bench`` runs each script by path; ``tools`` (the stack runner) is not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.stack import Stack, throwaway_stack

Sink = Callable[[str, str], None]

# The seeded demo customer (WHMCS client 1, Salesforce AC-000101): linked on a fresh stack.
HANAKO = {"email": "hanako.yamada@example.jp", "password": "demo-password-1"}


class CdcReady:
    """A stack log sink that notices the commerce CDC consumer's ``cdc_ready`` (and passes every
    line on to ``then`` when given)."""

    def __init__(self, then: Sink | None = None) -> None:
        self.event = asyncio.Event()
        self.then = then

    def __call__(self, name: str, line: str) -> None:
        if name.startswith("commerce") and '"cdc_ready"' in line:
            self.event.set()
        if self.then is not None:
            self.then(name, line)


@contextlib.asynccontextmanager
async def bench_stack(
    *,
    prefix: str = "portal_bench",
    sink: Sink | None = None,
    within: float = 90.0,
    wait_cdc: bool = False,
    run_dir: Path | None = None,
    **config: Any,
) -> AsyncIterator[Stack]:
    """A started stack (``tools.stack.throwaway_stack``); ``config``: further ``StackConfig``
    fields (``replicas``, ``mesh_tls``, ``extra_env``...). ``wait_cdc``: also wait (30 s at most)
    until commerce's CDC consumer has subscribed, for benchmarks that read what Salesforce changes.
    ``sink``: gets every process's log lines (``name, line``); discarded by default."""
    ready = CdcReady(sink)
    async with throwaway_stack(
        prefix, sink=ready, within=within, run_dir=run_dir, **config
    ) as stack:
        if wait_cdc:
            await asyncio.wait_for(ready.event.wait(), 30)
        yield stack


async def demo_token(gateway: httpx.AsyncClient) -> str:
    """An access token of the demo customer: linked on a fresh stack, signed in afterwards."""
    for path in ("/v1/auth/link", "/v1/auth/login"):
        response = await gateway.post(path, json=HANAKO)
        if response.status_code == 200:
            return str(response.json()["session"]["accessToken"])
    raise RuntimeError(f"cannot sign in: {response.text}")
