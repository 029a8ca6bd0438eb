"""A tool the way ``make soak`` / ``make bench`` / ``make run`` are built (a whole stack of its
own under :func:`tools.signals.run`), for tests/e2e/test_signals.py to terminate with real signals.

``python -m tests.helpers.signal_driver RUN_DIR PIDS_JSON [console]``: starts the stack on free
ports with a database of its own (``console``: every process's lines on stdout, as ``make run``
shows them), writes ``{"driver": pid, "children": {name: pid}, "database": url}`` to
PIDS_JSON once ``/readyz`` is 200, then waits; on SIGINT/SIGTERM/SIGHUP it stops the stack and
drops the database.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tools import infra, signals
from tools.stack import Ports, Stack, StackConfig
from tools.supervisor import console_sink


async def drive(run_dir: Path, pids: Path, console: bool) -> None:
    base, redis_url = infra.urls_from_env()
    name = infra.run_name("portal_signals")
    database_url = infra.with_database(base, name)
    await infra.create_database(database_url)
    stack = Stack(
        StackConfig(database_url, redis_url, name, ports=Ports.free(), run_dir=run_dir),
        sink=console_sink(tty=False) if console else lambda _name, _line: None,
    )
    try:
        await stack.start(within=180)
        children = {n: c.process.pid for n, c in stack.children.items() if c.process}
        tmp = pids.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"driver": os.getpid(), "children": children, "database": database_url})
        )
        tmp.rename(pids)
        await asyncio.Event().wait()
    finally:
        await stack.stop()
        await infra.drop_database(database_url)


if __name__ == "__main__":
    signals.run(drive(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:] == ["console"]))
