"""The httpx transport of the HTTP clients (WHMCS, Freebit): a connection pool sized to the
upstream's concurrency limit, over a network backend that keeps each connection's socket.

Why the backend: before every request, and again when a response is closed, httpcore's pool asks
each idle pooled connection whether its socket has become readable (a server that closed a
keep-alive connection). httpcore's anyio streams answer by rebuilding anyio's dictionary of socket
attributes each time (a ``getpeername`` system call and enum conversions per connection per
check), which was ~5 % of a busy fulfillment worker's event loop. :class:`SocketKeepingBackend`
wraps anyio's streams and answers ``is_readable`` from the socket it took once at connect time;
every other attribute goes to anyio's stream unchanged. The streams also send a request's pieces
(head and body) in one ``send`` (:class:`_Stream`): on a busy worker the socket sends were the
largest single item of the event loop's time.

httpx builds its httpcore pool inside :class:`httpx.AsyncHTTPTransport`'s constructor without a
network-backend parameter, so :func:`transport` replaces that pool (``_pool``) with one of the
same settings over this backend; ``tests/unit/clients/test_http_transport.py`` checks it is
still what httpx sends through.

Every transport verifies TLS with one context per process (:func:`ssl_context`, httpx's default:
certifi's bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``): each context holds its own parsed copy
of the CA bundle (~0.8 MiB), and one context is safe to share between connections and pools
(httpx shares one between all connections of a client).
"""

# ruff: noqa: ASYNC109 - the `timeout` parameters are httpcore's network-stream interface

from __future__ import annotations

import functools
import select
import socket
import ssl
import typing

import httpcore
import httpx
from httpcore import AsyncNetworkBackend, AsyncNetworkStream
from httpcore._backends.anyio import AnyIOBackend

KEEPALIVE_EXPIRY_S = 5.0  # httpx's default
FLUSH_BYTES = 64 * 1024  # held request bytes that are sent without waiting for the read


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context, made at the first call and shared from then on."""
    return httpx.create_ssl_context()


def transport(max_connections: int) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose pool holds at most ``max_connections`` connections, all of them
    kept alive between calls (the upstream's ``max_concurrency``: no more are ever in use)."""
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=KEEPALIVE_EXPIRY_S,
    )
    made = httpx.AsyncHTTPTransport(verify=ssl_context(), limits=limits)
    made._pool = httpcore.AsyncConnectionPool(
        ssl_context=made._pool._ssl_context,  # the shared one (ssl_context)
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=SocketKeepingBackend(),
    )
    return made


def _readable(sock: socket.socket | None) -> bool:
    """True when a read would not block (data, or the peer's close); a socket that is gone
    counts as readable, as in httpcore."""
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class _Stream(AsyncNetworkStream):
    """anyio's stream, its socket kept, and a request's writes sent together: httpcore writes an
    HTTP/1.1 request as separate pieces (the head, then each body chunk), and the next thing it
    does is read the answer; so writes are held until that read (or until ``FLUSH_BYTES`` are
    held) and go out as one ``send`` instead of one per piece."""

    def __init__(self, inner: AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._write_timeout: float | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._held:
            await self._flush()
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        self._held.append(buffer)
        self._held_bytes += len(buffer)
        self._write_timeout = timeout
        if self._held_bytes >= FLUSH_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        data = b"".join(self._held)
        self._held.clear()
        self._held_bytes = 0
        await self._inner.write(data, self._write_timeout)

    async def aclose(self) -> None:
        self._held.clear()  # an abandoned request: nothing of it is sent
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        if self._held:
            await self._flush()
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            return _readable(self._socket)
        return self._inner.get_extra_info(info)


class SocketKeepingBackend(AsyncNetworkBackend):
    """anyio's backend (httpcore's default under asyncio) with streams that keep their socket."""

    def __init__(self) -> None:
        self._anyio = AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        inner = await self._anyio.connect_tcp(host, port, timeout, local_address, socket_options)
        return _Stream(inner)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        return _Stream(await self._anyio.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._anyio.sleep(seconds)
