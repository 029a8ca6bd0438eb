"""The compose gateway config (``deploy/envoy-compose.yaml``) for deploy/compose.local.yaml.

Host networking has no compose network: Envoy listens on 127.0.0.1 instead of every interface,
and every port a run moved (``PORTAL_LOCAL_*``) is moved in the config too. Everything else is
:func:`tools.envoy_config.render_compose` unchanged: the same routes, filters, STRICT_DNS clusters
on the compose service names (which deploy/compose.local.yaml resolves to 127.0.0.1).
"""

from __future__ import annotations

from typing import Any

import yaml

from tools.envoy_config import GatewaySettings, render_compose
from tools.stack import SERVICES, Ports


def port_moves(ports: Ports) -> dict[int, int]:
    """compose.yaml's port → this run's port, for the gateway, its admin and the services."""
    default, compose = Ports(), GatewaySettings()
    moves = {compose.port: ports.gateway, compose.admin_port: ports.admin}
    moves |= {default.service(name): ports.service(name) for name in SERVICES}
    return moves


def _move(node: Any, moves: dict[int, int]) -> None:
    if isinstance(node, dict):
        address = node.get("socket_address")
        if isinstance(address, dict):
            if address.get("address") == "0.0.0.0":
                address["address"] = "127.0.0.1"
            port = address.get("port_value")
            if isinstance(port, int) and port in moves:
                address["port_value"] = moves[port]
        for value in node.values():
            _move(value, moves)
    elif isinstance(node, list):
        for value in node:
            _move(value, moves)


def render_local(ports: Ports) -> dict[str, Any]:
    config = render_compose()
    _move(config, port_moves(ports))
    return config


def local_text(ports: Ports) -> str:
    header = "# tools/containers/local_envoy.py: deploy/envoy-compose.yaml on this run's ports.\n"
    return header + yaml.safe_dump(render_local(ports), sort_keys=False, width=120)
