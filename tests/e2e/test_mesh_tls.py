"""Trust inside the mesh, end to end: every service port requires a client certificate from the
mesh CA, and answers each RPC only to the peers allowed to call it (services.common.peer_auth)."""

from __future__ import annotations

import asyncio
import subprocess

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from portal.billing.v1 import billing_pb2, billing_pb2_grpc
from portal.identity.v1 import account_directory_pb2 as directory_pb2
from portal.identity.v1 import account_directory_pb2_grpc as directory_grpc
from portal.identity.v1 import identity_pb2, identity_pb2_grpc

from tests.helpers.grpc_errors import error_info, status_of
from tests.helpers.mesh import GRPCURL, channel_as
from tools.stack import Stack

pytestmark = pytest.mark.e2e

DIRECTORY = "portal.identity.v1.AccountDirectoryService/GetUserByWhmcsClient"


async def test_plaintext_call_to_a_service_port_gets_nothing(stack: Stack) -> None:
    """The reproduction: grpcurl -plaintext to identity's port returned a customer's links."""
    port = stack.config.ports.service("identity")
    result = await asyncio.to_thread(
        subprocess.run,
        [GRPCURL, "-plaintext", "-d", '{"whmcs_client_id":1}', f"127.0.0.1:{port}", DIRECTORY],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode != 0
    assert "userId" not in result.stdout and "email" not in result.stdout


@pytest.mark.parametrize("service", ["identity", "billing", "commerce", "support"])
async def test_tls_without_a_client_certificate_is_refused(stack: Stack, service: str) -> None:
    async with channel_as(stack, service, None) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("caller", ["billing", "commerce", "support"])
async def test_account_directory_answers_the_services_of_the_call_graph(
    stack: Stack, caller: str
) -> None:
    async with channel_as(stack, "identity", caller) as channel:
        stub = directory_grpc.AccountDirectoryServiceStub(channel)
        request = directory_pb2.GetUserByWhmcsClientRequest(whmcs_client_id=987654321)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.GetUserByWhmcsClient(request, timeout=5)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND  # an answer: nobody has that client


@pytest.mark.parametrize("caller", ["gateway", "operator", "identity"])
async def test_account_directory_refuses_other_mesh_peers(stack: Stack, caller: str) -> None:
    async with channel_as(stack, "identity", caller) as channel:
        stub = directory_grpc.AccountDirectoryServiceStub(channel)
        call = stub.GetUserByWhmcsClient(
            directory_pb2.GetUserByWhmcsClientRequest(whmcs_client_id=1), timeout=5
        )
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    status = await status_of(call)
    assert status is not None and error_info(status).reason == "PEER_NOT_ALLOWED"


@pytest.mark.parametrize("caller", ["support", "identity", "gateway", "operator"])
async def test_billing_internal_service_answers_only_commerce(stack: Stack, caller: str) -> None:
    """GetCheckoutProfile (a customer's name, phone and address) is for commerce alone."""
    async with channel_as(stack, "billing", caller) as channel:
        stub = billing_pb2_grpc.BillingInternalServiceStub(channel)
        call = stub.GetCheckoutProfile(billing_pb2.GetCheckoutProfileRequest(), timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_billing_internal_service_answers_commerce(stack: Stack) -> None:
    async with channel_as(stack, "billing", "commerce") as channel:
        stub = billing_pb2_grpc.BillingInternalServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.GetCheckoutProfile(billing_pb2.GetCheckoutProfileRequest(), timeout=5)
    # Past the peer check: the (empty) request itself is what is refused.
    assert err.value.code() != grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize("caller", ["billing", "operator"])
async def test_public_rpcs_are_answered_only_through_the_gateway(stack: Stack, caller: str) -> None:
    """A mesh peer other than Envoy cannot call identity's public RPCs on its port, so it cannot
    pose as a client address either (x-forwarded-for is taken only from the gateway)."""
    async with channel_as(stack, "identity", caller) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        request = identity_pb2.LoginRequest(email="nobody@example.com", password="x" * 12)
        metadata = (("x-forwarded-for", "203.0.113.7"),)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Login(request, metadata=metadata, timeout=5)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_health_answers_any_mesh_certificate(stack: Stack) -> None:
    async with channel_as(stack, "support", "operator") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
