"""Build the upstream clients and the cache from the service settings (one place, every service).

Each factory returns a client plus an async closer; a service's ``server.py`` builds the ones it
needs into its ``Deps`` and registers the closers for shutdown. ``override`` is the one test hook
for upstream resilience: every service's ``build_deps(settings, policy=...)`` passes it here, and
it replaces the policy the settings would give (tests use a fast one).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import grpc

from services.common import tls
from services.common.client_interceptors import request_id_interceptors
from services.common.clients.resilience import Policy
from services.common.methods import INTERNAL_SERVICES
from services.common.settings import ServiceSettings

# The clients are imported where they are built: a service loads only the ones it uses (the
# Salesforce one brings requests, zeep and lxml: tens of MB per process).
if TYPE_CHECKING:
    from services.common.cache import Cache
    from services.common.clients.freebit import FreebitClient
    from services.common.clients.pubsub import SalesforcePubSubClient
    from services.common.clients.salesforce import SalesforceClient
    from services.common.clients.whmcs import WhmcsClient


def policy(settings: ServiceSettings, timeout_s: float) -> Policy:
    """The resilience policy of one upstream: ``timeout_s`` bounds one attempt as a whole (on top
    of the transport's read timeout), the breaker knobs come from the settings."""
    return Policy(
        timeout_s=timeout_s,
        budget_s=settings.upstream_call_budget_s,
        breaker_threshold=settings.upstream_breaker_threshold,
        breaker_cooldown_s=settings.upstream_breaker_cooldown_s,
    )


def whmcs(settings: ServiceSettings, override: Policy | None = None) -> WhmcsClient:
    from services.common.clients.whmcs import WhmcsClient, WhmcsConfig

    return WhmcsClient(
        WhmcsConfig(
            url=settings.whmcs_url,
            identifier=settings.whmcs_identifier,
            secret=settings.whmcs_secret,
            timeout_s=settings.whmcs_timeout_s,
            policy=override or policy(settings, settings.whmcs_timeout_s),
        )
    )


def salesforce(settings: ServiceSettings, override: Policy | None = None) -> SalesforceClient:
    from services.common.clients.salesforce import SalesforceClient, SalesforceConfig

    return SalesforceClient(
        SalesforceConfig(
            url=settings.salesforce_url,
            consumer_key=settings.salesforce_consumer_key,
            consumer_secret=settings.salesforce_consumer_secret,
            domain=settings.salesforce_domain,
            timeout_s=settings.salesforce_timeout_s,
            # simple-salesforce re-logs in on an expired session within one attempt: room for it
            policy=override or policy(settings, settings.salesforce_timeout_s + 5.0),
        )
    )


def salesforce_pubsub(settings: ServiceSettings, rest: SalesforceClient) -> SalesforcePubSubClient:
    from services.common.clients.pubsub import PubSubConfig, SalesforcePubSubClient

    config = PubSubConfig(
        target=settings.salesforce_pubsub_target, tls=settings.salesforce_pubsub_tls
    )
    return SalesforcePubSubClient(config, rest)


def freebit(settings: ServiceSettings, override: Policy | None = None) -> FreebitClient:
    from services.common.clients.freebit import FreebitClient, FreebitConfig

    return FreebitClient(
        FreebitConfig(
            url=settings.freebit_url,
            oem_id=settings.freebit_oem_id,
            oem_key=settings.freebit_oem_key,
            timeout_s=settings.freebit_timeout_s,
            # an attempt may authenticate (authOem) and repeat the call: two HTTP calls
            policy=override or policy(settings, 2 * settings.freebit_timeout_s),
        )
    )


def cache(settings: ServiceSettings, service: str) -> Cache:
    from services.common.cache import Cache

    return Cache.from_url(
        settings.redis_url.get_secret_value(),
        service=service,
        namespace=settings.cache_namespace,
        near_life=settings.cache_near_life_s,
    )


def internal_retry_config() -> str:
    """gRPC service config: calls to the internal services that fail with UNAVAILABLE (a replica
    that went away mid-call, or the callee's own "try again later") are made again, up to 3
    attempts with a short backoff, on another replica when there is one. Every internal RPC is a
    read (a directory lookup, a pay-method check; ``tests/service/test_internal_retry.py`` holds
    that), so repeating one is safe. Retry throttling stops the retries when most calls fail, so a
    struggling callee is not hammered three times over."""
    services = [s.full_name for ds in INTERNAL_SERVICES.values() for s in ds]
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": [{"service": name} for name in services],
                    "retryPolicy": {
                        "maxAttempts": 3,
                        "initialBackoff": "0.05s",
                        "maxBackoff": "0.5s",
                        "backoffMultiplier": 2,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ],
            "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1},
        }
    )


def channel(
    target: str, *, peer: str | None = None, credentials: grpc.ChannelCredentials | None = None
) -> grpc.aio.Channel:
    """A channel to another service's port (internal services are only served there).

    ``target`` may name several replicas (``ipv4:127.0.0.1:50052,127.0.0.1:50152``): calls are
    spread over them round-robin, and a replica that goes away is skipped. Internal (read-only)
    calls that fail with UNAVAILABLE are retried (:func:`internal_retry_config`). Every call
    carries the current request id as ``x-request-id``, so the callee's log lines share it.

    With ``credentials`` (mutual TLS) the callee's certificate must name ``peer``, the service
    meant, whatever address the target resolves to."""
    options: list[tuple[str, str | int]] = [
        ("grpc.lb_policy_name", "round_robin"),
        ("grpc.enable_retries", 1),
        ("grpc.service_config", internal_retry_config()),
    ]
    if credentials is None:
        return grpc.aio.insecure_channel(
            target, options=options, interceptors=request_id_interceptors()
        )
    if peer is not None:
        options.append(("grpc.ssl_target_name_override", peer))
    return grpc.aio.secure_channel(
        target, credentials, options=options, interceptors=request_id_interceptors()
    )


def peer_channel(settings: ServiceSettings, peer: str) -> grpc.aio.Channel:
    """A channel to service ``peer`` (``<PEER>_TARGET``), over mutual TLS when configured."""
    target = str(getattr(settings, f"{peer}_target"))
    return channel(target, peer=peer, credentials=tls.channel_credentials(settings))
