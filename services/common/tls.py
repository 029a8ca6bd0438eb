"""Mutual TLS inside the mesh: the service port's server credentials and the client credentials
of calls to the other services, from the ``TLS_*`` settings.

Every certificate chains to one mesh CA (``TLS_CA_FILE``); a service requires a client
certificate on its port, and a caller checks the callee's certificate names the service it meant
to call (the target name is the service's name, e.g. ``identity``, whatever address it dials).
What a verified peer may call is decided per RPC by :mod:`services.common.peer_auth`.
"""

from __future__ import annotations

from pathlib import Path

import grpc

from services.common.settings import ConfigurationError, ServiceSettings


def _read(path: Path | None, variable: str) -> bytes:
    if path is None:
        raise ConfigurationError(f"{variable} is required with mutual TLS (TLS_CERT_FILE set)")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{variable}: cannot read {path}: {exc.strerror}") from None


def _material(settings: ServiceSettings) -> tuple[bytes, bytes, bytes]:
    """(CA, certificate chain, private key) as PEM bytes."""
    return (
        _read(settings.tls_ca_file, "TLS_CA_FILE"),
        _read(settings.tls_cert_file, "TLS_CERT_FILE"),
        _read(settings.tls_key_file, "TLS_KEY_FILE"),
    )


def server_credentials(settings: ServiceSettings) -> grpc.ServerCredentials | None:
    """Credentials of the service port (client certificate required); None without TLS."""
    if not settings.mesh_tls:
        return None
    ca, cert, key = _material(settings)
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=True
    )


def channel_credentials(settings: ServiceSettings) -> grpc.ChannelCredentials | None:
    """Credentials of calls to the other services (this process's certificate); None without
    TLS."""
    if not settings.mesh_tls:
        return None
    ca, cert, key = _material(settings)
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )
