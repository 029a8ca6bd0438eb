"""A restarted stack is the same world: the sandboxes keep their state in their state directory,
the portal database keeps its users, new sign-ups get new ids, and CDC resumes where it stopped.

The stack here has its own run directory, free ports and database (so it runs beside ``make run``
and the session's e2e stack) and is started twice the way ``make run`` starts it: settle the world
(``tools/world.py``), then start the processes with the sandboxes' state directory.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.test_identity import (
    PASSWORD,
    new_account,
    salesforce_staff,
    signup_body,
    whmcs,
    xff,
)
from tests.helpers import stacks
from tests.helpers.accounts import post_sign_in
from tests.helpers.logbook import LogBook
from tests.helpers.secret_ledger import SecretLedger, learning_hooks
from tools import infra, world
from tools.stack import Ports, Stack, StackConfig

pytestmark = pytest.mark.e2e
ORDER_TOPIC = "/data/OrderChangeEvent"


@asynccontextmanager
async def world_stack(
    place: world.WorldPlace, run_dir: Path, logbook: LogBook
) -> AsyncIterator[Stack]:
    """Settle the world and start a stack in it, as ``make run`` does; stop it on leaving."""
    await infra.create_database(place.database_url)
    await world.settle(place)
    config = StackConfig(
        place.database_url,
        place.redis_url,
        place.cache_namespace,
        ports=Ports.free(),
        run_dir=run_dir,
        sandbox_state_dir=place.state_dir,
    )
    stack = Stack(config, sink=logbook)
    stacks.STARTED.append((stack, logbook))
    try:
        await stack.start(within=60)
        await stacks.wait_cdc_ready(logbook, replicas=1, within=30)
        yield stack
    finally:
        await stack.stop()


async def db_value(place: world.WorldPlace, query: str, *args: Any) -> Any:
    conn = await asyncpg.connect(place.database_url)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def until(check: Any, within: float = 30.0) -> None:
    for _ in range(int(within / 0.2)):
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("condition not reached in time")


async def sign_up(stack: Stack, gateway: httpx.AsyncClient) -> tuple[dict[str, Any], int]:
    """A new Salesforce Account signed up through the gateway: the user and the WHMCS client id."""
    email = f"world.{uuid.uuid4().hex[:8]}@example.jp"
    number = await new_account(stack, email)
    response = await post_sign_in(gateway, "/v1/auth/signup", signup_body(number, email))
    assert response is not None and response.status_code == 200, response
    user = dict(response.json()["user"])
    client_id = await db_value(
        world_place(stack),
        "SELECT whmcs_client_id FROM identity.account_links WHERE user_id = $1",
        uuid.UUID(user["id"]),
    )
    return {**user, "email": email}, int(client_id)


def world_place(stack: Stack) -> world.WorldPlace:
    config = stack.config
    assert config.sandbox_state_dir is not None
    return world.WorldPlace(
        config.database_url, config.redis_url, config.sandbox_state_dir, config.cache_namespace
    )


async def new_order(stack: Stack, customer_number: str) -> str:
    """A Salesforce Order for the customer's account (as staff would enter one)."""
    async with salesforce_staff(stack) as http:
        query = f"SELECT Id FROM Account WHERE SF_Account_No__c = '{customer_number}'"
        found = await http.get("/services/data/v60.0/query/", params={"q": query})
        account_id = found.json()["records"][0]["Id"]
        today = datetime.now(UTC).date().isoformat()
        body = {"AccountId": account_id, "EffectiveDate": today, "Status": "Pending Review"}
        created = await http.post("/services/data/v60.0/sobjects/Order/", json=body)
        assert created.status_code == 201, created.text
        return str(created.json()["id"])


async def stored_replay(place: world.WorldPlace) -> bytes | None:
    value = await db_value(
        place, "SELECT replay_id FROM commerce.cdc_replay WHERE topic = $1", ORDER_TOPIC
    )
    return None if value is None else bytes(value)


async def headers_of(gateway: httpx.AsyncClient, user: dict[str, Any]) -> dict[str, str]:
    body = {"email": user["email"], "password": PASSWORD}
    login = await gateway.post("/v1/auth/login", json=body, headers=xff())
    assert login.status_code == 200, login.text
    return {"authorization": f"Bearer {login.json()['session']['accessToken']}"}


async def ids(gateway: httpx.AsyncClient, path: str, key: str, headers: dict[str, str]) -> set[str]:
    response = await gateway.get(path, params={"pageSize": 100}, headers=headers)
    assert response.status_code == 200, response.text
    return {str(item["id"]) for item in response.json().get(key, [])}


@asynccontextmanager
async def gateway_of(stack: Stack, ledger: SecretLedger) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=stack.config.gateway_url, timeout=10, event_hooks=learning_hooks(ledger)
    ) as client:
        yield client


async def test_a_restarted_stack_is_the_same_world(
    tmp_path: Path, secret_ledger: SecretLedger
) -> None:
    env_database, env_redis = infra.urls_from_env()
    name = infra.run_name("portal_world")  # database and cache namespace: never `make run`'s
    database_url = infra.with_database(env_database, name)
    place = world.WorldPlace(database_url, env_redis, tmp_path / "run" / "sandboxes", name)
    first_log, second_log = LogBook(), LogBook()
    try:
        async with (
            world_stack(place, tmp_path / "run", first_log) as stack,
            gateway_of(stack, secret_ledger) as gateway,
        ):
            first, first_client = await sign_up(stack, gateway)
            created = await whmcs(stack, "CreateInvoice", userid=first_client,
                                  itemdescription1="Fibre", itemamount1="5280")  # fmt: skip
            invoice_id = str(created["invoiceid"])
            order_id = await new_order(stack, first["customerNumber"])

            async def replay_stored() -> bool:
                return await stored_replay(place) is not None

            await until(replay_stored)  # commerce saw the order's change event
        replay_before = await stored_replay(place)
        async with (
            world_stack(place, tmp_path / "run", second_log) as stack,
            gateway_of(stack, secret_ledger) as gateway,
        ):
            second, second_client = await sign_up(stack, gateway)
            assert second_client > first_client  # the WHMCS id sequence went on
            first_headers = await headers_of(gateway, first)
            second_headers = await headers_of(gateway, second)
            assert invoice_id in await ids(gateway, "/v1/invoices", "invoices", first_headers)
            assert order_id in await ids(gateway, "/v1/orders", "orders", first_headers)
            assert invoice_id not in await ids(gateway, "/v1/invoices", "invoices", second_headers)
            assert await ids(gateway, "/v1/orders", "orders", second_headers) == set()
            later_order = await new_order(stack, first["customerNumber"])

            async def replay_moved_on() -> bool:
                now = await stored_replay(place)
                return now is not None and replay_before is not None and now > replay_before

            await until(replay_moved_on)  # CDC resumed from the stored replay id
            assert later_order in await ids(gateway, "/v1/orders", "orders", first_headers)
        lost = [line for line in second_log.of("commerce") if "cdc_replay_position_lost" in line]
        assert lost == []
    finally:
        await infra.drop_database(database_url)
