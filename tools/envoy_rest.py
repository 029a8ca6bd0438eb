"""What REST responses get at the edge and gRPC ones do not: gzip, and no gRPC protocol headers.

- gzip (``compressor``) for JSON, the docs page and its assets when the client accepts it; never
  for event streams (a compressor buffers) nor for native gRPC (its own framing).
- ``grpc-status`` / ``grpc-message`` are the gRPC protocol's; the transcoder leaves them on REST
  responses, where they only leak the backend's protocol. A small Lua filter notes on the request
  whether it is REST (not ``application/grpc``) and drops them from such responses.
"""

from __future__ import annotations

from typing import Any

COMPRESSED_TYPES = ["application/json", "text/html", "text/css", "text/javascript"]

REST_RESPONSE_LUA = """\
function envoy_on_request(handle)
  local ct = handle:headers():get("content-type") or ""
  if string.sub(ct, 1, 16) ~= "application/grpc" then
    handle:streamInfo():dynamicMetadata():set("portal.rest", "rest", "1")
  end
end

function envoy_on_response(handle)
  local meta = handle:streamInfo():dynamicMetadata():get("portal.rest")
  if meta and meta["rest"] == "1" then
    handle:headers():remove("grpc-status")
    handle:headers():remove("grpc-message")
  end
end
"""


def compressor_filter() -> dict[str, Any]:
    """Comes early in the chain, so on the way out it sees the transcoder's JSON."""
    return {
        "name": "envoy.filters.http.compressor",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor",
            "response_direction_config": {
                "common_config": {"min_content_length": 860, "content_type": COMPRESSED_TYPES}
            },
            "request_direction_config": {
                "common_config": {
                    "enabled": {"default_value": False, "runtime_key": "request_compression"}
                }
            },
            "compressor_library": {
                "name": "gzip",
                "typed_config": {
                    "@type": "type.googleapis.com/"
                    "envoy.extensions.compression.gzip.compressor.v3.Gzip"
                },
            },
        },
    }


def rest_response_filter() -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.lua",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
            "default_source_code": {"inline_string": REST_RESPONSE_LUA},
        },
    }
