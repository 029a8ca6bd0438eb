"""``make lint``: buf format/lint/breaking on the protos, ruff and mypy on the Python."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PYTHON_DIRS = [
    d for d in ("services", "sandbox", "tools", "tests", "bench") if any((ROOT / d).rglob("*.py"))
]


def _run(name: str, argv: list[str]) -> bool:
    print(f"--- {name}", flush=True)
    ok = subprocess.run(argv, cwd=ROOT, check=False).returncode == 0
    if not ok:
        print(f"FAILED: {name}", flush=True)
    return ok


def _has_previous_contract() -> bool:
    """True when HEAD~1 exists and already had the buf module (buf breaking needs both)."""
    probe = subprocess.run(
        ["git", "cat-file", "-e", "HEAD~1:buf.yaml"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def main() -> None:
    buf = str(BIN / "buf")
    checks = [
        ("buf format", [buf, "format", "--diff", "--exit-code"]),
        ("buf lint", [buf, "lint"]),
    ]
    if _has_previous_contract():
        checks.append(
            ("buf breaking (vs HEAD~1)", [buf, "breaking", "--against", ".git#ref=HEAD~1"])
        )
    else:
        print("--- buf breaking: skipped (no previous commit with a buf module)")
    checks += [
        ("ruff check", [str(BIN / "ruff"), "check", *PYTHON_DIRS]),
        ("ruff format", [str(BIN / "ruff"), "format", "--check", *PYTHON_DIRS]),
        ("mypy", [str(BIN / "mypy"), *[d for d in PYTHON_DIRS if d != "tests"]]),
    ]
    results = [_run(name, argv) for name, argv in checks]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
