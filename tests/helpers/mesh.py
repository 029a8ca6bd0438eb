"""Calling a service port of a test stack as a mesh peer: a channel with one identity's dev
certificate (``tools/devcerts.py``), or with none, and grpcurl's flags for the same."""

from __future__ import annotations

import sys
from pathlib import Path

import grpc

from tools.stack import Stack

GRPCURL = str(Path(sys.executable).parent / "grpcurl")


def certs(stack: Stack) -> Path:
    return stack.config.certs_dir


def channel_as(stack: Stack, service: str, identity: str | None) -> grpc.aio.Channel:
    """A TLS channel to ``service``'s port presenting ``identity``'s certificate (None: no client
    certificate), checking the server's certificate names ``service``."""
    folder = certs(stack)
    ca = (folder / "ca.pem").read_bytes()
    if identity is None:
        creds = grpc.ssl_channel_credentials(root_certificates=ca)
    else:
        creds = grpc.ssl_channel_credentials(
            root_certificates=ca,
            private_key=(folder / f"{identity}-key.pem").read_bytes(),
            certificate_chain=(folder / f"{identity}.pem").read_bytes(),
        )
    target = f"127.0.0.1:{stack.config.ports.service(service)}"
    return grpc.aio.secure_channel(
        target, creds, options=[("grpc.ssl_target_name_override", service)]
    )


def grpcurl_as(stack: Stack, service: str, identity: str = "operator") -> list[str]:
    """grpcurl and its TLS flags for ``service``'s port, as documented in docs/security.md."""
    folder = certs(stack)
    return [
        GRPCURL,
        "-cacert", str(folder / "ca.pem"),
        "-cert", str(folder / f"{identity}.pem"),
        "-key", str(folder / f"{identity}-key.pem"),
        "-servername", service,
        f"127.0.0.1:{stack.config.ports.service(service)}",
    ]  # fmt: skip
