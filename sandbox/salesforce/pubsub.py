"""The ``eventbus.v1.PubSub`` service over grpc.aio: Subscribe, GetSchema, GetTopic, Publish."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import grpc
from eventbus.v1 import pubsub_api_pb2 as pb
from eventbus.v1 import pubsub_api_pb2_grpc

from . import cdc
from .bus import CorruptReplayId, replay_bytes
from .events import PLATFORM_EVENTS, PlatformEvent
from .server import ALL_CHANGES, cdc_topic
from .subscribe import Stream, StreamRefused, check_requested

if TYPE_CHECKING:
    from .server import SalesforceState

AUTH_ERROR = "sfdc.platform.eventbus.grpc.service.auth.error"
REPLAY_CORRUPTED = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
REPLAY_VALIDATION_FAILED = (
    "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.validation.failed"
)
TOPIC_NOT_FOUND = "sfdc.platform.eventbus.grpc.topic.not.found"
SCHEMA_NOT_FOUND = "sfdc.platform.eventbus.grpc.schema.not.found"
RPC_FAULTS = frozenset({"unavailable", "latency", "expire_session", "rate_limit"})


async def _abort(context: Any, code: grpc.StatusCode, error_code: str, message: str) -> None:
    """End the call as the real service does: ``error-code`` and ``rpc-id`` trailers, and the rpc
    id appended to the message after ``rpcId: ``."""
    rpc_id = str(uuid.uuid4())
    context.set_trailing_metadata((("error-code", error_code), ("rpc-id", rpc_id)))
    await context.abort(code, f"{message} rpcId: {rpc_id}")


class PubSubService(pubsub_api_pb2_grpc.PubSubServicer):
    def __init__(self, state: SalesforceState) -> None:
        self.state = state

    async def _enter(self, rpc: str, context: Any) -> None:
        """Count the call, apply faults and check the auth metadata."""
        action = f"pubsub:{rpc}"
        fault = self.state.control.take(action, modes=RPC_FAULTS)
        if fault is not None:
            if fault.mode == "latency":
                await asyncio.sleep(fault.latency_ms / 1000)
            elif fault.mode == "unavailable":
                await _abort(
                    context,
                    grpc.StatusCode.UNAVAILABLE,
                    "sfdc.platform.eventbus.grpc.service.unavailable",
                    "The service is temporarily unavailable",
                )
            elif fault.mode == "rate_limit":
                await _abort(
                    context,
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    "sfdc.platform.eventbus.grpc.service.limit.exceeded",
                    "Request limit exceeded",
                )
            elif fault.mode == "expire_session":
                self.state.tokens.expire_all()
        md = {k: v for k, v in context.invocation_metadata() or ()}
        token_ok = self.state.tokens.valid(md.get("accesstoken"))
        if (
            not token_ok
            or md.get("tenantid") != self.state.settings.tenant_id
            or not md.get("instanceurl")
        ):
            await _abort(
                context,
                grpc.StatusCode.UNAUTHENTICATED,
                AUTH_ERROR,
                "The session is invalid or has expired (accesstoken, instanceurl, tenantid)",
            )

    def _schema_for_topic(self, topic: str) -> str | None:
        """Schema id of a topic; "" for the multi-entity channel; None when unknown."""
        if topic == ALL_CHANGES:
            return ""
        for name, schema in cdc.SCHEMAS.items():
            if topic == cdc_topic(name):
                return schema.schema_id
        event = PLATFORM_EVENTS.get(topic)
        return event.schema_id if event else None

    async def GetTopic(self, request: pb.TopicRequest, context: Any) -> pb.TopicInfo:
        await self._enter("GetTopic", context)
        schema_id = self._schema_for_topic(request.topic_name)
        if schema_id is None:
            await _abort(
                context,
                grpc.StatusCode.NOT_FOUND,
                TOPIC_NOT_FOUND,
                f"Topic not found: {request.topic_name}",
            )
        return pb.TopicInfo(
            topic_name=request.topic_name,
            tenant_guid=self.state.settings.tenant_id,
            can_publish=request.topic_name in PLATFORM_EVENTS,
            can_subscribe=True,
            schema_id=schema_id,
            rpc_id=str(uuid.uuid4()),
        )

    async def GetSchema(self, request: pb.SchemaRequest, context: Any) -> pb.SchemaInfo:
        await self._enter("GetSchema", context)
        schemas: list[cdc.CdcSchema | PlatformEvent] = [
            *cdc.SCHEMAS.values(),
            *PLATFORM_EVENTS.values(),
        ]
        for schema in schemas:
            if schema.schema_id == request.schema_id:
                return pb.SchemaInfo(
                    schema_json=schema.schema_json,
                    schema_id=schema.schema_id,
                    rpc_id=str(uuid.uuid4()),
                )
        await _abort(
            context,
            grpc.StatusCode.NOT_FOUND,
            SCHEMA_NOT_FOUND,
            f"Schema not found: {request.schema_id}",
        )
        raise AssertionError("unreachable")

    async def Publish(self, request: pb.PublishRequest, context: Any) -> pb.PublishResponse:
        await self._enter("Publish", context)
        topic = PLATFORM_EVENTS.get(request.topic_name)
        if topic is None:
            await _abort(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                "sfdc.platform.eventbus.grpc.publish.not.allowed",
                f"Publishing to {request.topic_name} is not allowed",
            )
            raise AssertionError("unreachable")
        results = []
        for event in request.events:
            # The payload is not decoded: the real service stores it as sent (a subscriber
            # finds out when it cannot decode it).
            error = None
            if event.schema_id != topic.schema_id:
                error = "schema id does not match the topic's schema"
            if error is not None:
                results.append(
                    pb.PublishResult(
                        error=pb.Error(code=pb.PUBLISH, msg=error), correlation_key=event.id
                    )
                )
                continue
            replay = self.state.bus.publish(
                frozenset({request.topic_name}),
                event.id or str(uuid.uuid4()),
                event.schema_id,
                event.payload,
            )
            results.append(
                pb.PublishResult(replay_id=replay_bytes(replay), correlation_key=event.id)
            )
        return pb.PublishResponse(
            results=results, schema_id=topic.schema_id, rpc_id=str(uuid.uuid4())
        )

    async def Subscribe(
        self, request_iterator: AsyncIterator[pb.FetchRequest], context: Any
    ) -> AsyncIterator[pb.FetchResponse]:
        await self._enter("Subscribe", context)
        first = await anext(aiter(request_iterator), None)
        if first is None:
            return
        try:
            stream = self._open(first)
        except (StreamRefused, CorruptReplayId) as exc:
            await _refuse(context, exc)
            return
        reader = asyncio.create_task(stream.read(request_iterator))
        self.state.bus.listen(stream.wake)
        try:
            async for response in stream.responses():
                yield response
        except StreamRefused as exc:
            await _refuse(context, exc)
        finally:
            self.state.bus.unlisten(stream.wake)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader

    async def PublishStream(
        self, request_iterator: AsyncIterator[pb.PublishRequest], context: Any
    ) -> AsyncIterator[pb.PublishResponse]:
        await self._enter("PublishStream", context)
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "PublishStream is not in the sandbox")
        yield pb.PublishResponse()  # unreachable: makes this an async generator

    async def ManagedSubscribe(
        self, request_iterator: AsyncIterator[pb.ManagedFetchRequest], context: Any
    ) -> AsyncIterator[pb.ManagedFetchResponse]:
        await self._enter("ManagedSubscribe", context)
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "ManagedSubscribe is not in the sandbox")
        yield pb.ManagedFetchResponse()  # unreachable: makes this an async generator

    def _open(self, first: pb.FetchRequest) -> Stream:
        """The stream a first FetchRequest asks for (topic, demand, start position)."""
        if self._schema_for_topic(first.topic_name) is None:
            raise StreamRefused(
                grpc.StatusCode.NOT_FOUND, TOPIC_NOT_FOUND, f"Topic not found: {first.topic_name}"
            )
        check_requested(first.num_requested)
        stream = Stream(self.state, first.topic_name, first.num_requested)
        stream.cursor = self._start_cursor(first)
        return stream

    def _start_cursor(self, first: pb.FetchRequest) -> int:
        bus = self.state.bus
        if first.replay_preset == pb.EARLIEST:
            return bus.earliest_cursor()
        if first.replay_preset == pb.CUSTOM:
            if not first.replay_id:
                raise StreamRefused(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    REPLAY_VALIDATION_FAILED,
                    "A CUSTOM replay preset needs a replay_id",
                )
            return bus.parse_replay(first.replay_id)
        return bus.last


async def _refuse(context: Any, exc: StreamRefused | CorruptReplayId) -> None:
    if isinstance(exc, CorruptReplayId):
        await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, REPLAY_CORRUPTED, str(exc))
    else:
        await _abort(context, exc.code, exc.error_code, exc.message)
