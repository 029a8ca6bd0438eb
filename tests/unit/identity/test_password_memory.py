"""argon2's 19 MiB working buffers go back to the system after each hash (see
``services.identity.passwords``): measured in a fresh interpreter, whose malloc settings the test
run does not share."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import asyncio, json
from services.identity.passwords import Passwords

def rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024

async def main():
    passwords = Passwords(memory_kib=19 * 1024, time_cost=2, parallelism=1, concurrency=4)
    before = rss_mib()
    for _ in range(3):
        hashes = await asyncio.gather(*(passwords.hash(f"pw-{n}") for n in range(4)))
        await asyncio.gather(*(passwords.verify(h, "pw-0") for h in hashes))
    print(json.dumps({"before": before, "after": rss_mib()}))

asyncio.run(main())
"""


def test_concurrent_hashes_keep_no_buffers() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    # Without the pinned mmap threshold, four concurrent hashes keep about 4 x 19 MiB.
    assert measured["after"] - measured["before"] < 10, measured
