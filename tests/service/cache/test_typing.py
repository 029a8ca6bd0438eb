"""mypy rejects a key for account data built from the shared scope (and vice versa)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SNIPPET = """
from portal.billing.v1 import billing_pb2
from services.common.cache import SHARED_CATALOG, Cache, UserScope, policy

async def use(cache: Cache) -> None:
    async def load() -> billing_pb2.ListInvoicesResponse:
        return billing_pb2.ListInvoicesResponse()
    M = billing_pb2.ListInvoicesResponse
    await cache.get_or_load(policy.INVOICES_LIST, UserScope("1"), load, M)  # ok
    await cache.get_or_load(policy.CATALOG_PRICES, SHARED_CATALOG, load, M)  # ok
    await cache.get_or_load(policy.INVOICES_LIST, SHARED_CATALOG, load, M)  # BAD1
    await cache.get_or_load(policy.CATALOG_PRICES, UserScope("1"), load, M)  # BAD2
    await cache.invalidate(UserScope("1"), policy.CATALOG)  # BAD3
    await cache.get_or_load(policy.INVOICES_LIST, UserScope("1"), load, billing_pb2.Invoice)  # BAD4
"""


def test_mypy_rejects_the_wrong_scope(tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(SNIPPET)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-error-summary",
            "--follow-imports=silent",
            str(snippet),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = SNIPPET.splitlines()
    flagged = {
        lines[int(out.split(":")[1]) - 1].rsplit("# ", 1)[-1]
        for out in run.stdout.splitlines()
        if ": error:" in out
    }
    assert flagged == {"BAD1", "BAD2", "BAD3", "BAD4"}, run.stdout
