"""Activation to completion, duplicates, format checks, the 400-356 rule, cancel and traffic."""

from __future__ import annotations

import asyncio

import pytest

from .conftest import ACTIVATION_DELAY, detail, esim_request, physical_request


async def _state(fb, account: str) -> str:
    body = await fb.call(
        "master/getAcnt", {"version": "2", "requestDatas": [{"kind": "MVNO", "account": account}]}
    )
    return detail(body)["state"]


async def test_esim_activation_completes(fb):
    body = await fb.call("mvno/esim/addAcnt", esim_request())
    assert body["resultCode"] == "100" and body["account"] == "08012345678"
    assert await _state(fb, "08012345678") == "requested"
    await asyncio.sleep(ACTIVATION_DELAY + 0.05)
    line = detail(
        await fb.call(
            "master/getAcnt",
            {"version": "2", "requestDatas": [{"kind": "MVNO", "account": "08012345678"}]},
        )
    )
    assert line["state"] == "active" and line["simType"] == "esim"
    assert line["eid"] == esim_request()["eid"] and line["planCode"] == "PNEW_10G"


async def test_physical_activation_completes(fb, freebit_sandbox):
    body = await fb.call("master/addAcnt", physical_request())
    assert body["resultCode"] == "100"
    assert await _state(fb, "09011112222") == "requested"
    await asyncio.sleep(ACTIVATION_DELAY + 0.05)
    assert await _state(fb, "09011112222") == "active"
    assert freebit_sandbox.registry.lines["09011112222"].product_number == "AB1234567890XYZ"


async def test_version_as_form_field(fb):
    await fb.call("mvno/esim/addAcnt", esim_request())
    body = await fb.call(
        "master/getAcnt",
        {"requestDatas": [{"kind": "MVNO", "account": "08012345678"}]},
        version="2",
    )
    assert detail(body)["account"] == "08012345678"
    bad = await fb.call(
        "master/getAcnt",
        {"version": "1", "requestDatas": [{"kind": "MVNO", "account": "08012345678"}]},
    )
    assert bad["status"]["statusCode"] == "400-003"


async def test_duplicate_activations_are_refused(fb):
    assert (await fb.call("mvno/esim/addAcnt", esim_request()))["resultCode"] == "100"
    same_eid = await fb.call("mvno/esim/addAcnt", esim_request(account="08099998888"))
    assert same_eid["status"]["statusCode"] == "400-310"
    same_account = await fb.call(
        "mvno/esim/addAcnt", esim_request(eid="89049032000001000000099999999999")
    )
    assert same_account["status"]["statusCode"] == "400-312"
    assert (await fb.call("master/addAcnt", physical_request()))["resultCode"] == "100"
    same_product = await fb.call("master/addAcnt", physical_request(account="09033334444"))
    assert same_product["status"]["statusCode"] == "400-311"


async def test_aladin_operated_needs_new_contract(fb):
    body = await fb.call("mvno/esim/addAcnt", esim_request(addKind="M", aladinOperated="10"))
    assert body["resultCode"] != "100"
    assert body["status"]["statusCode"] == "400-356"
    mnp = await fb.call("mvno/esim/addAcnt", esim_request(addKind="M", aladinOperated="20"))
    assert mnp["resultCode"] == "100"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("eid", "1234"),
        ("eid", "8904903200000100000001234567890X"),
        ("simKind", "E9"),
        ("addKind", "X"),
        ("aladinOperated", "1"),
        ("contractLine", "3G"),
        ("account", "12345"),
    ],
)
async def test_esim_format_errors(fb, field, value):
    body = await fb.call("mvno/esim/addAcnt", esim_request(**{field: value}))
    assert body["status"]["statusCode"] == "400-003"
    assert field in body["status"]["message"]


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("shipDate", "2026-12-01", "400-003"),
        ("shipDate", "20261332", "400-003"),
        ("productNumber", "SHORT", "400-003"),
        ("planCode", "PNEW_99G", "400-110"),
        ("masterAccount", "", "400-002"),
    ],
)
async def test_physical_format_errors(fb, field, value, code):
    body = await fb.call("master/addAcnt", physical_request(**{field: value}))
    assert body["status"]["statusCode"] == code


