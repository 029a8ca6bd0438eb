"""The asyncio network backend under httpx, against real local servers (TCP, TLS with a CA made
here, a unix socket): round trips, keep-alive reuse, a kept-alive connection the server closed,
failures as httpx's exceptions (the clients' error handling reads those), and a process that
sends through it without loading anyio's modules."""

from __future__ import annotations

import asyncio
import datetime
import re
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpcore
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.common.clients import http
from services.common.clients.http import AsyncioBackend, transport
from tests.helpers.fresh import run_python

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class _Upstream:
    """An HTTP/1.1 server on asyncio: answers each request with its body (or ``-``), keeps the
    connection open unless told, and counts the connections it accepted."""

    def __init__(self) -> None:
        self.connections = 0
        self.close_after_answer = False
        self.delay = 0.0
        self.writers: list[asyncio.StreamWriter] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                body = await reader.readexactly(int(length.group(1))) if length else b""
                await asyncio.sleep(self.delay)
                answer = body or b"-"
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer)
                )
                await writer.drain()
                if self.close_after_answer:  # no "Connection: close": the client keeps it
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            writer.close()


async def _tcp(upstream: _Upstream, context: ssl.SSLContext | None = None) -> asyncio.Server:
    return await asyncio.start_server(upstream.serve, "127.0.0.1", 0, ssl=context)


def _port(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


def _client(pool_context: ssl.SSLContext | None = None, **pool: object) -> httpx.AsyncClient:
    """An httpx client over :func:`transport`, its pool remade with other settings when asked
    (a CA of the test's, a unix socket)."""
    made = transport(2)
    if pool_context is not None or pool:
        made._pool = httpcore.AsyncConnectionPool(
            ssl_context=pool_context or made._pool._ssl_context,
            network_backend=AsyncioBackend(),
            max_connections=2,
            **pool,  # type: ignore[arg-type]
        )
    return httpx.AsyncClient(transport=made, timeout=2.0)


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[_Upstream, str]]:
    served = _Upstream()
    server = await _tcp(served)
    yield served, f"http://127.0.0.1:{_port(server)}/"
    for writer in served.writers:
        writer.close()
    server.close()


async def test_round_trips_reuse_one_kept_alive_connection(upstream: tuple[_Upstream, str]) -> None:
    served, url = upstream
    async with _client() as client:
        assert (await client.get(url)).content == b"-"
        assert (await client.post(url, content=b"x" * 100_000)).content == b"x" * 100_000
        assert (await client.post(url, content=b"hello")).content == b"hello"
        assert served.connections == 1


async def test_a_connection_the_server_closed_is_replaced_without_an_error(
    upstream: tuple[_Upstream, str],
) -> None:
    served, url = upstream
    served.close_after_answer = True
    async with _client() as client:
        for _ in range(3):
            assert (await client.get(url)).content == b"-"
            await asyncio.sleep(0.05)  # the server's close arrives while the connection is idle
        assert served.connections == 3
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert all(c.has_expired() for c in pool.connections)


async def test_connection_refused_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens on it
    async with _client() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/")


async def test_a_slow_answer_is_a_read_timeout(upstream: tuple[_Upstream, str]) -> None:
    served, url = upstream
    served.delay = 1.0
    async with _client() as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(url, timeout=httpx.Timeout(2.0, read=0.1))
        served.delay = 0.0
        assert (await client.get(url)).content == b"-"  # the pool goes on


