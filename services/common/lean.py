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
  would each hold one. One arena: the work of the worker threads (the Salesforce pool imports
  simple-salesforce and runs requests there) otherwise builds a second heap whose free pages the
  event loop's thread never reuses (identity and support after 400 GETs: 1.3 to 1.5 MiB more with
  two arenas than with one, 5 MiB before the next trim). The threads run Python one at a time
  under the GIL, and glibc's per-thread caches serve most small allocations without the arena's
  lock, so sharing it costs no measurable time.
  ``mallopt`` is the in-process form of ``MALLOC_ARENA_MAX``, so every way of starting a service
  (``make run``, compose, Kubernetes) gets it without an environment variable; it must run before
  the first thread starts.
- :func:`settle` after start-up and :func:`trim_periodically` while running: the import and the
  build leave free memory inside glibc's heap (temporaries freed below live objects), which glibc
  only returns from the top of the heap; a burst (1,000 streams opened and closed, a page of large
  answers) does the same. ``malloc_trim(0)`` hands every free page back (~10 MiB after start-up),
  in a few milliseconds. ``gc.freeze()`` moves the start-up objects out of the collector's
  generations, so later collections do not walk (and touch) them. Between two periodic trims a
  check every second trims as soon as the resident size has grown by ``TRIM_ON_GROWTH`` since the
  last one: a burst's free pages go back within about a second of it instead of up to an interval
  later (a trim takes 0.2 to 0.6 ms, 15 ms at most right after a burst; a quiet process is not
  trimmed more often than every interval).

- :func:`defer_metadata_api`: simple-salesforce's ``api`` module imports its Metadata API module
  (``simple_salesforce.metadata``) for one name, ``SfdcMetadataApi``, which it only calls in the
  lazy ``Salesforce.mdapi`` property; that module imports zeep and, under it, lxml (~75 modules,
  5.4 MiB of RSS in every process that has called Salesforce). The portal never uses the Metadata
  API (SOAP deploys and retrieves); it uses the REST API. A finder answers the import of
  ``simple_salesforce.metadata`` with a module whose ``SfdcMetadataApi`` imports the real module
  on first use and builds the real object, so ``sf.mdapi`` works as before; every other name of
  the module loads it too. It is registered by ``services.common.clients`` (every import of the
  Salesforce client goes through that package first). ``tests/unit/test_lean.py`` checks the import
  shape this relies on, so an upgrade of simple-salesforce that changes it fails there.

The processes also run with ``PYTHONOPTIMIZE=2`` (``-OO``: no docstrings, no asserts; set where
they are started, ``tools/stack.py`` and the ``Dockerfile``): ~3 MiB less per service.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from types import ModuleType
from typing import Any

OPTIONAL_IMPORTS = ("rich", "pygments", "click")
METADATA_API = "simple_salesforce.metadata"
M_ARENA_MAX = -8  # mallopt parameter (glibc malloc.h)
ARENAS = 1
TRIM_ON_GROWTH = 1 << 20  # bytes of resident growth that trigger a trim before the interval
CHECK_S = 1.0


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


def resident_bytes() -> int:
    """This process's resident set size (``/proc/self/statm``); 0 where there is none."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


async def trim_periodically(
    interval_s: float,
    *,
    check_s: float = CHECK_S,
    growth: int = TRIM_ON_GROWTH,
    release: Callable[[], Awaitable[int]] | None = None,
) -> None:
    """:func:`trim` every ``interval_s`` seconds until cancelled (0 or less: never), and sooner,
    at the first check (every ``check_s``) that finds the resident size ``growth`` bytes above
    what it was after the last trim. ``release``, when given, runs at every check first (it lets
    go of what a burst left, e.g. idle Redis connections, and says how many); when it released
    anything, that check trims too, so the memory goes back at once."""
    if interval_s <= 0:
        return
    check_s = min(check_s, interval_s)
    baseline, waited = resident_bytes(), 0.0
    while True:
        await asyncio.sleep(check_s)
        waited += check_s
        released = await _release(release)
        if released or waited >= interval_s or resident_bytes() - baseline >= growth:
            trim()
            baseline, waited = resident_bytes(), 0.0


async def _release(release: Callable[[], Awaitable[int]] | None) -> int:
    if release is None:
        return 0
    try:
        return await release()
    except Exception as exc:  # maintenance must never stop the trims
        import structlog  # not at the top: skip_optional_imports runs before structlog's import

        structlog.get_logger("lean").warning("memory_release_failed", error=type(exc).__name__)
        return 0


class _Spec(importlib.machinery.ModuleSpec):
    """The stand-in module's spec (tells it from the real module's)."""


class _DeferredMetadataApi(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers the first import of :data:`METADATA_API` with a stand-in module, then steps aside
    (the real module's import, on first use, goes through the ordinary finders)."""

    lock = threading.Lock()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != METADATA_API:
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        return _Spec(fullname, self)

    def exec_module(self, module: ModuleType) -> None:
        module.SfdcMetadataApi = _MetadataApi  # type: ignore[attr-defined]
        module.__getattr__ = _real_attribute  # type: ignore[method-assign]


def _real_attribute(name: str) -> Any:
    """Any other name of the module: from the real module (dunders, which the import system
    looks up, e.g. ``__path__``, are not forwarded)."""
    if name.startswith("__"):
        raise AttributeError(f"module {METADATA_API!r} has no attribute {name!r}")
    return getattr(_metadata_module(), name)


def _metadata_module() -> ModuleType:
    """The real ``simple_salesforce.metadata``, imported on the first call."""
    with _DeferredMetadataApi.lock:
        stand_in = sys.modules.get(METADATA_API)
        deferred = isinstance(getattr(stand_in, "__spec__", None), _Spec)
        if stand_in is not None and not deferred:
            return stand_in  # the real one
        sys.modules.pop(METADATA_API, None)
        try:
            return importlib.import_module(METADATA_API)
        except BaseException:
            if stand_in is not None:
                sys.modules[METADATA_API] = stand_in
            raise


class _MetadataApi:
    """Stands in for ``simple_salesforce.metadata.SfdcMetadataApi``: calling it imports the real
    module and returns the real class's object."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return _metadata_module().SfdcMetadataApi(*args, **kwargs)


def defer_metadata_api() -> bool:
    """Keep simple-salesforce's Metadata API module (and zeep, lxml) out until it is used; False
    when that module is already imported (nothing to defer) or the stand-in is already set up."""
    if METADATA_API in sys.modules or any(
        isinstance(finder, _DeferredMetadataApi) for finder in sys.meta_path
    ):
        return False
    sys.meta_path.insert(0, _DeferredMetadataApi())
    return True
