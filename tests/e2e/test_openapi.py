"""The OpenAPI document and its docs page, served by the gateway itself."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tools.openapi import OPENAPI_JSON
from tools.stack import Stack

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium")


async def test_openapi_json_is_the_committed_file(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == OPENAPI_JSON.read_bytes()


async def test_docs_page_is_public_html(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'fetch("/openapi.json")' in response.text


def _dump_dom(url: str, profile: Path) -> str:
    assert CHROMIUM is not None
    argv = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=5000",
        "--dump-dom", url,
    ]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


async def test_docs_page_lists_every_operation_in_a_browser(stack: Stack, tmp_path: Path) -> None:
    # `make test` installs Debian's chromium when it is missing (tools/system_packages.sh).
    assert CHROMIUM is not None, "chromium is not installed: apt-get install chromium"
    dom = _dump_dom(f"{stack.config.gateway_url}/docs", tmp_path / "profile")
    for text in ["BillingService", "ListInvoices", "/v1/invoices", "WatchOrders", "pageToken"]:
        assert text in dom, text
    assert "paths. Machine-readable" in dom  # the status line once rendered
