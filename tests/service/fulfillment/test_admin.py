"""The operator CLI: list failed fulfillments, retry one (the active worker is notified)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from services.commerce.fulfillment import admin
from tests.service.fulfillment.conftest import StartWorker
from tests.service.fulfillment.portal import Portal


async def test_list_and_retry(
    portal: Portal, start_worker: StartWorker, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await start_worker()
    order_id = await portal.create_order("taro", ["VPN-STANDARD"])
    await portal.approve(order_id)
    assert (await portal.settled(order_id))["Activation_Error_Code__c"] == "PAYMENT_METHOD_MISSING"

    assert await admin.run(["--database-url", database_url, "list", "--state", "failed"]) == 0
    out = capsys.readouterr().out
    assert order_id in out and "PAYMENT_METHOD_MISSING" in out and "ordering" in out

    await portal.whmcs.call("AddPayMethod", {"clientid": 3, "type": "BankAccount",
        "bank_name": "Mizuho", "bank_code": "0001", "bank_account": "1234567"})  # fmt: skip
    # As an operator would: a separate process.
    env = {**os.environ, "DATABASE_URL": database_url}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.commerce.fulfillment.admin", "retry", order_id],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "retrying at ordering" in done.stdout
    await portal.settled(order_id, states=("Activated",))
    assert await admin.run(["--database-url", database_url, "retry", order_id]) == 1
