"""Every tool that starts processes stops them when it is terminated.

``make run``, ``make soak``, ``make bench`` and the test stacks start children in sessions of their
own (so a Ctrl-C reaches the tool, which stops them in order). Two things could leave them behind:

- Python's default SIGTERM/SIGHUP ends the interpreter at once, skipping every ``finally`` (the
  ``stack.stop()``). :func:`run` turns SIGINT, SIGTERM and SIGHUP into a cancellation of the main
  task, so the ``finally`` blocks run; the exit status is then ``128 + signal``.
- GNU make passes SIGTERM on to its recipe (then waits for it), but a SIGINT or SIGHUP sent to
  make alone it does not (a terminal sends those to the whole foreground process group, which
  reaches the tool), and a make killed outright leaves the recipe running. :func:`stop_with_parent`
  asks the kernel for a SIGTERM when the parent dies (``PR_SET_PDEATHSIG``): a tool under make
  (``MAKELEVEL`` set) asks for it, and every child a :class:`tools.stack.Stack` starts asks for it
  too (if the tool itself is SIGKILLed, its children still get their SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

# Children are started with fork() and a preexec_fn (term_with_parent), then exec. gRPC's fork
# handlers, on by default in its core, start its pollers again in the child between the two, where
# subprocess closes the descriptors the child inherited, their epoll descriptor among them: a
# child of a process with gRPC calls in flight can die (SIGSEGV, or "epoll_wait error: Bad file
# descriptor") before it runs anything. Nothing of gRPC is used between fork and exec, so the
# handlers are off; gRPC reads the setting when it is imported, and every tool that starts
# processes (tests/conftest.py, tools.supervisor, bench, tools.stack) imports this module first.
# The children inherit it; none of them forks.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")

T = TypeVar("T")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1
# Resolved once here: a preexec_fn runs between fork and exec, no place to load a library.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


class Terminated(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def term_with_parent() -> None:
    """``preexec_fn`` of a child: a SIGTERM when the process that started it dies (Linux)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """Have the kernel send ``signum`` to this process when its parent dies (Linux only)."""
    if _prctl is None:
        return
    parent = os.getppid()
    _prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before we asked
        os.kill(os.getpid(), signum)


def stop_with_parent() -> None:
    """Under make: a SIGTERM when make dies (killed outright, it would not pass one on)."""
    if "MAKELEVEL" in os.environ:
        die_with_parent()


async def _guarded(main: Coroutine[Any, Any, T]) -> T:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        if not received:  # a second signal does not interrupt the stopping
            received.append(signum)
            task.cancel()
            # Stderr may be a pipe nobody reads any more (``make run | head``): the stop goes on.
            with contextlib.suppress(OSError):
                print(f"\n{signal.Signals(signum).name}: stopping...", file=sys.stderr, flush=True)

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        return await main
    except asyncio.CancelledError:
        if received:
            raise Terminated(received[0]) from None
        raise
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` that SIGINT/SIGTERM/SIGHUP cancel (``finally`` blocks run), then exit
    with status ``128 + signal``."""
    stop_with_parent()
    try:
        return asyncio.run(_guarded(main))
    except Terminated as stopped:
        sys.exit(128 + stopped.signum)
