"""The gateway's check of REST query parameters, answered in the documented error shape with a
``BadRequest`` field violation naming the parameter.

The transcoder refuses an unknown query parameter or an enum value it cannot parse with a bare
400 (the local-reply mapper turns it into ``VALIDATION_FAILED`` without saying which parameter).
So a Lua filter in front of it checks the query of every REST call against the parameters each
route's request message has (from the descriptors, as the OpenAPI generator lists them) and the
values of enum parameters, and answers 400 itself, naming the parameter. Its reply is marked in
the dynamic metadata so the local-reply mapper leaves it as it is.
"""

from __future__ import annotations

import json
import re
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from services.common.methods import PUBLIC_SERVICES

METADATA_NAMESPACE = "portal.edge"


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


def _allowed(field: FieldDescriptor) -> str:
    if field.enum_type is not None:
        names = ", ".join(f"[{_lua_string(v.name)}]=true" for v in field.enum_type.values)
        return "{" + names + "}"
    return "true"


def rules() -> list[tuple[str, str, dict[str, str]]]:
    """(verb, path regex, parameter → allowed) for every REST binding of a public method."""
    # Imported here: tools.openapi imports the gateway config (its error reasons).
    from tools.openapi import http_rules, openapi_path, query_fields, verb_and_template

    out = []
    for services in PUBLIC_SERVICES.values():
        for service in services:
            for method in service.methods:
                for rule in http_rules(method):
                    verb, template = verb_and_template(rule)
                    path, bound = openapi_path(template, method.input_type)
                    params: dict[str, str] = {}
                    if rule.body != "*":  # body "*": every field is in the path or the body
                        in_body = [method.input_type.fields_by_name[rule.body]] if rule.body else []
                        for f in query_fields(method.input_type, bound + in_body):
                            params[f.json_name] = params[f.name] = _allowed(f)
                    lua_path = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path).replace("\\:", ":"))
                    out.append((verb.upper(), "^" + lua_path + "$", params))
    return out


def _lua_rules() -> str:
    lines = []
    for verb, pattern, params in rules():
        lua_pattern = pattern.replace("\\.", "%.").replace("\\-", "%-").replace("\\", "")
        entries = ", ".join(f"[{_lua_string(k)}]={v}" for k, v in sorted(params.items()))
        lines.append(f"  {{{_lua_string(verb)}, {_lua_string(lua_pattern)}, {{{entries}}}}},")
    return "local RULES = {\n" + "\n".join(lines) + "\n}\n"


QUERY_LUA = """\
local function decode(s)
  s = string.gsub(s, "%+", " ")
  return (string.gsub(s, "%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function escape_json(s)
  return (string.gsub(s, '[%c"\\\\]', function(c)
    return string.format("\\\\u%04x", string.byte(c))
  end))
end

local function refuse(handle, field, description)
  local body = '{"code":3,"message":"' .. escape_json(description) .. '","details":['
    .. '{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"VALIDATION_FAILED",'
    .. '"domain":"portal","metadata":{}},'
    .. '{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"'
    .. escape_json(field) .. '","description":"' .. escape_json(description) .. '"}]}]}'
  handle:streamInfo():dynamicMetadata():set("@NAMESPACE@", "answered", "query")
  handle:respond({[":status"] = "400", ["content-type"] = "application/json"}, body)
end

function envoy_on_request(handle)
  local headers = handle:headers()
  local ct = headers:get("content-type") or ""
  if string.sub(ct, 1, 16) == "application/grpc" then return end
  local full = headers:get(":path") or ""
  local path, query = string.match(full, "^([^?]*)%?(.*)$")
  if path == nil or query == "" then return end
  local method = headers:get(":method")
  local params = nil
  for _, rule in ipairs(RULES) do
    if rule[1] == method and string.match(path, rule[2]) then params = rule[3] break end
  end
  if params == nil then return end
  for pair in string.gmatch(query, "[^&]+") do
    local key, value = string.match(pair, "^([^=]*)=?(.*)$")
    key = decode(key)
    local allowed = params[key]
    if key == "" then
      allowed = false  -- nameless: the transcoder's to judge
    elseif allowed == nil then
      return refuse(handle, key, "Unknown query parameter " .. key .. ".")
    elseif type(allowed) == "table" then
      local v = string.upper(decode(value))
      if not allowed[v] and not string.match(v, "^%d+$") then
        return refuse(handle, key, "Not a valid value for " .. key .. ".")
      end
    end
  end
end
"""


def query_filter() -> dict[str, Any]:
    code = _lua_rules() + QUERY_LUA.replace("@NAMESPACE@", METADATA_NAMESPACE)
    return {
        "name": "envoy.filters.http.lua",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
            "default_source_code": {"inline_string": code},
        },
    }


def answered_mapper() -> dict[str, Any]:
    """First local-reply mapper: a reply this filter wrote stays as it is."""
    return {
        "filter": {
            "metadata_filter": {
                "matcher": {
                    "filter": METADATA_NAMESPACE,
                    "path": [{"key": "answered"}],
                    "value": {"string_match": {"exact": "query"}},
                },
                "match_if_key_not_found": False,
            }
        }
    }
