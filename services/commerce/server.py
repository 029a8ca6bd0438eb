"""Wiring of the commerce service: migrations, clients, cache, servicers, CDC consumer."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import asyncpg
import grpc
from portal.commerce.v1 import catalog_pb2_grpc, orders_pb2_grpc

from services.commerce.catalog import Catalog
from services.commerce.peers import Billing, Directory
from services.commerce.servicer import CatalogServicer, OrderServicer
from services.commerce.settings import CommerceSettings
from services.common import upstreams
from services.common.cache import Cache
from services.common.clients import Policy, SalesforceClient
from services.common.db import create_pool
from services.common.methods import service_names
from services.common.migrations import migrate_service
from services.common.server import Closer, GrpcServer, create_server
from services.common.settings import ServiceSettings


@dataclass
class Deps:
    settings: CommerceSettings
    pool: asyncpg.Pool
    cache: Cache
    salesforce: SalesforceClient
    directory: Directory
    billing: Billing
    catalog: Catalog
    closers: list[Closer] = field(default_factory=list)

    async def aclose(self) -> None:
        for close in reversed(self.closers):
            await close()


def _salesforce(settings: CommerceSettings, policy: Policy | None) -> SalesforceClient:
    client = upstreams.salesforce(settings)
    if policy is None:
        return client
    return SalesforceClient(replace(client.config, policy=policy))


async def build_deps(settings: CommerceSettings, *, policy: Policy | None = None) -> Deps:
    """Everything the servicers need; ``policy`` overrides Salesforce's resilience (tests)."""
    await migrate_service(settings.database_url.get_secret_value(), "commerce")
    pool = await create_pool(settings, max_size=settings.db_pool_max)
    cache = upstreams.cache(settings, "commerce")
    await cache.connect()
    salesforce = _salesforce(settings, policy)
    identity_channel = upstreams.channel(settings.identity_target)
    billing_channel = upstreams.channel(settings.billing_target)
    directory = Directory.over(identity_channel, settings.internal_timeout_s)
    deps = Deps(
        settings=settings,
        pool=pool,
        cache=cache,
        salesforce=salesforce,
        directory=directory,
        billing=Billing.over(billing_channel, settings.internal_timeout_s),
        catalog=Catalog(salesforce, cache, directory, settings.pricebook_name),
    )
    deps.closers += [
        pool.close,
        cache.aclose,
        salesforce.aclose,
        lambda: identity_channel.close(),
        lambda: billing_channel.close(),
    ]
    return deps


def create_commerce_server(settings: CommerceSettings, deps: Deps) -> GrpcServer:
    def register(server: grpc.aio.Server) -> None:
        catalog_pb2_grpc.add_CatalogServiceServicer_to_server(CatalogServicer(deps.catalog), server)
        orders_pb2_grpc.add_OrderServiceServicer_to_server(OrderServicer(), server)

    return create_server(settings, services=service_names("commerce"), register=register)


async def build_server(settings: ServiceSettings) -> GrpcServer:
    assert isinstance(settings, CommerceSettings)
    deps = await build_deps(settings)
    built = create_commerce_server(settings, deps)
    built.closers.append(deps.aclose)
    return built
