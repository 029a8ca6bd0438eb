"""The whole portal from the real compose.yaml (plus deploy/compose.local.yaml, which swaps only
what cannot exist here; merged by ``docker-compose config``, host-networked services' published
ports dropped: tools/containers/compose_local.py), through its start order, health checks and
the ``keys``/``migrate`` jobs: ``/readyz`` answers 200, a smoke run through the gateway, and
``down`` leaves nothing.

Ports are free ones (PORTAL_LOCAL_*), the database and the cache namespace are the run's own on
the machine's Postgres and Redis, so a run never meets another stack on the same machine.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import redis

from tests.containers.conftest import ENVOY_IMAGE, docker, docker_env
from tools import infra
from tools.containers.compose_local import resolved_text
from tools.containers.local_envoy import local_text
from tools.stack import ROOT, SERVICES, Ports

# vfs on two shared cores: far beyond the suite-wide 120 s per test.
pytestmark = pytest.mark.timeout(1500)
HANAKO = {"email": "hanako.yamada@example.jp", "password": "demo-password-1"}
UP_WITHIN = 900.0  # vfs and two shared cores: generous


@dataclass
class ComposeRun:
    project: str
    ports: Ports
    env: dict[str, str]
    database_url: str
    redis_url: str
    namespace: str
    resolved: Path  # compose.yaml + deploy/compose.local.yaml (tools/containers/compose_local.py)

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        argv = [
            "docker-compose",
            "-p",
            self.project,
            "-f",
            str(self.resolved),
            "--project-directory",
            str(ROOT),
            "--profile",
            "sandbox",
            *args,
        ]
        return subprocess.run(
            argv, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def leftovers(self) -> dict[str, list[str]]:
        label = f"label=com.docker.compose.project={self.project}"
        return {
            kind: docker(*cmd, "--filter", label).split()
            for kind, cmd in {
                "containers": ("ps", "-aq"),
                "volumes": ("volume", "ls", "-q"),
                "networks": ("network", "ls", "-q"),
            }.items()
        }


def _in_container(url: str, host: str) -> str:
    """The machine's server URL as a container sees it: the compose service name as host."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    hostport = netloc[-1].replace("127.0.0.1", host).replace("localhost", host)
    return urlunsplit(parts._replace(netloc="@".join([*netloc[:-1], hostport])))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeRun]:
    database_url, redis_url = infra.urls_from_env()
    suffix = uuid.uuid4().hex[:8]
    db_name = f"portal_compose_{suffix}"
    db_url = urlunsplit(urlsplit(database_url)._replace(path=f"/{db_name}"))
    asyncio.run(infra.create_database(db_url))
    ports = Ports.free()
    config: Path = tmp_path_factory.mktemp("compose") / "envoy-local.yaml"
    config.write_text(local_text(ports))
    config.chmod(0o644)
    env = {
        **docker_env(),
        # On the vfs storage driver every container created is a full copy of the image: slow
        # API calls, so a long client timeout. No COMPOSE_PARALLEL_LIMIT: docker-compose 1.29
        # holds one slot per service while it creates that service's containers in nested slots
        # of the same limit, so a limit below the number of services deadlocks `up` before it
        # creates anything.
        "COMPOSE_HTTP_TIMEOUT": "900",
        "PORTAL_LOCAL_DATABASE_URL": _in_container(db_url, "postgres"),
        "PORTAL_LOCAL_REDIS_URL": _in_container(redis_url, "redis"),
        "PORTAL_LOCAL_CACHE_NAMESPACE": f"compose-{suffix}",
        "PORTAL_LOCAL_ENVOY_IMAGE": ENVOY_IMAGE,
        "PORTAL_LOCAL_ENVOY_CONFIG": str(config),
        "PORTAL_LOCAL_GATEWAY_PORT": str(ports.gateway),
        "PORTAL_LOCAL_SALESFORCE_PORT": str(ports.salesforce),
        "PORTAL_LOCAL_SALESFORCE_PUBSUB_PORT": str(ports.salesforce_pubsub),
        "PORTAL_LOCAL_WHMCS_PORT": str(ports.whmcs),
        "PORTAL_LOCAL_FREEBIT_PORT": str(ports.freebit),
        "PORTAL_LOCAL_MAIL_PORT": str(ports.mail),
        "PORTAL_LOCAL_MAIL_SMTP_PORT": str(ports.mail_smtp),
        **{f"PORTAL_LOCAL_{s.upper()}_PORT": str(ports.service(s)) for s in SERVICES},
        **{
            f"PORTAL_LOCAL_{s.upper()}_METRICS_PORT": str(ports.service(f"{s}_metrics"))
            for s in SERVICES
        },
    }
    resolved = config.parent / "compose.resolved.yaml"
    resolved.write_text(resolved_text(env))
    compose_run = ComposeRun(
        f"portalci{suffix}", ports, env, db_url, redis_url, f"compose-{suffix}", resolved
    )
    try:
        yield compose_run
    finally:
        compose_run.compose("down", "-v", "--remove-orphans", "--timeout", "20")
        asyncio.run(infra.drop_database(db_url))  # through the server's `postgres` database
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{compose_run.namespace}:*", count=500):
            client.delete(key)
        client.close()


