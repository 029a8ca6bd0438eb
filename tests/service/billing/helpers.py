"""Helpers of the billing service tests: sandbox control, a directory double, a signed caller."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import httpx
from portal.billing.v1 import billing_pb2_grpc
from portal.identity.v1 import account_directory_pb2 as dpb
from portal.identity.v1 import account_directory_pb2_grpc

from tests.helpers import tokens
from tests.helpers.grpc_errors import error_info, status_of
from tests.helpers.sandboxes import SandboxControl


class WhmcsControl(SandboxControl):
    """The WHMCS sandbox's ``/__sandbox/`` surface (call counters as a ``Counter``, to subtract)
    and its API as WHMCS staff would use it."""

    def __init__(self, base_url: str, identifier: str = "portal-dev") -> None:
        super().__init__(base_url)
        self.identifier = identifier

    async def calls(self) -> Counter[str]:  # type: ignore[override]
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as http:
            return Counter((await http.get("/__sandbox/stats")).json()["calls"])

    async def api(self, action: str, **params: Any) -> dict[str, Any]:
        form = {"action": action, "responsetype": "json", "identifier": self.identifier}
        form |= {"secret": "portal-dev-secret", **{k: str(v) for k, v in params.items()}}
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as http:
            body = (await http.post("/includes/api.php", data=form)).json()
        assert body["result"] == "success", body
        return dict(body)


@dataclass
class DirectoryDouble(account_directory_pb2_grpc.AccountDirectoryServiceServicer):
    """identity's directory for fixed users (client id 0 = a user without a WHMCS link)."""

    users: dict[str, int]
    calls: Counter[str] = field(default_factory=Counter)

    async def GetAccountLinks(
        self, request: dpb.GetAccountLinksRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> dpb.GetAccountLinksResponse:
        self.calls["GetAccountLinks"] += 1
        if request.user_id not in self.users:
            await context.abort(grpc.StatusCode.NOT_FOUND, "Not found.")
        links = dpb.AccountLinks(
            user_id=request.user_id, whmcs_client_id=self.users[request.user_id]
        )
        return dpb.GetAccountLinksResponse(links=links)

    async def GetUserByWhmcsClient(
        self, request: dpb.GetUserByWhmcsClientRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> dpb.GetUserByWhmcsClientResponse:
        self.calls["GetUserByWhmcsClient"] += 1
        for user_id, client_id in self.users.items():
            if client_id and client_id == request.whmcs_client_id:
                links = dpb.AccountLinks(user_id=user_id, whmcs_client_id=client_id)
                return dpb.GetUserByWhmcsClientResponse(links=links)
        await context.abort(grpc.StatusCode.NOT_FOUND, "Not found.")
        raise AssertionError("unreachable")


@dataclass
class Directory:
    server: grpc.aio.Server
    port: int
    double: DirectoryDouble

    @property
    def users(self) -> dict[str, int]:
        return self.double.users

    async def stop(self) -> None:
        await self.server.stop(grace=0.5)


async def start_directory(users: dict[str, int]) -> Directory:
    server = grpc.aio.server()
    double = DirectoryDouble(dict(users))
    account_directory_pb2_grpc.add_AccountDirectoryServiceServicer_to_server(double, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return Directory(server, port, double)


@dataclass
class Caller:
    """A signed-in user calling billing over gRPC with a token signed by the test keys."""

    channel: grpc.aio.Channel
    keys_dir: Path
    user_id: str

    @property
    def stub(self) -> billing_pb2_grpc.BillingServiceStub:
        return billing_pb2_grpc.BillingServiceStub(self.channel)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {tokens.sign(self.keys_dir, self.user_id)}"),)

    async def call(self, method: str, request: Any) -> Any:
        return await getattr(self.stub, method)(request, metadata=self.metadata)

    async def fails(self, method: str, request: Any) -> tuple[grpc.StatusCode, str, str]:
        """Call expecting an error: (code, reason, message)."""
        call = getattr(self.stub, method)(request, metadata=self.metadata)
        try:
            await call
        except grpc.aio.AioRpcError as exc:
            status = await status_of(call)
            assert status is not None
            return exc.code(), error_info(status).reason, status.message
        raise AssertionError(f"{method} succeeded")


def webhook_body(
    client_id: int | str, event: str = "InvoicePaid", *, occurred: datetime | None = None,
    event_id: str | None = None, **data: Any,
) -> bytes:  # fmt: skip
    moment = (occurred or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = {"id": event_id or f"evt_{uuid.uuid4().hex}", "event": event,
               "occurredAt": moment, "clientId": str(client_id), "data": data}  # fmt: skip
    return json.dumps(payload).encode()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
