"""The /__sandbox/ surface on Freebit: stats by path, reset, and every fault knob."""

from __future__ import annotations

import time

from .conftest import esim_request


async def _arm(http, **fault):
    response = await http.post("/__sandbox/faults", json=fault)
    assert response.status_code == 200, response.text
    return response.json()


async def test_stats_by_path_and_reset(http, fb, freebit_sandbox):
    await fb.call("mvno/esim/addAcnt", esim_request())
    await fb.call("mvno/getTrafficInfo", {"account": "08012345678"})
    stats = (await http.get("/__sandbox/stats")).json()
    assert stats == {"calls": {"authOem": 1, "mvno/esim/addAcnt": 1, "mvno/getTrafficInfo": 1}}
    lines = (await http.get("/__sandbox/lines")).json()["lines"]
    assert lines["08012345678"]["kind"] == "esim"
    await http.post("/__sandbox/reset")
    assert (await http.get("/__sandbox/stats")).json() == {"calls": {}}
    assert freebit_sandbox.registry.lines == {}
    expired = await fb.call("mvno/getTrafficInfo", {"account": "08012345678"})
    assert expired["resultCode"] == "211"  # reset also forgets the auth keys


async def test_unavailable(http, fb):
    await fb.login()
    await _arm(http, mode="unavailable", action="mvno/esim/addAcnt", count=1)
    response = await fb.post("mvno/esim/addAcnt", {"authKey": fb.auth_key, **esim_request()})
    assert response.status_code == 503 and "text/html" in response.headers["content-type"]
    assert (await fb.call("mvno/esim/addAcnt", esim_request()))["resultCode"] == "100"


async def test_unavailable_other_status(http, fb):
    await _arm(http, mode="unavailable", status=502, count=1)
    response = await fb.post("authOem", {"oemId": "PORTALDEV", "oemKey": "portal-dev-key"})
    assert response.status_code == 502


async def test_latency(http, fb):
    await fb.login()
    await _arm(http, mode="latency", latency_ms=150, action="mvno/getTrafficInfo")
    started = time.perf_counter()
    body = await fb.call("mvno/getTrafficInfo", {"account": "08012345678"})
    assert time.perf_counter() - started >= 0.15
    assert body["status"]["statusCode"] == "400-320"  # the call itself still ran


async def test_expire_session_kills_the_key(http, fb):
    await fb.login()
    await _arm(http, mode="expire_session", count=1)
    first = await fb.call("mvno/esim/addAcnt", esim_request())
    assert first["resultCode"] == "211"
    again = await fb.call("mvno/esim/addAcnt", esim_request())
    assert again["resultCode"] == "211"  # the key stays dead after the fault is used up
    await fb.login()  # authOem is never hit by expire_session
    assert (await fb.call("mvno/esim/addAcnt", esim_request()))["resultCode"] == "100"


async def test_expire_session_does_not_block_auth(http, fb):
    await _arm(http, mode="expire_session", count=1)
    await fb.login()
    body = await fb.call("mvno/getTrafficInfo", {"account": "08012345678"})
    assert body["resultCode"] == "211"


async def test_business_error_with_result_code(http, fb, freebit_sandbox):
    await fb.login()
    await _arm(
        http, mode="business_error", action="mvno/esim/addAcnt", result_code="400-356", count=1
    )
    body = await fb.call("mvno/esim/addAcnt", esim_request(aladinOperated="20"))
    assert body["resultCode"] == "400" and body["status"]["statusCode"] == "400-356"
    assert freebit_sandbox.registry.lines == {}
    await _arm(http, mode="business_error", result_code="400-999", message="odd", count=1)
    custom = await fb.call("mvno/getTrafficInfo", {"account": "08012345678"})
    assert custom == {"resultCode": "400", "status": {"message": "odd", "statusCode": "400-999"}}
    await _arm(http, mode="business_error", count=1)
    default = await fb.call("mvno/getTrafficInfo", {"account": "08012345678"})
    assert default["status"]["statusCode"] == "500-001"


async def test_rate_limit(http, fb):
    await fb.login()
    await _arm(http, mode="rate_limit", seconds=30, action="mvno/getTrafficInfo")
    response = await fb.post(
        "mvno/getTrafficInfo", {"authKey": fb.auth_key, "account": "08012345678"}
    )
    assert response.status_code == 429 and response.json()["status"]["statusCode"] == "429-001"
    await _arm(http, mode="none")
    body = await fb.call("mvno/getTrafficInfo", {"account": "08012345678"})
    assert body["status"]["statusCode"] == "400-320"
