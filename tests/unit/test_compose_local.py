"""deploy/compose.local.yaml swaps only what cannot exist on a machine without a container bridge
or an image registry, and keeps every process on the loopback interface (no Docker engine needed:
``docker-compose config`` merges the files; the real run is ``make containers``)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tools.containers.compose_local import resolve
from tools.containers.local_envoy import render_local
from tools.stack import ROOT, SERVICES, Ports


def _addresses(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node["socket_address"]] if isinstance(node.get("socket_address"), dict) else []
        return found + [a for v in node.values() for a in _addresses(v)]
    if isinstance(node, list):
        return [a for v in node for a in _addresses(v)]
    return []


@pytest.fixture(scope="module")
def ports() -> Ports:
    return Ports(**{name: 20000 + i for i, name in enumerate(Ports.__dataclass_fields__)})


@pytest.fixture(scope="module")
def resolved(ports: Ports) -> dict[str, Any]:
    env = {
        "PATH": "/usr/bin:/bin",
        "PORTAL_LOCAL_GATEWAY_PORT": str(ports.gateway),
        "PORTAL_LOCAL_WHMCS_PORT": str(ports.whmcs),
        **{f"PORTAL_LOCAL_{s.upper()}_PORT": str(ports.service(s)) for s in SERVICES},
    }
    return resolve(env)


def test_every_service_is_on_the_host_network_with_the_names_on_loopback(
    resolved: dict[str, Any],
) -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert set(resolved["services"]) == set(compose["services"])
    for name, service in resolved["services"].items():
        assert service["network_mode"] == "host", name
        assert "ports" not in service, name
        assert set(service["extra_hosts"].values()) == {"127.0.0.1"}, name
        assert set(compose["services"]) <= set(service["extra_hosts"]) | {"keys", "migrate"}


def test_what_compose_yaml_sets_is_kept(resolved: dict[str, Any]) -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    for name in [*SERVICES, "keys", "migrate", "salesforce", "whmcs", "freebit"]:
        assert resolved["services"][name]["image"] == compose["services"][name]["image"], name
    for name in [*SERVICES, "envoy", "migrate"]:
        assert resolved["services"][name]["depends_on"] == compose["services"][name]["depends_on"]
    for name in SERVICES:
        service, env = resolved["services"][name], resolved["services"][name]["environment"]
        assert service["command"] == compose["services"][name]["command"]
        assert env[f"{name.upper()}_HOST"] == "127.0.0.1"  # loopback, not every interface
        assert {"JWKS_FILE", "LOG_JSON"} <= set(env)
        assert service["healthcheck"]["test"][-1] == env[f"{name.upper()}_PORT"]
        # Service-to-service targets follow the moved ports.
        for peer in SERVICES:
            assert env[f"{peer.upper()}_TARGET"].endswith(f":{resolved_port(resolved, peer)}")
    assert "--disable-hot-restart" in resolved["services"]["envoy"]["command"]


def resolved_port(resolved: dict[str, Any], name: str) -> str:
    return str(resolved["services"][name]["environment"][f"{name.upper()}_PORT"])


def test_the_gateway_config_listens_on_loopback_on_the_moved_ports(ports: Ports) -> None:
    addresses = _addresses(render_local(ports))
    assert addresses
    assert all(a["address"] != "0.0.0.0" for a in addresses), addresses
    values = {a["port_value"] for a in addresses}
    assert {ports.gateway, ports.admin, *(ports.service(s) for s in SERVICES)} <= values
    assert not values & {8080, 9901, 50051, 50052, 50053, 50054}
