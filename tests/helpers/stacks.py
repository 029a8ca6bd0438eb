"""A whole stack of its own for a test module or session: real Envoy, the four services (one or
more replicas each), the sandboxes, on free ports with a database of its own; optionally on a
Redis or Postgres of its own (fault suites stop and restart those)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.helpers.logbook import LogBook
from tools.stack import Stack, throwaway_stack

# Every stack started in this test session, with its LogBook: the session's log secret scan
# (``tests/helpers/secret_ledger.py``) reads them all when the session ends.
STARTED: list[tuple[Stack, LogBook]] = []


async def wait_cdc_ready(logbook: LogBook, replicas: int, within: float) -> None:
    """Wait until one commerce process (whichever replica took the lead) logs ``cdc_ready``."""
    names = ["commerce", *(f"commerce-{i}" for i in range(2, replicas + 1))]
    deadline = time.monotonic() + within
    while not any('"cdc_ready"' in line for name in names for line in logbook.of(name)):
        assert time.monotonic() < deadline, "commerce's CDC consumer is not ready"
        await asyncio.sleep(0.05)


@asynccontextmanager
async def running_stack(
    run_dir: Path,
    logbook: LogBook,
    *,
    prefix: str = "portal_e2e",
    database_url: str | None = None,
    redis_url: str | None = None,
    replicas: int = 1,
    extra_env: dict[str, str] | None = None,
    within: float = 60.0,
    wait_cdc: bool = True,
    jwks_cache_s: int = 30,
) -> AsyncIterator[Stack]:
    """Start a stack and yield it once ``/readyz`` answers (and, with ``wait_cdc``, once
    commerce's CDC consumer has subscribed); stop it and drop its database on leaving.

    The stack has a database and a cache namespace of its own, both ``<prefix>_<random>``, so it
    shares Postgres and Redis with any other stack (another test's, ``make run``) without seeing
    its data. ``database_url``: a server to use instead of the environment's. ``redis_url``: the
    Redis to use instead of the environment's.
    """
    async with contextlib.AsyncExitStack() as scope:
        try:
            stack = await scope.enter_async_context(
                throwaway_stack(
                    prefix,
                    sink=logbook,
                    database_url=database_url,
                    redis_url=redis_url,
                    run_dir=run_dir,
                    within=within,
                    on_created=lambda stack: STARTED.append((stack, logbook)),
                    replicas=replicas,
                    extra_env=dict(extra_env or {}),
                    jwks_cache_s=jwks_cache_s,
                )
            )
        except (RuntimeError, TimeoutError) as exc:  # say why, not only who
            named = {n for n, _ in logbook.lines if n in str(exc)}
            theirs = [entry for entry in logbook.lines if entry[0] in named]
            raise RuntimeError(f"{exc}: {(theirs or logbook.lines)[-40:]}") from None
        if wait_cdc:
            await wait_cdc_ready(logbook, replicas, within=30)
        yield stack
