"""compose.yaml + deploy/compose.local.yaml, resolved by docker-compose itself, for ``up``.

Debian's docker-compose (1.29) refuses a service with ``network_mode: host`` that publishes ports
(Docker itself only ignores them), and an override file cannot remove compose.yaml's ``ports:``.
So the two files are merged and interpolated by ``docker-compose config`` and only the published
ports of host-networked services are dropped: with host networking every process listens on the
host's 127.0.0.1 already. Everything else is compose's own rendering of the two files.

``python -m tools.containers.compose_local > resolved.yaml`` (the PORTAL_LOCAL_* of the
environment apply), then ``docker-compose -f resolved.yaml --project-directory . --profile sandbox
up``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import yaml

from tools.stack import ROOT

FILES = (ROOT / "compose.yaml", ROOT / "deploy" / "compose.local.yaml")


def resolve(env: Mapping[str, str], profile: str = "sandbox") -> dict[str, Any]:
    argv = ["docker-compose", *[a for f in FILES for a in ("-f", str(f))], "--profile", profile]
    done = subprocess.run(
        [*argv, "config"], cwd=ROOT, env=dict(env), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"docker-compose config failed: {done.stderr.strip()}")
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    for service in config["services"].values():
        if service.get("network_mode") == "host":
            service.pop("ports", None)
    return config


def resolved_text(env: Mapping[str, str], profile: str = "sandbox") -> str:
    return yaml.safe_dump(resolve(env, profile), sort_keys=False, width=120)


if __name__ == "__main__":
    import os

    sys.stdout.write(resolved_text(os.environ))
