"""Process state and lifecycle: REST (aiohttp) + Pub/Sub (grpc.aio) sharing one org."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import grpc
from aiohttp import web
from eventbus.v1 import pubsub_api_pb2_grpc

from sandbox.control import Control
from sandbox.persistence import persist_app

from . import cdc, seed
from .bus import EventBus
from .config import Settings, Tokens
from .persisted import persisted_parts
from .rest import RestApi
from .store import Change, Store

STAMPS = frozenset({"LastModifiedDate", "SystemModstamp"})  # set per write, same per transaction

log = logging.getLogger("sandbox.salesforce")
ALL_CHANGES = "/data/ChangeEvents"


def cdc_topic(sobject: str) -> str:
    return f"/data/{sobject}ChangeEvent"


class SalesforceState:
    """Everything the REST and Pub/Sub sides share: org data, tokens, event bus, control."""

    def __init__(self, settings: Settings, instance_url: str = "https://127.0.0.1") -> None:
        self.settings = settings
        self.instance_url = instance_url
        self.tokens = Tokens(settings)
        self.control = Control(self.reset_data)
        self.bus = EventBus(settings.retention_s)
        self.store = Store()
        self.rest = RestApi(self.store, settings.batch_size)
        self.api_usage = 0
        self.commit_number = 1_000_000
        self.reset_data()

    def reset_data(self) -> None:
        self.store = Store()
        if self.settings.seed:
            seed.load(self.store, self.settings.pricebook_name)
        self.rest = RestApi(self.store, self.settings.batch_size)
        self.bus.clear()
        self.api_usage = 0

    def commit(self, action: str) -> None:
        """Publish the store's pending changes as one CDC transaction (honours the gap fault).

        Identical changes of one transaction (same object, change type, changed and nulled
        fields and values) become one event whose ``recordIds`` lists every record; gap events
        merge the same way (docs/contracts/salesforce.md "Merged events")."""
        changes = [c for c in self.store.drain() if c.sobject in cdc.SCHEMAS]
        if not changes:
            return
        fault = self.control.peek_take(action, modes=frozenset({"gap"}))
        self.commit_number += 1
        txn = str(uuid.uuid4())
        kinds = [_gap_kind(c, fault.extra if fault else None) for c in changes]
        for seq, (kind, group) in enumerate(merge(changes, kinds), start=1):
            schema, payload = cdc.encode(
                group[0],
                record_ids=list(dict.fromkeys(c.record_id for c in group)),
                transaction_key=txn,
                sequence=seq,
                commit_number=self.commit_number,
                change_type=kind,
            )
            topics = frozenset({cdc_topic(group[0].sobject), ALL_CHANGES})
            self.bus.publish(topics, str(uuid.uuid4()), schema.schema_id, payload)


def _gap_kind(change: Change, fault: dict[str, Any] | None) -> str:
    if fault is None:
        return change.change_type
    return "GAP_OVERFLOW" if fault.get("overflow") else f"GAP_{change.change_type}"


def _merge_key(change: Change, kind: str) -> tuple[Any, ...]:
    """Changes with equal keys in one transaction are delivered as one event."""
    if kind.startswith("GAP_") or kind == "DELETE":
        return (change.sobject, kind)  # these carry no field values
    if kind != "UPDATE":
        return (change.sobject, kind, change.record_id)  # creates differ in their values
    values = tuple(
        (name, repr(change.values.get(name))) for name in sorted(change.changed)
        if name not in STAMPS
    )  # fmt: skip
    return (change.sobject, kind, tuple(sorted(change.changed)), tuple(sorted(change.nulled)),
            values)  # fmt: skip


def merge(changes: list[Change], kinds: list[str]) -> list[tuple[str, list[Change]]]:
    """Group ``changes`` (in order of first appearance) by their merge key."""
    groups: dict[tuple[Any, ...], tuple[str, list[Change]]] = {}
    for change, kind in zip(changes, kinds, strict=True):
        groups.setdefault(_merge_key(change, kind), (kind, []))[1].append(change)
    return list(groups.values())


@dataclass
class RunningSalesforce:
    state: SalesforceState
    host: str
    port: int
    pubsub_port: int
    _runner: web.AppRunner
    _grpc: Any

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pubsub_target(self) -> str:
        return f"{self.host}:{self.pubsub_port}"

    @property
    def store(self) -> Store:
        return self.state.store

    async def stop(self) -> None:
        await self._grpc.stop(0.5)
        await self._runner.cleanup()


async def start_salesforce(
    host: str = "127.0.0.1", port: int = 0, pubsub_port: int = 0, **settings: Any
) -> RunningSalesforce:
    """Start REST and Pub/Sub in the running event loop (port 0 picks free ports)."""
    from .app import build_app
    from .pubsub import PubSubService

    config = Settings.from_env(**settings)
    state = SalesforceState(config)
    app = build_app(state)
    persist_app(app, "salesforce", persisted_parts(state))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    state.instance_url = config.instance_url or f"https://{host}:{bound}"
    server = grpc.aio.server()
    pubsub_api_pb2_grpc.add_PubSubServicer_to_server(PubSubService(state), server)
    grpc_port = server.add_insecure_port(f"{host}:{pubsub_port}")
    await server.start()
    log.info("salesforce sandbox: REST http://%s:%d, Pub/Sub %s:%d", host, bound, host, grpc_port)
    return RunningSalesforce(state, host, bound, grpc_port, runner, server)
