"""The gateway configuration: valid for this Envoy, and derived correctly from the protos."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from services.common.methods import METHODS, Auth
from tests.helpers.tokens import sign
from tools.devcerts import ensure_certs
from tools.devkeys import ensure_keys
from tools.envoy_config import (
    DEFAULT_PORTS,
    MAX_DIRECT_RESPONSE_BYTES,
    GatewaySettings,
    render,
    write,
)
from tools.stack import ROOT, envoy_binary, free_port


def _validate(path: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(path), "--disable-hot-restart"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


def test_committed_gateway_config_is_valid(tmp_path: Path) -> None:
    # Its paths are relative to the repository root, as `make run` has it: dev keys in
    # .run/keys (made on first start), the descriptor set in gen/, the OpenAPI files in openapi/.
    ensure_keys(tmp_path / ".run" / "keys")
    ensure_certs(tmp_path / ".run" / "certs")
    (tmp_path / "gen").symlink_to(ROOT / "gen")
    (tmp_path / "openapi").symlink_to(ROOT / "openapi")
    result = _validate(ROOT / "envoy" / "envoy.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "OK" in result.stdout


def test_rendered_config_with_replicas_and_other_ports_is_valid(tmp_path: Path) -> None:
    jwks = ensure_keys(tmp_path / "keys")
    settings = GatewaySettings(
        port=18080,
        admin_port=19901,
        jwks_file=jwks,
        mesh_tls_dir=ensure_certs(tmp_path / "certs"),
        descriptor=ROOT / "gen" / "portal_descriptor.pb",
        openapi_json=ROOT / "openapi" / "openapi.json",
        docs_html=ROOT / "openapi" / "docs.html",
        docs_assets=ROOT / "openapi" / "swagger-ui",
        upstreams={
            n: [("127.0.0.1", 6000 + i), ("127.0.0.1", 7000 + i)]
            for i, n in enumerate(["identity", "billing", "commerce", "support"])
        },
    )
    result = _validate(write(settings, tmp_path / "envoy.yaml"))
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_broken_config_is_refused(tmp_path: Path) -> None:
    config = render(GatewaySettings())
    config["static_resources"]["clusters"][0]["lb_policy"] = "NO_SUCH_POLICY"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(config))
    assert _validate(path).returncode != 0


def _jwt_rules() -> list[dict]:
    listener = render(GatewaySettings())["static_resources"]["listeners"][0]
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    jwt = next(f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.jwt_authn")
    return jwt["typed_config"]["rules"]


def _first_rule(path: str) -> dict:
    for rule in _jwt_rules():
        match = rule["match"]
        if match.get("headers"):
            continue  # the preflight rule (OPTIONS only)
        if match.get("path") == path or path.startswith(match.get("prefix", "\0")):
            return rule
    raise AssertionError(f"no rule for {path}")


@pytest.mark.parametrize("method", sorted(METHODS.values(), key=lambda m: m.path), ids=str)
def test_every_method_gets_the_token_check_its_proto_declares(method: object) -> None:
    rule = _first_rule(method.path)  # type: ignore[attr-defined]
    assert ("requires" in rule) == method.needs_token or method.internal  # type: ignore[attr-defined]


def test_public_methods_are_exactly_the_ones_api_md_marks_public() -> None:
    public = {m.path for m in METHODS.values() if not m.internal and not m.needs_token}
    prefix = "/portal.identity.v1.IdentityService/"
    assert public == {
        prefix + name
        for name in [
            "ValidateCustomerNumber",
            "StartSignUp",
            "SignUp",
            "LinkWhmcsAccount",
            "RequestPasswordReset",
            "ConfirmPasswordReset",
            "Login",
            "RefreshSession",
            "Logout",
            "GetJwks",
        ]
    } | {
        "/portal.billing.v1.BillingService/HandleWhmcsWebhook",
        # EventSource sends no Authorization header: commerce checks the stream ticket.
        "/portal.commerce.v1.OrderService/StreamOrderEvents",
    }
    webhook = METHODS["/portal.billing.v1.BillingService/HandleWhmcsWebhook"]
    assert webhook.auth == Auth.AUTH_SIGNED_WEBHOOK


def test_internal_services_and_reflection_have_no_route() -> None:
    listener = render(GatewaySettings())["static_resources"]["listeners"][0]
    routes = listener["filter_chains"][0]["filters"][0]["typed_config"]["route_config"][
        "virtual_hosts"
    ][0]["routes"]
    routed = [r["match"].get("prefix") or r["match"].get("path") for r in routes if "route" in r]
    for internal in ["AccountDirectoryService", "BillingInternalService", "ServerReflection"]:
        assert not any(internal in (p or "") for p in routed)
    # Anything unmatched ends in the 404 catch-all, never in a cluster.
    assert routes[-1] == {"match": {"prefix": "/"}, "direct_response": {"status": 404}}


def test_the_gateway_is_the_edge_for_client_addresses() -> None:
    listener = render(GatewaySettings())["static_resources"]["listeners"][0]
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    assert hcm["use_remote_address"] is True
    assert hcm["xff_num_trusted_hops"] == 0


def _routes() -> list[dict]:
    listener = render(GatewaySettings())["static_resources"]["listeners"][0]
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    return hcm["route_config"]["virtual_hosts"][0]["routes"]


@pytest.mark.parametrize(
    ("path", "filename", "content_type"),
    [
        ("/openapi.json", "openapi/openapi.json", "application/json"),
        ("/docs", "openapi/docs.html", "text/html; charset=utf-8"),
    ],
)
def test_openapi_and_docs_are_public_files_served_by_envoy(
    path: str, filename: str, content_type: str
) -> None:
    route = next(r for r in _routes() if r["match"].get("path") == path)
    assert route["direct_response"] == {"status": 200, "body": {"filename": filename}}
    headers = route["response_headers_to_add"]
    assert headers[0] == {"header": {"key": "content-type", "value": content_type}}
    transcoder = route["typed_per_filter_config"]["envoy.filters.http.grpc_json_transcoder"]
    assert transcoder["disabled"] is True
    assert "requires" not in _first_rule(path)
    assert (ROOT / filename).stat().st_size < MAX_DIRECT_RESPONSE_BYTES


# Calls with side effects (or streams): Envoy may resend them only when they never reached a
# service; everything else is a read (a GET rule) and is also resent when a replica dies mid-call.
NOT_RESENT = {"SignUp", "ValidateCustomerNumber", "LinkWhmcsAccount", "Login", "RefreshSession",
              "Logout", "StartSignUp", "RequestPasswordReset", "ConfirmPasswordReset",
              "ChangePassword", "CreateInvoicePaymentLink", "UpdateBillingProfile",
              "ConfirmBillingEmail", "HandleWhmcsWebhook", "CreateOrder", "WatchOrders",
              "CreateWatchTicket", "StreamOrderEvents", "CreateCase", "AddCaseComment",
              "CancelSim"}  # fmt: skip


def _route_of(path: str) -> dict:
    for route in _routes():
        match = route["match"]
        if match.get("headers") or "route" not in route:
            continue  # the preflight route, Envoy's own answers
        if match.get("path") == path or path.startswith(match.get("prefix", "\0")):
            return route["route"]
    raise AssertionError(f"no route for {path}")


@pytest.mark.parametrize("method", [m for m in METHODS.values() if not m.internal], ids=str)
def test_only_reads_are_resent_after_a_broken_connection(method: object) -> None:
    policy = _route_of(method.path)["retry_policy"]  # type: ignore[attr-defined]
    retry_on = set(policy["retry_on"].split(","))
    if method.name in NOT_RESENT:  # type: ignore[attr-defined]
        assert retry_on == {"connect-failure", "refused-stream"}
    else:
        assert retry_on == {"connect-failure", "refused-stream", "reset"}
    assert policy["retry_host_predicate"][0]["name"] == "envoy.retry_host_predicates.previous_hosts"


def _hcm(settings: GatewaySettings | None = None) -> dict:
    listener = render(settings or GatewaySettings())["static_resources"]["listeners"][0]
    return dict(listener["filter_chains"][0]["filters"][0]["typed_config"])


def test_edge_limits_are_in_place() -> None:
    settings = GatewaySettings(request_headers_timeout_s=7.0, max_connections=123)
    hcm = _hcm(settings)
    assert hcm["request_headers_timeout"] == "7.0s"
    assert hcm["max_request_headers_kb"] == settings.max_request_headers_kb
    overload = render(settings)["overload_manager"]
    monitors = {m["name"]: m["typed_config"] for m in overload["resource_monitors"]}
    connections = monitors["envoy.resource_monitors.global_downstream_max_connections"]
    assert connections["max_active_downstream_connections"] == 123
    actions = {a["name"] for a in overload["actions"]}
    assert "envoy.overload_actions.stop_accepting_requests" in actions


def test_access_log_never_writes_query_strings_or_credentials() -> None:
    log_format = _hcm()["access_log"][0]["typed_config"]["log_format"]["json_format"]
    for field, operator in log_format.items():
        assert "AUTHORIZATION" not in operator.upper(), field
        if "PATH" in operator:
            assert operator.startswith("%PATH(NQ"), (field, operator)


def test_every_api_answer_is_not_cached() -> None:
    host = _hcm()["route_config"]["virtual_hosts"][0]
    added = {h["header"]["key"]: h["header"]["value"] for h in host["response_headers_to_add"]}
    assert added["cache-control"] == "no-store"


def test_services_are_reached_over_mutual_tls_naming_each_service(tmp_path: Path) -> None:
    clusters = render(GatewaySettings(mesh_tls_dir=tmp_path))["static_resources"]["clusters"]
    for cluster in clusters:
        if cluster["name"] in ("identity", "billing", "commerce", "support"):
            tls = cluster["transport_socket"]["typed_config"]["common_tls_context"]
            assert tls["tls_certificates"][0]["certificate_chain"]["filename"] == str(
                tmp_path / "gateway.pem"
            )
            names = tls["validation_context"]["match_typed_subject_alt_names"]
            assert names == [{"san_type": "DNS", "matcher": {"exact": cluster["name"]}}]
    plain = render(GatewaySettings(mesh_tls_dir=None))["static_resources"]["clusters"]
    assert not any("transport_socket" in c for c in plain)


@pytest.mark.parametrize("name", ["Login", "RefreshSession", "StartSignUp", "LinkWhmcsAccount"])
def test_auth_routes_limit_each_client_address_in_its_own_bucket(name: str) -> None:
    path = f"/portal.identity.v1.IdentityService/{name}"
    [route] = [r for r in _routes() if r["match"].get("path") == path]
    limit = route["typed_per_filter_config"]["envoy.filters.http.local_ratelimit"]
    assert limit["rate_limits"] == [{"actions": [{"remote_address": {}}]}]
    [descriptor] = limit["descriptors"]
    # No value: a bucket per distinct address, of the configured size.
    assert descriptor["entries"] == [{"key": "remote_address"}]
    assert descriptor["token_bucket"]["max_tokens"] == GatewaySettings().auth_rate_limit
    # The route-wide bucket is only a flood guard, far above what one address may send.
    assert limit["token_bucket"]["max_tokens"] >= 100 * GatewaySettings().auth_rate_limit


def _providers(settings: GatewaySettings) -> dict[str, dict]:
    hcm = _hcm(settings)
    jwt = next(f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.jwt_authn")
    return dict(jwt["typed_config"]["providers"])


def test_the_token_cache_is_bounded_by_the_setting() -> None:
    for settings in (GatewaySettings(), GatewaySettings(jwt_cache_size=7)):
        for provider in _providers(settings).values():
            assert provider["jwt_cache_config"] == {"jwt_cache_size": settings.jwt_cache_size}
    # The committed rendering and the compose one carry the default.
    for path in (ROOT / "envoy" / "envoy.yaml", ROOT / "deploy" / "envoy-compose.yaml"):
        listener = yaml.safe_load(path.read_text())["static_resources"]["listeners"][0]
        hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
        jwt = next(f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.jwt_authn")
        sizes = {
            p["jwt_cache_config"]["jwt_cache_size"]
            for p in jwt["typed_config"]["providers"].values()
        }
        assert sizes == {GatewaySettings().jwt_cache_size}, path


def _jwt_stats(admin: int) -> dict[str, int]:
    text = httpx.get(f"http://127.0.0.1:{admin}/stats?filter=jwt_authn", timeout=5).text
    out = {}
    for line in text.splitlines():
        name, _, value = line.partition(": ")
        out[name.rsplit(".", 1)[-1]] = int(value)
    return out


@pytest.mark.parametrize("cache_size", [2, 256])
def test_a_running_gateway_keeps_at_most_the_configured_tokens(
    tmp_path: Path, cache_size: int
) -> None:
    """A real Envoy on the rendered config (one worker, no services behind it): three users' tokens
    in turn, then the first one again. With room for two it was evicted (a miss: verified again),
    with the default it is still there (a hit); every request passes the token check."""
    keys = tmp_path / "keys"
    settings = GatewaySettings(
        port=free_port(),
        admin_port=free_port(),
        jwks_file=ensure_keys(keys),
        mesh_tls_dir=None,
        descriptor=ROOT / "gen" / "portal_descriptor.pb",
        openapi_json=ROOT / "openapi" / "openapi.json",
        docs_html=ROOT / "openapi" / "docs.html",
        docs_assets=ROOT / "openapi" / "swagger-ui",
        upstreams={n: [("127.0.0.1", free_port())] for n in DEFAULT_PORTS},
        jwt_cache_size=cache_size,
    )
    config = write(settings, tmp_path / "envoy.yaml")
    argv = [envoy_binary(), "-c", str(config), "--concurrency", "1", "--disable-hot-restart",
            "--log-level", "error"]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{settings.port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)

        def me(token: str) -> int:
            headers = {"authorization": f"Bearer {token}"}
            return httpx.get(f"{base}/v1/me", headers=headers, timeout=5).status_code

        tokens = [sign(keys, sub=f"user-{i}") for i in range(3)]
        statuses = [me(t) for t in tokens]
        before = _jwt_stats(settings.admin_port)
        statuses.append(me(tokens[0]))
        after = _jwt_stats(settings.admin_port)
        # Past the token check: no service is up, so the router answers 503, never 401.
        assert statuses == [503] * 4
        assert after["allowed"] >= 4
        kept = cache_size >= len(tokens)
        assert after["jwt_cache_hit"] - before["jwt_cache_hit"] == (1 if kept else 0)
        # The remote-JWKS provider has no keys here (identity is not running): it misses every
        # time and the JWKS-file provider verifies, from its cache or again after an eviction.
        assert after["jwt_cache_miss"] - before["jwt_cache_miss"] == (1 if kept else 2)
    finally:
        process.terminate()
        process.wait(timeout=10)
