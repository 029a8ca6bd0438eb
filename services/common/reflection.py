"""Server reflection for grpcurl and friends: ``grpc.reflection.v1`` and ``v1alpha``, serving the
descriptors ``make gen`` built with protoc (``gen/portal_descriptor.pb``).

Those carry each field's ``json_name``, which the descriptors compiled into the Python modules
do not, so grpcurl prints the same lowerCamelCase JSON over a service port as the gateway does.
``v1`` and ``v1alpha`` are the same messages on the wire; ``v1`` is answered by the ``v1alpha``
servicer under the ``v1`` name, and its file descriptor is ``v1alpha``'s renamed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2 as v1alpha_pb2
from grpc_reflection.v1alpha._async import ReflectionServicer

DESCRIPTOR_SET = Path(__file__).resolve().parents[2] / "gen" / "portal_descriptor.pb"
V1_SERVICE = "grpc.reflection.v1.ServerReflection"
_V1ALPHA_PACKAGE = "grpc.reflection.v1alpha"


def _v1_file() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    v1alpha_pb2.DESCRIPTOR.CopyToProto(proto)
    old, new = f".{_V1ALPHA_PACKAGE}.", ".grpc.reflection.v1."
    for message in proto.message_type:
        for field in message.field:
            if field.HasField("type_name"):  # setting "" would mark it present
                field.type_name = field.type_name.replace(old, new)
    for service in proto.service:
        for method in service.method:
            method.input_type = method.input_type.replace(old, new)
            method.output_type = method.output_type.replace(old, new)
    proto.name = "grpc/reflection/v1/reflection.proto"
    proto.package = "grpc.reflection.v1"
    return proto


def reflection_pool(descriptor_set: Path = DESCRIPTOR_SET) -> descriptor_pool.DescriptorPool:
    """The portal's descriptors (with json_name), health's and both reflection versions'."""
    pool = descriptor_pool.DescriptorPool()
    names: set[str] = set()
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes()).file
    for file in files:
        pool.Add(file)
        names.add(file.name)
    for module in (health_pb2, v1alpha_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        if proto.name not in names:
            pool.Add(proto)
    pool.Add(_v1_file())
    return pool


def enable_reflection(server: grpc.aio.Server, services: Sequence[str]) -> None:
    names = [*services, reflection.SERVICE_NAME, V1_SERVICE]
    servicer = ReflectionServicer(names, pool=reflection_pool())
    v1 = grpc.method_handlers_generic_handler(
        V1_SERVICE,
        {
            "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                servicer.ServerReflectionInfo,
                request_deserializer=v1alpha_pb2.ServerReflectionRequest.FromString,
                response_serializer=v1alpha_pb2.ServerReflectionResponse.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((v1,))
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
