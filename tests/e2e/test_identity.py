"""Identity end to end through Envoy (REST), checked in WHMCS, Salesforce and Postgres."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from services.common.clients.whmcs_wire import php_serialize_b64
from tests.e2e.test_gateway import assert_error_shape
from tests.helpers.accounts import mail_url_of, post_sign_in
from tests.helpers.logbook import LogBook
from tests.helpers.sandboxes import mail_messages
from tests.helpers.tokens import sign
from tools.stack import Stack, port_is_free

pytestmark = pytest.mark.e2e
PASSWORD = "a long enough password"


def xff() -> dict[str, str]:
    return {"x-forwarded-for": f"10.20.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"}


def signup_body(number: str, email: str) -> dict[str, Any]:
    return {
        "customerNumber": number,
        "email": email,
        "password": PASSWORD,
        "firstName": "Yuki",
        "lastName": "Ito",
        "phone": "+81 3 1234 5678",
        "address": {
            "line1": "1-2-3 Shibuya",
            "city": "Shibuya-ku",
            "state": "Tokyo",
            "postcode": "150-0002",
            "country": "JP",
        },
    }


async def sandbox(stack: Stack, name: str, path: str, body: dict[str, Any] | None = None) -> Any:
    port = getattr(stack.config.ports, name)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        response = await (http.post(path, json=body) if body is not None else http.get(path))
        return response.json()


@contextlib.asynccontextmanager
async def salesforce_staff(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """The Salesforce sandbox's REST API with a staff session (client-credentials token)."""
    port = stack.config.ports.salesforce
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        token = await http.post(
            "/services/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=("portal-dev", "portal-dev-secret"),
        )
        http.headers["authorization"] = f"Bearer {token.json()['access_token']}"
        yield http


async def sf_account(stack: Stack, number: str) -> dict[str, Any]:
    q = (
        "SELECT Id, Portal_Status__c, Portal_Registration_Source__c, WH_Account__c FROM Account "
        f"WHERE SF_Account_No__c = '{number}'"
    )
    async with salesforce_staff(stack) as http:
        response = await http.get("/services/data/v60.0/query/", params={"q": q})
        return dict(response.json()["records"][0])


async def new_account(stack: Stack, email: str = "") -> str:
    """A fresh Salesforce Account with its own customer number (and a primary Contact with
    ``email``), so these tests do not depend on (or use up) the shared demo accounts other e2e
    modules register."""
    number = f"AC-E2E{uuid.uuid4().hex[:8].upper()}"
    async with salesforce_staff(stack) as http:
        response = await http.post(
            "/services/data/v60.0/sobjects/Account/",
            json={
                "Name": "E2E Customer",
                "SF_Account_No__c": number,
                "Portal_Status__c": "Not Registered",
            },
        )
        assert response.status_code == 201, response.text
        if email:
            contact = {"AccountId": response.json()["id"], "LastName": "Customer", "Email": email}
            created = await http.post("/services/data/v60.0/sobjects/Contact/", json=contact)
            assert created.status_code == 201, created.text
    return number


async def whmcs(stack: Stack, action: str, **params: Any) -> dict[str, Any]:
    port = stack.config.ports.whmcs
    form = {
        "action": action,
        "responsetype": "json",
        "identifier": "portal-dev",
        "secret": "portal-dev-secret",
        **params,
    }
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        return dict((await http.post("/includes/api.php", data=form)).json())


async def db_value(stack: Stack, query: str, *args: Any) -> Any:
    conn = await asyncpg.connect(stack.config.database_url)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def wait_for(check: Any, within: float = 20.0) -> None:
    for _ in range(int(within / 0.2)):
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("condition not reached in time")


async def restart_identity(stack: Stack) -> None:
    """Restart the identity process and wait until the gateway reaches the new one (``/readyz``
    may still show the old health state for a second)."""
    logged = len(stack.sink.of("identity")) if isinstance(stack.sink, LogBook) else 0
    await stack.restart_child("identity")
    answers: list[str] = []
    async with httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=2) as http:

        async def up() -> bool:
            try:
                status = (await http.get("/.well-known/jwks.json")).status_code
            except httpx.HTTPError as exc:
                answers.append(type(exc).__name__)
                return False
            answers.append(str(status))
            return status == 200

        try:
            await wait_for(up, within=30)
        except AssertionError:
            raise AssertionError(await _why_not_back(stack, logged, answers)) from None


