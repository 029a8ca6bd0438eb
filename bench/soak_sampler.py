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

    async def run(self, interval: float) -> None:
        while True:
            self.sample()
            await asyncio.sleep(interval)
