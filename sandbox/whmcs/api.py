"""``POST /includes/api.php``: credentials, armed faults, dispatch to the action handlers."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from aiohttp import web

from sandbox.control import Control, Fault
from sandbox.whmcs import clients, invoices, orders, paymethods, products, sso, users
from sandbox.whmcs.context import Ctx, Handler
from sandbox.whmcs.pages import error_page
from sandbox.whmcs.phpform import Params
from sandbox.whmcs.wire import ApiError

ACTIONS: dict[str, Handler] = {
    **clients.ACTIONS,
    **invoices.ACTIONS,
    **paymethods.ACTIONS,
    **orders.ACTIONS,
    **products.ACTIONS,
    **sso.ACTIONS,
    **users.ACTIONS,
}
ACTION_KEY = web.RequestKey("action", str)
RESULT_KEY = web.RequestKey("result", str)
AUTH_FAILED = {"result": "error", "message": "Authentication Failed"}


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _authenticated(ctx: Ctx, p: Params) -> bool:
    identifier = (p.get("identifier") or "").encode()
    secret = (p.get("secret") or "").encode()
    ok_id = hmac.compare_digest(identifier, ctx.settings.identifier.encode())
    ok_secret = hmac.compare_digest(secret, ctx.settings.secret.encode())
    return ok_id and ok_secret


async def _fault_response(fault: Fault) -> web.Response | None:
    """Apply an armed fault; ``None`` lets the call proceed (after any latency)."""
    if fault.latency_ms or fault.mode == "latency":
        await asyncio.sleep(fault.latency_ms / 1000)
    if fault.mode == "unavailable":
        return error_page(int(fault.extra.get("status", 500)))
    if fault.mode == "rate_limit":
        response = error_page(429)
        response.headers["Retry-After"] = str(fault.extra.get("retry_after", 1))
        return response
    if fault.mode == "expire_session":
        return _json(AUTH_FAILED, 403)
    if fault.mode == "business_error":
        message = str(fault.extra.get("message", "An unexpected error occurred"))
        return _json({"result": "error", "message": message})
    return None


def make_api_handler(ctx: Ctx, control: Control) -> Any:
    async def api(request: web.Request) -> web.Response:
        form = await request.post()
        p = Params((k, v) for k, v in form.items() if isinstance(v, str))
        action = p.text("action")
        request[ACTION_KEY] = action
        fault = control.take(action)
        if fault is not None:
            faulty = await _fault_response(fault)
            if faulty is not None:
                request[RESULT_KEY] = f"fault:{fault.mode}"
                return faulty
        if not _authenticated(ctx, p):
            request[RESULT_KEY] = "auth_failed"
            return _json(AUTH_FAILED, 403)
        handler = ACTIONS.get(action)
        try:
            if handler is None:
                raise ApiError("Command Not Found")
            body = handler(ctx, p)
        except ApiError as exc:
            request[RESULT_KEY] = "error"
            return _json({"result": "error", "message": exc.message})
        request[RESULT_KEY] = "success"
        return _json(body)

    return api
