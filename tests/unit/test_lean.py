"""services/common/lean.py: what keeps a service process small, and the optimization level every
way of starting a service uses."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from services.common import lean
from tools.stack import Ports, StackConfig

ROOT = Path(__file__).resolve().parents[2]


def test_optional_imports_are_absent_in_a_lean_process() -> None:
    code = (
        "from services.common import lean\n"
        "lean.skip_optional_imports()\n"
        "for name in lean.OPTIONAL_IMPORTS:\n"
        "    try:\n"
        "        __import__(name)\n"
        "    except ImportError:\n"
        "        continue\n"
        "    raise SystemExit(f'{name} imported')\n"
        "import structlog, httpx\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_arenas_and_trim_on_glibc() -> None:
    # The development machine, CI and the image run glibc: both calls take effect there.
    assert lean.limit_malloc_arenas()
    assert lean.trim()
    assert lean.resident_bytes() > 1 << 20


class Recorder:
    """Stands in for the process's resident size and counts the trims."""

    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes
        self.trims = 0

    def resident(self) -> int:
        return self.sizes.pop(0) if len(self.sizes) > 1 else self.sizes[0]

    def trim(self) -> bool:
        self.trims += 1
        return True


async def _run(
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    *,
    interval: float,
    release: Callable[[], Awaitable[int]] | None = None,
) -> None:
    monkeypatch.setattr(lean, "resident_bytes", recorder.resident)
    monkeypatch.setattr(lean, "trim", recorder.trim)
    task = asyncio.create_task(
        lean.trim_periodically(interval, check_s=0.01, growth=100, release=release)
    )
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_growth_trims_before_the_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    # Baseline 1,000; the first check sees 1,150 (grown by more than 100): trim; the size after
    # the trim (1,000) is the new baseline, which later checks do not exceed by 100.
    recorder = Recorder([1_000, 1_150, 1_000, 1_050])
    await _run(recorder, monkeypatch, interval=3600)
    assert recorder.trims == 1


async def test_a_quiet_process_is_trimmed_only_every_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = Recorder([1_000])
    await _run(recorder, monkeypatch, interval=3600)
    assert recorder.trims == 0
    recorder = Recorder([1_000])
    await _run(recorder, monkeypatch, interval=0.05)
    assert 2 <= recorder.trims <= 4  # every 0.05 s for 0.2 s


async def test_no_interval_no_trims(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder([1_000, 5_000])
    monkeypatch.setattr(lean, "trim", recorder.trim)
    await asyncio.wait_for(lean.trim_periodically(0), 1)
    assert recorder.trims == 0


async def test_what_a_release_gives_back_is_trimmed_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A quiet process (never trimmed in the interval), whose release hook lets go of something
    # at its third check: that check trims; a hook that fails does not stop the checks.
    calls: list[int] = []

    async def release() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("redis went away")
        return 3 if len(calls) == 3 else 0

    recorder = Recorder([1_000])
    await _run(recorder, monkeypatch, interval=3600, release=release)
    assert len(calls) >= 5
    assert recorder.trims == 1


def test_every_start_runs_the_services_at_the_same_optimization_level(tmp_path: Path) -> None:
    # make run, the test and bench stacks (tools/stack.py) and the image (compose, Kubernetes).
    config = StackConfig("postgresql://x@127.0.0.1/db", "redis://127.0.0.1/0", ports=Ports.free(),
                         run_dir=tmp_path, with_sandboxes=False)  # fmt: skip
    assert config.env()["PYTHONOPTIMIZE"] == "2"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "PYTHONOPTIMIZE=2" in dockerfile
    # ... with the bytecode of that level in the image, so no process compiles its dependencies.
    assert "compileall -q -j 0 -o 2 /opt/venv/lib" in dockerfile
    assert "UV_COMPILE_BYTECODE" not in dockerfile


def test_a_service_imports_under_oo() -> None:
    # Nothing a service imports needs its docstrings or asserts at import time.
    code = "import services.identity.server, services.billing.server, " \
           "services.commerce.server, services.support.server, simple_salesforce"  # fmt: skip
    done = subprocess.run([sys.executable, "-OO", "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
