"""The gateway's Envoy configuration, rendered from the proto descriptors and a few settings.

The routes, the jwt_authn rules and the transcoder's service list all come from
``services.common.methods`` (i.e. from the protos), so a new RPC is routed and protected by
declaring it, never by editing YAML. ``make gen`` writes ``envoy/envoy.yaml`` with the development
defaults (committed, drift-checked, easy to read); the supervisor and the tests render their own
copy with their ports.
"""

from __future__ import annotations

import argparse
import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from google.api import annotations_pb2 as http_annotations
from google.protobuf.descriptor import MethodDescriptor

from services.common.methods import PUBLIC_SERVICES, Method, all_methods
from tools.docs_assets import SERVED as DOCS_SERVED
from tools.envoy_edge import (
    connection_manager_limits,
    docs_headers,
    listener_limits,
    no_store_headers,
    overload_manager,
)
from tools.envoy_headers import header_hygiene_filter
from tools.envoy_query import answered_mapper, query_filter
from tools.envoy_rest import compressor_filter, rest_response_filter

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORTS = {"identity": 50051, "billing": 50052, "commerce": 50053, "support": 50054}
# Public auth routes that get the gateway's local rate limit: a bucket per route and client address
# (per Envoy instance), so one client emptying its bucket leaves everyone else's untouched, and
# refresh never shares the login budget.
RATE_LIMITED = (
    "ValidateCustomerNumber", "StartSignUp", "SignUp", "LinkWhmcsAccount", "Login",
    "RefreshSession", "RequestPasswordReset", "ConfirmPasswordReset",
)  # fmt: skip
JWT_PROVIDER = "portal"
# The same issuer's keys from the JWKS file read at start: used while the remote JWKS has not
# been fetched yet or cannot be (identity down at Envoy's start).
JWT_FALLBACK_PROVIDER = "portal_file"
JWKS_CLUSTER = "identity_jwks"
JWKS_PATH = "/.well-known/jwks.json"
PREFLIGHT_CLUSTER = "cors_preflight_refused"
# Paths Envoy answers itself, without a token.
PUBLIC_PATHS = (
    "/healthz",
    "/readyz",
    "/openapi.json",
    "/docs",
    *(f"/docs/{name}" for name in DOCS_SERVED),
)
# Envoy refuses direct-response files above this (its default is 4 KiB).
MAX_DIRECT_RESPONSE_BYTES = 4 * 1024 * 1024


def _t(name: str) -> str:
    """The ``@type`` URL of an Envoy config message."""
    return f"type.googleapis.com/envoy.{name}"


@dataclass(frozen=True)
class GatewaySettings:
    host: str = "127.0.0.1"
    port: int = 8080
    admin_port: int = 9901
    descriptor: Path = Path("gen/portal_descriptor.pb")
    # The OpenAPI document and its docs page, served as direct responses (make openapi).
    openapi_json: Path = Path("openapi/openapi.json")
    docs_html: Path = Path("openapi/docs.html")
    # Swagger UI and its start-up, served at /docs/<file> (tools/docs_assets.py).
    docs_assets: Path = Path("openapi/swagger-ui")
    jwks_file: Path = Path(".run/keys/jwks.json")
    # Seconds Envoy keeps identity's JWKS before fetching it again.
    jwks_cache_s: int = 30
    jwt_issuer: str = "portal-identity"
    jwt_audience: str = "portal"
    cors_origins: tuple[str, ...] = ("http://localhost:3000",)
    # process name → endpoints (several for replicas)
    upstreams: dict[str, list[tuple[str, int]]] = field(
        default_factory=lambda: {k: [("127.0.0.1", v)] for k, v in DEFAULT_PORTS.items()}
    )
    # Mutual TLS to the services: ca.pem, gateway.pem and gateway-key.pem in this folder (the
    # gateway's mesh identity, tools/devcerts.py); None: plaintext upstreams.
    mesh_tls_dir: Path | None = Path(".run/certs")
    # Edge limits (tools/envoy_edge.py): seconds to send a whole request head, header size, and
    # the overload manager's heap budget and downstream connection limit.
    request_headers_timeout_s: float = 10.0
    max_request_headers_kb: int = 16
    max_heap_bytes: int = 512 * 1024 * 1024
    max_connections: int = 10000
    # Requests per fill interval per public auth route and client address.
    auth_rate_limit: int = 50
    auth_rate_interval_s: int = 10
    # Client addresses with a bucket of their own at once (least recently used ones are dropped).
    auth_rate_clients: int = 20000
    # Verified tokens jwt_authn remembers, per provider and per worker thread (LRU). A token
    # replaced by a refresh is never presented again, so it leaves only by eviction: the cache
    # fills to this size whatever the number of users (~6 KiB a token).
    jwt_cache_size: int = 256


