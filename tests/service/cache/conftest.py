"""Service-level cache tests: real Redis servers started for this session (never the shared one's
data: each server is a throwaway ``redis-server --save ""`` on a free port in a temp dir, killed by
PID at the end, also when tests fail), plus a real 3-node Redis Cluster."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.common.cache import Cache, redis_from_url

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is valid and free too."""
    for _ in range(1000):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisProcess:
    """One throwaway redis-server; ``stop``/``start`` keep the port (to simulate an outage)."""

    def __init__(self, workdir: Path, *extra: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProcess:
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.workdir), *self.extra]
        self.log = self.workdir / f"redis-{self.port}.log"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not _ping(self.port):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(
                    f"redis-server on {self.port} did not start: {self.log.read_text()[-500:]}"
                )
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None


@pytest.fixture(scope="session")
def redis_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def uid() -> str:
    return f"user:{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def make_cache(redis_proc: RedisProcess) -> AsyncIterator[Any]:
    made: list[Cache] = []

    def make(url: str | None = None, **kw: Any) -> Cache:
        cache = Cache(redis_from_url(url or redis_proc.url), service="test", **kw)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        await cache.aclose()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real 3-master Redis Cluster on free ports; yields ``redis+cluster://`` of one node."""
    workdir = tmp_path_factory.mktemp("cluster")
    nodes: list[RedisProcess] = []
    try:
        for _ in range(3):
            port = free_cluster_port()
            conf = str(workdir / f"nodes-{port}.conf")
            extra = ("--cluster-enabled", "yes", "--cluster-config-file", conf)
            nodes.append(RedisProcess(workdir, *extra, port=port).start())
        addrs = [f"127.0.0.1:{n.port}" for n in nodes]
        subprocess.run(
            [REDIS_CLI, "--cluster", "create", *addrs, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=30,
        )
        deadline = time.monotonic() + 20
        for node in nodes:
            while True:
                info = subprocess.run(
                    [REDIS_CLI, "-p", str(node.port), "cluster", "info"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                ).stdout
                if "cluster_state:ok" in info:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("cluster did not reach cluster_state:ok")
                time.sleep(0.1)
        yield f"redis+cluster://127.0.0.1:{nodes[0].port}"
    finally:
        for node in nodes:
            node.stop()


class Loader:
    """A counting loader; ``delay`` simulates a slow upstream, ``fail`` an upstream error."""

    def __init__(self, tag: str = "v", delay: float = 0.0, fail: Exception | None = None) -> None:
        self.calls = 0
        self.tag, self.delay, self.fail = tag, delay, fail

    async def __call__(self) -> Any:
        from portal.billing.v1 import billing_pb2

        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        invoice = billing_pb2.Invoice(number=f"{self.tag}{self.calls}")
        return billing_pb2.ListInvoicesResponse(invoices=[invoice])


@pytest.fixture
def loader() -> type[Loader]:
    return Loader
