"""Tools that start a stack stop every process of it when they are terminated: SIGTERM, SIGINT
or SIGHUP to the tool itself or to the ``make`` that runs it, or even SIGKILL to the tool (its
children get SIGTERM from the kernel). Real signals,
real stacks on ports of their own (tests/helpers/signal_driver.py, built like make soak/bench/run).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools import infra
from tools.stack import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
STARTED_WITHIN = 240.0
STOPPED_WITHIN = 90.0


def _state(pid: int) -> str | None:
    """The process's state letter (``Z`` = zombie), None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _wait_for(path: Path, proc: subprocess.Popen[bytes]) -> dict[str, object]:
    deadline = time.monotonic() + STARTED_WITHIN
    while not path.exists():
        assert proc.poll() is None, f"the tool exited ({proc.returncode}) before its stack was up"
        assert time.monotonic() < deadline, "the stack did not come up"
        time.sleep(0.5)
    return dict(json.loads(path.read_text()))


def _gone(pids: dict[str, int]) -> dict[str, str]:
    """Wait until none of ``pids`` runs; those still there (with their state) when time is up."""
    deadline = time.monotonic() + STOPPED_WITHIN
    while True:
        left = {n: s for n, p in pids.items() if (s := _state(p)) is not None}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:  # a failed test leaves nothing behind either
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _driver(tmp_path: Path) -> list[str]:
    return [sys.executable, "-m", "tests.helpers.signal_driver", str(tmp_path / "run"),
            str(tmp_path / "pids.json")]  # fmt: skip


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_the_tool_stops_its_stack(
    tmp_path: Path, launched: list[subprocess.Popen[bytes]], signum: int
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    proc = subprocess.Popen(_driver(tmp_path), cwd=ROOT, env=env, start_new_session=True)
    launched.append(proc)
    pids = _wait_for(tmp_path / "pids.json", proc)
    children: dict[str, int] = pids["children"]  # type: ignore[assignment]
    assert {"envoy", "identity", "billing", "commerce", "support", "whmcs"} <= set(children)
    os.kill(proc.pid, signum)
    assert proc.wait(STOPPED_WITHIN) == 128 + signum
    assert _gone(children) == {}, "children left behind (or zombies)"


def test_the_tool_stops_its_stack_when_nobody_reads_its_output(
    tmp_path: Path, launched: list[subprocess.Popen[bytes]]
) -> None:
    # `make run | head` once head is done, or a terminal gone: stdout and stderr are pipes whose
    # reader has closed, so every line the tool shows fails. The stack still comes up (the
    # children's lines keep being drained, none blocks on a full pipe) and a SIGINT still stops
    # everything, although writing "stopping..." fails too.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    os.close(out_r)
    os.close(err_r)
    try:
        proc = subprocess.Popen([*_driver(tmp_path), "console"], cwd=ROOT, env=env,
                                start_new_session=True, stdout=out_w, stderr=err_w)  # fmt: skip
    finally:
        os.close(out_w)
        os.close(err_w)
    launched.append(proc)
    pids = _wait_for(tmp_path / "pids.json", proc)
    children: dict[str, int] = pids["children"]  # type: ignore[assignment]
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(STOPPED_WITHIN) == 128 + signal.SIGINT
    assert _gone(children) == {}, "children left behind (or zombies)"


# GNU make passes SIGTERM on to its recipe and waits for it; SIGINT and SIGHUP it does not pass
# on (it waits for the recipe, then dies): those reach the tool the way a terminal sends them, to
# the whole foreground process group.
@pytest.mark.parametrize(
    ("signum", "to_group"),
    [(signal.SIGTERM, False), (signal.SIGINT, True), (signal.SIGHUP, True)],
)
def test_terminating_make_stops_the_stack(
    tmp_path: Path, launched: list[subprocess.Popen[bytes]], signum: int, to_group: bool
) -> None:
    makefile = tmp_path / "Makefile"
    recipe = " ".join(_driver(tmp_path))
    makefile.write_text(f"run:\n\t@{recipe}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    make = subprocess.Popen(
        ["make", "-s", "-f", str(makefile), "run"], cwd=ROOT, env=env, start_new_session=True
    )
    launched.append(make)
    pids = _wait_for(tmp_path / "pids.json", make)
    children: dict[str, int] = pids["children"]  # type: ignore[assignment]
    if to_group:
        os.killpg(make.pid, signum)  # a terminal's Ctrl-C / hang-up
    else:
        os.kill(make.pid, signum)  # make alone: `kill -TERM <pid of make soak>`
    make.wait(STOPPED_WITHIN)
    assert _gone(children) == {}, "children left behind (or zombies)"
    assert _gone({"driver": int(pids["driver"])}) == {}  # type: ignore[call-overload]


def test_sigkill_of_the_tool_still_stops_its_children(
    tmp_path: Path, launched: list[subprocess.Popen[bytes]]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    proc = subprocess.Popen(_driver(tmp_path), cwd=ROOT, env=env, start_new_session=True)
    launched.append(proc)
    pids = _wait_for(tmp_path / "pids.json", proc)
    children: dict[str, int] = pids["children"]  # type: ignore[assignment]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    # No finally ran: the kernel's SIGTERM (PR_SET_PDEATHSIG) stops them; init reaps them.
    left = _gone(children)
    asyncio.run(infra.drop_database(str(pids["database"])))  # its finally did not run
    assert set(left.values()) <= {"Z"}, left