# Seconds a client waits before retrying what the gateway refused with this HTTP status
# (Retry-After header and RetryInfo detail); the rate limit refills within this.
RETRY_AFTER_S = {429: 10, 503: 5}


def _error_body(code: int, reason: str, message: str, retry_after_s: int | None = None) -> str:
    """The JSON error shape of docs/api.md, for replies Envoy produces itself."""
    details: list[dict[str, Any]] = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": reason,
            "domain": "portal",
            "metadata": {},
        }
    ]
    if retry_after_s is not None:
        details.append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_after_s}s"}
        )
    return json.dumps({"code": code, "message": message, "details": details}, separators=(",", ":"))


# HTTP status of an Envoy-made reply → (gRPC code, reason, message).
LOCAL_REPLIES: list[tuple[int, int, str, str]] = [
    (400, 3, "VALIDATION_FAILED", "The request is malformed."),
    (401, 16, "UNAUTHENTICATED", "Please sign in again."),
    # jwt_authn answers 403 for a well-formed token with the wrong audience; in this gateway
    # nothing else answers 403, and for the client it is just a token we don't accept: 401.
    (403, 16, "UNAUTHENTICATED", "Please sign in again."),
    (404, 5, "NOT_FOUND", "Not found."),
    (413, 3, "VALIDATION_FAILED", "The request is too large."),
    # The HTTP/1 codec's answer to headers above max_request_headers_kb (e.g. a huge token).
    (431, 3, "VALIDATION_FAILED", "The request headers are too large."),
    (429, 8, "RATE_LIMITED", "Too many attempts. Please wait a moment and try again."),
    (500, 13, "INTERNAL", "Something went wrong on our side. Please try again later."),
    (
        502,
        14,
        "UPSTREAM_UNAVAILABLE",
        "This service is temporarily unavailable. Please try again later.",
    ),
    (
        503,
        14,
        "UPSTREAM_UNAVAILABLE",
        "This service is temporarily unavailable. Please try again later.",
    ),
    (
        504,
        14,
        "UPSTREAM_UNAVAILABLE",
        "This service is temporarily unavailable. Please try again later.",
    ),
]


# A CORS preflight from an origin that is not allowed.
FORBIDDEN = (403, 7, "FORBIDDEN", "This origin is not allowed.")
# A REST path called with a verb it has no binding for (answered by tools.envoy_query's filter).
METHOD_NOT_ALLOWED = (405, 12, "METHOD_NOT_ALLOWED", "This method is not allowed on this path.")
# Every ErrorInfo reason the gateway itself answers with (the OpenAPI document lists them).
EDGE_REASONS = tuple(
    sorted({reason for _s, _c, reason, _m in [*LOCAL_REPLIES, FORBIDDEN, METHOD_NOT_ALLOWED]})
)


# The gRPC code Envoy gives a native gRPC caller for its own reply of this HTTP status (its
# HTTP → gRPC mapping; the 403 is rewritten to 401 first).
_GRPC_CODE_OF_HTTP = {400: 13, 401: 16, 403: 16, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14}


def _grpc_details(status: int, reason: str, message: str) -> str:
    """``grpc-status-details-bin`` of an edge reply: google.rpc.Status with its ErrorInfo."""
    from google.protobuf import any_pb2, duration_pb2
    from google.rpc import error_details_pb2, status_pb2

    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="portal"))
    details = [info]
    if status in RETRY_AFTER_S:
        retry = any_pb2.Any()
        delay = duration_pb2.Duration(seconds=RETRY_AFTER_S[status])
        retry.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        details.append(retry)
    code = _GRPC_CODE_OF_HTTP.get(status, 2)
    raw = status_pb2.Status(code=code, message=message, details=details).SerializeToString()
    return base64.b64encode(raw).decode().rstrip("=")


