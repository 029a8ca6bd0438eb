"""Per-RPC context, set by the interceptors and read by handlers and clients (contextvars)."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("request_id", default="")
# The RPC being served (full gRPC method name); empty outside any RPC: background work such as the
# CDC consumer, fulfillment, the outbox and start-up. Upstream calls are counted by it.
rpc_method: ContextVar[str] = ContextVar("rpc_method", default="")
# The authenticated portal user id; empty on public methods.
user_id: ContextVar[str] = ContextVar("user_id", default="")
# When the caller's access token expires (epoch seconds, the ``exp`` claim); 0 when no token.
token_expires_at: ContextVar[int] = ContextVar("token_expires_at", default=0)
# Whether the caller is the gateway, whose ``x-forwarded-for`` carries the client's address (the
# peer-authorization interceptor decides it from the client certificate; without mesh TLS, which
# only development allows, every caller is taken for the gateway).
from_gateway: ContextVar[bool] = ContextVar("from_gateway", default=False)


def current_user_id() -> str:
    """The authenticated caller, as servicers read it (``""`` on public methods)."""
    return user_id.get()


def current_token_expires_at() -> int:
    """When the caller's access token expires (epoch seconds; 0 when no token)."""
    return token_expires_at.get()
