"""The Salesforce outbox: a Salesforce outage delays the Account update, never loses or doubles
it, across a restart of the identity process and with two relays working at once."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from sandbox.mail import RunningMail
from services.identity.outbox import ACCOUNT_UPDATE, Relay
from services.identity.server import Deps, build_deps
from services.identity.settings import IdentitySettings
from services.identity.validation import Address, SignUpForm
from tests.helpers.policies import FAST
from tests.helpers.sandboxes import SandboxControl, mailed_code
from tests.service.identity.test_sessions import PASSWORD
from tests.service.identity.test_signup import delivered, sf_account

PATCH = "sobjects:Account:PATCH"


YUKI = "yuki.ito@example.jp"  # AC-000104's primary Contact in the Salesforce seed


def form(number: str) -> SignUpForm:
    address = Address("1-2-3 Shibuya", "", "Shibuya-ku", "Tokyo", "150-0002", "JP")
    return SignUpForm(number, YUKI, PASSWORD, "Yuki", "Ito", "+81 3 1234 5678",
                      address)  # fmt: skip


async def test_salesforce_outage_and_restart(
    settings: IdentitySettings,
    sf_control: SandboxControl,
    db: asyncpg.Connection,
    mail_sandbox: RunningMail,
) -> None:
    await sf_control.fault("unavailable", action=PATCH, seconds=60)
    first = await build_deps(settings, policy=FAST)
    try:
        await first.flows.ownership.start("AC-000104", YUKI, "", "10.7.0.1")
        code = await mailed_code(mail_sandbox.url, YUKI)
        done = await first.flows.signup.sign_up(form("AC-000104"), code, "10.7.0.1")
        account = await sf_account(first, "AC-000104")
        await asyncio.sleep(0.5)  # the relay tries and fails meanwhile
        row = await db.fetchrow("SELECT * FROM identity.outbox WHERE target_id = $1", account["Id"])
        assert row["delivered_at"] is None and row["attempts"] >= 1
        assert account["Portal_Status__c"] == "Not Registered"
    finally:
        await first.aclose()  # the identity process stops while Salesforce is still down
    await sf_control.fault("none")
    before = (await sf_control.calls()).get(PATCH, 0)
    second = await build_deps(settings, policy=FAST)  # ...and starts again
    try:
        await delivered(db, account["Id"])
        account = await sf_account(second, "AC-000104")
        assert account["Portal_Status__c"] == "Active"
        assert account["WH_Account__c"].endswith(" - Yuki Ito")
    finally:
        await second.aclose()
    third = await build_deps(settings, policy=FAST)  # another restart: nothing is re-sent
    await asyncio.sleep(0.5)
    await third.aclose()
    assert (await sf_control.calls()).get(PATCH, 0) - before == 1
    assert done.user.customer_number == "AC-000104"


async def test_two_relays_deliver_each_row_once(
    deps: Deps, sf_control: SandboxControl, db: asyncpg.Connection, settings: IdentitySettings
) -> None:
    account = await sf_account(deps, "AC-000104")
    for i in range(12):
        await db.execute(
            "INSERT INTO identity.outbox (kind, target_id, payload) VALUES ($1, $2, $3::jsonb)",
            ACCOUNT_UPDATE, account["Id"], json.dumps({"WH_Account__c": f"#{i} - Test"}),
        )  # fmt: skip
    sf = deps.upstreams.sf
    relays = [Relay(deps.pool, sf), Relay(deps.pool, sf)]
    counts = await asyncio.gather(*(r.drain() for r in relays))
    # The service's own relay may have taken some rows too, and may still be sending one that
    # the two relays skipped as locked: wait for it, then every row was sent once.
    for _ in range(100):
        rows = await db.fetch("SELECT attempts, delivered_at FROM identity.outbox")
        if all(r["delivered_at"] is not None for r in rows):
            break
        await asyncio.sleep(0.1)
    assert all(r["delivered_at"] is not None and r["attempts"] == 1 for r in rows)
    assert (await sf_control.calls()).get(PATCH, 0) == 12  # since the sandbox reset
    assert sum(counts) <= 12


async def test_a_client_that_fails_to_close_leaves_the_others_closed(
    settings: IdentitySettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The identity process stops; WHMCS's client fails to close (a stopping identity once failed
    # an import there): the Salesforce pool and the database pool, whose connections may hold the
    # outbox relay's row lock, are closed all the same.
    built = await build_deps(settings, policy=FAST)

    async def fails() -> None:
        raise ModuleNotFoundError("No module named 'anyio._backends._asyncio'")

    monkeypatch.setattr(built.upstreams.whmcs, "aclose", fails)
    await built.aclose()
    assert built.pool.is_closing()
    with pytest.raises(RuntimeError, match="shutdown"):
        built.upstreams.sf._pool.submit(print)
