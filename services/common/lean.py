"""What keeps a service process small: run by each ``services/<svc>/__main__.py``.

Measured on one service (``bench/memory_bench.py``, ``/proc/<pid>/smaps_rollup``): most of a
service's resident memory is anonymous, the Python objects of the ~1,000 modules it imports and
the C heap, not the shared libraries. Three things make that smaller without changing what the
service does:

- :func:`skip_optional_imports`: a few libraries import packages they only use for a developer's
  terminal when those are installed (structlog's console renderer imports ``rich`` and ``pygments``
  for pretty tracebacks; ``httpx`` imports ``click``, ``rich`` and ``pygments`` for its command
  line). They are installed here for the tests and tools, never used by a service, and cost ~5 MiB
  and ~0.3 s of CPU per process; marking them absent makes those libraries take their plain path
  (structlog formats tracebacks with the standard library).
- :func:`limit_malloc_arenas`: glibc gives every thread that allocates its own arena (up to 8 per
  core), each keeping its free memory; grpc's, the executors' and the asyncio resolver's threads
  would each hold one. Two arenas are enough for a process whose work runs on one event loop.
  ``mallopt`` is the in-process form of ``MALLOC_ARENA_MAX``, so every way of starting a service
  (``make run``, compose, Kubernetes) gets it without an environment variable; it must run before
  the first thread starts.
- :func:`settle` after start-up and :func:`trim_periodically` while running: the import and the
  build leave free memory inside glibc's heap (temporaries freed below live objects), which glibc
  only returns from the top of the heap; a burst (1,000 streams opened and closed, a page of large
  answers) does the same. ``malloc_trim(0)`` hands every free page back (~10 MiB after start-up),
  in a few milliseconds. ``gc.freeze()`` moves the start-up objects out of the collector's
  generations, so later collections do not walk (and touch) them.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import sys

OPTIONAL_IMPORTS = ("rich", "pygments", "click")
M_ARENA_MAX = -8  # mallopt parameter (glibc malloc.h)
ARENAS = 2


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


_LIBC = _libc()


def skip_optional_imports() -> None:
    """Make ``import rich`` (and the others) fail in this process: run before anything imports
    structlog or httpx. A package already imported stays as it is."""
    for name in OPTIONAL_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """At most ``arenas`` glibc malloc arenas; False where that is not glibc's malloc."""
    try:
        return bool(_LIBC is not None and _LIBC.mallopt(M_ARENA_MAX, arenas))
    except AttributeError:
        return False


def trim() -> bool:
    """Return glibc's free heap pages to the system; False where there is no ``malloc_trim``."""
    try:
        return bool(_LIBC is not None and _LIBC.malloc_trim(0))
    except AttributeError:
        return False


def settle() -> None:
    """Once the service is built and serving: collect, freeze what is left, trim."""
    gc.collect()
    gc.freeze()
    trim()


async def trim_periodically(interval_s: float) -> None:
    """:func:`trim` every ``interval_s`` seconds until cancelled (0 or less: never)."""
    if interval_s <= 0:
        return
    while True:
        await asyncio.sleep(interval_s)
        trim()