async def test_a_server_that_stops_reading_is_a_write_timeout() -> None:
    # The body outgrows the kernel's buffers and the transport's: the write waits for the
    # transport to drain, within the write timeout.
    accepted: list[asyncio.StreamWriter] = []

    async def never_read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # kept open, never read

    server = await asyncio.start_server(never_read, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{_port(server)}/"
    try:
        async with _client() as client:
            # Without the write timeout the write would wait for ever: 5 s ends the test instead.
            async with asyncio.timeout(5.0):
                with pytest.raises(httpx.WriteTimeout):
                    await client.post(url, content=b"x" * (64 << 20),
                                      timeout=httpx.Timeout(10.0, write=0.3))  # fmt: skip
            pool = client._transport._pool  # type: ignore[attr-defined]
            assert not pool.connections  # the half-sent request's connection is not reused
    finally:
        for writer in accepted:
            writer.close()
        server.close()


async def test_a_full_pool_is_a_pool_timeout(upstream: tuple[_Upstream, str]) -> None:
    # httpcore's wait for a free connection: the asyncio fail_after of its primitives.
    served, url = upstream
    served.delay = 0.5
    async with _client() as client:
        slow = [asyncio.create_task(client.get(url)) for _ in range(2)]  # the pool's two
        await asyncio.sleep(0.1)
        with pytest.raises(httpx.PoolTimeout):
            await client.get(url, timeout=httpx.Timeout(2.0, pool=0.1))
        assert [(await t).content for t in slow] == [b"-", b"-"]


async def test_a_cancelled_request_leaves_the_pool_usable(upstream: tuple[_Upstream, str]) -> None:
    # A caller's deadline (a plain task cancellation) in the middle of a request: the connection
    # is closed, not handed to the next request with half an answer pending.
    served, url = upstream
    served.delay = 0.3
    async with _client() as client:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await client.get(url)
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert pool.connections == []
        served.delay = 0.0
        assert (await client.post(url, content=b"after")).content == b"after"


def _authority(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A CA and a server certificate for ``localhost`` signed by it: the server's context and a
    client context that trusts the CA."""
    now = datetime.datetime.now(datetime.UTC)

    def build(subject: str, issuer: x509.Name | None, signer: ec.EllipticCurvePrivateKey | None,
              key: ec.EllipticCurvePrivateKey, ca: bool) -> x509.Certificate:  # fmt: skip
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
            )
        return builder.sign(signer or key, hashes.SHA256())

    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = build("test CA", None, None, ca_key, ca=True)
    leaf = build("localhost", ca.subject, ca_key, leaf_key, ca=False)
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    (directory / "leaf.pem").write_bytes(leaf.public_bytes(pem))
    (directory / "leaf.key").write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(directory / "leaf.pem", directory / "leaf.key")
    client = ssl.create_default_context(cafile=str(directory / "ca.pem"))
    client.set_alpn_protocols(["http/1.1"])
    return server, client


async def test_tls_verifies_with_the_ca_and_refuses_a_wrong_ca_or_name(tmp_path: Path) -> None:
    server_context, trusting = _authority(tmp_path)
    served = _Upstream()
    server = await _tcp(served, server_context)
    port = _port(server)
    try:
        async with _client(trusting) as client:
            for body in (b"one", b"two"):
                answer = await client.post(f"https://localhost:{port}/", content=body)
                assert answer.content == body
            assert served.connections == 1
            stream = answer.extensions["network_stream"]
            assert isinstance(stream.get_extra_info("ssl_object"), ssl.SSLObject)
            assert stream.get_extra_info("server_addr")[1] == port
            with pytest.raises(httpx.ConnectError, match=r"(?i)hostname|IP address mismatch"):
                await client.get(f"https://127.0.0.1:{port}/")  # the certificate is localhost's
        async with _client() as client:  # certifi's CAs: not ours
            with pytest.raises(httpx.ConnectError, match=r"(?i)certificate verify failed"):
                await client.get(f"https://localhost:{port}/")
    finally:
        for writer in served.writers:
            writer.close()
        server.close()


async def test_a_server_that_never_answers_the_handshake_is_a_connect_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    try:
        async with _client() as client:
            with pytest.raises(httpx.ConnectTimeout):
                await client.get(f"https://localhost:{_port(server)}/",
                                 timeout=httpx.Timeout(2.0, connect=0.2))  # fmt: skip
    finally:
        server.close()


async def test_unix_socket(tmp_path: Path) -> None:
    served = _Upstream()
    path = str(tmp_path / "upstream.sock")
    server = await asyncio.start_unix_server(served.serve, path)
    try:
        async with _client(uds=path) as client:
            assert (await client.post("http://upstream/", content=b"uds")).content == b"uds"
            assert (await client.get("http://upstream/")).content == b"-"
            assert served.connections == 1
    finally:
        for writer in served.writers:
            writer.close()
        server.close()


async def test_local_address_and_socket_options(upstream: tuple[_Upstream, str]) -> None:
    _served, url = upstream
    port = httpx.URL(url).port
    assert port is not None
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    stream = await AsyncioBackend().connect_tcp(
        "127.0.0.1", port, timeout=1.0, local_address="127.0.0.1", socket_options=options
    )
    try:
        sock = stream.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert stream.get_extra_info("client_addr")[0] == "127.0.0.1"
        assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)
        assert stream.get_extra_info("ssl_object") is None
        assert stream.get_extra_info("is_readable") is False
        await stream.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await stream.read(100, timeout=1.0)).startswith(b"HTTP/1.1 200 OK")
    finally:
        await stream.aclose()
    assert stream.get_extra_info("is_readable") is True  # gone counts as readable
    with pytest.raises(httpcore.ReadError):
        await stream.read(100)


def test_httpcore_asks_its_primitives_only_for_what_the_asyncio_ones_have() -> None:
    # httpcore's synchronization module reads these names from `anyio`, which is ours.
    import httpcore._synchronization as sync

    source = Path(sync.__file__).read_text()
    used = set(re.findall(r"\banyio\.(\w+)", source))
    assert used and used <= set(vars(http._ASYNCIO_PRIMITIVES)), used
    assert sync.anyio is http._ASYNCIO_PRIMITIVES


def test_a_service_process_sends_through_httpx_without_anyio() -> None:
    # A service's imports, a call through the clients' transport and a JWKS fetch: of anyio only
    # the package's lazy index that httpcore imports (nothing reads it) is loaded.
    code = (
        "import asyncio, sys\n"
        "import services.identity.server, services.billing.server\n"
        "import services.commerce.server, services.support.server\n"
        "import httpx\n"
        "from services.common.auth import JwksSource\n"
        "from services.common.clients.http import transport\n"
        "async def serve(reader, writer):\n"
        "    await reader.readuntil(b'\\r\\n\\r\\n')\n"
        "    writer.write(b'HTTP/1.1 200 OK\\r\\nContent-Length: 12\\r\\n\\r\\n{\"keys\": []}')\n"
        "    await writer.drain(); writer.close()\n"
        "async def main():\n"
        "    server = await asyncio.start_server(serve, '127.0.0.1', 0)\n"
        "    url = f'http://127.0.0.1:{server.sockets[0].getsockname()[1]}/'\n"
        "    async with httpx.AsyncClient(transport=transport(2)) as client:\n"
        "        assert (await client.get(url)).json() == {'keys': []}\n"
        "    assert await JwksSource(url=url).fetch() == {'keys': []}\n"
        "    server.close()\n"
        "asyncio.run(main())\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'anyio')\n"
        "assert loaded == ['anyio', 'anyio._lazyimport'], loaded\n"
    )
    run_python(code)
