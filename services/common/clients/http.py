"""The httpx transport of the HTTP clients (WHMCS, Freebit, the JWKS fetch): a connection pool sized
to the upstream's concurrency limit, over a network backend written on asyncio alone.

httpx sends through httpcore's connection pool, and under asyncio httpcore's defaults are anyio's:
its network backend (:class:`httpcore.AnyIOBackend`) and the locks, events and cancel shields of
its pool and connections (``httpcore._synchronization``, anyio's ``Lock``, ``Event``,
``Semaphore``, ``CancelScope`` and ``fail_after``). The first lock loads anyio's asyncio
backend and 15 to 25 of its modules (1.1 to 2.3 MiB in a service that has called an upstream),
for nothing the services need: they run on plain asyncio and never open an anyio cancel scope.
So this module brings its own of both:

- :class:`AsyncioBackend` implements httpcore's public network-backend interface
  (``AsyncNetworkBackend`` / ``AsyncNetworkStream``) on an asyncio transport and protocol: TCP
  (``local_address``, ``socket_options``), unix sockets, TLS through ``loop.start_tls``. Failures
  are httpcore's exceptions as its own backends raise them (a timeout is ``ConnectTimeout``,
  ``ReadTimeout`` or ``WriteTimeout``; an ``OSError`` or TLS error ``ConnectError``,
  ``ReadError`` or ``WriteError``), which httpx turns into its own: the clients' error handling
  (an upstream that is down or slow) reads those.
- :data:`_ASYNCIO_PRIMITIVES` stands where httpcore's synchronization module looks for anyio
  (its ``anyio`` name, set by :func:`_install_primitives` at import, so for every httpcore pool
  of the process, this module's or httpx's default): asyncio's ``Lock``,
  ``Event`` and ``BoundedSemaphore``, a ``fail_after`` on the task's own cancellation (as
  ``asyncio.timeout``), and a no-op ``CancelScope``. anyio's shield holds back only anyio's own
  cancel scopes, never a plain ``Task.cancel()``, and a process without anyio scopes has only the
  latter, so the no-op shield behaves as anyio's does here.
  ``tests/unit/clients/test_http_backend.py`` checks the names httpcore's module uses are all
  here. Importing httpcore still imports the ``anyio`` package's lazy index (two small modules,
  ~35 KiB); nothing reads from it.

The streams keep what the pool asks of them cheap. Before every request, and when a response is
closed, httpcore's pool asks each idle connection whether it has become readable (a server that
closed a keep-alive connection): :meth:`_Stream.get_extra_info` answers from the protocol's own
state (data, end of stream or a lost connection already seen by the event loop) and a ``poll`` of
the socket kept at connect time. httpcore writes an HTTP/1.1 request as separate pieces (the head,
then each body chunk) and then reads the answer, so writes are held until that read (or until
``FLUSH_BYTES`` are held) and go out in one ``send``: on a busy fulfillment worker the socket sends
were the largest single item of the event loop's time.

httpx builds its httpcore pool inside :class:`httpx.AsyncHTTPTransport`'s constructor without a
network-backend parameter, so :func:`transport` replaces that pool (``_pool``) with one of the
same settings over this backend; ``tests/unit/clients/test_http_transport.py`` checks it is still
what httpx sends through.

Every transport verifies TLS with one context per process (:func:`ssl_context`, httpx's default:
certifi's bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``): each context holds its own parsed copy
of the CA bundle (~0.8 MiB), and one context is safe to share between connections and pools
(httpx shares one between all connections of a client).
"""

# ruff: noqa: ASYNC109 - the `timeout` parameters are httpcore's network-stream interface

from __future__ import annotations

import asyncio
import contextlib
import functools
import select
import socket
import ssl
import types
import typing

import httpcore
import httpcore._synchronization
import httpx
from httpcore import AsyncNetworkBackend, AsyncNetworkStream

KEEPALIVE_EXPIRY_S = 5.0  # httpx's default
FLUSH_BYTES = 64 * 1024  # held request bytes that are sent without waiting for the read
READ_BUFFER_BYTES = 256 * 1024  # received and not yet read: above it the socket is not read
HAPPY_EYEBALLS_S = 0.25  # the next address of a host is tried after this (anyio's, RFC 8305's)


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
        network_backend=AsyncioBackend(),
    )
    return made


