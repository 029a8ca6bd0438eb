"""``make bench [BENCH=name]``: run one benchmark script of this folder, or all of them (but the
10-minute soak, which runs only by name or with ``make soak``; its ``soak_*`` modules are parts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


ON_REQUEST = {"soak"}


def scripts() -> list[Path]:
    return sorted(
        p
        for p in HERE.glob("*.py")
        if p.name not in {"__init__.py", "__main__.py"} and not p.stem.startswith("soak_")
    )


def main() -> None:
    wanted = sys.argv[1:]
    chosen = [p for p in scripts() if p.stem in wanted or (not wanted and p.stem not in ON_REQUEST)]
    if not chosen:
        names = ", ".join(p.stem for p in scripts())
        sys.exit(f"no benchmark named {' '.join(wanted)}; choose from: {names}")
    failed = []
    for script in chosen:
        print(f"=== {script.stem}", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent, check=False).returncode:
            failed.append(script.stem)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
