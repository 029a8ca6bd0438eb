"""SIM self-service end to end through the gateway: a SIM order approved by staff and provisioned
by the worker at Freebit is listed with its plan, its usage grows as the Freebit sandbox's clock
moves, a cancellation opens a Case and schedules the Freebit cancellation, and when the date
passes the line is cancelled and the customer's live updates say so. Plus: another customer's
line is NOT_FOUND like a missing one, and a Freebit outage is the friendly 503, nothing partial."""

from __future__ import annotations

import asyncio
import calendar
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from services.common.clients import SalesforceClient
from services.common.clients.soql import soql
from tests.helpers.accounts import HANAKO, YUKI, customer_token
from tools.stack import Stack

pytestmark = pytest.mark.e2e
JST = timezone(timedelta(hours=9))


@pytest.fixture(scope="module")
async def hanako(gateway: httpx.AsyncClient) -> dict[str, str]:
    return {"authorization": f"Bearer {await customer_token(gateway, '/v1/auth/link', HANAKO)}"}


@pytest.fixture(scope="module")
async def yuki(gateway: httpx.AsyncClient) -> dict[str, str]:
    return {"authorization": f"Bearer {await customer_token(gateway, '/v1/auth/signup', YUKI)}"}


@pytest.fixture(scope="module")
async def freebit(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    url = f"http://127.0.0.1:{stack.config.ports.freebit}"
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        yield client
        await client.post("/__sandbox/faults", json={"mode": "none"})


async def _until(probe: Callable[[], Awaitable[Any]], done: Callable[[Any], bool]) -> Any:
    deadline = time.monotonic() + 60  # a bound on a hang, not a latency check
    while True:
        value = await probe()
        if done(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.3)


async def _sse(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    async for line in response.aiter_lines():
        if line.startswith("data:"):
            yield json.loads(line.removeprefix("data:").strip())


async def _sim_event(events: AsyncIterator[dict[str, Any]], status: str) -> dict[str, Any]:
    async with asyncio.timeout(60):  # a bound on a hang, not a latency check
        async for event in events:
            if event.get("sim", {}).get("status") == status:
                return dict(event["sim"])
    raise AssertionError("the stream ended")


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


async def _order_sim(gateway: httpx.AsyncClient, headers: dict[str, str]) -> str:
    products = (await gateway.get("/v1/catalog/products", headers=headers)).json()["products"]
    plan = next(p for p in products if p["sku"] == "SIM-DATA-10G")
    eid = "89049032" + f"{uuid.uuid4().int % 10**24:024d}"
    body = {"requestId": f"sim-{uuid.uuid4().hex[:10]}",
            "items": [{"productId": plan["id"], "quantity": 1}],
            "sim": {"simType": "SIM_TYPE_ESIM", "eid": eid}}  # fmt: skip
    created = await gateway.post("/v1/orders", headers=headers, json=body)
    assert created.status_code == 200, created.text
    return str(created.json()["order"]["id"])


async def _usage(
    gateway: httpx.AsyncClient, headers: dict[str, str], msisdn: str, refresh: bool = False
) -> dict[str, Any]:
    params = {"refresh": "true"} if refresh else {}
    response = await gateway.get(f"/v1/sims/{msisdn}/usage", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return dict(response.json()["usage"])


def _total(usage: dict[str, Any]) -> int:
    months = sum(int(m.get("usedMb", "0")) for m in usage.get("previousMonths", []))
    return int(usage.get("usedThisMonthMb", "0")) + months


async def test_a_sim_line_from_order_to_cancellation(
    gateway: httpx.AsyncClient,
    hanako: dict[str, str],
    yuki: dict[str, str],
    sf: SalesforceClient,
    freebit: httpx.AsyncClient,
) -> None:
    order_id = await _order_sim(gateway, hanako)
    async with gateway.stream("GET", "/v1/orders:watch", headers=hanako, timeout=90) as stream:
        events = _sse(stream)
        assert (await anext(events)).get("heartbeat") is True
        await sf.update("Order", order_id, {"Status": "Approved"})  # staff approve it
        activated = await _sim_event(events, "SIM_STATUS_ACTIVE")
    msisdn = activated["msisdn"]
    assert activated["orderId"] == order_id

    # Listed with its plan, from Salesforce's write-back joined with Freebit's state.
    sims = (await gateway.get("/v1/sims", headers=hanako)).json()["sims"]
    line = next(s for s in sims if s["msisdn"] == msisdn)
    assert (line["planName"], line["planCode"]) == ("SIM Data 10GB", "PNEW_10G")
    assert line["simType"] == "SIM_TYPE_ESIM" and line["status"] == "SIM_STATUS_ACTIVE"
    assert line["activatedOn"]
    assert (await sf.get("Order", order_id))["SIM_Account__c"] == msisdn

    # Usage: cached, a refresh inside the throttle answers the same figures, later ones grow.
    first = await _usage(gateway, hanako, msisdn)
    assert first["hasQuota"] is True and first["msisdn"] == msisdn
    assert int(first["remainingQuotaMb"]) == 10 * 1024 - int(first.get("usedThisMonthMb", "0"))
    await freebit.post("/__sandbox/clock", json={"days": 3})
    assert await _usage(gateway, hanako, msisdn) == first  # cached
    assert await _usage(gateway, hanako, msisdn, refresh=True) == first  # throttled
    await asyncio.sleep(5.1)  # past the stack's 5 s refresh throttle
    grown = await _usage(gateway, hanako, msisdn, refresh=True)
    assert _total(grown) > _total(first) and grown["fetchedAt"] > first["fetchedAt"]

    # Another customer: NOT_FOUND, exactly like a number nobody has.
    absent = "080" + f"{uuid.uuid4().int % 10**8:08d}"
    for path in (f"/v1/sims/{msisdn}/usage", f"/v1/sims/{absent}/usage"):
        refused = await gateway.get(path, headers=yuki)
        assert refused.status_code == 404, refused.text
    theirs = await gateway.get(f"/v1/sims/{msisdn}/usage", headers=yuki)
    nobody = await gateway.get(f"/v1/sims/{absent}/usage", headers=yuki)
    assert theirs.content == nobody.content
    assert msisdn not in (await gateway.get("/v1/sims", headers=yuki)).text

    # Cancellation at the end of next month (this month's end may be behind the moved sandbox
    # clock): a Case for staff, Freebit cancel pending.
    today = datetime.now(JST).date()
    run = _month_end(_month_end(today) + timedelta(days=1))
    request = {"requestId": f"cancel-{uuid.uuid4().hex[:10]}", "runDate": run.isoformat()}
    async with gateway.stream("GET", "/v1/orders:watch", headers=hanako, timeout=90) as stream:
        events = _sse(stream)
        assert (await anext(events)).get("heartbeat") is True
        done = await gateway.post(f"/v1/sims/{msisdn}:cancel", headers=hanako, json=request)
        assert done.status_code == 200, done.text
        assert done.json()["sim"]["status"] == "SIM_STATUS_CANCELLATION_PENDING"
        assert done.json()["sim"]["cancellationDate"] == run.isoformat()
        again = await gateway.post(f"/v1/sims/{msisdn}:cancel", headers=hanako, json=request)
        assert again.status_code == 200 and again.json() == done.json()  # same request id
        other = {**request, "requestId": f"cancel-{uuid.uuid4().hex[:10]}"}
        pending = await gateway.post(f"/v1/sims/{msisdn}:cancel", headers=hanako, json=other)
        assert pending.status_code == 400
        assert pending.json()["details"][0]["reason"] == "SIM_CANCELLATION_PENDING"
        cases = await sf.query(soql(
            "SELECT Id, CaseNumber, Origin, Type, Status FROM Case WHERE Subject = {}",
            f"SIM cancellation request: {msisdn}",
        ))  # fmt: skip
        assert len(cases) == 1 and cases[0]["CaseNumber"] == done.json()["caseNumber"]
        assert (cases[0]["Origin"], cases[0]["Type"]) == ("Portal Website", "SIM Cancellation")
        lines = (await freebit.get("/__sandbox/lines")).json()["lines"]
        assert lines[msisdn]["state"] == "cancelling"

        # The date passes at Freebit: the line is cancelled and the customer is told.
        sandbox_today = date.fromisoformat((await freebit.get("/__sandbox/clock")).json()["today"])
        await freebit.post("/__sandbox/clock", json={"days": (run - sandbox_today).days + 1})
        cancelled = await _sim_event(events, "SIM_STATUS_CANCELLED")
    assert cancelled["msisdn"] == msisdn
    sims = (await gateway.get("/v1/sims", headers=hanako)).json()["sims"]
    assert next(s for s in sims if s["msisdn"] == msisdn)["status"] == "SIM_STATUS_CANCELLED"
    usage = await gateway.get(f"/v1/sims/{msisdn}/usage", headers=hanako)
    assert usage.status_code == 400 and usage.json()["details"][0]["reason"] == "SIM_CANCELLED"
    late = {**request, "requestId": f"cancel-{uuid.uuid4().hex[:10]}"}
    refused = await gateway.post(f"/v1/sims/{msisdn}:cancel", headers=hanako, json=late)
    assert refused.json()["details"][0]["reason"] == "SIM_CANCELLED", refused.text


async def test_cancel_input_is_checked(gateway: httpx.AsyncClient, hanako: dict[str, str]) -> None:
    sims = (await gateway.get("/v1/sims", headers=hanako)).json().get("sims", [])
    msisdn = sims[0]["msisdn"] if sims else "08000000000"
    today = datetime.now(JST).date()
    for run_date in ("", "tomorrow", (today.replace(day=1)).isoformat(),
                     _month_end(today.replace(day=1) - timedelta(days=1)).isoformat(),
                     _month_end(today + timedelta(days=500)).isoformat()):  # fmt: skip
        body = {"requestId": "r-1", "runDate": run_date}
        response = await gateway.post(f"/v1/sims/{msisdn}:cancel", headers=hanako, json=body)
        assert response.status_code == 400, (run_date, response.text)
        detail = response.json()["details"]
        assert detail[0]["reason"] == "VALIDATION_FAILED"
        assert any(d.get("fieldViolations") for d in detail), response.text


async def test_freebit_down_is_a_friendly_503_for_usage(
    gateway: httpx.AsyncClient,
    hanako: dict[str, str],
    freebit: httpx.AsyncClient,
    sf: SalesforceClient,
) -> None:
    account = (await sf.query("SELECT Id FROM Account WHERE SF_Account_No__c = 'AC-000101'"))[0]
    msisdn = "080" + f"{uuid.uuid4().int % 10**8:08d}"
    await sf.create("Order", {
        "AccountId": account["Id"], "EffectiveDate": date.today().isoformat(),
        "Status": "Pending Review", "SIM_Account__c": msisdn, "SIM_Type__c": "Physical",
    })  # fmt: skip
    fault = {"mode": "unavailable", "seconds": 30}
    assert (await freebit.post("/__sandbox/faults", json=fault)).status_code == 200
    try:
        for path in (f"/v1/sims/{msisdn}/usage?refresh=true", "/v1/sims"):
            response = await gateway.get(path, headers=hanako)
            assert response.status_code == 503, response.text
            body = response.json()
            assert body["details"][0]["reason"] == "UPSTREAM_UNAVAILABLE"
            assert "sims" not in body and "usage" not in body  # nothing partial
    finally:
        await freebit.post("/__sandbox/faults", json={"mode": "none"})
    # Back once Freebit is: the client's breaker lets a probe through after its cooldown (30 s),
    # and the session's later tests need the stack as it was.
    recovered = await _until(
        lambda: gateway.get("/v1/sims", headers=hanako), lambda r: r.status_code == 200
    )
    assert recovered.status_code == 200, recovered.text
    # A line Salesforce names and Freebit does not know: NOT_FOUND, and no Case is opened.
    assert (await gateway.get(f"/v1/sims/{msisdn}/usage", headers=hanako)).status_code == 404
    run = _month_end(_month_end(datetime.now(JST).date()) + timedelta(days=1))
    body = {"requestId": f"cancel-{uuid.uuid4().hex[:10]}", "runDate": run.isoformat()}
    lost = await gateway.post(f"/v1/sims/{msisdn}:cancel", headers=hanako, json=body)
    assert lost.status_code == 404, lost.text
    subject = f"SIM cancellation request: {msisdn}"
    assert await sf.query(soql("SELECT Id FROM Case WHERE Subject = {}", subject)) == []
