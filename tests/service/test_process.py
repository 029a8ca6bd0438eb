"""Each service as a real process: fail-fast configuration and graceful SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.helpers.fixtures import dev_keys_fixture, private_database_fixture
from tools.stack import ROOT, free_port

SERVICES = ["identity", "billing", "commerce", "support"]


# A database of this module's own (identity and commerce migrate at start), and signing keys
# (identity refuses to start without one): nothing from the checkout's .run/ folder.
database_url = private_database_fixture("portal_proc", ensure_postgres=False, scope="module")
keys = dev_keys_fixture("proc_keys", scope="module")


async def _spawn(service: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"services.{service}",
        cwd=ROOT,
        env={**os.environ, "LOG_JSON": "true", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.parametrize("service", SERVICES)
async def test_bad_configuration_stops_the_process_with_a_clear_message(service: str) -> None:
    process = await _spawn(service, {f"{service.upper()}_PORT": "not-a-port"})
    _, stderr = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 2
    text = stderr.decode()
    assert f"{service.upper()}_PORT" in text and "valid integer" in text
    assert "Traceback" not in text


@pytest.mark.parametrize("service", SERVICES)
async def test_sigterm_drains_and_exits_cleanly(
    service: str, database_url: str, keys: Path
) -> None:
    port = free_port()
    env = {
        f"{service.upper()}_PORT": str(port),
        "DATABASE_URL": database_url,
        "SIGNING_KEY_FILE": str(keys / "signing-key.pem"),
        "JWKS_FILE": str(keys / "jwks.json"),
    }
    process = await _spawn(service, env)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            await asyncio.wait_for(channel.channel_ready(), 90)
            response = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="")
            )
            assert response.status == health_pb2.HealthCheckResponse.SERVING
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 90)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 0
    events = [json.loads(line)["event"] for line in stderr.decode().splitlines() if line]
    # Background work (commerce's CDC consumer, with no Salesforce here) may log around these.
    lifecycle = [e for e in events if e.startswith("service_")]
    assert lifecycle == ["service_started", "service_stopping", "service_stopped"]


async def test_identity_without_a_signing_key_stops_with_a_clear_message(
    tmp_path: Path, database_url: str
) -> None:
    env = {
        "IDENTITY_PORT": str(free_port()),
        "DATABASE_URL": database_url,
        "SIGNING_KEY_FILE": str(tmp_path / "missing" / "signing-key.pem"),
        "JWKS_FILE": str(tmp_path / "missing" / "jwks.json"),
    }
    process = await _spawn("identity", env)
    _, stderr = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 2
    text = stderr.decode()
    assert "cannot start identity: no usable signing key" in text
    assert "Traceback" not in text
