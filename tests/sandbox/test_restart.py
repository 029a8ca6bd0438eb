"""With ``SANDBOX_STATE_DIR`` set, a restarted sandbox is the same world: its records are there
and its ids go on (never reused); without it, every start is the seed data again."""

from __future__ import annotations

import json
import os
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import pytest

from sandbox.freebit import start_freebit
from sandbox.mail import start_mail
from sandbox.persistence import STATE_DIR_ENV, WORLD_FILE
from sandbox.salesforce import RunningSalesforce, start_salesforce
from sandbox.salesforce.bus import replay_bytes
from sandbox.whmcs import start_whmcs

WHMCS_CREDS = {"identifier": "portal-dev", "secret": "portal-dev-secret", "responsetype": "json"}
OEM = {"oemId": "PORTALDEV", "oemKey": "portal-dev-key"}


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path))
    return tmp_path


async def _whmcs_add_client(url: str, email: str) -> int:
    form = {**WHMCS_CREDS, "action": "AddClient", "firstname": "A", "lastname": "B"}
    form.update(email=email, country="JP", password2="pw-123456", phonenumber="03-1234-5678")
    form.update(address1="1-2-3 Shibuya", city="Shibuya-ku", state="Tokyo", postcode="150-0002")
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        body = (await http.post("/includes/api.php", data=form)).json()
    assert body["result"] == "success", body
    return int(body["clientid"])


async def _whmcs_client_email(url: str, client_id: int) -> str:
    form = {**WHMCS_CREDS, "action": "GetClientsDetails", "clientid": str(client_id)}
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        body = (await http.post("/includes/api.php", data=form)).json()
    assert body["result"] == "success", body
    return str(body["client"]["email"])


async def test_whmcs_keeps_clients_and_never_reuses_an_id(state_dir: Path) -> None:
    first = await start_whmcs(port=0, webhook_url="")
    old = await _whmcs_add_client(first.url, "first@example.jp")
    await first.stop()
    assert (state_dir / "whmcs.pickle").exists()
    second = await start_whmcs(port=0, webhook_url="")
    try:
        assert await _whmcs_client_email(second.url, old) == "first@example.jp"
        assert await _whmcs_add_client(second.url, "second@example.jp") == old + 1
    finally:
        await second.stop()


async def test_a_new_world_is_saved_at_start_and_a_reset_ends_it(state_dir: Path) -> None:
    (state_dir / WORLD_FILE).write_text('{"world": "w1"}')
    running = await start_whmcs(port=0, webhook_url="")
    try:
        assert (state_dir / "whmcs.pickle").exists()  # before any request
        async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
            await http.get("/__sandbox/stats")
            assert (state_dir / WORLD_FILE).exists()
            assert (await http.post("/__sandbox/reset")).status_code == 200
        assert not (state_dir / WORLD_FILE).exists()  # the next `make run` reports it
    finally:
        await running.stop()


async def test_whmcs_without_a_state_dir_starts_from_the_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(STATE_DIR_ENV, raising=False)
    first = await start_whmcs(port=0, webhook_url="")
    old = await _whmcs_add_client(first.url, "first@example.jp")
    await first.stop()
    second = await start_whmcs(port=0, webhook_url="")
    try:
        assert await _whmcs_add_client(second.url, "again@example.jp") == old
    finally:
        await second.stop()
    assert os.listdir(tmp_path) == []


async def _sf(running: RunningSalesforce, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=running.rest_url, timeout=10) as http:
        token = await http.post(
            "/services/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=("portal-dev", "portal-dev-secret"),
        )
        headers = {"authorization": f"Bearer {token.json()['access_token']}"}
        response = await http.request(
            method, f"/services/data/v60.0/{path}", json=body, headers=headers
        )
    assert response.status_code < 300, response.text
    return response.json()


async def _new_account(running: RunningSalesforce, number: str) -> str:
    body = {"Name": f"Customer {number}", "SF_Account_No__c": number}
    return str((await _sf(running, "POST", "sobjects/Account/", body))["id"])


async def test_salesforce_keeps_records_ids_and_the_event_log(state_dir: Path) -> None:
    first = await start_salesforce()
    old_id = await _new_account(first, "AC-RESTART1")
    replay, commit = first.state.bus.last, first.state.commit_number
    assert first.state.bus.events  # the create published a change event
    await first.stop()
    second = await start_salesforce()
    try:
        again = await _sf(second, "GET", f"sobjects/Account/{old_id}")
        assert again["SF_Account_No__c"] == "AC-RESTART1"
        new_id = await _new_account(second, "AC-RESTART2")
        assert new_id != old_id and new_id[6:15] > old_id[6:15]  # the serial goes on
        bus = second.state.bus
        assert bus.parse_replay(replay_bytes(replay)) == replay  # a stored replay id stays valid
        assert bus.last > replay and second.state.commit_number == commit + 1
    finally:
        await second.stop()


async def test_freebit_keeps_lines(state_dir: Path) -> None:
    esim = {"eid": "89049032000001000000012345678901", "simKind": "E2", "addKind": "N"}
    esim.update(planCode="PNEW_10G", account="08012345678", aladinOperated="10")
    esim.update(createType="1", contractLine="5G")

    async def call(url: str, path: str, body: dict[str, str]) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            response = await http.post(f"/emptool/api/{path}/", data={"json": json.dumps(body)})
            return dict(response.json())

    first = await start_freebit(port=0)
    key = (await call(first.url, "authOem", OEM))["authKey"]
    assert (await call(first.url, "mvno/esim/addAcnt", {"authKey": key, **esim}))[
        "resultCode"
    ] == "100"
    await first.stop()
    second = await start_freebit(port=0)
    try:
        assert "08012345678" in second.registry.lines
        assert second.registry.auth_keys == {}  # sessions are not part of the world
        key = (await call(second.url, "authOem", OEM))["authKey"]
        again = await call(second.url, "mvno/esim/addAcnt", {"authKey": key, **esim})
        assert again["resultCode"] != "100"  # the line exists: a duplicate is refused
    finally:
        await second.stop()


async def test_mail_keeps_messages_received_over_smtp_and_their_ids(state_dir: Path) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "p@x.jp", "a@example.jp", "kept"
    message.set_content("123456")
    first = await start_mail()
    await aiosmtplib.send(message, hostname="127.0.0.1", port=first.smtp_port, start_tls=False)
    await first.stop()
    second = await start_mail()
    try:
        assert [(m.id, m.subject) for m in second.mailbox.messages] == [(1, "kept")]
        await aiosmtplib.send(message, hostname="127.0.0.1", port=second.smtp_port,
                              start_tls=False)  # fmt: skip
        assert [m.id for m in second.mailbox.messages] == [1, 2]
    finally:
        await second.stop()
