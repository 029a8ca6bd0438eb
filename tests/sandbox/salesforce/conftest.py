"""Fixtures: the Salesforce sandbox in-process on port 0, simple-salesforce and Pub/Sub clients."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import fastavro
import grpc
import httpx
import pytest
import pytest_asyncio
import requests
from eventbus.v1 import pubsub_api_pb2 as pb
from eventbus.v1 import pubsub_api_pb2_grpc
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce

from sandbox.salesforce import RunningSalesforce, start_salesforce

KEY, SECRET = "portal-dev", "portal-dev-secret"


class HttpsToHttp(HTTPAdapter):
    """simple-salesforce hard-codes https://; send every https request to the plain-HTTP sandbox.

    Token requests go to ``https://<domain>.salesforce.com``; data requests to the instance_url
    ``https://127.0.0.1:<port>`` the sandbox returned. Both end up at ``base``.
    """

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base.rstrip("/")

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(request.url or "")
        request.url = self.base + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().send(request, *args, **kwargs)


def make_client(running: RunningSalesforce, **kwargs: Any) -> Salesforce:
    session = requests.Session()
    session.mount("https://", HttpsToHttp(running.rest_url))
    args = {"consumer_key": KEY, "consumer_secret": SECRET, "domain": "portal-dev.my"}
    args.update(kwargs)
    return Salesforce(session=session, **args)


@pytest_asyncio.fixture(scope="session")
async def sf() -> AsyncIterator[RunningSalesforce]:
    running = await start_salesforce(batch_size=3, keepalive_s=0.5)
    yield running
    await running.stop()


@pytest_asyncio.fixture(autouse=True)
async def _reset(sf: RunningSalesforce) -> None:
    await sf.state.control.reset()


@pytest_asyncio.fixture
async def http(sf: RunningSalesforce) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sf.rest_url) as client:
        yield client


@pytest.fixture
def run_sync() -> Callable[..., Any]:
    """Run a blocking simple-salesforce call off the loop (the sandbox lives on the loop)."""

    async def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    return run


@pytest_asyncio.fixture
async def client(sf: RunningSalesforce) -> Salesforce:
    return await asyncio.to_thread(make_client, sf)


async def fetch_token(http: httpx.AsyncClient) -> str:
    resp = await http.post(
        "/services/oauth2/token", data={"grant_type": "client_credentials"}, auth=(KEY, SECRET)
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


@pytest_asyncio.fixture
async def token(http: httpx.AsyncClient) -> str:
    return await fetch_token(http)


@pytest_asyncio.fixture
async def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest_asyncio.fixture
async def pubsub(sf: RunningSalesforce) -> AsyncIterator[pubsub_api_pb2_grpc.PubSubStub]:
    channel = grpc.aio.insecure_channel(sf.pubsub_target)
    yield pubsub_api_pb2_grpc.PubSubStub(channel)
    await channel.close()


@pytest.fixture
def metadata(sf: RunningSalesforce, token: str) -> tuple[tuple[str, str], ...]:
    return (
        ("accesstoken", token),
        ("instanceurl", sf.state.instance_url),
        ("tenantid", sf.state.settings.tenant_id),
    )


def decode_event(schema_json: str, event: pb.ConsumerEvent) -> dict[str, Any]:
    schema = fastavro.parse_schema(__import__("json").loads(schema_json))
    record = fastavro.schemaless_reader(io.BytesIO(event.event.payload), schema, schema)
    assert isinstance(record, dict)
    return record


def bitmap_fields(schema_json: str, bitmaps: list[str]) -> list[str]:
    """Decode changedFields/nulledFields bitmaps (``0x..`` and ``<pos>-0x..``) to field names."""
    import json

    fields = json.loads(schema_json)["fields"]
    names: list[str] = []
    for entry in bitmaps:
        if entry.startswith("0x"):
            bits = int(entry, 16)
            names += [f["name"] for i, f in enumerate(fields) if bits >> i & 1]
        else:
            pos, _, hexbits = entry.partition("-")
            parent = fields[int(pos)]
            record = next(t for t in parent["type"] if isinstance(t, dict))
            bits = int(hexbits, 16)
            names += [
                f"{parent['name']}.{f['name']}"
                for i, f in enumerate(record["fields"])
                if bits >> i & 1
            ]
    return names


class Subscription:
    """A Subscribe stream driven by a queue of FetchRequests."""

    def __init__(
        self,
        stub: pubsub_api_pb2_grpc.PubSubStub,
        metadata: Any,
        topic: str,
        num_requested: int = 10,
        preset: int = pb.LATEST,
        replay_id: bytes = b"",
    ) -> None:
        self.topic = topic
        self.queue: asyncio.Queue[pb.FetchRequest | None] = asyncio.Queue()
        self.queue.put_nowait(
            pb.FetchRequest(
                topic_name=topic,
                replay_preset=preset,
                replay_id=replay_id,
                num_requested=num_requested,
            )
        )
        self.call = stub.Subscribe(self._requests(), metadata=metadata)

    async def _requests(self) -> AsyncIterator[pb.FetchRequest]:
        while (req := await self.queue.get()) is not None:
            yield req

    def request(self, n: int) -> None:
        self.queue.put_nowait(pb.FetchRequest(topic_name=self.topic, num_requested=n))

    async def next(self, wait_s: float = 3.0) -> pb.FetchResponse:
        resp = await asyncio.wait_for(self.call.read(), wait_s)
        assert resp is not grpc.aio.EOF, "stream ended"
        return resp

    async def ready(self) -> None:
        """Wait for the first keep-alive: the server has then taken its starting position."""
        resp = await self.next()
        assert not resp.events

    async def events(self, count: int, wait_s: float = 3.0) -> list[pb.ConsumerEvent]:
        out: list[pb.ConsumerEvent] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while len(out) < count:
            resp = await self.next(max(deadline - loop.time(), 0.01))
            out.extend(resp.events)
        return out

    def close(self) -> None:
        self.queue.put_nowait(None)
        self.call.cancel()


class Helpers:
    make_client = staticmethod(make_client)
    fetch_token = staticmethod(fetch_token)
    decode_event = staticmethod(decode_event)
    bitmap_fields = staticmethod(bitmap_fields)
    start = staticmethod(start_salesforce)
    Subscription = Subscription


@pytest.fixture
def h() -> type[Helpers]:
    return Helpers