async def _why_not_back(stack: Stack, logged: int, answers: list[str]) -> str:
    """Which side kept a restarted identity away: its process (exit code, whether its port
    listens, what it printed since the restart) or the gateway (its answers to the probe, and
    Envoy's health flags of identity's host)."""
    process = stack.children["identity"].process
    code = None if process is None else process.returncode
    listening = not port_is_free(stack.config.ports.identity)
    flags = "unknown"
    with contextlib.suppress(httpx.HTTPError):
        async with httpx.AsyncClient(timeout=2) as admin:
            text = (await admin.get(f"http://127.0.0.1:{stack.config.ports.admin}/clusters")).text
        flags = ", ".join(
            line for line in text.splitlines() if line.startswith("identity::") and "health" in line
        )
    lines = stack.sink.of("identity")[logged:][-40:] if isinstance(stack.sink, LogBook) else []
    return (
        f"identity not back through the gateway within 30 s: exit code {code}, "
        f"its port {'listens' if listening else 'does not listen'}; "
        f"the gateway answered {sorted(set(answers))} ({len(answers)} probes); "
        f"Envoy's health of the host: {flags}; "
        f"{len(lines)} lines logged since the restart:\n" + "\n".join(lines)
    )


async def test_validate_and_errors(gateway: httpx.AsyncClient, stack: Stack) -> None:
    fresh = await new_account(stack)
    ok = await gateway.post(
        "/v1/auth/signup:validate", json={"customerNumber": fresh}, headers=xff()
    )
    assert ok.status_code == 200 and ok.json() == {
        "customerNumber": fresh,
        "registrable": True,
    }
    # A registered number answers like a registrable one: only its owner learns which, by mail.
    registered = await gateway.post(
        "/v1/auth/signup:validate", json={"customerNumber": "AC-000103"}, headers=xff()
    )
    assert registered.json() == {"customerNumber": "AC-000103", "registrable": True}
    for number, status, code, reason in [
        ("", 400, 3, "CUSTOMER_NUMBER_REQUIRED"),
        ("AC-999999", 404, 5, "CUSTOMER_NUMBER_NOT_FOUND"),
    ]:
        r = await gateway.post(
            "/v1/auth/signup:validate", json={"customerNumber": number}, headers=xff()
        )
        assert_error_shape(r, status, code, reason)


async def test_sign_up_login_refresh_logout(gateway: httpx.AsyncClient, stack: Stack) -> None:
    email = f"taro.{uuid.uuid4().hex[:8]}@example.jp"
    number = await new_account(stack, email)
    body = {**signup_body(number, email), "firstName": "Taro", "lastName": "Suzuki"}
    r = await post_sign_in(gateway, "/v1/auth/signup", body)
    assert r is not None and r.status_code == 200, r
    user, session = r.json()["user"], r.json()["session"]
    assert user["customerNumber"] == number and set(session) == {
        "accessToken",
        "refreshToken",
        "accessTokenExpiresAt",
        "refreshTokenExpiresAt",
    }
    client_id = await db_value(
        stack,
        "SELECT whmcs_client_id FROM identity.account_links WHERE user_id = $1",
        uuid.UUID(user["id"]),
    )
    client = (await whmcs(stack, "GetClientsDetails", clientid=client_id))["client"]
    assert client["email"] == email
    fields = client["customfields"]
    fields = fields.get("customfield", fields) if isinstance(fields, dict) else fields
    assert {"id": 198, "value": number} in [
        {"id": int(f["id"]), "value": f["value"]} for f in fields
    ]

    async def active() -> bool:
        return (await sf_account(stack, number))["Portal_Status__c"] == "Active"

    await wait_for(active)
    account = await sf_account(stack, number)
    assert account["WH_Account__c"] == f"#{client_id} - Taro Suzuki"
    assert account["Portal_Registration_Source__c"] == "New Signup"

    me = await gateway.get("/v1/me", headers={"authorization": f"Bearer {session['accessToken']}"})
    assert me.status_code == 200 and me.json()["user"]["id"] == user["id"]
    login = await gateway.post(
        "/v1/auth/login", json={"email": email, "password": PASSWORD}, headers=xff()
    )
    assert login.status_code == 200
    wrong = await gateway.post(
        "/v1/auth/login", json={"email": email, "password": "wrong pass!"}, headers=xff()
    )
    assert_error_shape(wrong, 401, 16, "INVALID_CREDENTIALS")
    old = login.json()["session"]["refreshToken"]
    new = await gateway.post("/v1/auth/refresh", json={"refreshToken": old})
    assert new.status_code == 200
    reuse = await gateway.post("/v1/auth/refresh", json={"refreshToken": old})
    assert_error_shape(reuse, 401, 16, "UNAUTHENTICATED")
    killed = await gateway.post(
        "/v1/auth/refresh", json={"refreshToken": new.json()["session"]["refreshToken"]}
    )
    assert_error_shape(killed, 401, 16, "UNAUTHENTICATED")  # the family was revoked
    out = await gateway.post("/v1/auth/logout", json={"refreshToken": session["refreshToken"]})
    assert out.status_code == 200 and out.json() == {}
    gone = await gateway.post("/v1/auth/refresh", json={"refreshToken": session["refreshToken"]})
    assert_error_shape(gone, 401, 16, "UNAUTHENTICATED")
    other = await new_account(stack, email.upper())
    taken = await post_sign_in(gateway, "/v1/auth/signup", signup_body(other, email.upper()))
    assert taken is not None
    assert_error_shape(taken, 409, 6, "EMAIL_ALREADY_REGISTERED")