def _local_reply_config() -> dict[str, Any]:
    def status_is(status: int) -> dict[str, Any]:
        return {
            "status_code_filter": {
                "comparison": {
                    "op": "EQ",
                    "value": {"default_value": status, "runtime_key": f"local_reply_{status}"},
                }
            }
        }

    def native_grpc() -> list[dict[str, Any]]:
        # A native gRPC call: gRPC content type and not rewritten by the transcoder (which
        # records the REST path in x-envoy-original-path).
        return [
            {
                "header_filter": {
                    "header": {
                        "name": "content-type",
                        "string_match": {"prefix": "application/grpc"},
                    }
                }
            },
            {
                "header_filter": {
                    "header": {"name": "x-envoy-original-path", "present_match": False}
                }
            },
        ]

    def rewrite(status: int) -> dict[str, Any]:
        return {"status_code": 401} if status == 403 else {}

    grpc_mappers = [
        {
            "filter": {"and_filter": {"filters": [status_is(status), *native_grpc()]}},
            **rewrite(status),
            # The same ErrorInfo (and RetryInfo) a REST caller gets, as grpc-status-details-bin.
            "headers_to_add": [
                {
                    "header": {
                        "key": "grpc-status-details-bin",
                        "value": _grpc_details(status, reason, message),
                    },
                    "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                }
            ],
            # Becomes grpc-message: plain text for gRPC callers.
            "body_format_override": {"text_format_source": {"inline_string": message}},
        }
        for status, _code, reason, message in LOCAL_REPLIES
    ]

    def retry_after(status: int) -> dict[str, Any]:
        if status not in RETRY_AFTER_S:
            return {}
        header = {"key": "retry-after", "value": str(RETRY_AFTER_S[status])}
        return {
            "headers_to_add": [{"header": header, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}]
        }

    json_mappers = [
        {
            "filter": status_is(status),
            **rewrite(status),
            **retry_after(status),
            "body_format_override": {
                "text_format_source": {
                    "inline_string": _error_body(code, reason, message, RETRY_AFTER_S.get(status))
                },
                "content_type": "application/json",
            },
        }
        for status, code, reason, message in LOCAL_REPLIES
    ]
    refused_preflight = {
        "filter": {
            "and_filter": {
                "filters": [
                    status_is(503),
                    {
                        "header_filter": {
                            "header": {"name": ":method", "string_match": {"exact": "OPTIONS"}}
                        }
                    },
                ]
            }
        },
        "status_code": FORBIDDEN[0],
        "body_format_override": {
            "text_format_source": {"inline_string": _error_body(*FORBIDDEN[1:])},
            "content_type": "application/json",
        },
    }
    return {"mappers": [answered_mapper(), refused_preflight, *grpc_mappers, *json_mappers]}


def _jwt_rules(methods: list[Method]) -> list[dict[str, Any]]:
    options = {"name": ":method", "string_match": {"exact": "OPTIONS"}}
    rules: list[dict[str, Any]] = [
        # Preflights only ever reach the refused-preflight cluster; no token to check.
        {"match": {"prefix": "/", "headers": [options]}},
    ]
    rules += [{"match": {"path": p}} for p in PUBLIC_PATHS]
    # Exact public methods first (no token), then the service prefixes (token required), then
    # everything else (token required: secure by default, e.g. an unrouted path never skips it).
    rules += [{"match": {"path": m.path}} for m in methods if not m.internal and not m.needs_token]
    either = [{"provider_name": JWT_PROVIDER}, {"provider_name": JWT_FALLBACK_PROVIDER}]
    requires = {"requires": {"requires_any": {"requirements": either}}}
    services = sorted({m.service for m in methods if not m.internal})
    rules += [{"match": {"prefix": f"/{s}/"}, **requires} for s in services]
    rules.append({"match": {"prefix": "/"}, **requires})
    return rules


def _jwt_provider(s: GatewaySettings, jwks: dict[str, Any]) -> dict[str, Any]:
    return {
        "issuer": s.jwt_issuer,
        "audiences": [s.jwt_audience],
        **jwks,
        "forward": True,
        "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
        "clock_skew_seconds": 30,
        # Every access token identity issues has an exp; one without is refused at the edge
        # (jwt_authn would otherwise accept it as never expiring).
        "require_expiration": True,
        # Tokens whose signature checked out are remembered (by their text, LRU, bounded), so a
        # user's next request skips the ES256 verification; a remembered token is still refused
        # once its exp has passed, and audience and issuer were checked before it was stored.
        "jwt_cache_config": {"jwt_cache_size": s.jwt_cache_size},
    }


def _remote_jwks(s: GatewaySettings) -> dict[str, Any]:
    """identity's published keys (GetJwks at ``/.well-known/jwks.json``, fetched through this
    gateway's own listener), cached for ``jwks_cache_s`` and fetched in the background: a
    rotated signing key (published as "next" ahead of its use, services/identity/keys.py) is
    known here before identity signs with it, with no restart."""
    return {
        "remote_jwks": {
            "http_uri": {
                "uri": f"http://127.0.0.1:{s.port}{JWKS_PATH}",
                "cluster": JWKS_CLUSTER,
                "timeout": "2s",
            },
            "cache_duration": f"{s.jwks_cache_s}s",
            "async_fetch": {"fast_listener": True, "failed_refetch_duration": "1s"},
            "retry_policy": {
                "num_retries": 3,
                "retry_back_off": {"base_interval": "0.2s", "max_interval": "2s"},
            },
        }
    }


def _jwks_cluster(s: GatewaySettings) -> dict[str, Any]:
    """The gateway's own listener, on loopback (GetJwks is public: no token needed)."""
    endpoint = {"address": {"socket_address": {"address": "127.0.0.1", "port_value": s.port}}}
    return {
        "name": JWKS_CLUSTER,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": JWKS_CLUSTER,
            "endpoints": [{"lb_endpoints": [{"endpoint": endpoint}]}],
        },
    }


