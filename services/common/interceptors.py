"""Server interceptors: request context first, then (later) auth, then error mapping.

All of them wrap the handler's behaviour inside the RPC's own task, so contextvars bound here are
visible to the handler and to every log line it writes.
"""

from __future__ import annotations

import inspect
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import structlog
from google.protobuf import any_pb2
from google.protobuf.duration_pb2 import Duration
from google.rpc import error_details_pb2, status_pb2

from services.common import context
from services.common.errors import (
    DOMAIN,
    Internal,
    PortalError,
    UpstreamUnavailable,
    ValidationFailed,
)
from services.common.metrics import RPC_HANDLED, RPC_LATENCY
from services.common.outages import is_outage

log = structlog.get_logger("rpc")

Behavior = Callable[[Any, grpc.aio.ServicerContext], Any]
Wrap = Callable[[Behavior, str], Behavior]


class Undecodable:
    """What a request that is no valid message of its type deserializes to (see
    :func:`tolerant`): the error-mapping interceptor answers it INVALID_ARGUMENT in our shape
    instead of grpc's UNKNOWN carrying the parser's exception text."""


UNDECODABLE = Undecodable()


def tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception:
            return UNDECODABLE

    return deserialize


def _wrap_handler(
    handler: grpc.RpcMethodHandler, method: str, wrap: Wrap, *, tolerate: bool = False
) -> Any:
    """Return a copy of ``handler`` whose behaviour is ``wrap(behaviour)`` (with ``tolerate``,
    whose request deserializer yields :data:`UNDECODABLE` instead of raising)."""
    if handler is None:
        return None
    deserializer = tolerant(handler.request_deserializer) if tolerate else None
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            wrap(handler.unary_unary, method),
            request_deserializer=deserializer or handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            wrap(handler.unary_stream, method),
            request_deserializer=deserializer or handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    # Client- and bidi-streaming RPCs are not part of our contract: pass them through untouched.
    return handler


class WrappingInterceptor(grpc.aio.ServerInterceptor):
    """Base: subclasses return a wrapped behaviour for each method from :meth:`wrap`.

    A method's wrapped handler depends only on the method and on the handler the rest of the
    chain returns (the same object on every call), so it is built once and reused: a call does
    a dictionary look-up here instead of building closures and a handler."""

    # Whether a request that is no valid message of its type reaches :meth:`wrap`'s behaviour
    # as :data:`UNDECODABLE` instead of failing in grpc's deserializer.
    tolerate = False

    def wrap(self, behavior: Behavior, method: str) -> Behavior:
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        memo: dict[str, tuple[Any, Any]] = self.__dict__.setdefault("_wrapped", {})
        known = memo.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        wrapped = _wrap_handler(handler, method, self.wrap, tolerate=self.tolerate)
        if handler is not None and len(memo) < _MEMO_METHODS:
            memo[method] = (handler, wrapped)
        return wrapped


# Methods whose wrapped handler an interceptor keeps: more than every service's methods together,
# and a bound on what unknown method names sent by a caller could make it hold (those have no
# handler and are never kept anyway).
_MEMO_METHODS = 512


def _metadata(ctx: grpc.aio.ServicerContext) -> dict[str, str]:
    return {k: v for k, v in (ctx.invocation_metadata() or ()) if isinstance(v, str)}


