"""The Freebit sandbox's aiohttp application and the in-process factory used by tests."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.control import FAULT_MODES, Control, Fault
from sandbox.freebit import codes
from sandbox.freebit.calls import World, calls
from sandbox.freebit.clock import add_clock_routes
from sandbox.freebit.codes import FreebitError
from sandbox.freebit.settings import FreebitSettings
from sandbox.freebit.state import Registry
from sandbox.persistence import Part, persist_app

log = logging.getLogger("sandbox.freebit")
AUTH_PATH = "authOem"
RESULT_KEY = web.RequestKey("result", str)
_NOT_FOR_AUTH = FAULT_MODES - {"expire_session"}


@web.middleware
async def access_log(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    started = time.perf_counter()
    response = await handler(request)
    log.info(
        "%s %s status=%d result=%s ms=%.1f",
        request.method, request.path, response.status, request.get(RESULT_KEY, "-"),
        (time.perf_counter() - started) * 1000,
    )  # fmt: skip
    return response


def _unavailable(status: int) -> web.Response:
    text = f"<html><head><title>{status} Service Unavailable</title></head><body><h1>{status}</h1>"
    text += "<p>The server is temporarily unable to service your request.</p></body></html>"
    return web.Response(text=text, status=status, content_type="text/html")


def _parse(form: Any) -> dict[str, Any]:
    raw = form.get("json")
    try:
        body = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise FreebitError(codes.BAD_JSON)
    if "version" not in body and isinstance(form.get("version"), str):
        body["version"] = form["version"]
    return body


async def _apply_fault(
    fault: Fault, registry: Registry, body: dict[str, Any]
) -> web.Response | None:
    """A response for the armed fault, or ``None`` to go on (after any latency)."""
    if fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    if fault.mode == "unavailable":
        return _unavailable(int(fault.extra.get("status", 503)))
    if fault.mode == "rate_limit":
        return web.json_response(codes.RATE_LIMITED.body(), status=429)
    if fault.mode == "expire_session":
        registry.revoke(str(body.get("authKey", "")))
    if fault.mode == "business_error":
        code = str(fault.extra.get("result_code", codes.SYSTEM_ERROR.status_code))
        message = fault.extra.get("message")
        raise FreebitError(codes.lookup(code, str(message) if message else None))
    return None


class FreebitApi:
    def __init__(self, settings: FreebitSettings, registry: Registry, control: Control) -> None:
        self.settings, self.registry, self.control = settings, registry, control
        self.world = World(registry, settings)
        self.calls = calls(settings)

    async def handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"].strip("/")
        fault = self.control.take(path, modes=_NOT_FOR_AUTH if path == AUTH_PATH else None)
        if path != AUTH_PATH and path not in self.calls:
            return web.Response(text="Not Found", status=404)
        try:
            body = _parse(await request.post())
            if fault is not None:
                faulty = await _apply_fault(fault, self.registry, body)
                if faulty is not None:
                    request[RESULT_KEY] = f"fault:{fault.mode}"
                    return faulty
            result = self._dispatch(path, body)
        except FreebitError as exc:
            result = exc.result.body()
        request[RESULT_KEY] = result["resultCode"]
        return web.json_response(result)

    def _dispatch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if path == AUTH_PATH:
            return self._auth(body)
        if not self.registry.key_valid(str(body.get("authKey", ""))):
            raise FreebitError(codes.AUTH_KEY_INVALID)
        return self.calls[path](self.world, body)

    def _auth(self, body: dict[str, Any]) -> dict[str, Any]:
        oem_id = str(body.get("oemId", "")).encode()
        oem_key = str(body.get("oemKey", "")).encode()
        ok_id = hmac.compare_digest(oem_id, self.settings.oem_id.encode())
        ok_key = hmac.compare_digest(oem_key, self.settings.oem_key.encode())
        if not (ok_id and ok_key):
            raise FreebitError(codes.OEM_AUTH_FAILED)
        return codes.OK.body(authKey=self.registry.issue_key(self.settings.auth_key_ttl))


def build_app(settings: FreebitSettings) -> tuple[web.Application, Registry, Control]:
    registry = Registry()
    control = Control(registry.clear)
    api = FreebitApi(settings, registry, control)
    app = web.Application(middlewares=[access_log])
    app.router.add_post("/emptool/api/{path:.+}", api.handle)

    async def lines(_request: web.Request) -> web.Response:
        now = registry.now()
        rows = {a: {"state": ln.state(now), "kind": ln.kind} for a, ln in registry.lines.items()}
        return web.json_response({"lines": rows})

    app.router.add_get("/__sandbox/lines", lines)
    add_clock_routes(app, registry)
    control.add_routes(app)
    persist_app(app, "freebit", {"registry": Part(lambda: registry, skip=frozenset({"auth_keys"}))})
    return app, registry, control


@dataclass
class RunningFreebit:
    runner: web.AppRunner
    port: int
    url: str
    registry: Registry
    control: Control
    settings: FreebitSettings

    @property
    def api_url(self) -> str:
        return f"{self.url}/emptool/api"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_freebit(
    host: str = "127.0.0.1",
    port: int = 0,
    settings: FreebitSettings | None = None,
    **overrides: Any,
) -> RunningFreebit:
    """Start the sandbox in this event loop (``port=0`` picks a free port)."""
    chosen = (settings or FreebitSettings()).with_overrides(overrides)
    app, registry, control = build_app(chosen)
    sock = socket.create_server((host, port))
    bound = sock.getsockname()[1]
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    url = f"http://{host}:{bound}"
    log.info("freebit_sandbox_started url=%s settings=%r", url, chosen)
    return RunningFreebit(runner, bound, url, registry, control, chosen)