def _jwt_filter(s: GatewaySettings) -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": _t("extensions.filters.http.jwt_authn.v3.JwtAuthentication"),
            "providers": {
                JWT_PROVIDER: _jwt_provider(s, _remote_jwks(s)),
                JWT_FALLBACK_PROVIDER: _jwt_provider(
                    s, {"local_jwks": {"filename": str(s.jwks_file)}}
                ),
            },
            "rules": _jwt_rules(all_methods()),
        },
    }


def _transcoder(s: GatewaySettings) -> dict[str, Any]:
    services = [d.full_name for ds in PUBLIC_SERVICES.values() for d in ds]
    return {
        "name": "envoy.filters.http.grpc_json_transcoder",
        "typed_config": {
            "@type": _t("extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder"),
            "proto_descriptor": str(s.descriptor),
            "services": services,
            "convert_grpc_status": True,
            "match_incoming_request_route": False,
            "case_insensitive_enum_parsing": True,
            "print_options": {
                "add_whitespace": False,
                "always_print_primitive_fields": True,
                "always_print_enums_as_ints": False,
                "preserve_proto_field_names": False,
                # Server-streaming RPCs (WatchOrders) reach browsers as Server-Sent Events:
                # each message is one `data: {json}` event instead of a growing JSON array.
                "stream_sse_style_delimited": True,
            },
            "request_validation_options": {
                "reject_unknown_method": True,
                "reject_unknown_query_parameters": True,
            },
        },
    }


def _health_filter(s: GatewaySettings) -> dict[str, Any]:
    """``/readyz``: 200 only while every service cluster has all its hosts healthy."""
    return {
        "name": "envoy.filters.http.health_check",
        "typed_config": {
            "@type": _t("extensions.filters.http.health_check.v3.HealthCheck"),
            "pass_through_mode": False,
            "headers": [{"name": ":path", "string_match": {"exact": "/readyz"}}],
            # Ready while every service has at least one healthy process.
            "cluster_min_healthy_percentages": {
                name: {"value": 100.0 / len(hosts)} for name, hosts in s.upstreams.items()
            },
        },
    }


