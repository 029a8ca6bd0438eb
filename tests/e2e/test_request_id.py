"""The request id of a call through the gateway reaches every service the call touches: support
asks identity's AccountDirectoryService for the caller's links on every case read (their e-mail
address finds the caller's Contact), and identity's log line carries the same id."""

from __future__ import annotations

import uuid

import httpx

from tests.helpers.accounts import HANAKO, auth_headers
from tests.helpers.logbook import LogBook


async def test_request_id_flows_through_service_to_service_calls(
    gateway: httpx.AsyncClient, logbook: LogBook
) -> None:
    headers = await auth_headers(gateway, "/v1/auth/link", HANAKO)
    request_id = f"e2e-s2s-{uuid.uuid4().hex}"
    response = await gateway.get("/v1/cases", headers={**headers, "x-request-id": request_id})
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == request_id

    support = await logbook.wait_json("support", request_id, within=20)
    assert any(line["method"].endswith("SupportService/ListCases") for line in support)
    identity = await logbook.wait_json("identity", request_id, within=20)
    assert identity, "identity logged nothing with the caller's request id"
    assert all(line["request_id"] == request_id for line in identity)
    assert any(line.get("method", "").endswith("AccountDirectoryService/GetAccountLinks")
               for line in identity)  # fmt: skip


async def test_a_call_without_a_request_id_gets_one_shared_downstream(
    gateway: httpx.AsyncClient, logbook: LogBook
) -> None:
    headers = await auth_headers(gateway, "/v1/auth/link", HANAKO)
    response = await gateway.get("/v1/cases", headers=headers)
    assert response.status_code == 200, response.text
    request_id = response.headers["x-request-id"]  # Envoy made one up
    assert await logbook.wait_json("support", request_id, within=20)
    assert await logbook.wait_json("identity", request_id, within=20)