async def test_missing_field(fb):
    request = esim_request()
    del request["eid"]
    body = await fb.call("mvno/esim/addAcnt", request)
    assert body["status"]["statusCode"] == "400-002" and "eid" in body["status"]["message"]


async def test_reissue_needs_an_active_line(fb):
    base = esim_request(aladinOperated="20")
    reissue = {**base, "addKind": "R", "eid": "89049032000001000000055555555555"}
    assert (await fb.call("mvno/esim/addAcnt", reissue))["status"]["statusCode"] == "400-320"
    await fb.call("mvno/esim/addAcnt", base)
    assert (await fb.call("mvno/esim/addAcnt", reissue))["status"]["statusCode"] == "400-322"
    await asyncio.sleep(ACTIVATION_DELAY + 0.05)
    assert (await fb.call("mvno/esim/addAcnt", reissue))["resultCode"] == "100"
    assert await _state(fb, base["account"]) == "requested"


async def test_cancel_then_number_can_be_reused(fb):
    await fb.call("mvno/esim/addAcnt", esim_request())
    body = await fb.call("master/cnclAcnt", {"kind": "MVNO", "account": "08012345678"})
    assert body["resultCode"] == "100"
    assert await _state(fb, "08012345678") == "cancelling"
    again = await fb.call("master/cnclAcnt", {"kind": "MVNO", "account": "08012345678"})
    assert again["status"]["statusCode"] == "400-323"  # already scheduled
    await asyncio.sleep(0.15)
    assert await _state(fb, "08012345678") == "cancelled"
    done = await fb.call("master/cnclAcnt", {"kind": "MVNO", "account": "08012345678"})
    assert done["status"]["statusCode"] == "400-321"  # already cancelled
    assert (await fb.call("mvno/esim/addAcnt", esim_request()))["resultCode"] == "100"
    unknown = await fb.call("master/cnclAcnt", {"kind": "MVNO", "account": "07000000000"})
    assert unknown["status"]["statusCode"] == "400-320"
    bad_date = await fb.call(
        "master/cnclAcnt", {"kind": "MVNO", "account": "08012345678", "runDate": "2026-13-01"}
    )
    assert bad_date["status"]["statusCode"] == "400-003"
    past = await fb.call(
        "master/cnclAcnt", {"kind": "MVNO", "account": "08012345678", "runDate": "2026-01-01"}
    )
    assert past["status"]["statusCode"] == "400-324"


async def test_future_run_date_waits(fb):
    await fb.call("mvno/esim/addAcnt", esim_request())
    await fb.call(
        "master/cnclAcnt", {"kind": "MVNO", "account": "08012345678", "runDate": "20991231"}
    )
    await asyncio.sleep(0.15)
    assert await _state(fb, "08012345678") == "cancelling"


async def test_traffic(fb):
    await fb.call("mvno/esim/addAcnt", esim_request())
    before = await fb.call("mvno/getTrafficInfo", {"account": "08012345678"})
    assert before["trafficInfo"]["thisMonth"] == "0"
    await asyncio.sleep(ACTIVATION_DELAY + 0.05)
    after = await fb.call("mvno/getTrafficInfo", {"account": "08012345678"})
    assert after["resultCode"] == "100"
    assert isinstance(after["trafficInfo"]["thisMonth"], str)
    assert after["trafficInfo"]["quota"] == str(10 * 1024 - int(after["trafficInfo"]["thisMonth"]))
    assert int(after["trafficInfo"]["thisMonth"]) >= int(after["trafficInfo"]["today"])
    not_found = await fb.call(
        "master/getAcnt",
        {"version": "2", "requestDatas": [{"kind": "MVNO", "account": "07011112222"}]},
    )
    assert not_found["status"]["statusCode"] == "400-320"
