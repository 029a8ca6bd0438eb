"""The Kubernetes base (deploy/k8s/base): parseable, complete, and consistent with the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.billing.settings import BillingSettings
from services.commerce.settings import CommerceSettings
from services.common.settings import ServiceSettings
from services.identity.settings import IdentitySettings
from services.support.settings import SupportSettings
from tools.stack import ROOT

BASE = ROOT / "deploy" / "k8s" / "base"
SETTINGS = {
    "identity": IdentitySettings,
    "billing": BillingSettings,
    "commerce": CommerceSettings,
    "support": SupportSettings,
}


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _env_names(cls: type[ServiceSettings], prefix: str) -> set[str]:
    names = set()
    for field_name, field in cls.model_fields.items():
        if field.validation_alias is not None:
            names.add(field_name.upper())  # shared, unprefixed
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def test_kustomization_lists_every_manifest() -> None:
    kustomization = _documents(BASE / "kustomization.yaml")[0]
    listed = set(kustomization["resources"])
    present = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_deployment_matches_the_service(service: str) -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in _documents(BASE / f"{service}.yaml")}
    settings = SETTINGS[service]
    port = settings.model_fields["port"].default
    container = docs[("Deployment", service)]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", f"services.{service}"]
    assert importlib.util.find_spec(f"services.{service}.__main__") is not None
    assert container["readinessProbe"]["grpc"]["port"] == port
    assert container["livenessProbe"]["grpc"]["port"] == port
    assert {p["containerPort"] for p in container["ports"]} >= {port}
    prefix = str(settings.model_config.get("env_prefix", ""))
    assert {e["name"] for e in container["env"]} <= _env_names(settings, prefix)
    for kind_name in [("Service", service), ("Service", f"{service}-headless")]:
        assert docs[kind_name]["spec"]["ports"][0]["port"] == port


def test_config_names_only_shared_settings_and_reachable_targets() -> None:
    config = _documents(BASE / "config.yaml")[0]["data"]
    shared = {n for n, f in ServiceSettings.model_fields.items() if f.validation_alias is not None}
    assert {k.lower() for k in config} <= shared
    for service, settings in SETTINGS.items():
        port = settings.model_fields["port"].default
        assert config[f"{service.upper()}_TARGET"] == f"dns:///{service}-headless:{port}"


def test_migration_job_covers_every_service_with_migrations() -> None:
    job = _documents(BASE / "migrate-job.yaml")[0]
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    owners = sorted(p.parent.name for p in (ROOT / "services").glob("*/migrations"))
    assert command[:3] == ["python", "-m", "services.common.migrations"]
    assert sorted(command[3:]) == owners
