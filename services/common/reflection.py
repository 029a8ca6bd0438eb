"""Server reflection for grpcurl and friends: ``grpc.reflection.v1`` and ``v1alpha``, serving the
descriptors ``make gen`` built with protoc (``gen/portal_descriptor.pb``).

Those carry each field's ``json_name``, which the descriptors compiled into the Python modules
do not, so grpcurl prints the same lowerCamelCase JSON over a service port as the gateway does.
``v1`` and ``v1alpha`` are the same messages on the wire; ``v1`` is answered by the ``v1alpha``
servicer under the ``v1`` name, and its file descriptor is ``v1alpha``'s renamed.

The pool is built at the first reflection request that looks a descriptor up (``list`` needs
only the service names), not at start-up: it is ~0.5 MiB of every service's resident memory that
only an operator's grpcurl uses (bench/README.md "Memory").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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


class PoolOnFirstUse:
    """Stands in for the servicer's descriptor pool: ``build()`` runs at the first lookup (any
    attribute of the pool), once; every lookup then goes to the pool it built."""

    def __init__(self, build: Callable[[], descriptor_pool.DescriptorPool]) -> None:
        self._build = build
        self._pool: descriptor_pool.DescriptorPool | None = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return self._pool is not None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = self._build()
                pool = self._pool
        return getattr(pool, name)


def enable_reflection(server: grpc.aio.Server, services: Sequence[str]) -> PoolOnFirstUse:
    """Serve reflection v1 and v1alpha for ``services``; returns the pool, built on first use."""
    if not DESCRIPTOR_SET.is_file():  # fail at start-up, as building the pool would
        raise FileNotFoundError(f"{DESCRIPTOR_SET} is missing: run make gen")
    names = [*services, reflection.SERVICE_NAME, V1_SERVICE]
    pool = PoolOnFirstUse(reflection_pool)
    servicer = ReflectionServicer(names, pool=pool)
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
    return pool
