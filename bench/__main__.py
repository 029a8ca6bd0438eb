"""``make bench [BENCH=name]``: run one benchmark script of this folder, or all of them (but the
10-minute soak, which runs only by name or with ``make soak``; its ``soak_*`` modules are parts)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from tools.signals import STOP_SIGNALS, stop_with_parent

HERE = Path(__file__).resolve().parent


ON_REQUEST = {"soak"}
# Modules of this folder that benchmarks import, not benchmarks themselves.
HELPERS = {"__init__", "__main__", "stack"}


def scripts() -> list[Path]:
    return sorted(
        p for p in HERE.glob("*.py") if p.stem not in HELPERS and not p.stem.startswith("soak_")
    )


def run_script(script: Path) -> int:
    """Run one benchmark; SIGINT/SIGTERM/SIGHUP are passed on to it (it stops its stack) and, once
    it has exited, end this run with ``128 + signal``."""
    # As a module of the ``bench`` package from the repository's root, so every benchmark imports
    # ``tools``, ``bench`` and ``services`` alike.
    child = subprocess.Popen([sys.executable, "-m", f"bench.{script.stem}"], cwd=HERE.parent)
    received: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        if child.poll() is None:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in STOP_SIGNALS}
    try:
        returncode = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        sys.exit(128 + received[0])
    return returncode


def main() -> None:
    stop_with_parent()
    wanted = sys.argv[1:]
    chosen = [p for p in scripts() if p.stem in wanted or (not wanted and p.stem not in ON_REQUEST)]
    if not chosen:
        names = ", ".join(p.stem for p in scripts())
        sys.exit(f"no benchmark named {' '.join(wanted)}; choose from: {names}")
    failed = []
    for script in chosen:
        print(f"=== {script.stem}", flush=True)
        if run_script(script):
            failed.append(script.stem)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