def _rate_limit_filter() -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.local_ratelimit",
        "typed_config": {
            "@type": _t("extensions.filters.http.local_ratelimit.v3.LocalRateLimit"),
            "stat_prefix": "gateway_rate_limit",
        },
    }


def _route_rate_limit(s: GatewaySettings) -> dict[str, Any]:
    """A token bucket per client address on this route: the descriptor entry ``remote_address``
    has no value, so Envoy keeps one bucket per distinct address (up to ``auth_rate_clients``).
    The route-wide bucket only guards against a flood from very many addresses, sized far above
    what one address may send."""

    def bucket(tokens: int) -> dict[str, Any]:
        return {"max_tokens": tokens, "tokens_per_fill": tokens,
                "fill_interval": f"{s.auth_rate_interval_s}s"}  # fmt: skip

    per_client, flood = bucket(s.auth_rate_limit), bucket(s.auth_rate_limit * 100)
    enabled = {"default_value": {"numerator": 100, "denominator": "HUNDRED"}}
    return {
        "envoy.filters.http.local_ratelimit": {
            "@type": _t("extensions.filters.http.local_ratelimit.v3.LocalRateLimit"),
            "stat_prefix": "auth_rate_limit",
            "token_bucket": flood,
            "filter_enabled": enabled,
            "filter_enforced": enabled,
            "descriptors": [{"entries": [{"key": "remote_address"}], "token_bucket": per_client}],
            "max_dynamic_descriptors": s.auth_rate_clients,
            "rate_limits": [{"actions": [{"remote_address": {}}]}],
        }
    }


NO_TRANSCODER = {
    "envoy.filters.http.grpc_json_transcoder": {
        "@type": _t("config.route.v3.FilterConfig"),
        "disabled": True,
    }
}


