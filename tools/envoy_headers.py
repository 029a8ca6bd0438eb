"""The gateway's request-header hygiene: only headers a gRPC server accepts reach the services.

HTTP allows header names that gRPC metadata does not (``'``, ``!``, ``#``, ``$``, ``%``, ``&``,
``*``, ``+``, ``^``, `````, ``|``, ``~``), and gRPC gives meaning to headers a REST client has no
business sending: ``*-bin`` values must be base64 and ``grpc-*`` are the protocol's own
(``grpc-timeout``, ``grpc-encoding``...). Forwarded as they are, grpc-core refuses the call before
any interceptor runs and the transcoder answers 500 with grpc-core's text and no ``ErrorInfo``
(``{"code":13,"message":"Illegal header key: q'","details":[]}``): found by the OpenAPI fuzz
(tests/e2e/test_openapi_fuzz.py). So, before the transcoder (which still sees the client's
content type): drop every header whose name is not a valid gRPC metadata key, and on REST calls
also the ``grpc-*`` and ``*-bin`` ones. Native gRPC callers keep theirs (deadlines, encodings).
"""

from __future__ import annotations

from typing import Any

HEADER_HYGIENE_LUA = """\
function envoy_on_request(handle)
  local headers = handle:headers()
  local content_type = headers:get("content-type") or ""
  local native_grpc = string.sub(content_type, 1, 16) == "application/grpc"
  local drop = {}
  for key, _ in pairs(headers) do
    if string.sub(key, 1, 1) ~= ":" then
      local bad_key = string.find(key, "[^0-9a-z_.%-]") ~= nil
      local grpc_only = string.sub(key, 1, 5) == "grpc-" or string.sub(key, -4) == "-bin"
      if bad_key or (grpc_only and not native_grpc) then
        drop[#drop + 1] = key
      end
    end
  end
  for _, key in ipairs(drop) do
    headers:remove(key)
  end
end
"""


def header_hygiene_filter() -> dict[str, Any]:
    """The Lua HTTP filter; it must come before ``grpc_json_transcoder``."""
    return {
        "name": "envoy.filters.http.lua",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
            "default_source_code": {"inline_string": HEADER_HYGIENE_LUA},
        },
    }
