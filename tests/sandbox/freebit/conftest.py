"""Freebit sandbox tests: an in-process sandbox on port 0 and a client for its wire format."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.freebit import RunningFreebit, start_freebit

OEM = {"oemId": "PORTALDEV", "oemKey": "portal-dev-key"}
ACTIVATION_DELAY = 0.15


class Freebit:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.auth_key = ""

    async def post(self, path: str, body: dict[str, Any], **form: str) -> httpx.Response:
        return await self.client.post(
            f"/emptool/api/{path}/", data={"json": json.dumps(body), **form}
        )

    async def call(self, path: str, body: dict[str, Any] | None = None, **form: str) -> dict:
        if not self.auth_key:
            await self.login()
        response = await self.post(path, {"authKey": self.auth_key, **(body or {})}, **form)
        assert response.status_code == 200, response.text
        return response.json()

    async def login(self) -> str:
        response = await self.post("authOem", OEM)
        body = response.json()
        assert body["resultCode"] == "100", body
        self.auth_key = body["authKey"]
        return self.auth_key


def esim_request(**overrides: str) -> dict[str, str]:
    return {
        "eid": "89049032000001000000012345678901",
        "simKind": "E2",
        "addKind": "N",
        "planCode": "PNEW_10G",
        "account": "08012345678",
        "aladinOperated": "10",
        "createType": "1",
        "contractLine": "5G",
        **overrides,
    }


def physical_request(**overrides: str) -> dict[str, str]:
    return {
        "masterAccount": "PORTALDEVM",
        "masterPassword": "master-pass",
        "account": "09011112222",
        "productNumber": "AB1234567890XYZ",
        "planCode": "PNEW_3G",
        "shipDate": "20261201",
        **overrides,
    }


def detail(body: dict) -> dict:
    assert body["resultCode"] == "100", body
    return body["responseDatas"][0]


@pytest.fixture
async def freebit_sandbox() -> AsyncIterator[RunningFreebit]:
    running = await start_freebit(port=0, activation_delay=ACTIVATION_DELAY, cancel_delay=0.1)
    yield running
    await running.stop()


@pytest.fixture
async def http(freebit_sandbox: RunningFreebit) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=freebit_sandbox.url, timeout=10) as client:
        yield client


@pytest.fixture
def fb(http: httpx.AsyncClient) -> Freebit:
    return Freebit(http)
