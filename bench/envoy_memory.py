"""Envoy's memory during a soak, from its admin endpoint: run next to ``bench/soak.py`` (or anything
that starts the stack with ``tools/stack.py``), it finds the gateway's Envoy process (started from
this checkout's virtualenv), reads the admin port from its config file and every ``--every``
seconds records the process's RSS (with its anonymous and file-backed parts), ``/memory``
(tcmalloc: allocated, heap size, free and unmapped page heap) and a set of ``/stats``
(connections, HTTP/2 streams, buffers, the jwt_authn token cache, the local rate limit, the
number of stats), as one JSON line each, until Envoy exits. The whole ``/stats`` page is kept at
the first and the last sample (``<out>.stats-first``, ``<out>.stats-last``) to compare what grew.

    .venv/bin/python -m bench.envoy_memory --out /tmp/envoy-mem.jsonl &
    .venv/bin/python -m bench.soak --users 200 --seconds 300 --out /tmp/soak
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.soak_sampler import rss_kib

ROOT = Path(__file__).resolve().parent.parent
# Stats whose value is sampled every time (by regular expression on the name).
SAMPLED = re.compile(
    r"^(server\.memory_\w+|server\.stats_recent_lookups"
    r"|http\.gateway\.downstream_cx_(active|total|http1_active|http2_active|rx_bytes_buffered"
    r"|tx_bytes_buffered|idle_timeout|destroy_remote)"
    r"|http\.gateway\.downstream_rq_(active|total)"
    r"|http\.gateway\.jwt_authn\.\w+"
    r"|cluster\.\w+\.upstream_cx_(active|total)|cluster\.\w+\.upstream_rq_active"
    r"|cluster\.\w+\.http2\.streams_active"
    r"|listener\.[\w.]+\.downstream_cx_active"
    r"|\w*rate_limit\.\w+)$"
)


def find_envoy(venv: Path) -> tuple[int, Path] | None:
    """The pid and config file of an Envoy started from ``venv`` (the newest one)."""
    found: list[tuple[float, int, Path]] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            started = os.stat(f"/proc/{entry}").st_mtime
        except OSError:
            continue
        if not argv or not argv[0].decode().startswith(str(venv)) or b"-c" not in argv:
            continue
        if not argv[0].endswith(b"/envoy"):
            continue
        found.append((started, int(entry), Path(argv[argv.index(b"-c") + 1].decode())))
    if not found:
        return None
    _, pid, config = max(found)
    return pid, config


def admin_port(config: Path) -> int:
    m = re.search(r"admin:\s*\n\s*address:\s*\n\s*socket_address:\s*\n.*\n\s*port_value: (\d+)",
                  config.read_text())  # fmt: skip
    if m is None:
        raise RuntimeError(f"no admin port in {config}")
    return int(m.group(1))


def rss_parts(pid: int) -> dict[str, int]:
    """RssAnon (heap, stacks) and RssFile (the binary's pages read so far) in KiB."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(("RssAnon:", "RssFile:")):
                    out[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        pass
    return out


def get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return r.read().decode()


def sample(pid: int, port: int, started: float) -> tuple[dict[str, Any], str]:
    stats_text = get(port, "/stats")
    stats: dict[str, int] = {}
    names = 0
    for line in stats_text.splitlines():
        name, _, value = line.partition(": ")
        names += 1
        if SAMPLED.match(name) and value.strip().lstrip("-").isdigit():
            stats[name] = int(value)
    return {
        "t": round(time.monotonic() - started, 1),
        "load1": os.getloadavg()[0],
        "rss_kib": rss_kib(pid),
        **rss_parts(pid),
        "memory": json.loads(get(port, "/memory")),
        "stats_count": names,
        "stats": stats,
    }, stats_text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--every", type=float, default=10.0)
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv")
    parser.add_argument("--wait", type=float, default=600.0, help="seconds to wait for Envoy")
    args = parser.parse_args()
    deadline = time.monotonic() + args.wait
    while (found := find_envoy(args.venv.resolve())) is None:
        if time.monotonic() > deadline:
            sys.exit("no Envoy started")
        time.sleep(1)
    pid, config = found
    port = admin_port(config)
    started = time.monotonic()
    last = ""
    with args.out.open("w") as out:
        while True:
            try:
                row, last_text = sample(pid, port, started)
            except OSError:
                if rss_kib(pid) is None:
                    break
                time.sleep(1)
                continue
            if not last:
                Path(f"{args.out}.stats-first").write_text(last_text)
            last = last_text
            out.write(json.dumps(row) + "\n")
            out.flush()
            time.sleep(args.every)
    if last:
        Path(f"{args.out}.stats-last").write_text(last)


if __name__ == "__main__":
    main()
