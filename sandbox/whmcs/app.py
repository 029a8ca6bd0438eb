"""The WHMCS sandbox's aiohttp application and the in-process factory used by tests."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.control import Control
from sandbox.persistence import Part, persist_app
from sandbox.whmcs.api import ACTION_KEY, RESULT_KEY, make_api_handler
from sandbox.whmcs.context import Ctx, SsoBook
from sandbox.whmcs.hooks import HookDispatcher
from sandbox.whmcs.pages import make_page_handlers
from sandbox.whmcs.settings import WhmcsSettings
from sandbox.whmcs.sso import make_sso_handler
from sandbox.whmcs.store import Store

log = logging.getLogger("sandbox.whmcs")


@web.middleware
async def access_log(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """One line per request; the path only (SSO tokens travel in the query string)."""
    started = time.perf_counter()
    response = await handler(request)
    log.info(
        "%s %s action=%s status=%d result=%s ms=%.1f",
        request.method, request.path, request.get(ACTION_KEY, "-"), response.status,
        request.get(RESULT_KEY, "-"), (time.perf_counter() - started) * 1000,
    )  # fmt: skip
    return response


def build_app(settings: WhmcsSettings) -> tuple[web.Application, Ctx, Control, HookDispatcher]:
    hooks = HookDispatcher(
        settings.webhook_url,
        settings.webhook_secret,
        base_delay=settings.webhook_base_delay,
        max_attempts=settings.webhook_max_attempts,
        timeout=settings.webhook_timeout,
        workers=settings.webhook_workers,
    )
    ctx = Ctx(store=Store(), settings=settings, hooks=hooks, sso=SsoBook(ttl=settings.sso_ttl))

    def on_reset() -> None:
        ctx.store.reset()
        ctx.sso.clear()
        hooks.reset()

    control = Control(on_reset)
    app = web.Application(middlewares=[access_log])
    app.router.add_post("/includes/api.php", make_api_handler(ctx, control))
    app.router.add_get("/oauth/singlesignon.php", make_sso_handler(ctx))
    for path, page in make_page_handlers(ctx).items():
        app.router.add_get(path, page)

    async def webhooks(_request: web.Request) -> web.Response:
        return web.json_response({"deliveries": [d.as_json() for d in hooks.deliveries]})

    app.router.add_get("/__sandbox/webhooks", webhooks)
    control.add_routes(app)
    persist_app(app, "whmcs", {"store": Part(lambda: ctx.store)})
    return app, ctx, control, hooks


@dataclass
class RunningWhmcs:
    runner: web.AppRunner
    port: int
    url: str
    ctx: Ctx
    control: Control
    hooks: HookDispatcher

    @property
    def store(self) -> Store:
        return self.ctx.store

    @property
    def api_url(self) -> str:
        return f"{self.url}/includes/api.php"

    async def stop(self) -> None:
        await self.hooks.stop()
        await self.runner.cleanup()


async def start_whmcs(
    host: str = "127.0.0.1", port: int = 0, settings: WhmcsSettings | None = None, **overrides: Any
) -> RunningWhmcs:
    """Start the sandbox in this event loop (``port=0`` picks a free port)."""
    chosen = (settings or WhmcsSettings()).with_overrides(overrides)
    app, ctx, control, hooks = build_app(chosen)
    sock = socket.create_server((host, port))
    bound = sock.getsockname()[1]
    url = f"http://{host}:{bound}"
    ctx.public_url = chosen.public_url.rstrip("/") or url
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    await hooks.start()
    log.info("whmcs_sandbox_started url=%s settings=%r", url, chosen)
    return RunningWhmcs(runner, bound, url, ctx, control, hooks)
