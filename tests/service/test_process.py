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
    assert f"{service.upper()}_PORT: must be a whole number, not 'not-a-port'" in text
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


SECRET_VARIABLES = {
    "identity": ["DATABASE_URL", "REDIS_URL", "WHMCS_WEBHOOK_SECRET", "TLS_CERT_FILE"],
    "billing": ["WHMCS_SECRET", "WHMCS_WEBHOOK_SECRET", "BILLING_PAGE_TOKEN_SECRET"],
    "commerce": [
        "SALESFORCE_CONSUMER_SECRET",
        "COMMERCE_PAGE_TOKEN_SECRET",
        "FULFILLMENT_FREEBIT_MASTER_PASSWORD",
        "FREEBIT_OEM_KEY",
    ],
    "support": ["SUPPORT_PAGE_TOKEN_SECRET", "TLS_CA_FILE", "TLS_KEY_FILE"],
}


@pytest.mark.parametrize("service", SERVICES)
async def test_outside_development_missing_secrets_stop_the_process(service: str) -> None:
    """Without PORTAL_ENV=development a process never runs on the development secrets: each
    one it was not given is named, and it exits 2 before serving anything."""
    cleared = {k: v for k, v in os.environ.items() if k != "PORTAL_ENV"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", f"services.{service}", cwd=ROOT,
        env={**cleared, "PORTAL_ENV": "production", f"{service.upper()}_PORT": str(free_port())},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 2
    text = stderr.decode()
    for variable in SECRET_VARIABLES[service]:
        assert f"  {variable}: required outside development" in text, text
    assert "portal-dev" not in text and "Traceback" not in text


@pytest.mark.parametrize("service", SERVICES)
async def test_outside_development_given_secrets_pass_the_check(service: str) -> None:
    """The same process with every variable the check named set goes past it (and then stops
    on the unreachable database or the unreadable TLS files)."""
    cleared = {k: v for k, v in os.environ.items() if k != "PORTAL_ENV"}
    first = await asyncio.create_subprocess_exec(
        sys.executable, "-m", f"services.{service}", cwd=ROOT,
        env={**cleared, "PORTAL_ENV": "production"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(first.communicate(), 90)
    named = [line.split(":")[0].strip() for line in stderr.decode().splitlines()[1:]]
    given = {name: "/nonexistent/secret" for name in named}
    given |= {
        "DATABASE_URL": "postgresql://x:y@127.0.0.1:1/none",
        "REDIS_URL": "redis://:z@127.0.0.1:1/0",
    }
    second = await asyncio.create_subprocess_exec(
        sys.executable, "-m", f"services.{service}", cwd=ROOT,
        env={**cleared, "PORTAL_ENV": "production", **given},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr2 = await asyncio.wait_for(second.communicate(), 90)
    text = stderr2.decode()
    assert len(named) >= 6 and "missing configuration" not in text, text
    assert second.returncode != 0
