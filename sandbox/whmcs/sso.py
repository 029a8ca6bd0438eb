"""Single sign-on: the CreateSsoToken action and the one-time ``singlesignon.php`` redirect."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from sandbox.whmcs.context import Ctx, Handler
from sandbox.whmcs.pages import SESSION_COOKIE, html_page
from sandbox.whmcs.phpform import Params
from sandbox.whmcs.wire import ApiError, success

DESTINATIONS: dict[str, str] = {
    "clientarea:homepage": "clientarea.php",
    "clientarea:profile": "clientarea.php?action=details",
    "clientarea:billing_info": "clientarea.php?action=creditcard",
    "clientarea:emails": "clientarea.php?action=emails",
    "clientarea:invoices": "clientarea.php?action=invoices",
    "clientarea:services": "clientarea.php?action=services",
    "clientarea:product_details": "clientarea.php?action=productdetails&id={service_id}",
    "clientarea:tickets": "supporttickets.php",
    "clientarea:submit_ticket": "submitticket.php",
    "clientarea:shopping_cart": "cart.php",
}


def _redirect_path(p: Params) -> str:
    destination = p.text("destination") or "clientarea:homepage"
    if destination == "sso:custom_redirect":
        path = p.text("sso_redirect_path").lstrip("/")
        if not path or "://" in path or path.startswith(("/", "\\")):
            raise ApiError("Invalid destination")
        return path
    template = DESTINATIONS.get(destination)
    if template is None:
        raise ApiError("Invalid destination")
    return template.format(service_id=p.int("service_id"))


def create_sso_token(ctx: Ctx, p: Params) -> dict[str, Any]:
    if not p.text("client_id") and not p.text("user_id"):
        raise ApiError("A valid client_id or user_id is required")  # createssotoken.md
    client = ctx.store.clients.get(p.int("client_id"))
    if client is None:
        raise ApiError("Invalid client_id")
    path = _redirect_path(p)
    token = ctx.sso.issue(client.id, path)
    url = f"{ctx.public_url}/oauth/singlesignon.php?access_token={token}"
    return success(access_token=token, redirect_url=url)


ACTIONS: dict[str, Handler] = {"CreateSsoToken": create_sso_token}


def make_sso_handler(ctx: Ctx) -> Any:
    async def single_sign_on(request: web.Request) -> web.StreamResponse:
        token = ctx.sso.tokens.get(request.query.get("access_token", ""))
        if token is None or token.used:
            return html_page(
                "Access Denied", "This login link is invalid or was already used.", 403
            )
        if time.monotonic() >= token.expires_at:
            return html_page("Access Denied", "This login link has expired.", 401)
        token.used = True
        session = ctx.sso.open_session(token.client_id)
        response = web.Response(status=302, headers={"Location": f"{ctx.public_url}/{token.path}"})
        response.set_cookie(SESSION_COOKIE, session, httponly=True, path="/", samesite="Lax")
        return response

    return single_sign_on