def _file_route(
    path: str, filename: Path, content_type: str, headers: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A GET answered by Envoy itself with a file's content (read when the config loads)."""
    return {
        "match": {"path": path},
        "direct_response": {"status": 200, "body": {"filename": str(filename)}},
        "response_headers_to_add": [
            {"header": {"key": "content-type", "value": content_type}},
            *(headers or []),
        ],
        "typed_per_filter_config": NO_TRANSCODER,
    }


def _routes(s: GatewaySettings) -> list[dict[str, Any]]:
    no_transcoder = NO_TRANSCODER
    routes: list[dict[str, Any]] = [
        {
            # CORS preflights: the cors filter answers them for allowed origins (policy of the
            # virtual host). It skips direct-response routes, so this one points at a cluster
            # with no endpoints: a preflight from any other origin ends there, as a 403.
            "match": {
                "prefix": "/",
                "headers": [{"name": ":method", "string_match": {"exact": "OPTIONS"}}],
            },
            "route": {"cluster": PREFLIGHT_CLUSTER},
            "typed_per_filter_config": no_transcoder,
        },
        {
            "match": {"path": "/healthz"},
            "direct_response": {"status": 200, "body": {"inline_string": '{"status":"ok"}'}},
            "response_headers_to_add": [
                {"header": {"key": "content-type", "value": "application/json"}}
            ],
            "typed_per_filter_config": no_transcoder,
        },
        _file_route("/openapi.json", s.openapi_json, "application/json"),
        _file_route(
            "/docs", s.docs_html, "text/html; charset=utf-8", docs_headers(_local(s.docs_html))
        ),
        *(
            _file_route(f"/docs/{name}", s.docs_assets / name, content_type)
            for name, content_type in DOCS_SERVED.items()
        ),
    ]
    for process, descriptors in PUBLIC_SERVICES.items():
        for d in descriptors:
            for name in RATE_LIMITED:
                if name in d.methods_by_name:
                    routes.append(
                        {
                            "match": {"path": f"/{d.full_name}/{name}"},
                            "route": {
                                "cluster": process,
                                "timeout": "30s",
                                "retry_policy": NOT_DELIVERED_RETRY,
                            },
                            "typed_per_filter_config": _route_rate_limit(s),
                        }
                    )
            streaming = [m.name for m in d.methods if m.server_streaming]
            for name in streaming:
                # Long-lived streams: no route timeout; Envoy's idle timeout still applies.
                routes.append(
                    {
                        "match": {"path": f"/{d.full_name}/{name}"},
                        "route": {
                            "cluster": process,
                            "timeout": "0s",
                            "retry_policy": NOT_DELIVERED_RETRY,
                        },
                    }
                )
            for m in d.methods:
                if is_read(m):
                    routes.append(
                        {
                            "match": {"path": f"/{d.full_name}/{m.name}"},
                            "route": {
                                "cluster": process,
                                "timeout": "30s",
                                "retry_policy": READ_RETRY,
                            },
                        }
                    )
            routes.append(
                {
                    "match": {"prefix": f"/{d.full_name}/"},
                    "route": {
                        "cluster": process,
                        "timeout": "30s",
                        "retry_policy": NOT_DELIVERED_RETRY,
                    },
                }
            )
    # Everything else: the REST path matches here before the transcoder rewrites it (which lets
    # the cors filter find the virtual host's policy); after transcoding a public RPC matches a
    # service route above. Whatever is still here (internal services, reflection, unknown gRPC
    # paths) is answered 404 and never routed.
    routes.append({"match": {"prefix": "/"}, "direct_response": {"status": 404}})
    return routes


def _local(path: Path) -> Path:
    """A repository file the config names by a relative path, read from the checkout."""
    return path if path.is_absolute() else ROOT / path


def is_read(method: MethodDescriptor) -> bool:
    """A unary RPC whose HTTP rule is a GET: no side effects (AIP-131/132), safe to send again."""
    rule = method.GetOptions().Extensions[http_annotations.http]
    return rule.WhichOneof("pattern") == "get" and not method.server_streaming


# Every route: retry only when the request provably never reached a service process (no
# connection to a replica that just died, or the stream refused before any processing, RFC 9113
# 8.7), on another replica. Safe for writes too: nothing was sent.
NOT_DELIVERED_RETRY: dict[str, Any] = {
    "retry_on": "connect-failure,refused-stream",
    "num_retries": 2,
    "retry_host_predicate": [
        {
            "name": "envoy.retry_host_predicates.previous_hosts",
            "typed_config": {
                "@type": _t("extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate")
            },
        }
    ],
    "host_selection_retry_max_attempts": 3,
}
# Reads only: also when the connection broke with the call in flight (a replica killed while it
# answered). Never for writes: a create may have reached Salesforce before the reset. Not on
# gRPC UNAVAILABLE either: that is a service's answer for an upstream outage, which the service
# already retried.
READ_RETRY: dict[str, Any] = {
    **NOT_DELIVERED_RETRY,
    "retry_on": "connect-failure,refused-stream,reset",
}


def _cors(s: GatewaySettings) -> dict[str, Any]:
    return {
        "envoy.filters.http.cors": {
            "@type": _t("extensions.filters.http.cors.v3.CorsPolicy"),
            "allow_origin_string_match": [{"exact": o} for o in s.cors_origins],
            "allow_methods": "GET, POST, PATCH, PUT, DELETE, OPTIONS",
            "allow_headers": "authorization, content-type, x-request-id",
            "expose_headers": "x-request-id",
            "max_age": "600",
        }
    }


ACCESS_LOG_FORMAT = {
    "time": "%START_TIME%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "method": "%REQ(:METHOD)%",
    # Without the query string: a credential sent as ?access_token= is never written.
    "path": "%PATH(NQ:ORIG_OR_PATH)%",
    "rpc": "%PATH(NQ:PATH)%",
    "status": "%RESPONSE_CODE%",
    "grpc_status": "%GRPC_STATUS%",
    "flags": "%RESPONSE_FLAGS%",
    "duration_ms": "%DURATION%",
    "upstream": "%UPSTREAM_CLUSTER%",
    "bytes_sent": "%BYTES_SENT%",
}


def _listener(s: GatewaySettings) -> dict[str, Any]:
    http_filters = [
        # First: drop headers grpc-core would refuse (tools/envoy_headers.py).
        header_hygiene_filter(),
        # REST responses: gzip, no gRPC protocol headers (tools/envoy_rest.py).
        compressor_filter(),
        rest_response_filter(),
        # Unknown query parameters and enum values refused naming the parameter.
        query_filter(),
        _health_filter(s),
        _transcoder(s),
        # After the transcoder: the cors filter reads its policy from the matched route, and
        # only after transcoding does a REST call match a (service) route.
        {
            "name": "envoy.filters.http.cors",
            "typed_config": {"@type": _t("extensions.filters.http.cors.v3.Cors")},
        },
        _rate_limit_filter(),
        _jwt_filter(s),
        {
            "name": "envoy.filters.http.router",
            "typed_config": {"@type": _t("extensions.filters.http.router.v3.Router")},
        },
    ]
    hcm = {
        "@type": _t("extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"),
        "stat_prefix": "gateway",
        "codec_type": "AUTO",
        "generate_request_id": True,
        # The gateway is the edge: append the real peer address to x-forwarded-for (services
        # trust only the last hop, e.g. identity's per-address throttling), never a client's.
        "use_remote_address": True,
        "xff_num_trusted_hops": 0,
        # ...but keep a client's x-request-id (the front end correlates its logs with ours).
        "preserve_external_request_id": True,
        "always_set_request_id_in_response": True,
        **connection_manager_limits(s.request_headers_timeout_s, s.max_request_headers_kb),
        "access_log": [
            {
                "name": "envoy.access_loggers.stdout",
                "typed_config": {
                    "@type": _t("extensions.access_loggers.stream.v3.StdoutAccessLog"),
                    "log_format": {
                        "json_format": ACCESS_LOG_FORMAT,
                        "formatters": [
                            {
                                "name": "envoy.formatter.req_without_query",
                                "typed_config": {
                                    "@type": _t(
                                        "extensions.formatter.req_without_query.v3.ReqWithoutQuery"
                                    )
                                },
                            }
                        ],
                    },
                },
                # Probes (every second from orchestrators) would drown the real traffic.
                "filter": {
                    "header_filter": {
                        "header": {
                            "name": ":path",
                            "string_match": {"safe_regex": {"regex": "^/(healthz|readyz)$"}},
                            "invert_match": True,
                        }
                    }
                },
            }
        ],
        "local_reply_config": _local_reply_config(),
        "route_config": {
            "name": "portal",
            "max_direct_response_body_size_bytes": MAX_DIRECT_RESPONSE_BYTES,
            # A route's own response headers (the docs page's) win over the virtual host's.
            "most_specific_header_mutations_wins": True,
            "virtual_hosts": [
                {
                    "name": "portal",
                    "domains": ["*"],
                    "routes": _routes(s),
                    "typed_per_filter_config": _cors(s),
                    "response_headers_to_add": no_store_headers(),
                }
            ],
        },
        "http_filters": http_filters,
    }
    return {
        "name": "gateway",
        "address": {"socket_address": {"address": s.host, "port_value": s.port}},
        **listener_limits(),
        "filter_chains": [
            {
                "filters": [
                    {"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}
                ]
            }
        ],
    }


def _upstream_tls(process: str, certs: Path) -> dict[str, Any]:
    """Envoy → service over mutual TLS: the gateway's certificate, and the service's must chain
    to the mesh CA and name the process (its DNS SAN), whatever address it was dialled at."""
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": _t("extensions.transport_sockets.tls.v3.UpstreamTlsContext"),
            "sni": process,
            "common_tls_context": {
                "alpn_protocols": ["h2"],
                "tls_certificates": [
                    {
                        "certificate_chain": {"filename": str(certs / "gateway.pem")},
                        "private_key": {"filename": str(certs / "gateway-key.pem")},
                    }
                ],
                "validation_context": {
                    "trusted_ca": {"filename": str(certs / "ca.pem")},
                    "match_typed_subject_alt_names": [
                        {"san_type": "DNS", "matcher": {"exact": process}}
                    ],
                },
            },
        },
    }


