"""Salesforce Pub/Sub API client (grpc.aio): Change Data Capture as an async iterator.

``subscribe(topic, replay_from)`` yields :class:`~services.common.clients.cdc.ChangeEvent` and
:class:`~services.common.clients.cdc.KeepAlive` items. It

- authenticates with the REST client's OAuth session (metadata ``accesstoken``, ``instanceurl``,
  ``tenantid``) and, on UNAUTHENTICATED with the ``...service.auth.error`` trailer, logs in again
  and reconnects;
- starts from ``replay_from`` (CUSTOM) when given, else LATEST (or EARLIEST when asked);
- pulls: asks for ``batch`` events (at most 100, the server's cap on a stream's pending demand)
  and tops the demand up as the caller consumes them, so the demand never runs out while the
  caller keeps up: a stream without demand is closed by the server after about a minute;
- decodes payloads with fastavro against schemas fetched once per schema id (GetSchema);
- reconnects with full-jitter exponential backoff when the stream fails (UNAVAILABLE, ...), ends
  (the server completes idle streams) or stays silent past ``idle_timeout_s``, resuming with
  CUSTOM after the last replay id it yielded (an event yielded but not yet processed by the
  caller is the caller's to store; delivery stays at-least-once, so the caller must tolerate
  repeats);
- raises :class:`~services.common.errors.ReplayIdInvalid` on the corrupted/expired or
  ``validation.failed`` replay-id trailers (resubscribe from LATEST after a cache flush), and
  ``UpstreamUnavailable`` after ``max_reconnects`` consecutive failed connections.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import cast

import grpc
import structlog
from eventbus.v1 import pubsub_api_pb2 as pb
from eventbus.v1 import pubsub_api_pb2_grpc

from services.common.clients.cdc import ChangeEvent, EventSchema, KeepAlive
from services.common.clients.resilience import Policy, Unreachable, Upstream
from services.common.clients.salesforce import SalesforceClient, Session
from services.common.errors import ReplayIdInvalid, UpstreamUnavailable

SYSTEM = "salesforce_pubsub"
AUTH_ERROR = "sfdc.platform.eventbus.grpc.service.auth.error"
REPLAY_CORRUPTED = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
REPLAY_INVALID = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.validation.failed"
ENDED = "stream completed by the server"
MAX_DEMAND = 100  # the server counts at most 100 requested events per stream
log = structlog.get_logger("upstream")
Item = ChangeEvent | KeepAlive


@dataclass(frozen=True)
class PubSubConfig:
    target: str = "127.0.0.1:8704"  # real: api.pubsub.salesforce.com:7443 with tls=True
    tls: bool = False
    batch: int = 100
    rpc_timeout_s: float = 10.0
    idle_timeout_s: float = 300.0  # the real server sends a keep-alive within 270 s
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    max_reconnects: int = 20  # consecutive failed connections before UpstreamUnavailable
    policy: Policy = field(default_factory=Policy)


class _Restart(Exception):
    """Internal: the stream ended or failed in a way worth a reconnect."""

    def __init__(self, why: str, *, reauth: bool = False) -> None:
        super().__init__(why)
        self.why, self.reauth = why, reauth


class SalesforcePubSubClient:
    def __init__(self, config: PubSubConfig, rest: SalesforceClient) -> None:
        self.config = config
        self.rest = rest
        self.upstream = Upstream(SYSTEM, config.policy)
        creds = grpc.ssl_channel_credentials() if config.tls else None
        self._channel = (
            grpc.aio.secure_channel(config.target, creds)
            if creds is not None
            else grpc.aio.insecure_channel(config.target)
        )
        self._stub = pubsub_api_pb2_grpc.PubSubStub(self._channel)
        self._schemas: dict[str, EventSchema] = {}
        self._session: Session | None = None

    async def aclose(self) -> None:
        self.upstream.close()
        await self._channel.close()

    async def _metadata(self, *, refresh: bool = False) -> tuple[tuple[str, str], ...]:
        if self._session is None or refresh:
            self._session = await self.rest.session(refresh=refresh)
        s = self._session
        return (("accesstoken", s.access_token), ("instanceurl", s.instance_url),
                ("tenantid", s.tenant_id))  # fmt: skip

    async def schema(self, schema_id: str) -> EventSchema:
        """The decoded schema of ``schema_id``, fetched once (GetSchema) and cached."""
        cached = self._schemas.get(schema_id)
        if cached is not None:
            return cached

        async def fetch() -> EventSchema:
            for refresh in (False, True):
                md = await self._metadata(refresh=refresh)
                try:
                    info = await self._stub.GetSchema(
                        pb.SchemaRequest(schema_id=schema_id),
                        metadata=md,
                        timeout=self.config.rpc_timeout_s,
                    )
                    return EventSchema(info.schema_id or schema_id, info.schema_json)
                except grpc.aio.AioRpcError as exc:
                    if not (_error_code(exc) == AUTH_ERROR and not refresh):
                        raise Unreachable(f"GetSchema {exc.code().name}") from None
            raise Unreachable("GetSchema unauthenticated")

        schema = await self.upstream.call("GetSchema", fetch, idempotent=True)
        self._schemas[schema_id] = schema
        return schema

    async def subscribe(
        self,
        topic: str,
        replay_from: bytes | None = None,
        *,
        earliest: bool = False,
        batch: int | None = None,
    ) -> AsyncIterator[Item]:
        """Events of ``topic`` (e.g. ``/data/OrderChangeEvent``) after ``replay_from``."""
        last = replay_from or None
        failures, reauth = 0, False
        while True:
            preset = pb.CUSTOM if last else (pb.EARLIEST if earliest else pb.LATEST)
            try:
                md = await self._metadata(refresh=reauth)
                stream = self._stream(topic, preset, last, batch or self.config.batch, md)
                async for item in stream:
                    failures, reauth = 0, False
                    yield item
                    # The caller is back for more: everything up to here is consumed.
                    if isinstance(item, ChangeEvent):
                        last = item.replay_id
                    elif item.latest_replay_id:
                        last = item.latest_replay_id
                why, reauth = ENDED, False
            except _Restart as restart:
                why, reauth = restart.why, restart.reauth
            except UpstreamUnavailable as exc:  # session or schema fetch failed
                why, reauth = type(exc).__name__, False
            failures += 1
            # A stream the server completed (status OK, e.g. its idle close) is no outage.
            self.upstream.record("Subscribe", "ended" if why == ENDED else "unavailable", why)
            if failures > self.config.max_reconnects:
                raise Unreachable(f"Subscribe: {why}")
            await asyncio.sleep(self._backoff(failures))

    def _backoff(self, failures: int) -> float:
        c = self.config
        return random.uniform(
            0, min(c.reconnect_max_s, c.reconnect_initial_s * 2 ** (failures - 1))
        )

    async def _stream(
        self,
        topic: str,
        preset: pb.ReplayPreset,
        replay_id: bytes | None,
        batch: int,
        md: tuple[tuple[str, str], ...],
    ) -> AsyncIterator[Item]:
        batch = max(1, min(batch, MAX_DEMAND))
        requests: asyncio.Queue[pb.FetchRequest | None] = asyncio.Queue()
        first = pb.FetchRequest(topic_name=topic, replay_preset=preset, num_requested=batch)
        if replay_id:
            first.replay_id = replay_id
        requests.put_nowait(first)

        async def send() -> AsyncIterator[pb.FetchRequest]:
            while (req := await requests.get()) is not None:
                yield req

        call = self._stub.Subscribe(send(), metadata=md)
        demand = _Demand(batch)
        try:
            while True:
                resp = await self._read(call)
                if not resp.events:
                    yield KeepAlive(bytes(resp.latest_replay_id), topic)
                for consumer_event in resp.events:
                    demand.delivered()
                    yield await self._decode(consumer_event, topic)
                    # The caller is back: top the demand up before it runs out.
                    if (more := demand.top_up()) > 0:
                        requests.put_nowait(pb.FetchRequest(topic_name=topic, num_requested=more))
        finally:
            requests.put_nowait(None)
            call.cancel()

    async def _read(self, call: grpc.aio.StreamStreamCall) -> pb.FetchResponse:
        try:
            resp = await asyncio.wait_for(call.read(), self.config.idle_timeout_s)
        except TimeoutError:
            raise _Restart("no keep-alive within the idle timeout") from None
        except grpc.aio.AioRpcError as exc:
            code = _error_code(exc)
            if code in (REPLAY_CORRUPTED, REPLAY_INVALID):
                raise ReplayIdInvalid(SYSTEM, code, exc.details() or "") from None
            raise _Restart(f"{exc.code().name} {code}".strip(), reauth=code == AUTH_ERROR) from None
        if resp is grpc.aio.EOF:
            raise _Restart(ENDED)
        return cast(pb.FetchResponse, resp)

    async def _decode(self, event: pb.ConsumerEvent, topic: str) -> ChangeEvent:
        schema = await self.schema(event.event.schema_id)
        try:
            return schema.decode(event.event.payload, bytes(event.replay_id), event.event.id, topic)
        except (ValueError, KeyError, EOFError) as exc:
            log.error("cdc_event_undecodable", system=SYSTEM, error=type(exc).__name__)
            raise Unreachable("undecodable CDC event") from None


class _Demand:
    """Events asked for but not yet delivered; topped up to ``batch`` once half was consumed."""

    def __init__(self, batch: int) -> None:
        self.batch, self.outstanding = batch, batch

    def delivered(self) -> None:
        self.outstanding -= 1

    def top_up(self) -> int:
        if self.outstanding > self.batch // 2:
            return 0
        more, self.outstanding = self.batch - self.outstanding, self.batch
        return more


def _error_code(exc: grpc.aio.AioRpcError) -> str:
    for key, value in exc.trailing_metadata() or ():
        if key == "error-code":
            return value if isinstance(value, str) else value.decode()
    return ""