class RequestContextInterceptor(WrappingInterceptor):
    """Binds the request id (``x-request-id`` from Envoy, or a new one) and the method to the logs,
    and logs one ``rpc_finished`` line per call with its duration and status code."""

    def wrap(self, behavior: Behavior, method: str) -> Behavior:
        def bind(ctx: grpc.aio.ServicerContext) -> float:
            rid = _metadata(ctx).get("x-request-id") or uuid.uuid4().hex
            context.request_id.set(rid)
            context.rpc_method.set(method)
            structlog.contextvars.bind_contextvars(request_id=rid, method=method)
            return time.perf_counter()

        # Health probes (Envoy asks every second) would drown everything else.
        emit = log.debug if method.startswith("/grpc.health.v1.") else log.info

        # The method's metric children, looked up once (a label look-up per call otherwise).
        latency = RPC_LATENCY.labels(method)
        handled: dict[str, Any] = {}

        def finish(ctx: grpc.aio.ServicerContext, started: float) -> None:
            code = ctx.code() if hasattr(ctx, "code") else None
            name = getattr(code, "name", None) or "OK"
            elapsed = time.perf_counter() - started
            counter = handled.get(name)
            if counter is None:
                counter = handled[name] = RPC_HANDLED.labels(method, name)
            counter.inc()
            latency.observe(elapsed)
            emit("rpc_finished", code=name, duration_ms=round(elapsed * 1000, 2))

        if inspect.isasyncgenfunction(behavior):

            async def stream(request: Any, ctx: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                started = bind(ctx)
                try:
                    async for item in behavior(request, ctx):
                        yield item
                finally:
                    finish(ctx, started)

            return stream

        async def unary(request: Any, ctx: grpc.aio.ServicerContext) -> Any:
            started = bind(ctx)
            try:
                return await behavior(request, ctx)
            finally:
                finish(ctx, started)

        return unary


_SNAKE = re.compile(r"_([a-z0-9])")


def json_field_path(path: str) -> str:
    """``items[0].product_id`` → ``items[0].productId``: violations name fields as bodies do
    (proto3 JSON, lowerCamelCase), for REST and native gRPC callers alike."""
    return _SNAKE.sub(lambda m: m.group(1).upper(), path)


def status_for(error: PortalError) -> status_pb2.Status:
    """The ``google.rpc.Status`` (with ErrorInfo, and BadRequest if any) for a domain error."""
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=DOMAIN, metadata=error.metadata)
    details = [any_pb2.Any()]
    details[0].Pack(info)
    if error.violations:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=json_field_path(v.field), description=v.description
                )
                for v in error.violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad)
        details.append(packed)
    if error.retry_after_s is not None:
        retry = error_details_pb2.RetryInfo(retry_delay=Duration(seconds=error.retry_after_s))
        packed = any_pb2.Any()
        packed.Pack(retry)
        details.append(packed)
    return status_pb2.Status(code=error.code.value[0], message=error.message, details=details)


async def abort_with(ctx: grpc.aio.ServicerContext, error: PortalError) -> None:
    """End the RPC with ``error`` in our status shape (ErrorInfo, BadRequest)."""
    status = status_for(error)
    trailers = [("grpc-status-details-bin", status.SerializeToString())]
    if error.retry_after_s is not None:  # the gateway passes it on as the HTTP header
        trailers.append(("retry-after", str(error.retry_after_s)))
    await ctx.abort(error.code, error.message, trailing_metadata=tuple(trailers))


def _as_portal_error(exc: Exception, method: str) -> PortalError:
    if isinstance(exc, PortalError):
        if isinstance(exc, Internal):
            log.error("rpc_internal_error", error=exc.message)
        return exc
    if is_outage(exc):  # Postgres down or restarting: "try again later", not a bug
        log.warning(
            "rpc_dependency_unavailable",
            error_type=type(exc).__name__,
            error=str(exc)[:200],
            rpc=method,
        )
        return UpstreamUnavailable()
    # The traceback goes to the log; the client gets a generic message.
    log.exception("rpc_unexpected_error", error_type=type(exc).__name__, rpc=method)
    return Internal()


class ErrorMappingInterceptor(WrappingInterceptor):
    """Typed domain errors → gRPC status with ErrorInfo; anything else → INTERNAL, generic; an
    undecodable request body → INVALID_ARGUMENT (``VALIDATION_FAILED``)."""

    tolerate = True

    def wrap(self, behavior: Behavior, method: str) -> Behavior:
        if inspect.isasyncgenfunction(behavior):

            async def stream(request: Any, ctx: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                try:
                    if request is UNDECODABLE:
                        raise ValidationFailed("The request is malformed.")
                    async for item in behavior(request, ctx):
                        yield item
                except grpc.aio.AbortError:
                    raise
                except Exception as exc:
                    await abort_with(ctx, _as_portal_error(exc, method))

            return stream

        async def unary(request: Any, ctx: grpc.aio.ServicerContext) -> Any:
            try:
                if request is UNDECODABLE:
                    raise ValidationFailed("The request is malformed.")
                return await behavior(request, ctx)
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await abort_with(ctx, _as_portal_error(exc, method))

        return unary


def wrap_before(
    behavior: Behavior, before: Callable[[grpc.aio.ServicerContext], Awaitable[None]]
) -> Behavior:
    """Run ``before(ctx)`` ahead of a unary or server-streaming behaviour."""
    if inspect.isasyncgenfunction(behavior):

        async def stream(request: Any, ctx: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            await before(ctx)
            async for item in behavior(request, ctx):
                yield item

        return stream

    async def unary(request: Any, ctx: grpc.aio.ServicerContext) -> Any:
        await before(ctx)
        return await behavior(request, ctx)

    return unary