async def test_link_and_refusals(gateway: httpx.AsyncClient, stack: Stack) -> None:
    for email, password, status, code, reason in [
        ("no.number@example.jp", "demo-password-3", 400, 9, "WHMCS_ACCOUNT_NOT_LINKABLE"),
        ("hanako.yamada@example.jp", "nope-nope-nope", 401, 16, "INVALID_CREDENTIALS"),
        # a WHMCS user with two-factor on; a WHMCS user only invited to Hanako's client
        ("mei.tanaka@example.jp", "demo-password-5", 400, 9, "WHMCS_TWO_FACTOR_ENABLED"),
        ("aiko.yamada@example.jp", "demo-password-4", 400, 9, "WHMCS_NO_OWNED_CLIENT"),
    ]:
        r = await gateway.post(
            "/v1/auth/link", json={"email": email, "password": password}, headers=xff()
        )
        assert_error_shape(r, status, code, reason)
    hanako = {"email": "hanako.yamada@example.jp", "password": "demo-password-1"}
    r = await gateway.post("/v1/auth/link", headers=xff(), json=hanako)
    if r.status_code == 409:  # another e2e module linked the shared demo customer first
        assert_error_shape(r, 409, 6, "ACCOUNT_ALREADY_REGISTERED")
        r = await gateway.post("/v1/auth/login", headers=xff(), json=hanako)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["customerNumber"] == "AC-000101"
    again = await gateway.post("/v1/auth/link", headers=xff(), json=hanako)
    assert_error_shape(again, 409, 6, "ACCOUNT_ALREADY_REGISTERED")

    async def linked() -> bool:
        a = await sf_account(stack, "AC-000101")
        return (
            a["Portal_Status__c"] == "Active" and a["Portal_Registration_Source__c"] == "WHMCS Link"
        )

    await wait_for(linked)


async def _client_with_id(stack: Stack, wanted: int, owner: int, number: str) -> None:
    """WHMCS clients (owned by ``owner``) until one has the id ``wanted``; that one carries the
    customer number ``number``. Client ids trail user ids, so ``wanted`` lies ahead."""
    client_id = 0
    while client_id < wanted:
        tag = uuid.uuid4().hex[:8]
        made = await whmcs(
            stack, "AddClient", owner_user_id=owner, firstname="Decoy", lastname=tag,
            email=f"decoy.{tag}@example.jp", address1="1-1 Chuo", city="Chiba", state="Chiba",
            postcode="260-0013", country="JP", phonenumber="+81.430000000",
        )  # fmt: skip
        client_id = int(made["clientid"])
    assert client_id == wanted, "another test made clients meanwhile"
    fields = php_serialize_b64({198: number})
    assert (await whmcs(stack, "UpdateClient", clientid=wanted, customfields=fields))["result"] == (
        "success"
    )


