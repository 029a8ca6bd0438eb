"""Wiring of the commerce service: migrations, clients, cache, servicers, CDC consumer, and the
fulfillment worker (on the same clients and settings)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import asyncpg
import grpc
from portal.commerce.v1 import catalog_pb2_grpc, orders_pb2_grpc, sims_pb2_grpc

from services.commerce.background import Background, invalidation_dispatcher
from services.commerce.catalog import Catalog
from services.commerce.cdc import Consumer
from services.commerce.checkout import Checkout
from services.commerce.fulfillment import Clients, start_fulfillment
from services.commerce.order_accounts import OrderAccounts
from services.commerce.order_event_log import OrderEventLog
from services.commerce.order_events import OrderEvents
from services.commerce.orders import Orders
from services.commerce.peers import BillingInternal
from services.commerce.servicer import CatalogServicer, OrderServicer, SimServicer
from services.commerce.settings import CommerceSettings
from services.commerce.sims.wiring import Sims, build_sims
from services.commerce.watch import WatchHub, redis_for_pubsub
from services.commerce.watch_slots import StreamSlots
from services.commerce.watch_stream import OrderWatch
from services.commerce.watch_tickets import WatchTickets
from services.common import upstreams
from services.common.cache import Cache
from services.common.cache.client import redis_from_url
from services.common.clients import Policy, SalesforceClient, WhmcsClient
from services.common.db import close_pool, create_pool
from services.common.directory import Directory
from services.common.methods import service_names
from services.common.migrations import migrate_service
from services.common.pages import SOQL_MAX_OFFSET, PageTokens
from services.common.server import Closer, GrpcServer, create_server
from services.common.settings import ServiceSettings


@dataclass(frozen=True)
class Deps:
    settings: CommerceSettings
    pool: asyncpg.Pool
    cache: Cache
    salesforce: SalesforceClient
    whmcs: WhmcsClient  # fulfillment's (commerce's own RPCs never call WHMCS)
    directory: Directory
    billing: BillingInternal
    catalog: Catalog
    watch: WatchHub
    orders: Orders
    checkout: Checkout
    background: Background
    sims: Sims
    closers: tuple[Closer, ...] = ()  # run in reverse order by aclose

    async def aclose(self) -> None:
        for close in reversed(self.closers):
            await close()


# Connections of the order-event log's and the stream slots' Redis clients. Their commands are
# one short round trip each, and Redis runs them one at a time anyway: 250 streams opening at
# once take their slots as fast over 16 connections as over 128 (40 ms), and do not leave 112
# more connections behind (commerce 1.2 to 1.5 MiB lower after bench/memory_bench.py's waves).
# A command waits for a free connection up to the client's socket timeout (1 s); past it, it
# fails like Redis being away, which lets the stream through (watch_slots.py).
SMALL_POOL = 16


async def build_deps(settings: CommerceSettings, *, policy: Policy | None = None) -> Deps:
    """Everything the servicers need; ``policy`` overrides the upstreams' resilience (tests)."""
    await migrate_service(settings.database_url.get_secret_value(), "commerce")
    pool = await create_pool(settings, max_size=settings.db_pool_max)
    cache = upstreams.cache(settings, "commerce")
    await cache.connect()
    salesforce = upstreams.salesforce(settings, policy)
    whmcs = upstreams.whmcs(settings, policy)
    identity_channel = upstreams.peer_channel(settings, "identity")
    billing_channel = upstreams.peer_channel(settings, "billing")
    directory = Directory.over(identity_channel, settings.internal_timeout_s)
    pubsub = upstreams.salesforce_pubsub(settings, salesforce)
    redis_url = settings.redis_url.get_secret_value()
    watch = WatchHub(
        redis_for_pubsub(redis_url),
        settings.cache_namespace,
        OrderEventLog(
            redis_from_url(redis_url, max_connections=SMALL_POOL), settings.cache_namespace
        ),
        StreamSlots(
            redis_from_url(redis_url, max_connections=SMALL_POOL),
            settings.cache_namespace,
            settings.watch_max_streams_per_user,
        ),
        settings.watch_max_streams_per_user,
    )
    accounts = OrderAccounts(pool, salesforce)
    consumer = Consumer(
        settings.database_url.get_secret_value(),
        pubsub,
        invalidation_dispatcher(cache, directory, accounts, watch),
        standby_retry_s=settings.cdc_standby_retry_s,
        batch=settings.cdc_batch,
    )
    catalog = Catalog(salesforce, cache, directory, settings.pricebook_name)
    tokens = PageTokens(settings.page_token_secret.get_secret_value().encode(), SOQL_MAX_OFFSET)
    orders = Orders(salesforce, cache, directory, accounts, tokens)
    billing = BillingInternal.over(billing_channel, settings.internal_timeout_s)
    background = Background(consumer)
    sims = build_sims(settings, pool, cache, salesforce, directory, watch, policy)
    closers = (
        partial(close_pool, pool),
        cache.aclose,
        salesforce.aclose,
        whmcs.aclose,
        pubsub.aclose,
        watch.aclose,
        identity_channel.close,
        billing_channel.close,
        background.stop,
        sims.aclose,
    )
    return Deps(
        settings=settings,
        pool=pool,
        cache=cache,
        salesforce=salesforce,
        whmcs=whmcs,
        directory=directory,
        billing=billing,
        catalog=catalog,
        watch=watch,
        orders=orders,
        checkout=Checkout(pool, salesforce, cache, directory, billing, catalog, orders),
        background=background,
        sims=sims,
        closers=closers,
    )


def create_commerce_server(settings: CommerceSettings, deps: Deps) -> GrpcServer:
    def register(server: grpc.aio.Server) -> None:
        catalog_pb2_grpc.add_CatalogServiceServicer_to_server(CatalogServicer(deps.catalog), server)
        heartbeat_s = settings.watch_heartbeat_s
        watch = OrderWatch(deps.watch, deps.orders, deps.directory, heartbeat_s, deps.sims.lines)
        events = OrderEvents(deps.watch, deps.orders, deps.directory, heartbeat_s)
        tickets = WatchTickets(settings.watch_ticket_secret.get_secret_value().encode())
        servicer = OrderServicer(deps.orders, deps.checkout, watch, events, tickets)
        orders_pb2_grpc.add_OrderServiceServicer_to_server(servicer, server)
        sims = SimServicer(deps.sims.lines, deps.sims.usage, deps.sims.cancellation)
        sims_pb2_grpc.add_SimServiceServicer_to_server(sims, server)

    return create_server(settings, services=service_names("commerce"), register=register)


async def build_server(settings: ServiceSettings) -> GrpcServer:
    assert isinstance(settings, CommerceSettings)
    deps = await build_deps(settings)
    built = create_commerce_server(settings, deps)
    built.closers.append(deps.aclose)
    clients = Clients(deps.salesforce, deps.whmcs, deps.sims.freebit, deps.directory)
    fulfillment = await start_fulfillment(
        settings, settings.fulfillment, clients=clients, cdc=deps.background.consumer.dispatcher
    )
    built.closers.append(fulfillment.stop)
    if settings.cdc_enabled:
        deps.background.start()
    deps.sims.watcher.start()
    return built
