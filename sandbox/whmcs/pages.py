"""Minimal client-area HTML pages, reachable only through an SSO session."""

from __future__ import annotations

from html import escape
from typing import Any

from aiohttp import web

from sandbox.whmcs.context import Ctx
from sandbox.whmcs.stats import formatted

SESSION_COOKIE = "WHMCSsandbox"


def session_client(ctx: Ctx, request: web.Request) -> int | None:
    return ctx.sso.sessions.get(request.cookies.get(SESSION_COOKIE, ""))


def html_page(title: str, body: str, status: int = 200) -> web.Response:
    text = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{escape(title)} - WHMCS Sandbox</title></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(text=text, status=status, content_type="text/html")


def error_page(status: int) -> web.Response:
    """What a broken WHMCS answers: an HTML error page instead of JSON."""
    title = "Oops! Something went wrong!" if status >= 500 else "Error"
    body = (
        "<p>A fatal error occurred while processing your request. Please contact support.</p>"
        if status >= 500
        else "<p>Too many requests. Please slow down.</p>"
    )
    return html_page(title, body, status)


def make_page_handlers(ctx: Ctx) -> dict[str, Any]:
    async def view_invoice(request: web.Request) -> web.Response:
        client_id = session_client(ctx, request)
        if client_id is None:
            return html_page("Login Required", "<p>Please log in to view this invoice.</p>", 403)
        invoice = ctx.store.invoices.get(int(request.query.get("id", "0") or 0))
        if invoice is None or invoice.userid != client_id:
            return html_page("Invalid Access Attempt", "<p>Invalid Access Attempt</p>", 403)
        rows = "".join(
            f"<tr><td>{escape(i.description)}</td><td>{formatted(i.amount)}</td></tr>"
            for i in invoice.items
        )
        body = (
            f"<p class='status'>Status: {escape(invoice.status)}</p>"
            f"<p>Due date: {invoice.duedate.isoformat()}</p><table>{rows}</table>"
            f"<p class='total'>Total: {formatted(invoice.total)}</p>"
            f"<p class='balance'>Balance: {formatted(invoice.balance)}</p>"
            + ("<form method='post'><button>Pay Now</button></form>" if invoice.balance > 0 else "")
        )
        return html_page(f"Invoice #{invoice.id}", body)

    async def client_area(request: web.Request) -> web.Response:
        client_id = session_client(ctx, request)
        if client_id is None:
            return html_page("Login Required", "<p>Please log in.</p>", 403)
        client = ctx.store.clients[client_id]
        invoices = [i for i in ctx.store.invoices.values() if i.userid == client_id]
        items = "".join(f"<li>#{i.id} {escape(i.status)}</li>" for i in invoices)
        action = escape(request.query.get("action", "home"))
        greeting = f"<p>Welcome back, {escape(client.firstname)}</p>"
        return html_page(f"Client Area: {action}", f"{greeting}<ul>{items}</ul>")

    return {"/viewinvoice.php": view_invoice, "/clientarea.php": client_area}
