"""Server bootstrap shared by the four services: interceptors, health, reflection, shutdown."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import grpc
import prometheus_client
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.common import lean
from services.common.auth import AuthInterceptor, JwksSource, TokenVerifier
from services.common.cache.client import shed_idle_connections
from services.common.interceptors import ErrorMappingInterceptor, RequestContextInterceptor
from services.common.logging import configure_logging
from services.common.peer_auth import PeerAuthInterceptor
from services.common.reflection import enable_reflection
from services.common.settings import ConfigurationError, ServiceSettings
from services.common.tls import server_credentials
from services.common.tracing import configure_tracing

log = structlog.get_logger("server")

Closer = Callable[[], Awaitable[None]]


@dataclass
class GrpcServer:
    """A built, not yet started, gRPC server and what its shutdown must close."""

    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    services: Sequence[str]
    closers: list[Closer] = field(default_factory=list)

    async def start(self) -> None:
        await self.server.start()
        for name in ("", *self.services):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float) -> None:
        """Health → NOT_SERVING, let in-flight RPCs finish for ``grace`` s, then close clients."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        for close in reversed(self.closers):
            try:
                await close()
            except Exception:
                log.exception("shutdown_close_failed")


def token_verifier(settings: ServiceSettings) -> TokenVerifier:
    source = JwksSource(url=settings.jwks_url, file=settings.jwks_file)
    return TokenVerifier(
        source,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        refresh_interval=settings.jwks_refresh_interval,
        max_age=settings.jwks_max_age,
    )


def create_server(
    settings: ServiceSettings,
    *,
    services: Sequence[str],
    register: Callable[[grpc.aio.Server], None],
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    reuse_port: bool = False,
) -> GrpcServer:
    """Build a server with our interceptor chain, grpc.health.v1 and reflection.

    Interceptor order: request context (outermost) → peer authorization (mutual TLS) → auth →
    ``interceptors`` → error mapping. With mutual TLS (``TLS_*`` settings) the port requires a
    client certificate from the mesh CA.
    ``SO_REUSEPORT`` is off unless asked for, so a second process on a taken port fails loudly.
    """
    chain = [
        RequestContextInterceptor(),
        PeerAuthInterceptor(enabled=settings.mesh_tls),
        AuthInterceptor(token_verifier(settings)),
        *interceptors,
        ErrorMappingInterceptor(),
    ]
    server = grpc.aio.server(
        interceptors=chain,
        options=[
            ("grpc.so_reuseport", 1 if reuse_port else 0),
            # Above the gateway's header limit (16 KiB), so oversized metadata is refused at the
            # edge in our error shape, never by grpc-core with its own text.
            ("grpc.max_metadata_size", 32 * 1024),
        ],
    )
    register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    enable_reflection(
        server, [*services, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
    )
    address = f"{settings.host}:{settings.port}"
    credentials = server_credentials(settings)
    if credentials is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, credentials)
    return GrpcServer(server=server, port=port, health=health_servicer, services=services)


async def serve(
    name: str, settings: ServiceSettings, build: Callable[[ServiceSettings], Awaitable[GrpcServer]]
) -> None:
    """Run one service until SIGTERM/SIGINT, then shut down gracefully."""
    configure_logging(name, settings.log_level, settings.log_json)
    configure_tracing(name, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        grpc_server = await build(settings)
    except ConfigurationError as exc:
        print(f"cannot start {name}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    await grpc_server.start()
    if settings.metrics_port:
        prometheus_client.start_http_server(settings.metrics_port, addr=settings.host)
    # Start-up's garbage collected and its free heap handed back, then again every
    # MEMORY_TRIM_INTERVAL_S (services/common/lean.py); the Redis connections a burst opened go
    # back after REDIS_IDLE_CLOSE_S idle (services/common/cache/client.py).
    lean.settle()
    trimmer = asyncio.create_task(
        lean.trim_periodically(
            settings.memory_trim_interval_s,
            release=partial(shed_idle_connections, settings.redis_idle_close_s),
        )
    )
    log.info(
        "service_started",
        host=settings.host,
        port=grpc_server.port,
        metrics_port=settings.metrics_port or None,
    )
    await stop.wait()
    trimmer.cancel()
    log.info("service_stopping", grace_s=settings.shutdown_grace)
    await grpc_server.stop(settings.shutdown_grace)
    log.info("service_stopped")
