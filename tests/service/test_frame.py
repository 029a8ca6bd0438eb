"""The service frame over real gRPC sockets: error mapping, request context, UNIMPLEMENTED
defaults, health and reflection, with an in-process server on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from portal.commerce.v1 import orders_pb2, orders_pb2_grpc
from portal.support.v1 import support_pb2, support_pb2_grpc

from services.common import context, errors
from services.common.methods import service_names
from services.common.server import GrpcServer, create_server
from services.common.settings import ServiceSettings
from services.common.unimplemented import fill_unimplemented
from tests.helpers.fixtures import dev_keys_fixture
from tests.helpers.grpc_errors import bad_request, error_info, status_of
from tests.helpers.grpc_servers import started
from tests.helpers.tokens import sign


@fill_unimplemented(support_pb2.DESCRIPTOR.services_by_name["SupportService"])
class RaisingSupport(support_pb2_grpc.SupportServiceServicer):
    """Each RPC exercises one path of the frame."""

    async def CreateCase(self, request: Any, ctx: Any) -> Any:
        raise errors.ValidationFailed.of("subject", "Subject must not be empty.")

    async def GetCase(self, request: Any, ctx: Any) -> Any:
        raise errors.NotFound("Case not found.")

    async def ListCases(self, request: Any, ctx: Any) -> Any:
        raise RuntimeError("db password=hunter2 leaked in a message")

    async def AddCaseComment(self, request: Any, ctx: Any) -> Any:
        # Echo what the request context bound, so the test can see it.
        return support_pb2.AddCaseCommentResponse(
            comment=support_pb2.CaseComment(id=context.request_id.get(), body=request.body)
        )


@fill_unimplemented(orders_pb2.DESCRIPTOR.services_by_name["OrderService"])
class StreamingOrders(orders_pb2_grpc.OrderServiceServicer):
    async def WatchOrders(self, request: Any, ctx: Any) -> AsyncIterator[Any]:
        yield orders_pb2.WatchOrdersResponse(order=orders_pb2.Order(id="801A"))
        raise errors.UpstreamUnavailable()


keys = dev_keys_fixture("keys", scope="module")


@pytest.fixture(scope="module")
async def server(keys: Path) -> AsyncIterator[GrpcServer]:
    def register(srv: grpc.aio.Server) -> None:
        support_pb2_grpc.add_SupportServiceServicer_to_server(RaisingSupport(), srv)
        orders_pb2_grpc.add_OrderServiceServicer_to_server(StreamingOrders(), srv)

    names = [*service_names("support"), *service_names("commerce")]
    settings = ServiceSettings(port=0, jwks_file=keys / "jwks.json")
    built = create_server(settings, services=names, register=register)
    async with started(built):
        yield built


@pytest.fixture
def auth(keys: Path) -> tuple[tuple[str, str]]:
    """A valid access token (these tests are about the frame, not about auth)."""
    return (("authorization", f"Bearer {sign(keys)}"),)


async def _fail(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value


async def test_validation_error_carries_error_info_and_field_violations(
    channel: Any, auth: Any
) -> None:
    call = support_pb2_grpc.SupportServiceStub(channel).CreateCase(
        support_pb2.CreateCaseRequest(), metadata=auth
    )
    err = await _fail(call)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = await status_of(call)
    assert status is not None
    assert error_info(status).reason == "VALIDATION_FAILED"
    assert error_info(status).domain == "portal"
    violations = bad_request(status)
    assert violations is not None
    assert [(v.field, v.description) for v in violations.field_violations] == [
        ("subject", "Subject must not be empty.")
    ]


async def test_not_found_keeps_its_user_message(channel: Any, auth: Any) -> None:
    call = support_pb2_grpc.SupportServiceStub(channel).GetCase(
        support_pb2.GetCaseRequest(case_id="500x"), metadata=auth
    )
    err = await _fail(call)
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert err.details() == "Case not found."
    status = await status_of(call)
    assert status is not None and error_info(status).reason == "NOT_FOUND"


async def test_unexpected_exception_is_generic_internal_and_logged(channel: Any, auth: Any) -> None:
    with structlog.testing.capture_logs() as logs:
        call = support_pb2_grpc.SupportServiceStub(channel).ListCases(
            support_pb2.ListCasesRequest(), metadata=auth
        )
        err = await _fail(call)
    assert err.code() == grpc.StatusCode.INTERNAL
    assert "hunter2" not in (err.details() or "")
    assert err.details() == errors.Internal.default_message
    status = await status_of(call)
    assert status is not None and error_info(status).reason == "INTERNAL"
    logged = [e for e in logs if e["event"] == "rpc_unexpected_error"]
    assert logged and logged[0]["error_type"] == "RuntimeError"
    assert logged[0]["exc_info"] is True


async def test_request_id_comes_from_metadata_or_is_made(channel: Any, auth: Any) -> None:
    stub = support_pb2_grpc.SupportServiceStub(channel)
    request = support_pb2.AddCaseCommentRequest(case_id="500x", body="hi")
    given = await stub.AddCaseComment(request, metadata=(*auth, ("x-request-id", "rid-42")))
    assert given.comment.id == "rid-42"
    made = await stub.AddCaseComment(request, metadata=auth)
    assert len(made.comment.id) == 32 and made.comment.id != "rid-42"


async def test_streaming_error_after_a_message(channel: Any, auth: Any) -> None:
    call = orders_pb2_grpc.OrderServiceStub(channel).WatchOrders(
        orders_pb2.WatchOrdersRequest(), metadata=auth
    )
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for message in call:
            received.append(message.order.id)
    assert received == ["801A"]
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    status = await status_of(call)
    assert status is not None and error_info(status).reason == "UPSTREAM_UNAVAILABLE"


async def test_rpcs_not_built_yet_answer_unimplemented_in_our_shape(
    channel: Any, auth: Any
) -> None:
    call = orders_pb2_grpc.OrderServiceStub(channel).ListOrders(
        orders_pb2.ListOrdersRequest(), metadata=auth
    )
    err = await _fail(call)
    assert err.code() == grpc.StatusCode.UNIMPLEMENTED
    status = await status_of(call)
    assert status is not None
    info = error_info(status)
    assert info.reason == "UNIMPLEMENTED"
    assert info.metadata["method"] == "portal.commerce.v1.OrderService/ListOrders"


async def test_health_serves_every_registered_service(channel: Any, auth: Any) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    for name in ["", "portal.support.v1.SupportService", "portal.commerce.v1.OrderService"]:
        response = await stub.Check(health_pb2.HealthCheckRequest(service=name))
        assert response.status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Check(health_pb2.HealthCheckRequest(service="portal.nope.v1.NopeService"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_graceful_shutdown_reports_not_serving() -> None:
    built = create_server(
        ServiceSettings(port=0), services=service_names("support"), register=lambda _: None
    )
    await built.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{built.port}") as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        watch = stub.Watch(health_pb2.HealthCheckRequest(service=""))
        first = await watch.read()
        assert first.status == health_pb2.HealthCheckResponse.SERVING
        await built.health.enter_graceful_shutdown()
        second = await watch.read()
        assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
    await built.stop(grace=0.5)


async def test_second_server_on_a_taken_port_fails_loudly(server: GrpcServer) -> None:
    with pytest.raises(RuntimeError):
        create_server(
            ServiceSettings(port=server.port),
            services=service_names("support"),
            register=lambda _: None,
        )
