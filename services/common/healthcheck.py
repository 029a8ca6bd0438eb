"""``python -m services.common.healthcheck PORT``: exit 0 when the server answers SERVING.

A container health check for the slim image (no grpcurl there): one grpc.health.v1 ``Check`` to
``HOST:PORT`` (default host 127.0.0.1, i.e. the container itself), for the whole server (service
name ``""``) unless ``--service`` names one. Exit status 0 = SERVING, 1 = anything else (not
serving, unknown service, no answer within ``--timeout`` seconds).

With mutual TLS (``TLS_CA_FILE``, ``TLS_CERT_FILE``, ``TLS_KEY_FILE`` in the environment, as the
service itself has them) the check presents the process's own certificate (health answers any
mesh peer) and expects the server's to name ``--server-name`` (default: the host).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def _channel(target: str, server_name: str | None) -> grpc.Channel:
    files = [os.environ.get(v) for v in ("TLS_CA_FILE", "TLS_CERT_FILE", "TLS_KEY_FILE")]
    if not all(files):
        return grpc.insecure_channel(target)
    ca, cert, key = (Path(str(f)).read_bytes() for f in files)
    creds = grpc.ssl_channel_credentials(ca, private_key=key, certificate_chain=cert)
    options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
    return grpc.secure_channel(target, creds, options=options)


def check(
    target: str, service: str = "", timeout: float = 2.0, server_name: str | None = None
) -> bool:
    """True when ``target`` reports ``service`` as SERVING within ``timeout`` seconds."""
    with _channel(target, server_name) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as exc:
            print(f"{target}: {exc.code()}", file=sys.stderr)
            return False
    serving = bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
    if not serving:
        print(f"{target}: {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}",
              file=sys.stderr)  # fmt: skip
    return serving


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.common.healthcheck")
    parser.add_argument("port", type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--service", default="", help='grpc.health.v1 service name ("" = server)')
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--server-name", default=None, help="name the server certificate holds")
    args = parser.parse_args(argv)
    ok = check(f"{args.host}:{args.port}", args.service, args.timeout, args.server_name)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
