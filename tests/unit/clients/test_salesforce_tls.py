"""The Salesforce adapter over real HTTPS (a local server with a certificate of its own CA): every
connection verifies with one shared context, and verification refuses what it refused before."""

from __future__ import annotations

import datetime
import http.server
import socketserver
import ssl
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.common.clients.salesforce_http import SalesforceAdapter, verifying_context


class _Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: connections stay in the pool

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A local HTTPS server; yields its port and its CA file (the certificate itself)."""
    cert_file, key_file = _certificate(tmp_path_factory.mktemp("tls"))
    served = _Server(("127.0.0.1", 0), _Hello)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    served.socket = context.wrap_socket(served.socket, server_side=True)
    threading.Thread(target=served.serve_forever, daemon=True).start()
    yield served.server_address[1], cert_file
    served.shutdown()


def _session(port: int) -> requests.Session:
    session = requests.Session()
    session.mount("https://", SalesforceAdapter(f"https://localhost:{port}", "login", (5, 5)))
    return session


def test_every_connection_verifies_with_one_shared_context(server: tuple[int, Path]) -> None:
    # The first calls come from several threads at once, as from the client's pool.
    port, ca = server
    session = _session(port)
    url = f"https://localhost:{port}/services/data"
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: session.get(url, verify=str(ca)).text, range(24)))
    assert answers == ["ok"] * 24
    shared = verifying_context(str(ca))
    assert shared.verify_mode == ssl.CERT_REQUIRED and shared.cert_store_stats()["x509_ca"] == 1
    adapter = session.get_adapter(url)
    [connection_pool] = adapter.poolmanager.pools._container.values()  # type: ignore[attr-defined]
    assert connection_pool.conn_kw["ssl_context"] is shared
    assert connection_pool.ca_certs is None  # not loaded again at each new connection
    sockets = [c.sock for c in list(connection_pool.pool.queue) if c is not None and c.sock]
    assert len(sockets) > 1 and all(s.context is shared for s in sockets)


def test_a_certificate_of_an_unknown_ca_is_refused(server: tuple[int, Path]) -> None:
    port, _ = server
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        _session(port).get(f"https://localhost:{port}/", verify=True)  # certifi's bundle


def test_a_certificate_for_another_name_is_refused(server: tuple[int, Path]) -> None:
    port, ca = server
    with pytest.raises(requests.exceptions.SSLError):
        _session(port).get(f"https://127.0.0.1:{port}/", verify=str(ca))


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_without_verification_no_shared_context_is_used(server: tuple[int, Path]) -> None:
    port, _ = server
    session = _session(port)
    assert session.get(f"https://localhost:{port}/", verify=False).text == "ok"
    adapter = session.get_adapter(f"https://localhost:{port}/")
    [connection_pool] = adapter.poolmanager.pools._container.values()  # type: ignore[attr-defined]
    assert "ssl_context" not in connection_pool.conn_kw
