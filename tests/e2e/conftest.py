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

from services.common.clients import SalesforceClient, SalesforceConfig
from tests.helpers.logbook import LogBook
from tests.helpers.secret_ledger import SecretLedger, learning_hooks
from tests.helpers.stacks import running_stack
from tools.stack import Stack

pytestmark = pytest.mark.e2e
# Pub/Sub streams without demand are closed after 2 s instead of 60 s, and commerce asks for one
# event at a time, so the session's stack really runs into the server's idle close. The SIM usage
# refresh throttle (60 s) and the scheduled-cancellation watcher (5 min) run fast so tests need
# not wait out production intervals. Every call of the suite comes from one address (127.0.0.1),
# so identity's per-address budgets of calls that succeed (links, look-ups, sign-ups, codes,
# resets), sized for one person, are sized for the whole suite here; the per-account limits and
# the per-address budget of failed logins stay as in production (test_rate_limit.py runs into
# it), and the others are tested in tests/service/identity.
E2E_ENV = {
    "SF_SANDBOX_IDLE_CLOSE_S": "2",
    "COMMERCE_CDC_BATCH": "1",
    "COMMERCE_SIM_USAGE_REFRESH_MIN_S": "5",
    "COMMERCE_SIM_WATCH_INTERVAL_S": "1",
    **{
        f"IDENTITY_{name}": "10000"
        for name in (
            "LINK_MAX_PER_ADDRESS",
            "LOOKUP_MAX_PER_ADDRESS",
            "SIGNUP_MAX_PER_ADDRESS",
            "SIGNUP_START_MAX_PER_ADDRESS",
            "RESET_MAX_PER_ADDRESS",
        )
    },
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


@pytest.fixture(scope="module")
async def sf(stack: Stack, logbook: LogBook) -> AsyncIterator[SalesforceClient]:
    """A client of the stack's Salesforce sandbox, once commerce's CDC consumer has subscribed to
    every topic, so a change a test makes there reaches commerce's caches and order streams. The
    30 s wait is a bound on a hang (as in the stack helper's ``wait_cdc_ready``), not a latency
    check."""
    await logbook.wait_json("commerce", "cdc_ready", within=30)
    client = SalesforceClient(
        SalesforceConfig(url=f"http://127.0.0.1:{stack.config.ports.salesforce}")
    )
    yield client
    await client.aclose()