# --- httpcore's synchronization primitives on asyncio ---------------------------------------


class _FailAfter:
    """anyio's ``fail_after`` (a plain ``with``): the task is cancelled after ``delay`` seconds and
    that cancellation leaves the block as ``TimeoutError``; ``None`` is no limit. The same steps
    as ``asyncio.timeout``, whose context manager is ``async with`` only."""

    def __init__(self, delay: float | None) -> None:
        self._delay = delay
        self._task: asyncio.Task[typing.Any] | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._cancelling = 0
        self._expired = False

    def __enter__(self) -> _FailAfter:
        if self._delay is not None:
            self._task = asyncio.current_task()
            assert self._task is not None, "fail_after outside a task"
            self._cancelling = self._task.cancelling()
            self._handle = asyncio.get_running_loop().call_later(self._delay, self._expire)
        return self

    def _expire(self) -> None:
        assert self._task is not None
        self._task.cancel()
        self._expired = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if self._expired:
            assert self._task is not None
            # our cancellation and no one else's: the block timed out
            if self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
                raise TimeoutError from exc


class _CancelScope:
    """anyio's ``CancelScope(shield=True)`` as httpcore uses it, around closing a connection:
    nothing to do, as anyio's shield holds back anyio's own scopes only (see the module's
    docstring)."""

    def __init__(self, *, shield: bool = False) -> None:
        self.shield = shield

    def __enter__(self) -> _CancelScope:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


def _semaphore(*, initial_value: int, max_value: int | None = None) -> asyncio.Semaphore:
    return asyncio.BoundedSemaphore(initial_value)


_ASYNCIO_PRIMITIVES = types.SimpleNamespace(
    Lock=asyncio.Lock,
    Event=asyncio.Event,
    Semaphore=_semaphore,
    CancelScope=_CancelScope,
    fail_after=_FailAfter,
)


def _install_primitives() -> None:
    httpcore._synchronization.anyio = _ASYNCIO_PRIMITIVES  # type: ignore[assignment]


_install_primitives()


# --- the network backend -------------------------------------------------------------------


@contextlib.contextmanager
def _failures(
    timed_out: type[httpcore.TimeoutException], failed: type[httpcore.NetworkError]
) -> typing.Iterator[None]:
    """httpcore's mapping of its backends' failures: a timeout first (``TimeoutError`` is an
    ``OSError``), then any ``OSError`` (``ssl.SSLError`` among them)."""
    try:
        yield
    except TimeoutError as exc:
        raise timed_out(exc) from exc
    except OSError as exc:
        raise failed(exc) from exc


def _readable(sock: socket.socket | None) -> bool:
    """True when a read would not block (data, or the peer's close); a socket that is gone
    counts as readable, as in httpcore."""
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class _Protocol(asyncio.Protocol):
    """What the event loop hands over for one connection (before and after TLS: ``start_tls``
    moves the protocol to the TLS transport): received bytes, the end of the stream, the
    connection's loss, and write flow control."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.lost = False
        self.error: BaseException | None = None
        self._reading_paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._writable = True
        self._drain_waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > READ_BUFFER_BYTES and not self._reading_paused:
            assert self.transport is not None
            self.transport.pause_reading()
            self._reading_paused = True
        self._wake()

    def eof_received(self) -> None:
        self.eof = True  # the transport closes itself (HTTP/1.1 has nothing to send after)
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.error = exc
        self._wake()
        self._writable = True
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pause_writing(self) -> None:
        self._writable = False

    def resume_writing(self) -> None:
        self._writable = True
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def writable(self) -> bool:
        """The transport's write buffer is below its limit (or the connection is gone)."""
        return self._writable or self.lost

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def has_news(self) -> bool:
        """Something for a read: bytes, the end of the stream, or the connection's loss."""
        return bool(self.buffer) or self.eof or self.lost

    async def received(self) -> None:
        """Until :attr:`has_news`."""
        while not self.has_news:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter

    def take(self, max_bytes: int) -> bytes:
        if len(self.buffer) <= max_bytes:  # the usual case: all of it
            data = bytes(self.buffer)
            self.buffer.clear()
        else:
            data = bytes(self.buffer[:max_bytes])
            del self.buffer[:max_bytes]
        if self._reading_paused and len(self.buffer) <= READ_BUFFER_BYTES // 2:
            assert self.transport is not None
            self._reading_paused = False
            if not self.lost:
                self.transport.resume_reading()
        return data

    async def drained(self) -> None:
        """Until the transport's write buffer is below its limit again (or the connection is
        gone)."""
        while not self.writable:
            self._drain_waiter = asyncio.get_running_loop().create_future()
            await self._drain_waiter


