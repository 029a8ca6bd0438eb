"""authOem and authKey handling."""

from __future__ import annotations

import asyncio

import httpx

from sandbox.freebit import start_freebit

from .conftest import OEM, Freebit


async def test_auth_oem_issues_a_key(fb):
    response = await fb.post("authOem", OEM)
    body = response.json()
    assert response.status_code == 200
    assert body["resultCode"] == "100"
    assert body["status"] == {"message": "OK", "statusCode": "200"}
    assert isinstance(body["authKey"], str) and len(body["authKey"]) >= 16


async def test_bad_oem_credentials(fb):
    body = (await fb.post("authOem", {"oemId": "PORTALDEV", "oemKey": "wrong"})).json()
    assert body["resultCode"] != "100" and "authKey" not in body
    assert body["status"]["statusCode"] == "401-001"


async def test_calls_need_a_valid_auth_key(fb):
    body = (await fb.post("mvno/getTrafficInfo", {"account": "08012345678"})).json()
    assert body["resultCode"] == "211"
    body = (
        await fb.post("mvno/getTrafficInfo", {"authKey": "made-up", "account": "08012345678"})
    ).json()
    assert body["resultCode"] == "211" and body["status"]["statusCode"] == "401-002"


async def test_missing_or_broken_json(http):
    response = await http.post("/emptool/api/authOem/", data={"json": "{not json"})
    assert response.json()["status"]["statusCode"] == "400-001"
    response = await http.post("/emptool/api/authOem/", data={})
    assert response.json()["resultCode"] == "400"


async def test_unknown_path_is_404(http):
    assert (await http.post("/emptool/api/nope/", data={"json": "{}"})).status_code == 404


async def test_auth_key_expires_and_reauth_works():
    running = await start_freebit(port=0, auth_key_ttl=0.1, activation_delay=0)
    try:
        async with httpx.AsyncClient(base_url=running.url) as client:
            fb = Freebit(client)
            await fb.login()
            assert (await fb.call("mvno/getTrafficInfo", {"account": "08012345678"}))["status"][
                "statusCode"
            ] == "400-320"  # key accepted, account unknown
            await asyncio.sleep(0.15)
            expired = await fb.call("mvno/getTrafficInfo", {"account": "08012345678"})
            assert expired["resultCode"] == "211"
            await fb.login()
            again = await fb.call("mvno/getTrafficInfo", {"account": "08012345678"})
            assert again["resultCode"] == "400"
    finally:
        await running.stop()
