"""The whole stack for end-to-end tests: real Envoy, the four services, the sandboxes, Postgres
and Redis, on free ports with a database of its own, started once per test session.

At the end of the session every line any stack process wrote (the LogBook) is scanned for
secrets (``tools/logscan.py``): the passwords, access and refresh tokens and payment links that
went through the ``gateway`` client (learnt by its event hooks), the customers' passwords of
``tests/helpers/accounts.py``, the stack's configured secrets and signing keys, plus the token and
key patterns. A finding fails the session (an error at teardown of its last test).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.accounts import HANAKO, YUKI
from tests.helpers.logbook import LogBook
from tests.helpers.stacks import running_stack
from tools import logscan
from tools.stack import Stack
from tools.stack_secrets import configured_secrets, key_secrets, public_key_ids

pytestmark = pytest.mark.e2e

# Body fields whose values are secrets, in requests to and answers from the gateway.
SECRET_FIELDS = frozenset({"password", "refreshToken", "refresh_token", "accessToken",
                           "access_token", "url"})  # fmt: skip


class SecretLedger:
    """Every secret the e2e session used, for the log scan at its end."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.seen: set[str] = set()
        self.keys_dirs: list[Path] = []
        self.public: set[str] = set()

    def add(self, kind: str, value: str) -> None:
        if value and value not in self.seen:
            self.seen.add(value)
            self.values[f"{kind}#{len(self.values)}"] = value

    def add_fields(self, body: Any) -> None:
        """Secret fields anywhere in a JSON body (``session.accessToken``, ``url``...)."""
        if isinstance(body, dict):
            for key, value in body.items():
                if key in SECRET_FIELDS and isinstance(value, str):
                    self.add(key, value)
                else:
                    self.add_fields(value)
        elif isinstance(body, list):
            for item in body:
                self.add_fields(item)

    def add_stack(self, stack: Stack) -> None:
        for name, value in configured_secrets(stack.config.env()).items():
            self.add(name, value)
        keys = stack.config.run_dir / "keys"
        self.keys_dirs.append(keys)
        self.read_keys()

    def read_keys(self) -> None:
        """The signing keys as they are now (tests rotate them; read at start and at the end)."""
        for keys in self.keys_dirs:
            for name, value in key_secrets(keys).items():
                self.add(name, value)
            self.public |= public_key_ids(keys)

    def findings(self, lines: list[tuple[str, str]]) -> list[logscan.Finding]:
        self.read_keys()
        return logscan.scan(lines, logscan.Secrets(self.values), allow=self.public)


@pytest.fixture(scope="session")
def logbook() -> LogBook:
    return LogBook()


@pytest.fixture(scope="session")
def secret_ledger() -> SecretLedger:
    ledger = SecretLedger()
    for customer in (HANAKO, YUKI):
        ledger.add("password", str(customer["password"]))
    return ledger


@pytest.fixture(scope="session", autouse=True)
def log_secret_scan(logbook: LogBook, secret_ledger: SecretLedger) -> Iterator[None]:
    """Set up before (so torn down after) the stack: scans once every process has stopped."""
    yield
    findings = secret_ledger.findings(logbook.lines)
    assert not findings, logscan.report(findings)


@pytest.fixture(scope="session")
async def stack(
    tmp_path_factory: pytest.TempPathFactory, logbook: LogBook, secret_ledger: SecretLedger
) -> AsyncIterator[Stack]:
    run_dir: Path = tmp_path_factory.mktemp("run")
    async with running_stack(run_dir, logbook, wait_cdc=False) as stack:
        secret_ledger.add_stack(stack)
        yield stack


def _learning_hooks(ledger: SecretLedger) -> dict[str, list[Any]]:
    """httpx event hooks that hand the ledger every credential the tests send and receive."""

    async def on_request(request: httpx.Request) -> None:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and logscan.PATTERNS["jwt"].fullmatch(credential):
            ledger.add("bearer", credential)  # a token (garbage sent by token tests is none)
        if request.url.path.startswith("/v1/auth/"):
            with contextlib.suppress(httpx.RequestNotRead, ValueError):
                ledger.add_fields(json.loads(request.content))

    async def on_response(response: httpx.Response) -> None:
        path = response.request.url.path
        if path.startswith("/v1/auth/") or path.endswith("/payment-link"):
            await response.aread()  # never a stream: sign-in answers and payment links
            with contextlib.suppress(ValueError):
                ledger.add_fields(response.json())

    return {"request": [on_request], "response": [on_response]}


@pytest.fixture(scope="session")
async def gateway(stack: Stack, secret_ledger: SecretLedger) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=stack.config.gateway_url, timeout=10, event_hooks=_learning_hooks(secret_ledger)
    ) as client:
        yield client


@pytest.fixture(scope="session")
def keys_dir(stack: Stack) -> Path:
    return stack.config.run_dir / "keys"