def _logs(run: ComposeRun) -> str:
    done = run.compose("logs", "--no-color", "--tail", "30", timeout=120)
    return done.stdout[-8000:]


def test_up_follows_the_start_order_and_becomes_ready(run: ComposeRun) -> None:
    started = time.monotonic()
    up = run.compose("up", "-d", "--no-build", timeout=UP_WITHIN)
    assert up.returncode == 0, up.stderr[-4000:] + _logs(run)
    # The one-shot jobs ran to completion before the services started (compose's conditions).
    for job in ("keys", "migrate"):
        state = docker(
            "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", f"{run.project}_{job}_1"
        ).strip()
        assert state == "exited 0", (job, state)
    deadline = time.monotonic() + 120
    status = 0
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            try:
                status = client.get(f"{run.gateway}/readyz").status_code
            except httpx.HTTPError:
                status = 0
            if status == 200:
                break
            time.sleep(1.0)
    assert status == 200, _logs(run)
    print(f"\ncompose up to /readyz 200: {time.monotonic() - started:.0f} s")
    # Every service container reports healthy (Docker's own health checks, compose.yaml's tests).
    for name in SERVICES:
        health = docker(
            "inspect", "--format", "{{.State.Health.Status}}", f"{run.project}_{name}_1"
        ).strip()
        assert health == "healthy", (name, health)


def test_smoke_through_the_gateway(run: ComposeRun) -> None:
    with httpx.Client(base_url=run.gateway, timeout=30.0) as gw:
        assert gw.get("/healthz").status_code == 200
        linked = gw.post("/v1/auth/link", json=HANAKO)
        assert linked.status_code == 200, linked.text
        auth = {"authorization": f"Bearer {linked.json()['session']['accessToken']}"}
        assert gw.get("/v1/me", headers=auth).json()["user"]["customerNumber"] == "AC-000101"
        invoices = gw.get("/v1/invoices", headers=auth)
        assert invoices.status_code == 200 and invoices.json()["invoices"], invoices.text
        products = gw.get("/v1/catalog/products", headers=auth)
        assert products.status_code == 200, products.text
        ids = {p["sku"]: p["id"] for p in products.json()["products"]}
        order = gw.post(
            "/v1/orders",
            headers=auth,
            json={
                "requestId": f"compose-{uuid.uuid4().hex[:8]}",
                "items": [{"productId": ids["INTERNET-GOLD-HOME-1G"], "quantity": 1}],
            },
        )
        assert order.status_code == 200, order.text
        assert order.json()["order"]["status"] == "ORDER_STATUS_PENDING_REVIEW"
        created = gw.post(
            "/v1/cases",
            headers=auth,
            json={
                "subject": "Compose smoke",
                "description": "From the containers test.",
                "category": "CASE_CATEGORY_TECHNICAL",
                "priority": "CASE_PRIORITY_LOW",
            },
        )
        assert created.status_code == 200, created.text
        assert created.json()["case"]["caseNumber"]
        # Without a token the gateway refuses (jwt_authn at the edge, inside the container too).
        assert gw.get("/v1/invoices").status_code == 401


def test_down_leaves_nothing_running(run: ComposeRun) -> None:
    assert run.compose("ps", "-q").stdout.strip(), "nothing was running before down"
    down = run.compose("down", "-v", "--remove-orphans", "--timeout", "20")
    assert down.returncode == 0, down.stderr[-4000:]
    assert run.leftovers() == {"containers": [], "volumes": [], "networks": []}
    assert not docker("ps", "-q").strip(), "a container of the private daemon still runs"
    with httpx.Client(timeout=2.0) as client, pytest.raises(httpx.HTTPError):
        client.get(f"{run.gateway}/healthz")
    assert os.environ.get("PORTAL_DOCKER_HOST")
