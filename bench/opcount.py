"""Python bytecodes executed per function, in a running service, between two signals.

``python -c "import bench.opcount as o; o.run('services.billing')"`` runs the service with
``SIGUSR1`` starting the count (on the event loop's thread, where the service's Python runs) and
``SIGUSR2`` stopping it and writing ``<function> <bytecodes> <calls>`` lines, most first, to the
file named by ``OPCOUNT_OUT``. Tracing makes the process ~100x slower; the counts do not depend
on the machine's load. Used by ``billing_instructions.py --bytecodes``; not part of any service.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
from collections import Counter
from types import FrameType
from typing import Any

_ops: Counter[Any] = Counter()
_calls: Counter[Any] = Counter()


def _local(frame: FrameType, event: str, arg: Any) -> Any:
    if event == "opcode":
        _ops[frame.f_code] += 1
    return _local


def _global(frame: FrameType, event: str, arg: Any) -> Any:
    frame.f_trace_opcodes = True
    _calls[frame.f_code] += 1
    return _local


def _start(*_: Any) -> None:
    _ops.clear()
    _calls.clear()
    sys.settrace(_global)


def _stop(*_: Any) -> None:
    sys.settrace(None)
    lines = []
    for code, n in _ops.most_common():
        where = f"{code.co_filename.rsplit('site-packages/', 1)[-1]}:{code.co_firstlineno}"
        lines.append(f"{code.co_qualname} {where} {n} {_calls[code]}\n")
    with open(os.environ["OPCOUNT_OUT"], "w") as out:
        out.writelines(lines)


def run(module: str) -> None:
    signal.signal(signal.SIGUSR1, _start)
    signal.signal(signal.SIGUSR2, _stop)
    runpy.run_module(module, run_name="__main__")
