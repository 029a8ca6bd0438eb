"""``python -m services.common.healthcheck PORT``: exit 0 when the server answers SERVING.

A container health check for the slim image (no grpcurl there): one grpc.health.v1 ``Check`` to
``HOST:PORT`` (default host 127.0.0.1, i.e. the container itself), for the whole server (service
name ``""``) unless ``--service`` names one. Exit status 0 = SERVING, 1 = anything else (not
serving, unknown service, no answer within ``--timeout`` seconds).
"""

from __future__ import annotations

import argparse
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def check(target: str, service: str = "", timeout: float = 2.0) -> bool:
    """True when ``target`` reports ``service`` as SERVING within ``timeout`` seconds."""
    with grpc.insecure_channel(target) as channel:
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
    args = parser.parse_args(argv)
    sys.exit(0 if check(f"{args.host}:{args.port}", args.service, args.timeout) else 1)


if __name__ == "__main__":
    main()
