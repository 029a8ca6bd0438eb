"""The secrets a test session used, and the scan of every stack's logs for them at its end.

Every stack started with :func:`tests.helpers.stacks.running_stack` is recorded with its
LogBook. When the session ends (after every stack stopped), each stack's log lines are scanned
(``tools/logscan.py``) for the passwords (new and current ones too), access and refresh tokens
and payment links the tests sent or received through a client with :func:`learning_hooks`, the
seeded WHMCS users' passwords and those of ``tests/helpers/accounts.py``, every stack's
configured secrets and signing keys, plus the token and key patterns. A finding fails the
session (an error at teardown of its last test).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.whmcs.seed import SEED_PASSWORDS
from tests.helpers import stacks
from tests.helpers.accounts import HANAKO, YUKI
from tools import logscan
from tools.stack import Stack
from tools.stack_secrets import (
    configured_secrets,
    key_secrets,
    mesh_key_secrets,
    public_key_ids,
)

# Body fields whose values are secrets, in requests to and answers from the gateway.
SECRET_FIELDS = frozenset({"password", "refreshToken", "refresh_token", "accessToken",
                           "access_token", "url", "newPassword", "new_password",
                           "currentPassword", "current_password", "ticket"})  # fmt: skip


class SecretLedger:
    """Every secret the test session used, for the log scan at its end."""

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
        for name, value in mesh_key_secrets(stack.config.certs_dir).items():
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


def learning_hooks(ledger: SecretLedger) -> dict[str, list[Any]]:
    """httpx event hooks that hand the ledger every credential the tests send and receive."""

    async def on_request(request: httpx.Request) -> None:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and logscan.PATTERNS["jwt"].fullmatch(credential):
            ledger.add("bearer", credential)  # a token (garbage sent by token tests is none)
        for name, value in request.url.params.multi_items():  # ?access_token=, ?token=...
            if logscan.PATTERNS["jwt"].fullmatch(value):
                ledger.add(f"query {name}", value)
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
def secret_ledger() -> SecretLedger:
    ledger = SecretLedger()
    for password in (*SEED_PASSWORDS, HANAKO["password"], YUKI["password"]):
        ledger.add("password", str(password))
    for name, value in configured_secrets(os.environ).items():  # the development defaults
        ledger.add(name, value)
    return ledger


@pytest.fixture(scope="session", autouse=True)
def log_secret_scan(secret_ledger: SecretLedger) -> Iterator[None]:
    """Set up before (so torn down after) every stack: scans once every process has stopped."""
    yield
    lines: list[tuple[str, str]] = []
    for stack, logbook in stacks.STARTED:
        secret_ledger.add_stack(stack)
        lines += logbook.lines
    findings = secret_ledger.findings(lines)
    assert not findings, logscan.report(findings)
