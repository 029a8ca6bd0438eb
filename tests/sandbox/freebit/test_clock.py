"""The sandbox clock: traffic that grows as it moves, a scheduled cancellation that takes effect
when its run date passes, the account detail through every state, the result codes of a
cancelled or unknown line, and the clock's own control route."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import httpx

from sandbox.freebit.traffic import mb_per_day

from .conftest import ACTIVATION_DELAY, Freebit, detail, esim_request

ACCOUNT = "08012345678"
DAY = 86400


async def _detail(fb: Freebit) -> dict[str, Any]:
    body = await fb.call(
        "master/getAcnt", {"version": "2", "requestDatas": [{"kind": "MVNO", "account": ACCOUNT}]}
    )
    return detail(body)


async def _traffic(fb: Freebit, account: str = ACCOUNT) -> dict[str, Any]:
    return await fb.call("mvno/getTrafficInfo", {"account": account})


async def _advance(http: httpx.AsyncClient, **moved: float) -> dict[str, Any]:
    response = await http.post("/__sandbox/clock", json=moved)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _active_line(fb: Freebit) -> None:
    assert (await fb.call("mvno/esim/addAcnt", esim_request()))["resultCode"] == "100"
    await asyncio.sleep(ACTIVATION_DELAY + 0.05)
    assert (await _detail(fb))["state"] == "active"


async def test_traffic_grows_with_the_clock(fb: Freebit, http: httpx.AsyncClient) -> None:
    await _active_line(fb)
    first = (await _traffic(fb))["trafficInfo"]
    await _advance(http, days=2)
    later = (await _traffic(fb))["trafficInfo"]
    grown = int(later["thisMonth"]) + sum(int(m["used"]) for m in later["months"])
    before = int(first["thisMonth"]) + sum(int(m["used"]) for m in first["months"])
    rate = mb_per_day(ACCOUNT)
    assert 2 * rate - 2 <= grown - before <= 2 * rate  # two days at the line's rate, whole MB
    assert int(later["today"]) <= rate
    assert len(later["months"]) == 3 and all(len(m["month"]) == 6 for m in later["months"])


async def test_scheduled_cancellation_takes_effect_when_the_date_passes(
    fb: Freebit, http: httpx.AsyncClient
) -> None:
    await _active_line(fb)
    today = date.fromisoformat((await http.get("/__sandbox/clock")).json()["today"])
    run = (today.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    body = {"kind": "MVNO", "account": ACCOUNT, "runDate": f"{run:%Y%m%d}"}
    assert (await fb.call("master/cnclAcnt", body))["resultCode"] == "100"
    pending = await _detail(fb)
    assert pending["state"] == "cancelling" and pending["cancelDate"] == f"{run:%Y%m%d}"
    assert (await fb.call("master/cnclAcnt", body))["status"]["statusCode"] == "400-323"
    assert (await _traffic(fb))["resultCode"] == "100"  # still in use until the run date
    await _advance(http, days=(run - today).days + 1)
    assert (await _detail(fb))["state"] == "cancelled"
    assert (await _traffic(fb))["status"]["statusCode"] == "400-321"
    assert (await fb.call("master/cnclAcnt", body))["status"]["statusCode"] == "400-321"


async def test_unknown_line_codes(fb: Freebit) -> None:
    assert (await _traffic(fb, "07000000000"))["status"]["statusCode"] == "400-320"
    body = {"kind": "MVNO", "account": "07000000000"}
    assert (await fb.call("master/cnclAcnt", body))["status"]["statusCode"] == "400-320"


async def test_requested_line_has_no_traffic_and_no_start_date(fb: Freebit) -> None:
    await fb.call("mvno/esim/addAcnt", esim_request())
    assert "startDate" not in await _detail(fb)
    info = (await _traffic(fb))["trafficInfo"]
    assert (info["today"], info["thisMonth"]) == ("0", "0")


async def test_clock_only_moves_forward(http: httpx.AsyncClient) -> None:
    start = (await http.get("/__sandbox/clock")).json()
    assert start["offsetSeconds"] == 0
    for bad in ({"days": -1}, {}, {"seconds": "x"}, [1]):
        assert (await http.post("/__sandbox/clock", json=bad)).status_code == 400
    moved = await _advance(http, seconds=DAY)
    assert moved["offsetSeconds"] == DAY
    assert date.fromisoformat(moved["today"]) > date.fromisoformat(start["today"])
    await http.post("/__sandbox/reset")
    assert (await http.get("/__sandbox/clock")).json()["offsetSeconds"] == 0
