"""Which mesh peer may call which RPC on a service port, decided from its client certificate.

With mutual TLS every caller has a certificate from the mesh CA whose common name is its
identity (``tools/devcerts.py`` in development). A service answers:

- its internal services only to the services of the call graph (:data:`INTERNAL_CALLERS`);
- its public services only to the gateway (Envoy has already checked the user's token there,
  and the service checks it again);
- health and reflection to any peer with a mesh certificate (Envoy's health checks, operators'
  grpcurl with the operator certificate).

Anything else is PERMISSION_DENIED in the documented error shape. Without TLS (development only)
there is no peer identity and every caller is let through.
"""

from __future__ import annotations

import grpc
import structlog

from services.common import context
from services.common.errors import PeerNotAllowed
from services.common.interceptors import Behavior, WrappingInterceptor, abort_with, wrap_before
from services.common.methods import METHODS

log = structlog.get_logger("peer_auth")

GATEWAY = "gateway"
# Internal service → the mesh identities that may call it (the call graph).
INTERNAL_CALLERS: dict[str, frozenset[str]] = {
    "portal.identity.v1.AccountDirectoryService": frozenset({"billing", "commerce", "support"}),
    "portal.billing.v1.BillingInternalService": frozenset({"commerce"}),
}


def allowed_peers(method: str) -> frozenset[str] | None:
    """The identities that may call ``method``; None: any mesh peer (health, reflection)."""
    known = METHODS.get(method)
    if known is None:
        return None
    if known.internal:
        return INTERNAL_CALLERS.get(known.service, frozenset())
    return frozenset({GATEWAY})


def peer_identity(ctx: grpc.aio.ServicerContext) -> str | None:
    """The common name of the caller's verified client certificate (None without TLS)."""
    names = (ctx.auth_context() or {}).get("x509_common_name") or []
    return names[0].decode() if names else None


class PeerAuthInterceptor(WrappingInterceptor):
    """Refuses callers whose certificate is not allowed to call the method, and records whether
    the caller is the gateway (``context.from_gateway``: identity takes a forwarded client
    address only from there)."""

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled

    def wrap(self, behavior: Behavior, method: str) -> Behavior:
        if not self._enabled:

            async def development(ctx: grpc.aio.ServicerContext) -> None:
                context.from_gateway.set(True)

            return wrap_before(behavior, development)
        allowed = allowed_peers(method)

        async def check(ctx: grpc.aio.ServicerContext) -> None:
            peer = peer_identity(ctx)
            context.from_gateway.set(peer == GATEWAY)
            if allowed is not None and peer not in allowed:
                log.warning("peer_refused", peer=peer, rpc=method)
                await abort_with(ctx, PeerNotAllowed())

        return wrap_before(behavior, check)