def _cluster(
    name: str, endpoints: list[tuple[str, int]], service: str, certs: Path | None = None
) -> dict[str, Any]:
    tls = {"transport_socket": _upstream_tls(name, certs)} if certs is not None else {}
    return {
        **tls,
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "lb_policy": "ROUND_ROBIN",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": _t("extensions.upstreams.http.v3.HttpProtocolOptions"),
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {"socket_address": {"address": h, "port_value": p}}
                            }
                        }
                        for h, p in endpoints
                    ]
                }
            ],
        },
        "health_checks": [
            {
                "timeout": "1s",
                "interval": "1s",
                "no_traffic_interval": "1s",
                # A host not (yet) healthy is probed 4 times a second, so a service that comes up
                # (start-up, a restart) takes traffic and makes /readyz 200 within 0.25 s of it.
                "unhealthy_interval": "0.25s",
                "unhealthy_threshold": 1,
                "healthy_threshold": 1,
                "grpc_health_check": {"service_name": service},
            }
        ],
        "common_lb_config": {"healthy_panic_threshold": {"value": 0}},
        # Envoy's default allows 3 concurrent retries per cluster: when a replica dies under load
        # more calls than that fail at once. A budget scales with the traffic instead.
        "circuit_breakers": {
            "thresholds": [
                {
                    "retry_budget": {
                        "budget_percent": {"value": 25.0},
                        "min_retry_concurrency": 16,
                    }
                }
            ]
        },
    }


