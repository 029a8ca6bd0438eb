"""Wiring of the billing service: a frozen ``Deps``, the servicers, health, reflection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import grpc
from portal.billing.v1 import billing_pb2_grpc

from services.billing.accounts import Accounts
from services.billing.core import Billing
from services.billing.dedupe import EventLedger
from services.billing.email_change import EmailChanges
from services.billing.paging import PageTokens
from services.billing.servicer import BillingInternalServicer, BillingServicer
from services.billing.settings import BillingSettings
from services.billing.webhooks import WebhookHandler
from services.common import upstreams
from services.common.cache import Cache, RedisClient, redis_from_url
from services.common.clients import Policy, WhmcsClient
from services.common.clients.whmcs import WhmcsConfig
from services.common.mail import MailConfig, Mailer
from services.common.methods import service_names
from services.common.peers import AccountDirectory
from services.common.server import GrpcServer, create_server
from services.common.settings import ServiceSettings


@dataclass(frozen=True)
class Deps:
    billing: Billing
    webhooks: WebhookHandler
    whmcs: WhmcsClient
    cache: Cache
    redis: RedisClient
    directory: grpc.aio.Channel
    email_changes: EmailChanges

    async def aclose(self) -> None:
        await self.directory.close()
        await self.whmcs.aclose()
        await self.cache.aclose()
        await self.redis.aclose()


def _whmcs(settings: BillingSettings, policy: Policy | None) -> WhmcsClient:
    if policy is None:
        return upstreams.whmcs(settings)
    config = WhmcsConfig(
        url=settings.whmcs_url,
        identifier=settings.whmcs_identifier,
        secret=settings.whmcs_secret,
        policy=policy,
    )
    return WhmcsClient(config)


async def build_deps(settings: BillingSettings, *, policy: Policy | None = None) -> Deps:
    """Everything the servicers need; ``policy`` overrides WHMCS's resilience (tests)."""
    cache = upstreams.cache(settings, "billing")
    await cache.connect()
    redis = redis_from_url(settings.redis_url.get_secret_value(), max_connections=16)
    channel = upstreams.peer_channel(settings, "identity")
    accounts = Accounts(AccountDirectory(channel), cache)
    whmcs = _whmcs(settings, policy)
    secret = settings.page_token_secret.get_secret_value().encode()
    billing = Billing(whmcs, cache, accounts, PageTokens(secret), settings.default_currency)
    webhooks = WebhookHandler(
        secret=settings.whmcs_webhook_secret.get_secret_value().encode(),
        window=timedelta(seconds=settings.webhook_window_s),
        ledger=EventLedger(redis, settings.cache_namespace, settings.webhook_dedupe_ttl_s),
        accounts=accounts,
        cache=cache,
    )
    email_changes = EmailChanges(redis, Mailer(MailConfig.of(settings)))
    return Deps(billing, webhooks, whmcs, cache, redis, channel, email_changes)


def create_billing_server(settings: BillingSettings, deps: Deps) -> GrpcServer:
    def register(server: grpc.aio.Server) -> None:
        billing_pb2_grpc.add_BillingServiceServicer_to_server(
            BillingServicer(deps.billing, deps.webhooks, deps.email_changes), server
        )
        billing_pb2_grpc.add_BillingInternalServiceServicer_to_server(
            BillingInternalServicer(deps.billing), server
        )

    return create_server(settings, services=service_names("billing"), register=register)


async def build_server(settings: ServiceSettings) -> GrpcServer:
    assert isinstance(settings, BillingSettings)
    deps = await build_deps(settings)
    built = create_billing_server(settings, deps)
    built.closers.append(deps.aclose)
    return built
