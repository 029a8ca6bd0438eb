"""Code run in a fresh interpreter of the virtualenv, from the repository's root: for what only
a new process shows (what an import loads, interpreter flags, the environment it starts with)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(
    code: str,
    *args: str,
    flags: tuple[str, ...] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (``python [flags] -c code args``) and assert it exited 0 (its stderr is the
    failure's message); the finished process, for its output."""
    done = subprocess.run(
        [sys.executable, *flags, "-c", code, *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    return done