def render(s: GatewaySettings) -> dict[str, Any]:
    clusters = [
        _cluster(
            process, s.upstreams[process], PUBLIC_SERVICES[process][0].full_name, s.mesh_tls_dir
        )
        for process in PUBLIC_SERVICES
    ]
    clusters.append(_jwks_cluster(s))
    clusters.append(
        {
            "name": PREFLIGHT_CLUSTER,
            "type": "STATIC",
            "connect_timeout": "1s",
            "load_assignment": {"cluster_name": PREFLIGHT_CLUSTER, "endpoints": []},
        }
    )
    return {
        "admin": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": s.admin_port}}
        },
        "static_resources": {"listeners": [_listener(s)], "clusters": clusters},
        "overload_manager": overload_manager(s.max_heap_bytes, s.max_connections),
    }


def write(s: GatewaySettings, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# Generated by `make gen` (tools/envoy_config.py) from the protos. Do not edit.\n"
    path.write_text(header + yaml.safe_dump(render(s), sort_keys=False, width=120))
    return path


# -- compose.yaml: the same gateway on the compose network (deploy/envoy-compose.yaml) --------

COMPOSE_OUT = ROOT / "deploy" / "envoy-compose.yaml"
# The dev keys volume in the Envoy container. Repository files the config reads (the descriptor
# set...) keep their relative default paths: compose.yaml mounts them under Envoy's working dir.
COMPOSE_JWKS = Path("/keys/jwks.json")
# The dev mesh certificates volume (tools/devcerts.py), as in every service container.
COMPOSE_CERTS = Path("/certs")


def compose_settings() -> GatewaySettings:
    """Listen on every interface; upstreams are the compose service names on their default
    ports (each service's ``<SVC>_HOST=0.0.0.0``)."""
    return GatewaySettings(
        host="0.0.0.0",
        jwks_file=COMPOSE_JWKS,
        mesh_tls_dir=COMPOSE_CERTS,
        upstreams={name: [(name, port)] for name, port in DEFAULT_PORTS.items()},
    )


def render_compose() -> dict[str, Any]:
    """:func:`render` for compose: the service clusters resolve their hostnames by DNS
    (STRICT_DNS: every A record is an endpoint, so ``--scale billing=2`` adds hosts)."""
    config = render(compose_settings())
    for cluster in config["static_resources"]["clusters"]:
        if cluster["name"] in DEFAULT_PORTS:
            cluster["type"] = "STRICT_DNS"
            cluster["dns_lookup_family"] = "V4_ONLY"
    return config


def compose_text() -> str:
    header = (
        "# Generated by `python -m tools.envoy_config --compose` for compose.yaml. Do not edit.\n"
    )
    return header + yaml.safe_dump(render_compose(), sort_keys=False, width=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--compose", action="store_true", help="render deploy/envoy-compose.yaml for compose.yaml"
    )
    args = parser.parse_args()
    if args.compose:
        out = args.out or COMPOSE_OUT
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(compose_text())
        return
    write(GatewaySettings(), args.out or ROOT / "envoy" / "envoy.yaml")


if __name__ == "__main__":
    main()
