"""Server reflection over a real gRPC socket: the descriptor pool is built at the first lookup, not
at start-up, and then serves protoc's descriptors (json_name included)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2 as r

from services.common.methods import service_names
from services.common.reflection import PoolOnFirstUse, enable_reflection

V1 = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
SYMBOL = "portal.identity.v1.ValidateCustomerNumberResponse"


@pytest.fixture
async def served() -> AsyncIterator[tuple[grpc.aio.Channel, PoolOnFirstUse]]:
    server = grpc.aio.server()
    pool = enable_reflection(server, service_names("identity"))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel, pool
    finally:
        await server.stop(0)


async def _ask(
    channel: grpc.aio.Channel, request: r.ServerReflectionRequest
) -> r.ServerReflectionResponse:
    info = channel.stream_stream(
        V1,
        request_serializer=r.ServerReflectionRequest.SerializeToString,
        response_deserializer=r.ServerReflectionResponse.FromString,
    )
    call = info(iter([request]))
    answer = await call.read()
    assert isinstance(answer, r.ServerReflectionResponse)
    return answer


async def test_pool_is_built_at_the_first_lookup_and_serves_json_names(
    served: tuple[grpc.aio.Channel, PoolOnFirstUse],
) -> None:
    channel, pool = served
    assert not pool.built
    listed = await _ask(channel, r.ServerReflectionRequest(list_services=""))
    names = {s.name for s in listed.list_services_response.service}
    assert "portal.identity.v1.IdentityService" in names
    assert "grpc.reflection.v1.ServerReflection" in names
    assert not pool.built  # listing needs only the names

    answer = await _ask(channel, r.ServerReflectionRequest(file_containing_symbol=SYMBOL))
    assert pool.built
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in answer.file_descriptor_response.file_descriptor_proto
    ]
    [identity] = [f for f in files if f.name == "portal/identity/v1/identity.proto"]
    [message] = [m for m in identity.message_type if m.name == SYMBOL.rsplit(".", 1)[-1]]
    assert message.field[0].json_name == "customerNumber"

    # The v1 descriptor of reflection itself (renamed from v1alpha) is in the same pool.
    v1 = await _ask(
        channel,
        r.ServerReflectionRequest(file_containing_symbol="grpc.reflection.v1.ServerReflection"),
    )
    v1_files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in v1.file_descriptor_response.file_descriptor_proto
    ]
    assert [f.package for f in v1_files] == ["grpc.reflection.v1"]


async def test_an_unknown_symbol_is_not_found(
    served: tuple[grpc.aio.Channel, PoolOnFirstUse],
) -> None:
    channel, _ = served
    answer = await _ask(channel, r.ServerReflectionRequest(file_containing_symbol="no.such.Thing"))
    assert answer.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]


def test_the_pool_is_built_once() -> None:
    built: list[object] = []

    def build() -> descriptor_pb2.FileDescriptorProto:
        built.append(object())
        return descriptor_pb2.FileDescriptorProto(name="one.proto")

    pool = PoolOnFirstUse(build)  # type: ignore[arg-type]
    assert not pool.built and built == []
    assert pool.name == "one.proto"
    assert pool.name == "one.proto"
    assert len(built) == 1 and pool.built