class _Stream(AsyncNetworkStream):
    """One connection as httpcore reads and writes it; see the module's docstring for the held
    writes and the readability answer."""

    def __init__(
        self, transport: asyncio.Transport, protocol: _Protocol, sock: socket.socket | None
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self._socket = sock
        self._tls = transport.get_extra_info("ssl_object") is not None
        self._closed = False
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._write_timeout: float | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._held:
            await self._flush()
        if self._closed:
            raise httpcore.ReadError("the connection is closed")
        protocol = self._protocol
        if not protocol.has_news:
            with _failures(httpcore.ReadTimeout, httpcore.ReadError):
                async with asyncio.timeout(timeout):
                    await protocol.received()
        if protocol.buffer:
            return protocol.take(max_bytes)
        if protocol.error is not None:
            raise httpcore.ReadError(protocol.error) from protocol.error
        return b""  # the server's end of stream (or its close)

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
        protocol = self._protocol
        if self._closed or protocol.lost or self._transport.is_closing():
            error = protocol.error
            raise httpcore.WriteError(error or "the connection is closed") from error
        with _failures(httpcore.WriteTimeout, httpcore.WriteError):
            self._transport.write(data)
            if not protocol.writable:
                async with asyncio.timeout(self._write_timeout):
                    await protocol.drained()
        if protocol.error is not None:  # lost while the data waited in the transport's buffer
            raise httpcore.WriteError(protocol.error) from protocol.error

    async def aclose(self) -> None:
        self._held.clear()  # an abandoned request: nothing of it is sent
        if self._closed:
            return
        self._closed = True
        if self._tls:
            self._transport.abort()  # no close_notify, as httpcore's anyio streams
        else:
            self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        if self._held:
            await self._flush()
        loop = asyncio.get_running_loop()
        try:
            with _failures(httpcore.ConnectTimeout, httpcore.ConnectError):
                async with asyncio.timeout(timeout):
                    tls = await loop.start_tls(
                        self._transport,
                        self._protocol,
                        ssl_context,
                        server_hostname=server_hostname,
                    )
        except BaseException:
            await self.aclose()
            raise
        if tls is None:  # the connection was closed during the handshake
            await self.aclose()
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self._protocol.transport = tls  # pauses and resumes reading through TLS from here on
        return _Stream(tls, self._protocol, self._socket)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            return self._closed or self._protocol.has_news or _readable(self._socket)
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._socket
        return None


def _opened(
    transport: asyncio.BaseTransport,
    protocol: _Protocol,
    socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None,
) -> _Stream:
    sock = transport.get_extra_info("socket")
    try:
        for option in socket_options or ():
            sock.setsockopt(*option)
    except BaseException:
        transport.close()
        raise
    return _Stream(typing.cast(asyncio.Transport, transport), protocol, sock)


class AsyncioBackend(AsyncNetworkBackend):
    """httpcore's network backend on asyncio's transports (asyncio's TCP connections have
    ``TCP_NODELAY`` set, as under httpcore's anyio backend)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = None if local_address is None else (local_address, 0)
        with _failures(httpcore.ConnectTimeout, httpcore.ConnectError):
            async with asyncio.timeout(timeout):
                made, protocol = await loop.create_connection(
                    _Protocol, host, port, local_addr=local, happy_eyeballs_delay=HAPPY_EYEBALLS_S
                )
            return _opened(made, protocol, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        with _failures(httpcore.ConnectTimeout, httpcore.ConnectError):
            async with asyncio.timeout(timeout):
                made, protocol = await loop.create_unix_connection(_Protocol, path)
            return _opened(made, protocol, socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
