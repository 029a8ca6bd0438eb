"""tests/containers: the built image and the compose stack, on the private dockerd of
``make containers`` (tools/containers/run.sh), which sets PORTAL_DOCKER_HOST and builds the
images first. Without it every test here is skipped (``make test`` does not collect this folder).
"""

from __future__ import annotations

import os
import subprocess

import pytest

DOCKER_HOST = os.environ.get("PORTAL_DOCKER_HOST", "")
IMAGE = os.environ.get("PORTAL_IMAGE", "portal-mesh:dev")
ENVOY_IMAGE = os.environ.get("PORTAL_ENVOY_IMAGE", "portal-envoy:local")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if DOCKER_HOST:
        return
    skip = pytest.mark.skip(reason="needs `make containers` (PORTAL_DOCKER_HOST unset)")
    for item in items:
        item.add_marker(skip)


def docker_env() -> dict[str, str]:
    return {**os.environ, "DOCKER_HOST": DOCKER_HOST}


def docker(*args: str, timeout: float = 300, check: bool = True) -> str:
    """Run ``docker ARGS`` against the private daemon; its stdout."""
    done = subprocess.run(
        ["docker", *args],
        env=docker_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout
