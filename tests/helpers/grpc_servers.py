"""gRPC servers for tests: a service's :class:`GrpcServer` started and stopped around a fixture,
and small test-double servicers served on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import grpc

from services.common.server import GrpcServer


@asynccontextmanager
async def started(server: GrpcServer, *, grace: float = 1) -> AsyncIterator[GrpcServer]:
    """``server`` started; stopped with ``grace`` seconds on leaving."""
    await server.start()
    yield server
    await server.stop(grace=grace)


@asynccontextmanager
async def serving(
    *servicers: tuple[Callable[[Any, grpc.aio.Server], None], Any],
) -> AsyncIterator[str]:
    """A plain ``grpc.aio`` server on a free 127.0.0.1 port serving each ``(add_..._to_server,
    servicer)`` pair; yields its target (``127.0.0.1:port``) and stops it at once on leaving."""
    server = grpc.aio.server()
    for add, servicer in servicers:
        add(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(0)
