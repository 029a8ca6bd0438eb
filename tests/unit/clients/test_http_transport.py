"""The WHMCS and Freebit clients' transport: httpx sends through the pool over the asyncio
backend, reuses its connections, and a connection the server closed is noticed (readable) and
replaced, as with httpcore's own backend."""

from __future__ import annotations

import asyncio
import ssl

import httpcore
import httpx
from aiohttp import web

from services.common.clients.http import (
    FLUSH_BYTES,
    AsyncioBackend,
    _Protocol,
    _Stream,
    ssl_context,
    transport,
)


async def _server() -> tuple[web.AppRunner, str]:
    async def hello(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, keepalive_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/"


async def test_requests_go_through_the_socket_keeping_pool() -> None:
    runner, url = await _server()
    made = transport(4)
    pool = made._pool
    assert isinstance(pool, httpcore.AsyncConnectionPool)
    assert isinstance(pool._network_backend, AsyncioBackend)
    assert pool._max_connections == 4 and pool._max_keepalive_connections == 4
    assert isinstance(pool._ssl_context, ssl.SSLContext)  # httpx's, for https upstreams
    try:
        async with httpx.AsyncClient(transport=made) as client:
            answers = await asyncio.gather(*(client.get(url) for _ in range(8)))
            assert [a.json() for a in answers] == [{"ok": True}] * 8
            assert 1 <= len(pool.connections) <= 4  # at most the limit, kept for reuse
            idle = [c for c in pool.connections if c.is_idle()]
            assert idle and not any(c.has_expired() for c in idle)
            await asyncio.sleep(0.5)  # the server closes its idle keep-alive connections
            assert all(c.has_expired() for c in pool.connections if c.is_idle())
            again = await client.get(url)  # the closed connections are dropped, not used
            assert again.json() == {"ok": True}
    finally:
        await runner.cleanup()


def test_every_transport_verifies_with_one_shared_context() -> None:
    # One copy of the CA bundle per process, however many upstream clients it builds; the
    # context verifies as httpx's default does.
    first, second = transport(2), transport(8)
    assert first._pool._ssl_context is second._pool._ssl_context is ssl_context()
    context = ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0


class _Recorder(asyncio.Transport):
    """The transport under the stream: records what is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.sent.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


async def test_a_request_goes_out_in_one_send() -> None:
    inner, protocol = _Recorder(), _Protocol()
    protocol.connection_made(inner)
    stream = _Stream(inner, protocol, None)
    await stream.write(b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\n")
    await stream.write(b"body")
    await stream.write(b"")  # h11's end of message for a sized body
    assert inner.sent == []
    protocol.data_received(b"HTTP/1.1 200 OK\r\n")
    assert await stream.read(100) == b"HTTP/1.1 200 OK\r\n"
    assert inner.sent == [b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody"]
    big = b"x" * FLUSH_BYTES  # a large body is not held back for the read
    await stream.write(big)
    assert inner.sent[-1] == big
    await stream.write(b"abandoned")
    await stream.aclose()
    assert inner.closed and inner.sent[-1] == big
