"""The Kubernetes base (deploy/k8s/base): parseable, complete, and consistent with the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from services.billing.settings import BillingSettings
from services.commerce.settings import CommerceSettings
from services.common.methods import INTERNAL_SERVICES
from services.common.peer_auth import GATEWAY, INTERNAL_CALLERS
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


def _env_names(cls: type[ServiceSettings]) -> set[str]:
    return {field.variable for field in cls.all_fields()}


def test_kustomization_lists_every_manifest() -> None:
    kustomization = _documents(BASE / "kustomization.yaml")[0]
    listed = set(kustomization["resources"])
    present = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_deployment_matches_the_service(service: str) -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in _documents(BASE / f"{service}.yaml")}
    settings = SETTINGS[service]
    port = settings.fields["port"].default
    container = docs[("Deployment", service)]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", f"services.{service}"]
    assert importlib.util.find_spec(f"services.{service}.__main__") is not None
    probe = ["python", "-m", "services.common.healthcheck", str(port), "--server-name", service]
    assert container["readinessProbe"]["exec"]["command"] == probe
    assert container["livenessProbe"]["exec"]["command"] == probe
    assert {p["containerPort"] for p in container["ports"]} >= {port}
    assert {e["name"] for e in container["env"]} <= _env_names(settings)
    for kind_name in [("Service", service), ("Service", f"{service}-headless")]:
        assert docs[kind_name]["spec"]["ports"][0]["port"] == port


def test_config_names_only_shared_settings_and_reachable_targets() -> None:
    config = _documents(BASE / "config.yaml")[0]["data"]
    shared = {f.variable for f in ServiceSettings.fields.values() if f.shared}
    assert set(config) <= shared
    for service, settings in SETTINGS.items():
        port = settings.fields["port"].default
        assert config[f"{service.upper()}_TARGET"] == f"dns:///{service}-headless:{port}"


def test_migration_job_covers_every_service_with_migrations() -> None:
    job = _documents(BASE / "migrate-job.yaml")[0]
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    owners = sorted(p.parent.name for p in (ROOT / "services").glob("*/migrations"))
    assert command[:3] == ["python", "-m", "services.common.migrations"]
    assert sorted(command[3:]) == owners


def _all_documents() -> list[dict[str, Any]]:
    kustomization = _documents(BASE / "kustomization.yaml")[0]
    return [d for name in kustomization["resources"] for d in _documents(BASE / name)]


def _by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in _all_documents() if d["kind"] == kind}


def test_every_manifest_passes_the_kubernetes_schema_validator() -> None:
    """kubernetes-validate: the upstream OpenAPI schemas of the Kubernetes release, strict (an
    unknown or misplaced field fails), independent of anything in this repository."""
    documents = _all_documents()
    assert len(documents) >= 20
    for document in documents:
        kubernetes_validate.validate(document, "1.37.0", strict=True)


def _pod_templates() -> list[tuple[str, dict[str, Any]]]:
    out = [(n, d["spec"]["template"]["spec"]) for n, d in _by_kind("Deployment").items()]
    out += [(n, d["spec"]["template"]["spec"]) for n, d in _by_kind("Job").items()]
    return out


@pytest.mark.parametrize(("name", "pod"), _pod_templates())
def test_pods_are_hardened(name: str, pod: dict[str, Any]) -> None:
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["capabilities"] == {"drop": ["ALL"]}, name


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_services_have_mesh_tls_a_budget_and_a_metrics_service(service: str) -> None:
    deployment = _by_kind("Deployment")[service]
    pod = deployment["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert {"TLS_CA_FILE", "TLS_CERT_FILE", "TLS_KEY_FILE"} <= set(env)
    assert "PORTAL_ENV" not in env  # production: every secret required
    secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert f"portal-mesh-{service}" in secrets
    budget = _by_kind("PodDisruptionBudget")[service]
    assert budget["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": service}
    assert budget["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    metrics = _by_kind("Service")[f"{service}-metrics"]
    port = SETTINGS[service]().metrics_port or metrics["spec"]["ports"][0]["port"]
    assert {"containerPort": port, "name": "metrics"} in pod["containers"][0]["ports"]
    assert metrics["metadata"]["labels"]["portal.io/metrics"] == "true"


def _ingress_callers(service: str) -> set[str]:
    policy = _by_kind("NetworkPolicy")[f"{service}-ingress"]
    port = SETTINGS[service].fields["port"].default
    callers: set[str] = set()
    for rule in policy["spec"]["ingress"]:
        if {p["port"] for p in rule["ports"]} == {port}:
            callers |= {
                f["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for f in rule["from"]
            }
    return callers


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_network_policies_follow_the_call_graph(service: str) -> None:
    """Who may open a connection to a service's port is who peer_auth lets call it."""
    policies = _by_kind("NetworkPolicy")
    assert policies["default-deny"]["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
    }
    expected = {GATEWAY}
    for internal in INTERNAL_SERVICES[service]:
        expected |= INTERNAL_CALLERS[internal.full_name]
    assert _ingress_callers(service) == expected
    port = SETTINGS[service].fields["port"].default
    for caller in expected - {GATEWAY}:
        egress = policies[f"{caller}-egress"]["spec"]["egress"]
        assert any(
            rule["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == service
            and rule["ports"][0]["port"] == port
            for rule in egress
        ), caller
