"""The front-end toolchain of ``tests/frontend`` (pinned in its package-lock.json): installed with
``npm ci`` once per test session, from the npm cache when it has the packages."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

FRONTEND = Path(__file__).resolve().parent.parent / "frontend"
NPM = shutil.which("npm")
NODE = shutil.which("node")


def run(argv: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=FRONTEND, capture_output=True, text=True, timeout=timeout, check=False
    )


def install() -> None:
    """``npm ci`` unless node_modules already holds exactly the locked packages."""
    assert NPM is not None, "npm is not installed (Node 20 with npm is required)"
    installed = FRONTEND / "node_modules" / ".package-lock.json"
    lock = FRONTEND / "package-lock.json"
    if installed.exists() and _packages(installed) == _packages(lock):
        return
    done = run([NPM, "ci", "--no-audit", "--no-fund", "--prefer-offline"])
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def _packages(lock: Path) -> object:
    import json

    return {k: v.get("version") for k, v in json.loads(lock.read_text())["packages"].items() if k}
