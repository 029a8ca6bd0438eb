"""The stack's process plan (replicas, ports, the gateway's clusters) and how it reads a
child's output."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import yaml

from tools.stack import (
    PICK_FROM,
    SANDBOX_STATE_DIR_ENV,
    SERVICES,
    Ports,
    Stack,
    StackConfig,
    _ephemeral_start,
    port_is_free,
)


def _stack(tmp_path: Path, replicas: int) -> Stack:
    config = StackConfig("postgresql://x@127.0.0.1/db", "redis://127.0.0.1/0", ports=Ports.free(),
                         run_dir=tmp_path, with_sandboxes=False, replicas=replicas)  # fmt: skip
    return Stack(config)


def test_replicas_get_their_own_ports_and_share_a_cluster(tmp_path: Path) -> None:
    stack = _stack(tmp_path, replicas=2)
    children = {c.name: c for c in stack.commands()}
    for name in SERVICES:
        first, second = children[name], children[f"{name}-2"]
        assert first.argv == second.argv == [first.argv[0], "-m", f"services.{name}"]
        ports = {first.env[f"{name.upper()}_PORT"], second.env[f"{name.upper()}_PORT"]}
        assert len(ports) == 2
        target = stack.targets()[f"{name.upper()}_TARGET"]
        assert target == "ipv4:" + ",".join(f"127.0.0.1:{p}" for p, _ in stack.replicas[name])
    config = yaml.safe_load((tmp_path / f"envoy-{stack.config.ports.gateway}.yaml").read_text())
    for cluster in config["static_resources"]["clusters"]:
        if cluster["name"] in SERVICES:
            endpoints = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
            got = {e["endpoint"]["address"]["socket_address"]["port_value"] for e in endpoints}
            assert got == {g for g, _ in stack.replicas[cluster["name"]]}
    listener = config["static_resources"]["listeners"][0]
    filters = listener["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"]
    health = next(f for f in filters if f["name"] == "envoy.filters.http.health_check")
    minimum = health["typed_config"]["cluster_min_healthy_percentages"]
    assert minimum == {name: {"value": 50.0} for name in SERVICES}


def test_one_replica_needs_its_only_process(tmp_path: Path) -> None:
    stack = _stack(tmp_path, replicas=1)
    names = [c.name for c in stack.commands()]
    assert names == [*SERVICES, "envoy"]


def test_sandboxes_persist_only_with_a_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test stack is a fresh world even when the caller's environment names a state dir."""
    monkeypatch.setenv(SANDBOX_STATE_DIR_ENV, "/somewhere/else")
    fresh = StackConfig("postgresql://x@127.0.0.1/db", "redis://127.0.0.1/0", run_dir=tmp_path)
    assert SANDBOX_STATE_DIR_ENV not in fresh.env()
    kept = StackConfig("postgresql://x@127.0.0.1/db", "redis://127.0.0.1/0", run_dir=tmp_path,
                       sandbox_state_dir=tmp_path / "sandboxes")  # fmt: skip
    assert kept.env()[SANDBOX_STATE_DIR_ENV] == str(tmp_path / "sandboxes")


def test_every_process_gets_its_own_mesh_certificate(tmp_path: Path) -> None:
    stack = _stack(tmp_path, replicas=1)
    children = {c.name: c for c in stack.commands()}
    certs = tmp_path / "certs"
    assert stack.config.env()["PORTAL_ENV"] == "development"
    for name in SERVICES:
        env = children[name].env
        assert env["TLS_CERT_FILE"] == str(certs / f"{name}.pem")
        assert env["TLS_KEY_FILE"] == str(certs / f"{name}-key.pem")
        assert (certs / f"{name}.pem").is_file() and (certs / f"{name}-key.pem").is_file()
    config = yaml.safe_load((tmp_path / f"envoy-{stack.config.ports.gateway}.yaml").read_text())
    for cluster in config["static_resources"]["clusters"]:
        if cluster["name"] in SERVICES:
            tls = cluster["transport_socket"]["typed_config"]
            assert tls["sni"] == cluster["name"]
            chain = tls["common_tls_context"]["tls_certificates"][0]["certificate_chain"]
            assert chain == {"filename": str(certs / "gateway.pem")}


def test_without_mesh_tls_no_process_gets_certificates(tmp_path: Path) -> None:
    config = StackConfig("postgresql://x@127.0.0.1/db", "redis://127.0.0.1/0", ports=Ports.free(),
                         run_dir=tmp_path, with_sandboxes=False, mesh_tls=False)  # fmt: skip
    stack = Stack(config)
    children = {c.name: c for c in stack.commands()}
    assert not any("TLS_CERT_FILE" in children[name].env for name in SERVICES)
    assert not (tmp_path / "certs").exists()


def test_free_ports_are_distinct_bindable_and_outside_the_ephemeral_range() -> None:
    """Outgoing connections take their source port from the ephemeral range; a stack's port
    picked there could be taken before its process binds it."""
    ports = list(vars(Ports.free()).values())
    assert len(set(ports)) == len(ports)
    top = _ephemeral_start()
    if top - PICK_FROM >= 1000:
        assert all(PICK_FROM <= p < top for p in ports), ports
    assert all(port_is_free(p) for p in ports)


async def test_a_child_printing_a_line_longer_than_the_pipe_reader_limit_is_still_read(
    tmp_path: Path,
) -> None:
    """A line above asyncio's 64 KiB reader limit (a traceback with a large value in it) once
    ended the reading of a child's output: its pipe filled, its next write blocked, and a service
    blocked there stops answering its health checks, alive and unreachable. The child here
    prints such a line, then far more than a pipe holds: it must finish, every line read."""
    from tests.helpers.logbook import LogBook

    book = LogBook()
    stack = Stack(_stack(tmp_path, 1).config, sink=book)
    code = (
        "print('x' * 200_000, flush=True)\n"
        "for i in range(5000):\n"
        "    print('line', i, 'y' * 100, flush=True)\n"
        "print('done', end='', flush=True)\n"
    )
    child = await stack.start_child("talker", [sys.executable, "-c", code])
    assert child.process is not None
    try:
        assert await asyncio.wait_for(child.process.wait(), 20) == 0
    finally:
        await stack.stop_child("talker", grace=1)
    lines = book.of("talker")
    assert lines[0] == "x" * 200_000
    assert len(lines) == 5002 and lines[-2].startswith("line 4999 ") and lines[-1] == "done"
