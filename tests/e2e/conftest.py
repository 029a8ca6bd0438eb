"""The whole stack for end-to-end tests: real Envoy, the four services, the sandboxes, Postgres
and Redis, on free ports with a database of its own, started once per test session.

The ``gateway`` client hands every credential it sends or receives to the session's secret
ledger; at the end of the session every stack's logs are scanned for them
(``tests/helpers/secret_ledger.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.logbook import LogBook
from tests.helpers.secret_ledger import SecretLedger, learning_hooks
from tests.helpers.stacks import running_stack
from tools.stack import Stack

pytestmark = pytest.mark.e2e
# Pub/Sub streams without demand are closed after 2 s instead of 60 s, and commerce asks for one
# event at a time, so the session's stack really runs into the server's idle close. The SIM usage
# refresh throttle (60 s) and the scheduled-cancellation watcher (5 min) run fast so tests need
# not wait out production intervals.
E2E_ENV = {
    "SF_SANDBOX_IDLE_CLOSE_S": "2",
    "COMMERCE_CDC_BATCH": "1",
    "COMMERCE_SIM_USAGE_REFRESH_MIN_S": "5",
    "COMMERCE_SIM_WATCH_INTERVAL_S": "1",
}


@pytest.fixture(scope="session")
def logbook() -> LogBook:
    return LogBook()


@pytest.fixture(scope="session")
async def stack(
    tmp_path_factory: pytest.TempPathFactory, logbook: LogBook, secret_ledger: SecretLedger
) -> AsyncIterator[Stack]:
    """The session's stack (``secret_ledger`` first: its scan runs after the stack stopped)."""
    run_dir: Path = tmp_path_factory.mktemp("run")
    async with running_stack(run_dir, logbook, wait_cdc=False, extra_env=E2E_ENV) as stack:
        yield stack


@pytest.fixture(scope="session")
async def gateway(stack: Stack, secret_ledger: SecretLedger) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=stack.config.gateway_url, timeout=10, event_hooks=learning_hooks(secret_ledger)
    ) as client:
        yield client


@pytest.fixture(scope="session")
def keys_dir(stack: Stack) -> Path:
    return stack.config.run_dir / "keys"
