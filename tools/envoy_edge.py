"""The gateway's defences against abuse at the edge, as Envoy configuration fragments that
``tools/envoy_config.py`` puts in place.

- Slow or endless headers: a request-header timeout, and HTTP/1 and HTTP/2 limits on header size,
  streams per connection and buffered bytes per connection.
- Too many connections or too much memory: Envoy's overload manager, with a global limit on
  downstream connections and a heap budget (heap shrinking, then refusing new requests and
  connections, before the process is killed for memory).
- Credentials in logs: the access log writes paths without their query string (a token sent as
  ``?access_token=`` must not end up there) and never a header value.
- Caching of tokens and links: every API answer says ``Cache-Control: no-store``.
- The docs page: a Content-Security-Policy allowing its own inline script and style (by hash)
  and nothing else, plus the usual security headers.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any


def _t(name: str) -> str:
    return f"type.googleapis.com/envoy.{name}"


def connection_manager_limits(
    request_headers_timeout_s: float, max_request_headers_kb: int
) -> dict[str, Any]:
    """Fields of the HTTP connection manager."""
    return {
        # A connection that has not sent a whole request head in time is closed (slowloris).
        "request_headers_timeout": f"{request_headers_timeout_s}s",
        # Above this Envoy answers 431 itself (mapped to our error shape), so no oversized
        # metadata reaches grpc-core, whose own refusal is a 429 with its text.
        "max_request_headers_kb": max_request_headers_kb,
        "common_http_protocol_options": {
            "idle_timeout": "300s",
            "max_headers_count": 100,
        },
        "http2_protocol_options": {
            "max_concurrent_streams": 100,
            "initial_stream_window_size": 65536,
            "initial_connection_window_size": 1048576,
        },
    }


def listener_limits() -> dict[str, Any]:
    """Fields of the listener: bytes buffered per connection."""
    return {"per_connection_buffer_limit_bytes": 32768}


def overload_manager(max_heap_bytes: int, max_connections: int) -> dict[str, Any]:
    """The bootstrap's ``overload_manager``."""
    heap = "envoy.resource_monitors.fixed_heap"
    connections = "envoy.resource_monitors.global_downstream_max_connections"

    def at(monitor: str, value: float) -> list[dict[str, Any]]:
        return [{"name": monitor, "threshold": {"value": value}}]

    return {
        "refresh_interval": "0.25s",
        "resource_monitors": [
            {
                "name": heap,
                "typed_config": {
                    "@type": _t("extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig"),
                    "max_heap_size_bytes": max_heap_bytes,
                },
            },
            {
                "name": connections,
                "typed_config": {
                    "@type": _t(
                        "extensions.resource_monitors.downstream_connections.v3."
                        "DownstreamConnectionsConfig"
                    ),
                    "max_active_downstream_connections": max_connections,
                },
            },
        ],
        "actions": [
            {"name": "envoy.overload_actions.shrink_heap", "triggers": at(heap, 0.90)},
            {
                # Under memory pressure idle connections are closed sooner.
                "name": "envoy.overload_actions.reduce_timeouts",
                "triggers": [
                    {
                        "name": heap,
                        "scaled": {"scaling_threshold": 0.85, "saturation_threshold": 0.95},
                    }
                ],
                "typed_config": {
                    "@type": _t("config.overload.v3.ScaleTimersOverloadActionConfig"),
                    "timer_scale_factors": [
                        {"timer": "HTTP_DOWNSTREAM_CONNECTION_IDLE", "min_scale": {"value": 10}}
                    ],
                },
            },
            {"name": "envoy.overload_actions.stop_accepting_requests", "triggers": at(heap, 0.95)},
            {
                "name": "envoy.overload_actions.stop_accepting_connections",
                "triggers": at(heap, 0.98),
            },
        ],
    }


def no_store_headers() -> list[dict[str, Any]]:
    """Response headers of every API answer (tokens, payment and SSO links, personal data)."""
    return [
        {
            "header": {"key": "cache-control", "value": "no-store"},
            "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
        },
        {
            "header": {"key": "x-content-type-options", "value": "nosniff"},
            "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
        },
    ]


def _inline_hashes(html: str, tag: str) -> list[str]:
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.DOTALL)
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() + "'"
        for b in blocks
    ]


def docs_policy(docs_html: Path) -> str:
    """The docs page's Content-Security-Policy: its inline script and style by hash, fetches to
    this origin (``/openapi.json``), nothing else; no framing, no forms, no base URL."""
    html = docs_html.read_text()
    return "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join(_inline_hashes(html, "script")),
            "style-src " + " ".join(_inline_hashes(html, "style")),
            "connect-src 'self'",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def docs_headers(docs_html: Path) -> list[dict[str, Any]]:
    values = {
        "content-security-policy": docs_policy(docs_html),
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "cache-control": "no-cache",
    }
    return [
        {"header": {"key": k, "value": v}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
        for k, v in values.items()
    ]
