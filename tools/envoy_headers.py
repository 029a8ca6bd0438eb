"""The gateway's request hygiene: only what a gRPC server accepts reaches the services.

HTTP allows header names that gRPC metadata does not (``'``, ``!``, ``#``, ``$``, ``%``, ``&``,
``*``, ``+``, ``^``, `````, ``|``, ``~``), and gRPC gives meaning to headers a REST client has no
business sending: ``*-bin`` values must be base64 and ``grpc-*`` are the protocol's own
(``grpc-timeout``, ``grpc-encoding``...). Forwarded as they are, grpc-core refuses the call before
any interceptor runs and the transcoder answers 500 with grpc-core's text and no ``ErrorInfo``
(``{"code":13,"message":"Illegal header key: q'","details":[]}``): found by the OpenAPI fuzz
(tests/e2e/test_openapi_fuzz.py). So, before the transcoder (which still sees the client's
content type): drop every header whose name is not a valid gRPC metadata key, and on REST calls
also the ``grpc-*`` and ``*-bin`` ones. Native gRPC callers keep theirs (deadlines, encodings).

Likewise a REST URL whose percent-decoded path or query is not UTF-8 (``/v1/orders/%FF``): the
transcoder copied the bytes into a proto3 string field, the service's protobuf parser refused the
request (``DecodeError``) and the client got 500 with the parser's text. Such a request is now
answered 400 ``VALIDATION_FAILED`` at the edge (the local-reply mapper writes the JSON).
"""

from __future__ import annotations

from typing import Any

# A REST body above this is refused (413) before transcoding: a gRPC server takes at most 4 MiB
# per message, and its RESOURCE_EXHAUSTED reached the client as 429 without ErrorInfo. A message's
# JSON is larger than its protobuf, so 1 MiB of JSON stays far below 4 MiB on the wire.
MAX_BODY_BYTES = 1024 * 1024

HEADER_HYGIENE_LUA = """\
local MAX_BODY_BYTES = @MAX_BODY_BYTES@

local function valid_utf8(s)
  local i, n = 1, #s
  while i <= n do
    local c = string.byte(s, i)
    local len = c < 0x80 and 1 or (c >= 0xC2 and c <= 0xDF) and 2
      or (c >= 0xE0 and c <= 0xEF) and 3 or (c >= 0xF0 and c <= 0xF4) and 4 or 0
    if len == 0 or i + len - 1 > n then
      return false
    end
    for j = i + 1, i + len - 1 do
      local cc = string.byte(s, j)
      if cc < 0x80 or cc > 0xBF then
        return false
      end
    end
    local c2 = string.byte(s, i + 1) or 0
    if (c == 0xE0 and c2 < 0xA0) or (c == 0xED and c2 > 0x9F)
        or (c == 0xF0 and c2 < 0x90) or (c == 0xF4 and c2 > 0x8F) then
      return false  -- overlong, UTF-16 surrogate or beyond U+10FFFF
    end
    i = i + len
  end
  return true
end

local function unescaped(s)
  return (string.gsub(s, "%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

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
  if native_grpc then
    return
  end
  if not valid_utf8(unescaped(headers:get(":path") or "")) then
    handle:respond({[":status"] = "400"}, "")  -- the local reply mapper makes it JSON
    return
  end
  local length = tonumber(headers:get("content-length") or "")
  if length == nil then  -- chunked: buffer it (nil when there is no body); last, as it yields
    local body = handle:body()
    length = body and body:length() or 0
  end
  if length > MAX_BODY_BYTES then
    handle:respond({[":status"] = "413"}, "")
  end
end
""".replace("@MAX_BODY_BYTES@", str(MAX_BODY_BYTES))


def header_hygiene_filter() -> dict[str, Any]:
    """The Lua HTTP filter; it must come before ``grpc_json_transcoder``."""
    return {
        "name": "envoy.filters.http.lua",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
            "default_source_code": {"inline_string": HEADER_HYGIENE_LUA},
        },
    }