async def test_link_resolves_the_owned_client_not_the_user_id(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    mine, decoy = await new_account(stack), await new_account(stack)
    email, password = f"kaito.{uuid.uuid4().hex[:8]}@example.jp", "kaito-password-1"
    user = await whmcs(stack, "AddUser", firstname="Kaito", lastname="Mori", email=email,
                       password2=password)  # fmt: skip
    user_id = int(user["user_id"])
    other = await whmcs(
        stack,
        "AddUser",
        firstname="Decoy",
        lastname="Owner",
        email=f"owner.{uuid.uuid4().hex[:8]}@example.jp",
        password2="x-pass-1",
    )
    # Another client carries the user's id as its client id, with a linkable customer number.
    await _client_with_id(stack, user_id, int(other["user_id"]), decoy)
    owned = await whmcs(
        stack, "AddClient", owner_user_id=user_id, firstname="Kaito", lastname="Mori",
        email=email, address1="2-2 Chuo", city="Chiba", state="Chiba", postcode="260-0013",
        country="JP", phonenumber="+81.430000001", customfields=php_serialize_b64({198: mine}),
    )  # fmt: skip
    client_id = int(owned["clientid"])
    assert client_id != user_id

    r = await gateway.post(
        "/v1/auth/link", headers=xff(), json={"email": email, "password": password}
    )
    assert r.status_code == 200, r.text
    assert r.json()["user"]["customerNumber"] == mine
    linked = await db_value(
        stack, "SELECT whmcs_client_id FROM identity.account_links WHERE customer_number = $1", mine
    )
    assert linked == client_id
    assert (
        await db_value(
            stack, "SELECT count(*) FROM identity.account_links WHERE whmcs_client_id = $1", user_id
        )
        == 0
    )
    assert (await sf_account(stack, decoy))["Portal_Status__c"] == "Not Registered"


async def test_whmcs_down_then_salesforce_down_with_restart(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    email = f"yuki.{uuid.uuid4().hex[:8]}@example.jp"
    number = await new_account(stack, email)
    await sandbox(
        stack,
        "whmcs",
        "/__sandbox/faults",
        {"mode": "unavailable", "action": "AddClient", "seconds": 30},
    )
    try:
        r = await post_sign_in(gateway, "/v1/auth/signup", signup_body(number, email))
        assert r is not None
        assert_error_shape(r, 503, 14, "UPSTREAM_UNAVAILABLE")
    finally:
        await sandbox(stack, "whmcs", "/__sandbox/faults", {"mode": "none"})
    assert await db_value(stack, "SELECT count(*) FROM identity.users WHERE email = $1", email) == 0

    patch = "sobjects:Account:PATCH"
    await sandbox(
        stack,
        "salesforce",
        "/__sandbox/faults",
        {"mode": "unavailable", "action": patch, "seconds": 60},
    )
    try:
        r = await post_sign_in(gateway, "/v1/auth/signup", signup_body(number, email))
        assert r is not None and r.status_code == 200, r
        await asyncio.sleep(1.0)
        assert (await sf_account(stack, number))["Portal_Status__c"] == "Not Registered"
        await restart_identity(stack)
    finally:
        await sandbox(stack, "salesforce", "/__sandbox/faults", {"mode": "none"})

    async def active() -> bool:
        return (await sf_account(stack, number))["Portal_Status__c"] == "Active"

    await wait_for(active, within=60)  # delivered by the restarted process
    before = (await sandbox(stack, "salesforce", "/__sandbox/stats"))["calls"].get(patch, 0)
    await restart_identity(stack)
    await asyncio.sleep(2.0)
    after = (await sandbox(stack, "salesforce", "/__sandbox/stats"))["calls"].get(patch, 0)
    assert after == before  # not sent again after another restart
    delivered = await db_value(
        stack,
        "SELECT count(*) FROM identity.outbox o JOIN identity.account_links l "
        "ON l.sf_account_id = o.target_id WHERE l.customer_number = $1 "
        "AND o.delivered_at IS NOT NULL",
        number,
    )
    assert delivered == 1


async def test_tokens_at_the_edge_and_jwks(gateway: httpx.AsyncClient, keys_dir: Path) -> None:
    jwks = await gateway.get("/.well-known/jwks.json")
    assert jwks.status_code == 200
    keys = jwks.json()["keys"]
    assert [k["kid"] for k in keys] == [
        k["kid"] for k in json.loads((keys_dir / "jwks.json").read_text())["keys"]
    ]
    assert len(keys) >= 2 and all(k["kty"] == "EC" and k["alg"] == "ES256" for k in keys)
    token = sign(keys_dir)
    head, body, sig = token.split(".")
    tampered = f"{head}.{body[:-2]}AA.{sig}"
    for bad in (tampered, sign(keys_dir, ttl=-120)):
        r = await gateway.get("/v1/me", headers={"authorization": f"Bearer {bad}"})
        assert_error_shape(r, 401, 16, "UNAUTHENTICATED")
    # A valid signature for a user that does not exist is refused by the service itself.
    r = await gateway.get("/v1/me", headers={"authorization": f"Bearer {token}"})
    assert_error_shape(r, 401, 16, "UNAUTHENTICATED")


async def test_a_stranger_cannot_take_over_an_account_with_its_number(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    """Repro 1 through the gateway: the code goes to the account's own e-mail, and only the
    owner, who reads it in the mail sandbox, completes the sign-up."""
    owner = f"owner.{uuid.uuid4().hex[:8]}@example.jp"
    number = await new_account(stack, owner)
    attacker = f"mallory.{uuid.uuid4().hex[:8]}@example.jp"
    start = await gateway.post(
        "/v1/auth/signup:start", json={"customerNumber": number, "email": attacker}
    )
    assert_error_shape(start, 400, 9, "EMAIL_NOT_ON_ACCOUNT")
    guessed = await gateway.post(
        "/v1/auth/signup", json={**signup_body(number, attacker), "code": "123456"}
    )
    assert_error_shape(guessed, 400, 9, "VERIFICATION_CODE_EXPIRED")
    mail = mail_url_of(gateway)
    assert await mail_messages(mail, attacker) == []
    done = await post_sign_in(gateway, "/v1/auth/signup", signup_body(number, owner))
    assert done is not None and done.status_code == 200, done
    assert done.json()["user"]["email"] == owner
    [mailed] = await mail_messages(mail, owner)
    assert mailed["subject"] == "Your portal sign-up code" and mailed["html"]


async def test_a_reset_revokes_old_refresh_tokens(gateway: httpx.AsyncClient, stack: Stack) -> None:
    email = f"reset.{uuid.uuid4().hex[:8]}@example.jp"
    number = await new_account(stack, email)
    signed = await post_sign_in(gateway, "/v1/auth/signup", signup_body(number, email))
    assert signed is not None and signed.status_code == 200, signed
    old = signed.json()["session"]["refreshToken"]
    mail = mail_url_of(gateway)
    for address in (email, f"nobody.{uuid.uuid4().hex[:8]}@example.jp"):
        asked = await gateway.post("/v1/auth/password:reset", json={"email": address})
        assert asked.status_code == 200 and asked.json() == {}
    for _ in range(100):
        codes = [m for m in await mail_messages(mail, email) if "reset" in m["subject"]]
        if codes:
            break
        await asyncio.sleep(0.05)
    code = re.search(r"\b(\d{6})\b", codes[-1]["text"])
    assert code is not None
    new_password = "a brand new passphrase"
    confirm = {"email": email, "code": code.group(1), "newPassword": new_password}
    confirmed = await gateway.post("/v1/auth/password:confirm", json=confirm)
    assert confirmed.status_code == 200 and confirmed.json() == {}
    refused = await gateway.post("/v1/auth/refresh", json={"refreshToken": old})
    assert_error_shape(refused, 401, 16, "UNAUTHENTICATED")
    login = await gateway.post("/v1/auth/login", json={"email": email, "password": new_password})
    assert login.status_code == 200
    bearer = {"authorization": f"Bearer {login.json()['session']['accessToken']}"}
    change = {"currentPassword": new_password, "newPassword": "yet another passphrase"}
    changed = await gateway.post("/v1/auth/password:change", json=change, headers=bearer)
    assert changed.status_code == 200 and changed.json()["session"]["refreshToken"]
    unauthenticated = await gateway.post("/v1/auth/password:change", json=change)
    assert_error_shape(unauthenticated, 401, 16, "UNAUTHENTICATED")
