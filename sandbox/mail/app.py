"""The mail sandbox: SMTP (aiosmtpd) on one port, its HTTP view and control surface on another."""

from __future__ import annotations

import asyncio
import html
import logging
import socket
from dataclasses import dataclass

from aiohttp import web

from sandbox.control import Control
from sandbox.mail.settings import MailSandboxSettings
from sandbox.mail.smtp import StoringHandler, protocol_factory
from sandbox.mail.state import Mailbox, StoredMessage
from sandbox.persistence import Part, PersistedState, persist_app

log = logging.getLogger("sandbox.mail")


def _selected(mailbox: Mailbox, request: web.Request) -> list[StoredMessage]:
    to = request.query.get("to", "").strip()
    return mailbox.to(to) if to else list(mailbox.messages)


def _row(m: StoredMessage) -> str:
    cells = (str(m.id), m.received_at, ", ".join(m.rcpt_to), m.subject, m.text)
    return "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"


def _page(messages: list[StoredMessage]) -> str:
    rows = "".join(_row(m) for m in reversed(messages))
    head = "<tr><th>#</th><th>received</th><th>to</th><th>subject</th><th>text</th></tr>"
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Mail sandbox</title>"
        "<style>td{vertical-align:top;white-space:pre-wrap;border-top:1px solid #ccc}</style>"
        f"</head><body><h1>Mail sandbox</h1><table>{head}{rows}</table></body></html>"
    )


def build_app(mailbox: Mailbox, control: Control) -> tuple[web.Application, PersistedState | None]:
    """The HTTP side, and the mailbox's saved state when ``SANDBOX_STATE_DIR`` is set (the SMTP
    side saves it after every message it keeps)."""
    app = web.Application()

    async def messages(request: web.Request) -> web.Response:
        found = _selected(mailbox, request)
        return web.json_response({"messages": [m.as_json() for m in found]})

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=_page(_selected(mailbox, request)), content_type="text/html")

    app.router.add_get("/__sandbox/messages", messages)
    app.router.add_get("/__sandbox/messages.html", page)
    app.router.add_get("/", page)
    control.add_routes(app)
    return app, persist_app(
        app, "mail", {"mailbox": Part(lambda: mailbox, skip=frozenset({"max_messages"}))}
    )


@dataclass
class RunningMail:
    runner: web.AppRunner
    smtp_server: asyncio.Server
    smtp_port: int
    port: int
    url: str
    mailbox: Mailbox
    control: Control

    async def stop(self) -> None:
        self.smtp_server.close()
        await self.smtp_server.wait_closed()
        await self.runner.cleanup()


async def start_mail(
    host: str = "127.0.0.1",
    port: int = 0,
    smtp_port: int = 0,
    settings: MailSandboxSettings | None = None,
) -> RunningMail:
    """Start the sandbox in this event loop (``0`` picks a free port for either side)."""
    mailbox = Mailbox(max_messages=(settings or MailSandboxSettings()).max_messages)
    control = Control(mailbox.clear)
    app, state = build_app(mailbox, control)
    loop = asyncio.get_running_loop()
    handler = StoringHandler(mailbox, control, on_stored=state.save if state else None)
    factory = protocol_factory(handler, "mail.sandbox.local")
    smtp_server = await loop.create_server(factory, host, smtp_port)
    bound_smtp = int(smtp_server.sockets[0].getsockname()[1])
    sock = socket.create_server((host, port))
    bound = int(sock.getsockname()[1])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    url = f"http://{host}:{bound}"
    log.info("mail_sandbox_started url=%s smtp=%s:%d", url, host, bound_smtp)
    return RunningMail(runner, smtp_server, bound_smtp, bound, url, mailbox, control)
