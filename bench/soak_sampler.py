"""RSS and CPU time of the stack's processes and the load average, sampled from ``/proc`` (Linux;
psutil is not a dependency)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int | None:
    """VmRSS of a process in KiB, None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def memory_mib(pid: int) -> dict[str, float] | None:
    """Resident memory of a process from ``smaps_rollup``, in MiB: ``rss`` split into ``anon``
    (its own pages: the heap, Python's objects) and ``file`` (mapped files: the interpreter's and
    the libraries' code, shared with every process that maps the same files), and ``pss`` (each
    shared page divided by the number of processes mapping it). None when it is gone."""
    fields = {"Rss": "rss", "Pss": "pss", "Anonymous": "anon"}
    out: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                name, _, rest = line.partition(":")
                if name in fields:
                    out[fields[name]] = round(int(rest.split()[0]) / 1024, 1)
    except (FileNotFoundError, ProcessLookupError):
        return None
    out["file"] = round(out["rss"] - out["anon"], 1)
    return out


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14, 15)


class Sampler:
    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.started = time.monotonic()
        self.samples: list[dict[str, Any]] = []

    def sample(self) -> None:
        rss = {name: rss_kib(pid) for name, pid in self.pids.items()}
        cpu = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self.samples.append(
            {
                "t": round(time.monotonic() - self.started, 1),
                "load1": os.getloadavg()[0],
                "rss_kib": {n: v for n, v in rss.items() if v is not None},
                "cpu_s": {n: round(v, 2) for n, v in cpu.items() if v is not None},
            }
        )

    def memory(self) -> dict[str, dict[str, float]]:
        """:func:`memory_mib` of every process still running."""
        read = {name: memory_mib(pid) for name, pid in self.pids.items()}
        return {name: m for name, m in read.items() if m is not None}

    async def run(self, interval: float) -> None:
        while True:
            self.sample()
            await asyncio.sleep(interval)
