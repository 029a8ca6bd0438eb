"""The whole stack on a Redis Cluster (``REDIS_URL=redis+cluster://``): a second stack of its own
(free ports, its own database and run dir) on a throwaway 3-master cluster. Cached reads through
the gateway are served from the cluster, and a user's keys share one hash tag (one slot)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from services.common.cache import SHARED_CATALOG, UserScope
from services.common.cache.keys import scope_prefix
from tests.helpers.accounts import HANAKO, customer_token
from tests.helpers.logbook import LogBook
from tests.helpers.redis_servers import RedisProcess, cli, redis_cluster
from tests.helpers.stacks import running_stack
from tools.stack import Stack

pytestmark = pytest.mark.e2e


@dataclass
class ClusterStack:
    stack: Stack
    nodes: list[RedisProcess]
    gateway: httpx.AsyncClient


@pytest.fixture(scope="module")
async def cluster_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ClusterStack]:
    with redis_cluster(tmp_path_factory.mktemp("e2e-cluster")) as nodes:
        redis_url = f"redis+cluster://127.0.0.1:{nodes[0].port}"
        run_dir = tmp_path_factory.mktemp("run-cluster")
        # Steady state (running_stack waits for it): the CDC consumer has subscribed.
        async with (
            running_stack(run_dir, LogBook(), prefix="portal_e2e_rc", redis_url=redis_url) as stack,
            httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=10) as gateway,
        ):
            yield ClusterStack(stack, nodes, gateway)


def _sub(token: str) -> str:
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])


def _stack_keys(node: RedisProcess, namespace: str) -> list[str]:
    found = cli(node.port, "--scan", "--pattern", f"{namespace}:*").splitlines()
    return [k for k in found if k]


async def _calls(url: str, name: str) -> int:
    async with httpx.AsyncClient(timeout=5) as client:
        return int((await client.get(f"{url}/__sandbox/stats")).json()["calls"].get(name, 0))


async def test_cached_reads_through_the_gateway_land_in_the_cluster(
    cluster_stack: ClusterStack,
) -> None:
    gateway, ports = cluster_stack.gateway, cluster_stack.stack.config.ports
    token = await customer_token(gateway, "/v1/auth/link", HANAKO)  # fresh database: links
    headers = {"authorization": f"Bearer {token}"}
    whmcs, salesforce = f"http://127.0.0.1:{ports.whmcs}", f"http://127.0.0.1:{ports.salesforce}"

    first = await gateway.get("/v1/invoices", headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["invoices"]
    loads = await _calls(whmcs, "GetInvoices")
    second = await gateway.get("/v1/invoices", headers=headers)
    assert second.status_code == 200 and second.json() == first.json()
    assert await _calls(whmcs, "GetInvoices") == loads  # served from the cluster

    catalog = await gateway.get("/v1/catalog/products", headers=headers)
    assert catalog.status_code == 200 and catalog.json()["products"], catalog.text
    queries = await _calls(salesforce, "query:PricebookEntry")
    again = await gateway.get("/v1/catalog/products", headers=headers)
    assert again.status_code == 200 and again.json() == catalog.json()
    assert await _calls(salesforce, "query:PricebookEntry") == queries

    namespace = cluster_stack.stack.config.cache_namespace
    tag = scope_prefix(namespace, UserScope(_sub(token)))  # <namespace>:{u:<user id>}
    by_node = {n.port: _stack_keys(n, namespace) for n in cluster_stack.nodes}
    mine = {port: [k for k in keys if k.startswith(tag + ":")] for port, keys in by_node.items()}
    holders = [port for port, keys in mine.items() if keys]
    assert len(holders) == 1, mine  # one hash tag: one slot, one master
    keys = mine[holders[0]]
    assert any(":billing:" in k for k in keys) and any(":commerce:" in k for k in keys), keys
    slots = {cli(holders[0], "cluster", "keyslot", k).strip() for k in keys}
    assert len(slots) == 1
    (slot,) = slots
    assert int(cli(holders[0], "cluster", "countkeysinslot", slot)) >= len(keys)
    # The shared catalog lives under its own tag, on whichever master owns that slot.
    shared = scope_prefix(namespace, SHARED_CATALOG) + ":"
    assert sum(any(k.startswith(shared) for k in keys) for keys in by_node.values()) == 1, by_node
