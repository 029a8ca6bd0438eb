"""Wiring of the identity service: migrations, pool, cache, keys, flows, servicers, background."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
import grpc
import structlog
from portal.identity.v1 import account_directory_pb2_grpc, identity_pb2_grpc

from services.common import upstreams
from services.common.cache import Cache
from services.common.clients import Policy
from services.common.clients.salesforce import SalesforceClient
from services.common.clients.whmcs import WhmcsClient
from services.common.db import close_pool, create_pool
from services.common.mail import MailConfig, Mailer
from services.common.methods import service_names
from services.common.migrations import migrate_service
from services.common.server import GrpcServer, create_server
from services.common.settings import ServiceSettings
from services.identity import repo
from services.identity.accounts import Accounts
from services.identity.codes import CodeRules, Codes
from services.identity.customers import Customers
from services.identity.directory import Directory
from services.identity.keys import Keys
from services.identity.link import LinkFlow
from services.identity.login import LoginFlow
from services.identity.outbox import Relay
from services.identity.ownership import Ownership
from services.identity.passwords import Passwords
from services.identity.recovery import Recovery
from services.identity.servicer import AccountDirectoryServicer, Flows, IdentityServicer
from services.identity.sessions import Sessions
from services.identity.settings import IdentitySettings
from services.identity.signup import SignUpFlow
from services.identity.throttle import Limit, Throttle

log = structlog.get_logger("identity")


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    cache: Cache
    directory: Directory
    keys: Keys
    upstreams: Upstreams
    flows: Flows
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def aclose(self) -> None:
        """Stop the background tasks, then close every client; one that fails to close is
        logged and the others are still closed (the pool's connections, and with them any row
        lock the outbox relay held, go back at once)."""
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        closes: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("whmcs", self.upstreams.whmcs.aclose),
            ("salesforce", self.upstreams.sf.aclose),
            ("database", lambda: close_pool(self.pool)),
            ("cache", self.cache.aclose),
        ]
        for name, close in closes:
            try:
                await close()
            except Exception:
                log.exception("close_failed", client=name)


async def every(interval: float, step: Callable[[], Awaitable[object]], name: str) -> None:
    """Run ``step`` forever, ``interval`` s apart; an error is logged and the loop goes on."""
    while True:
        try:
            await step()
        except Exception:
            log.exception("background_step_failed", task=name)
        await asyncio.sleep(interval)


def _passwords(s: IdentitySettings) -> Passwords:
    return Passwords(
        memory_kib=s.argon2_memory_kib,
        time_cost=s.argon2_time_cost,
        parallelism=s.argon2_parallelism,
        concurrency=s.argon2_concurrency,
    )


@dataclass(frozen=True)
class Upstreams:
    whmcs: WhmcsClient
    sf: SalesforceClient
    relay: Relay
    mailer: Mailer


def _flows(
    s: IdentitySettings, pool: asyncpg.Pool, cache: Cache, keys: Keys, up: Upstreams
) -> Flows:
    sessions = Sessions(
        pool, keys, s.jwt_issuer, s.jwt_audience, s.access_token_ttl, s.refresh_token_ttl
    )
    passwords, throttle = _passwords(s), Throttle(pool)
    per_account = Limit("login:acct", s.login_max_failures_per_account, s.login_window_s)
    login = LoginFlow(
        pool=pool,
        passwords=passwords,
        throttle=throttle,
        sessions=sessions,
        per_account=per_account,
        per_address=Limit("login:addr", s.login_max_failures_per_address, s.login_window_s),
    )
    customers = Customers(pool, up.sf, cache)
    accounts = Accounts(pool, sessions, Directory(pool, cache), customers, up.relay)
    codes = Codes(pool, CodeRules(s.code_ttl_s, s.code_max_attempts, s.code_resend_s))
    ownership = Ownership(
        customers=customers,
        codes=codes,
        mailer=up.mailer,
        throttle=throttle,
        start_limit=Limit("signup-start:addr", s.signup_start_max_per_address, s.signup_window_s),
    )
    recovery = Recovery(
        pool=pool,
        codes=codes,
        mailer=up.mailer,
        passwords=passwords,
        sessions=sessions,
        throttle=throttle,
        reset_limit=Limit("reset:addr", s.reset_max_per_address, s.signup_window_s),
        per_account=per_account,
    )
    signup = SignUpFlow(
        customers=customers,
        ownership=ownership,
        accounts=accounts,
        whmcs=up.whmcs,
        passwords=passwords,
        throttle=throttle,
        lookup_limit=Limit("lookup:addr", s.lookup_max_per_address, s.lookup_window_s),
        signup_limit=Limit("signup:addr", s.signup_max_per_address, s.signup_window_s),
        customer_number_field=s.whmcs_customer_number_field,
    )
    link = LinkFlow(
        customers=customers,
        accounts=accounts,
        whmcs=up.whmcs,
        passwords=passwords,
        throttle=throttle,
        limit=Limit("link:addr", s.link_max_per_address, s.signup_window_s),
        per_account=per_account,
        customer_number_field=s.whmcs_customer_number_field,
        failure_floor_s=s.link_failure_floor_s,
    )
    return Flows(login=login, sessions=sessions, keys=keys, signup=signup, link=link,
                 ownership=ownership, recovery=recovery)  # fmt: skip


def _upstreams(s: IdentitySettings, pool: asyncpg.Pool, policy: Policy | None) -> Upstreams:
    whmcs, sf = upstreams.whmcs(s, policy), upstreams.salesforce(s, policy)
    relay = Relay(pool, sf, s.outbox_poll_interval, s.outbox_backoff_initial, s.outbox_backoff_max)
    return Upstreams(whmcs, sf, relay, Mailer(MailConfig.of(s)))


async def build_deps(settings: IdentitySettings, *, policy: Policy | None = None) -> Deps:
    """Everything the servicers need; ``policy`` overrides the upstreams' resilience (tests)."""
    await migrate_service(settings.database_url.get_secret_value(), "identity")
    keys = Keys(
        settings.signing_key_file, settings.jwks_file if settings.publish_jwks_file else None
    )
    pool = await create_pool(settings, max_size=settings.db_pool_max)
    await repo.fill_email_keys(pool)
    cache = upstreams.cache(settings, "identity")
    await cache.connect()
    up = _upstreams(settings, pool, policy)
    deps = Deps(
        pool=pool,
        cache=cache,
        directory=Directory(pool, cache),
        keys=keys,
        upstreams=up,
        flows=_flows(settings, pool, cache, keys, up),
    )
    reload_keys = every(
        settings.key_reload_interval, lambda: asyncio.to_thread(keys.reload), "keys"
    )
    deps.tasks.append(asyncio.create_task(reload_keys))
    if settings.outbox_relay:
        deps.tasks.append(asyncio.create_task(up.relay.run()))
    return deps


def create_identity_server(settings: IdentitySettings, deps: Deps) -> GrpcServer:
    def register(server: grpc.aio.Server) -> None:
        identity_pb2_grpc.add_IdentityServiceServicer_to_server(
            IdentityServicer(deps.flows), server
        )
        account_directory_pb2_grpc.add_AccountDirectoryServiceServicer_to_server(
            AccountDirectoryServicer(deps.directory), server
        )

    return create_server(settings, services=service_names("identity"), register=register)


async def build_server(settings: ServiceSettings) -> GrpcServer:
    assert isinstance(settings, IdentitySettings)
    deps = await build_deps(settings)
    built = create_identity_server(settings, deps)
    built.closers.append(deps.aclose)
    return built
