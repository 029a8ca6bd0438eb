"""aiohttp application: OAuth token endpoint, REST data API, faults, limits and request log."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .composite import run_composite, run_graph
from .config import ORG_ID
from .errors import SfError
from .rest import Reply, action_name
from .store import INTEGRATION_USER_ID

if TYPE_CHECKING:
    from .server import SalesforceState

log = logging.getLogger("sandbox.salesforce")
REST_FAULTS = frozenset({"unavailable", "latency", "expire_session", "rate_limit"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(exc: SfError, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(exc.body(), status=exc.status, headers=headers)


def build_app(state: SalesforceState) -> web.Application:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        response: web.StreamResponse
        try:
            response = await _guarded(state, request, handler)
        except web.HTTPException as exc:
            response = exc
        log.info(
            "%s %s -> %d %.1fms",
            request.method,
            request.path,
            response.status,
            (time.perf_counter() - started) * 1000,
        )
        return response

    app = web.Application(middlewares=[middleware], client_max_size=8 * 1024 * 1024)
    state.control.add_routes(app)

    async def token(request: web.Request) -> web.Response:
        return await _token(state, request)

    async def data(request: web.Request) -> web.Response:
        return await _data(state, request)

    app.router.add_post("/services/oauth2/token", token)
    app.router.add_route("*", "/services/data/{tail:.*}", data)
    app.router.add_route("GET", "/services/data", data)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app


async def _not_found(_request: web.Request) -> web.Response:
    return _error(SfError(404, "NOT_FOUND", "The requested resource does not exist"))


async def _guarded(
    state: SalesforceState, request: web.Request, handler: Handler
) -> web.StreamResponse:
    path = request.path
    if path.startswith("/__sandbox/"):
        return await handler(request)
    is_data = path.startswith("/services/data/")
    action = (
        "oauth:token"
        if path == "/services/oauth2/token"
        else (action_name(request.method, path, dict(request.query)) if is_data else "other")
    )
    modes = REST_FAULTS if is_data else REST_FAULTS - {"expire_session"}
    fault = state.control.take(action, modes=modes)
    if fault is not None:
        if fault.mode == "latency":
            await asyncio.sleep(fault.latency_ms / 1000)
        elif fault.mode == "unavailable":
            return _error(
                SfError(
                    503,
                    "SERVER_UNAVAILABLE",
                    "Service temporarily unavailable, please try again later",
                )
            )
        elif fault.mode == "rate_limit":
            return _error(SfError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."))
        elif fault.mode == "expire_session":
            state.tokens.expire_all()
    if not is_data or path.rstrip("/") == "/services/data":  # the version list is public
        return await handler(request)
    auth = request.headers.get("Authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else None
    if not state.tokens.valid(token):
        return _error(SfError(401, "INVALID_SESSION_ID", "Session expired or invalid"))
    state.api_usage += 1
    limit_header = {"Sforce-Limit-Info": f"api-usage={state.api_usage}/{state.settings.api_limit}"}
    if state.api_usage > state.settings.api_limit:
        return _error(
            SfError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."), limit_header
        )
    response = await handler(request)
    response.headers.update(limit_header)
    return response


async def _token(state: SalesforceState, request: web.Request) -> web.Response:
    form = await request.post()
    key, secret = form.get("client_id"), form.get("client_secret")
    auth = request.headers.get("Authorization", "")
    if auth[:6].lower() == "basic ":
        try:
            key, _, secret = base64.b64decode(auth[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            key = secret = None
    if form.get("grant_type") != "client_credentials":
        return web.json_response(
            {"error": "unsupported_grant_type", "error_description": "grant type not supported"},
            status=400,
        )
    s = state.settings
    if key != s.consumer_key or secret != s.consumer_secret:
        return web.json_response(
            {"error": "invalid_grant", "error_description": "authentication failure"}, status=400
        )
    token = state.tokens.issue()
    issued_at = str(int(time.time() * 1000))
    identity = f"{state.instance_url}/id/{ORG_ID}/{INTEGRATION_USER_ID}"
    return web.json_response(
        {
            "access_token": token,
            "instance_url": state.instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": state.tokens.signature(identity, issued_at),
            "scope": "api",
        }
    )


async def _data(state: SalesforceState, request: web.Request) -> web.Response:
    body: Any = None
    if request.can_read_body:
        raw = await request.read()
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return _error(
                    SfError(400, "JSON_PARSER_ERROR", "Unexpected character in request body")
                )
    params = dict(request.query)
    try:
        reply = _dispatch(state, request.method, request.path, params, body)
    except SfError as exc:
        state.store.drain()  # a failed single write leaves nothing behind
        return _error(exc)
    if reply.status == 204:
        return web.Response(status=204, headers=reply.headers)
    return web.json_response(reply.body, status=reply.status, headers=reply.headers)


def _dispatch(
    state: SalesforceState, method: str, path: str, params: dict[str, str], body: Any
) -> Reply:
    action = action_name(method, path, params)
    if action == "composite":
        if method != "POST":
            raise SfError(405, "METHOD_NOT_ALLOWED", "HTTP Method not allowed. Allowed are POST")
        return run_composite(
            state.rest, state.store, body, lambda: state.commit(action), state.control.count
        )
    if action == "composite:graph":
        if method != "POST":
            raise SfError(405, "METHOD_NOT_ALLOWED", "HTTP Method not allowed. Allowed are POST")
        return run_graph(
            state.rest, state.store, body, lambda: state.commit(action), state.control.count
        )
    reply = state.rest.handle(method, path, params, body)
    state.commit(action)
    return reply
