"""The /__sandbox/ surface on WHMCS: stats by action, reset, and every fault knob."""

from __future__ import annotations

import asyncio
import time

from tests.sandbox.whmcs.test_api_clients import NEW_CLIENT


async def _arm(http, **fault):
    response = await http.post("/__sandbox/faults", json=fault)
    assert response.status_code == 200, response.text
    return response.json()


async def test_stats_count_by_action_and_reset_restores_seed(http, api, whmcs):
    await api.ok("GetInvoices", userid=1)
    await api.ok("GetInvoices", userid=1)
    await api.ok("AddClient", NEW_CLIENT)
    await api.call("GetInvoices", creds=False)
    stats = (await http.get("/__sandbox/stats")).json()
    assert stats == {"calls": {"GetInvoices": 3, "AddClient": 1}}
    assert 5 in whmcs.store.clients
    await _arm(http, mode="unavailable", count=5)
    assert (await http.post("/__sandbox/reset")).json() == {"reset": True}
    assert (await http.get("/__sandbox/stats")).json() == {"calls": {}}
    assert 5 not in whmcs.store.clients
    await api.ok("GetInvoices", userid=1)  # faults cleared
    again = await api.ok("AddClient", NEW_CLIENT)
    assert again["clientid"] == "5"  # id sequences restarted too


async def test_unavailable_answers_html_500_then_recovers(http, api):
    await _arm(http, mode="unavailable", count=2)
    for _ in range(2):
        response = await api.call("GetInvoices", userid=1)
        assert response.status_code == 500
        assert response.headers["content-type"].startswith("text/html")
        assert "<html>" in response.text
    assert (await api.call("GetInvoices", userid=1)).status_code == 200


async def test_unavailable_with_503_status_for_one_action(http, api):
    await _arm(http, mode="unavailable", action="GetPayMethods", status=503, seconds=30)
    assert (await api.call("GetPayMethods", clientid=1)).status_code == 503
    assert (await api.call("GetPayMethods", clientid=1)).status_code == 503
    await api.ok("GetInvoices", userid=1)  # other actions are unaffected
    await _arm(http, mode="none")
    await api.ok("GetPayMethods", clientid=1)


async def test_fault_bounded_by_seconds(http, api):
    await _arm(http, mode="unavailable", seconds=0.2)
    assert (await api.call("GetInvoices")).status_code == 500
    await asyncio.sleep(0.25)
    assert (await api.call("GetInvoices")).status_code == 200


async def test_latency(http, api):
    await _arm(http, mode="latency", latency_ms=150, action="GetInvoice")
    started = time.perf_counter()
    body = await api.ok("GetInvoice", invoiceid=1003)
    assert time.perf_counter() - started >= 0.15
    assert body["invoiceid"] == 1003
    started = time.perf_counter()
    await api.ok("GetInvoice", invoiceid=1003)
    assert time.perf_counter() - started < 0.15


async def test_expire_session_refuses_credentials(http, api):
    await _arm(http, mode="expire_session", action="ValidateLogin")
    refused = await api.call(
        "ValidateLogin", email="hanako.yamada@example.jp", password2="demo-password-1"
    )
    assert refused.status_code == 403
    assert refused.json() == {"result": "error", "message": "Authentication Failed"}
    await api.ok("ValidateLogin", email="hanako.yamada@example.jp", password2="demo-password-1")


async def test_business_error(http, api, whmcs):
    await _arm(http, mode="business_error", action="AddOrder", message="Gateway timeout at WHMCS")
    form = [("clientid", "1"), ("paymentmethod", "mailin"), ("pid[0]", "301")]
    assert await api.error("AddOrder", form) == "Gateway timeout at WHMCS"
    assert len(whmcs.store.orders) == 1  # nothing was created
    await api.ok("AddOrder", form)


async def test_rate_limit(http, api):
    await _arm(http, mode="rate_limit", count=1)
    limited = await api.call("GetClientsDetails", clientid=1)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    await api.ok("GetClientsDetails", clientid=1)


async def test_bad_fault_body(http):
    response = await http.post("/__sandbox/faults", json={"mode": "explode"})
    assert response.status_code == 400
