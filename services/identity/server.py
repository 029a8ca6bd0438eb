"""Wiring of the identity service: migrations, the pool, the cache, the servicers, health."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import grpc
from portal.identity.v1 import account_directory_pb2_grpc, identity_pb2_grpc

from services.common import upstreams
from services.common.cache import Cache
from services.common.clients import Policy
from services.common.db import create_pool
from services.common.methods import service_names
from services.common.migrations import migrate_service
from services.common.server import GrpcServer, create_server
from services.common.settings import ServiceSettings
from services.identity.directory import Directory
from services.identity.servicer import DirectoryAdapter, IdentityServicer
from services.identity.settings import IdentitySettings


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    cache: Cache
    directory: Directory

    async def aclose(self) -> None:
        await self.pool.close()
        await self.cache.aclose()


async def build_deps(settings: IdentitySettings, *, policy: Policy | None = None) -> Deps:
    """Everything the servicers need; ``policy`` overrides the upstreams' resilience (tests)."""
    await migrate_service(settings.database_url.get_secret_value(), "identity")
    pool = await create_pool(settings, max_size=settings.db_pool_max)
    cache = upstreams.cache(settings, "identity")
    await cache.connect()
    return Deps(pool=pool, cache=cache, directory=Directory(pool, cache))


def create_identity_server(settings: IdentitySettings, deps: Deps) -> GrpcServer:
    def register(server: grpc.aio.Server) -> None:
        identity_pb2_grpc.add_IdentityServiceServicer_to_server(IdentityServicer(), server)
        account_directory_pb2_grpc.add_AccountDirectoryServiceServicer_to_server(
            DirectoryAdapter(deps.directory), server
        )

    return create_server(settings, services=service_names("identity"), register=register)


async def build_server(settings: ServiceSettings) -> GrpcServer:
    assert isinstance(settings, IdentitySettings)
    deps = await build_deps(settings)
    built = create_identity_server(settings, deps)
    built.closers.append(deps.aclose)
    return built
